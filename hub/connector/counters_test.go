package connector_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/connector"
)

func TestCountersZero(t *testing.T) {
	var c connector.Counters
	s := c.Snapshot()
	if s.History.StepSeconds != 60 || s.History.End.IsZero() {
		t.Errorf("zero Counters: history of %d-second steps ending %v, want 60-second steps ending now", s.History.StepSeconds, s.History.End)
	}
	s.History = connector.History{}
	if s != (connector.CounterSnapshot{}) {
		t.Errorf("zero Counters: snapshot = %+v, want zero", s)
	}
}

func TestCountersSnapshot(t *testing.T) {
	var c connector.Counters
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	c.Delivered(t0)
	c.Delivered(t0.Add(time.Minute))
	c.Succeeded(t0.Add(2 * time.Minute)) // notes the time, counts nothing
	c.Retry()
	c.AddRetries(2)
	c.Failed()
	c.Failure(t0.Add(3*time.Minute), "refused")
	c.InFlight(1)
	c.InFlight(1)
	c.InFlight(-1)
	want := connector.CounterSnapshot{Delivered: 2, Retries: 3, Failed: 1, InFlight: 1,
		LastSuccess: t0.Add(2 * time.Minute), LastError: t0.Add(3 * time.Minute), LastErrorMessage: "refused"}
	s := c.Snapshot()
	s.History = connector.History{} // TestCountersHistory*
	if s != want {
		t.Errorf("snapshot = %+v, want %+v", s, want)
	}
}

func TestCountersConcurrent(t *testing.T) {
	var c connector.Counters
	const workers, each = 8, 200
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.InFlight(1)
				at := t0.Add(time.Duration(w*each+i) * time.Millisecond)
				c.Delivered(at)
				c.Retry()
				c.Failed()
				c.Failure(at, "failed")
				_ = c.Snapshot()
				c.InFlight(-1)
			}
		}()
	}
	wg.Wait()
	s := c.Snapshot()
	const n = workers * each
	if s.Delivered != n || s.Retries != n || s.Failed != n || s.InFlight != 0 {
		t.Errorf("snapshot = %+v, want %d delivered, retries and failed, none in flight", s, n)
	}
	if s.LastSuccess.IsZero() || s.LastError.IsZero() || s.LastErrorMessage != "failed" {
		t.Errorf("snapshot = %+v, want the last success and error noted", s)
	}
}

// clock is a settable clock for the history's minutes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// last returns the last n values of a history's array, oldest first.
func last(a [connector.HistoryMinutes]int64, n int) []int64 {
	return a[connector.HistoryMinutes-n:]
}

// sum adds up a history's array.
func sum(a [connector.HistoryMinutes]int64) int64 {
	var n int64
	for _, v := range a {
		n += v
	}
	return n
}

