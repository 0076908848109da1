package connector_test

import (
	"sync"
	"testing"
	"time"

	"yjshub/hub/connector"
)

func TestCountersZero(t *testing.T) {
	var c connector.Counters
	if s := c.Snapshot(); s != (connector.CounterSnapshot{}) {
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
	if s := c.Snapshot(); s != want {
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