// Counts fall into the minute of the clock when they are made; the history ends with the
// current minute, a minute without counts reads zero, and each array holds one value a minute.
func TestCountersHistoryCountsEachMinuteAndGapsAreZero(t *testing.T) {
	var c connector.Counters
	clk := &clock{t: time.Date(2026, 11, 27, 9, 30, 15, 0, time.UTC)}
	c.SetClock(clk.now)

	c.Delivered(time.Time{}) // 09:30
	c.Delivered(time.Time{})
	c.Retry()
	clk.set(clk.t.Add(time.Minute + 40*time.Second)) // 09:31:55
	c.Failed()
	c.AddRetries(3)
	clk.set(clk.t.Add(2 * time.Minute)) // 09:33:55; 09:32 has nothing
	c.Delivered(time.Time{})

	h := c.Snapshot().History
	if want := time.Date(2026, 11, 27, 9, 33, 0, 0, time.UTC); !h.End.Equal(want) || h.StepSeconds != 60 {
		t.Fatalf("history ends %v in %d-second steps; want %v in 60-second steps", h.End, h.StepSeconds, want)
	}
	for _, tc := range []struct {
		name string
		got  []int64
		want []int64
	}{ // 09:30, 09:31, 09:32, 09:33
		{"delivered", last(h.Delivered, 4), []int64{2, 0, 0, 1}},
		{"failed", last(h.Failed, 4), []int64{0, 1, 0, 0}},
		{"retries", last(h.Retries, 4), []int64{1, 3, 0, 0}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s of 09:30 to 09:33: %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	if sum(h.Delivered) != 3 || sum(h.Failed) != 1 || sum(h.Retries) != 4 {
		t.Errorf("history holds %d delivered, %d failed, %d retries; want 3, 1, 4 (nothing before 09:30)", sum(h.Delivered), sum(h.Failed), sum(h.Retries))
	}
	if got, err := json.Marshal(h); err != nil || !strings.Contains(string(got), `"end":"2026-11-27T09:33:00Z"`) ||
		strings.Count(string(got), ",") != 3*(connector.HistoryMinutes-1)+4 {
		t.Errorf("history as JSON: %s (%v); want step_seconds, end and three arrays of %d", got, err, connector.HistoryMinutes)
	}
}

// A minute's counts stay in the history for an hour: 59 minutes later they are the oldest
// bucket, 60 minutes later they are gone, and the bucket that held them counts its new minute
// from zero. The totals since the start are not touched.
func TestCountersHistoryDropsTheOldestMinuteAfterAnHour(t *testing.T) {
	var c connector.Counters
	t0 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	clk := &clock{t: t0}
	c.SetClock(clk.now)
	c.Delivered(t0)
	c.Failed()

	clk.set(t0.Add(59 * time.Minute)) // 10:29: 09:30 is the oldest bucket
	if h := c.Snapshot().History; h.Delivered[0] != 1 || h.Failed[0] != 1 || sum(h.Delivered) != 1 {
		t.Errorf("59 minutes later the first minute should be the oldest bucket: delivered %v, failed %v", h.Delivered, h.Failed)
	}
	clk.set(t0.Add(60 * time.Minute)) // 10:30: 09:30 has fallen off
	if h := c.Snapshot().History; sum(h.Delivered) != 0 || sum(h.Failed) != 0 {
		t.Errorf("60 minutes later the first minute should be gone: delivered %v, failed %v", h.Delivered, h.Failed)
	}
	clk.set(t0.Add(61 * time.Minute)) // 10:31
	c.Delivered(t0.Add(61 * time.Minute))
	h := c.Snapshot().History
	if sum(h.Delivered) != 1 || h.Delivered[connector.HistoryMinutes-1] != 1 || sum(h.Failed) != 0 {
		t.Errorf("61 minutes later one new delivery: delivered %v, failed %v", h.Delivered, h.Failed)
	}
	clk.set(t0.Add(120 * time.Minute)) // the ring's slot of 09:30 comes round again
	c.Retry()
	h = c.Snapshot().History
	if h.Retries[connector.HistoryMinutes-1] != 1 || sum(h.Delivered) != 1 || sum(h.Failed) != 0 {
		t.Errorf("two hours later: retries %v, delivered %v, failed %v; want one retry now, 10:31's delivery, no failure", h.Retries, h.Delivered, h.Failed)
	}
	if s := c.Snapshot(); s.Delivered != 2 || s.Failed != 1 || s.Retries != 1 {
		t.Errorf("totals: %d delivered, %d failed, %d retries; want 2, 1, 1", s.Delivered, s.Failed, s.Retries)
	}
}

// Adding a history read a minute later lines its buckets up by their minutes.
func TestHistoryAddLinesUpTheMinutes(t *testing.T) {
	var a, b connector.Counters
	t0 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	clk := &clock{t: t0}
	a.SetClock(clk.now)
	b.SetClock(clk.now)
	a.Delivered(t0)
	b.Delivered(t0)
	b.Failed()
	ha := a.Snapshot().History
	clk.set(t0.Add(time.Minute))
	b.Delivered(t0)
	hb := b.Snapshot().History

	var h connector.History
	h.Add(ha)
	h.Add(hb)
	if !h.End.Equal(t0) {
		t.Fatalf("the sum ends %v; want the first history's end %v", h.End, t0)
	}
	if got := last(h.Delivered, 2); !slices.Equal(got, []int64{0, 2}) || sum(h.Failed) != 1 || h.Failed[connector.HistoryMinutes-1] != 1 {
		t.Errorf("sum: delivered %v, failed %v; want 2 delivered and 1 failed at 09:30, 09:31 outside the hour", got, h.Failed)
	}
}

// Counting from many goroutines while snapshots are read loses nothing from the history.
func TestCountersHistoryConcurrent(t *testing.T) {
	var c connector.Counters
	clk := &clock{t: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}
	c.SetClock(clk.now)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c.Delivered(time.Time{})
				c.Retry()
				c.Failed()
				_ = c.Snapshot()
			}
		}()
	}
	wg.Wait()
	h := c.Snapshot().History
	if n := int64(workers * each); sum(h.Delivered) != n || sum(h.Retries) != n || sum(h.Failed) != n {
		t.Errorf("history: %d delivered, %d retries, %d failed; want %d each", sum(h.Delivered), sum(h.Retries), sum(h.Failed), n)
	}
}
