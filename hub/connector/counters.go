package connector

import (
	"sync"
	"sync/atomic"
	"time"
)

// HistoryMinutes is how many minutes of per-minute counts Counters keep: the last hour, what the
// console's small charts of a connector draw.
const HistoryMinutes = 60

// Counters are the counters every connector kind keeps for its Status: messages delivered,
// retried, failed and in flight, when the last success and the last error were, and the same
// deliveries, failures and retries per minute over the last hour. It is safe for concurrent use;
// the zero value is ready (on the system clock). A kind that counts more keeps that itself.
//
// The history is a ring of one bucket per minute, counted on the Counters' clock when the count
// is made: a count costs O(1) and nothing runs in the background, so a bucket whose minute has
// passed is reused (emptied) by the first count that falls on it an hour later, and a minute
// without counts is a bucket that never took its minute, read as zero.
type Counters struct {
	delivered, retries, failed, inFlight atomic.Int64

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   time.Time
	lastMessage string
	now         func() time.Time // nil: time.Now
	ring        [HistoryMinutes]minuteBucket
}

// minuteBucket holds the counts of one minute, numbered from the Unix epoch.
type minuteBucket struct {
	minute                     int64
	delivered, failed, retries int64
}

// CounterSnapshot is a copy of [Counters].
type CounterSnapshot struct {
	Delivered, Retries, Failed int64
	InFlight                   int
	// LastSuccess and LastError are zero if never; LastErrorMessage is scrubbed.
	LastSuccess, LastError time.Time
	LastErrorMessage       string
	// History is the last hour, minute by minute, up to the minute of the snapshot.
	History History
}

// History is what a connector did in each minute of the last hour, oldest first, for small
// charts: bucket i counts the minute End − (HistoryMinutes−1−i) minutes. A minute without
// counts is zero, so the arrays always hold HistoryMinutes values.
type History struct {
	// StepSeconds is the width of a bucket in seconds: 60.
	StepSeconds int `json:"step_seconds"`
	// End is the start of the last bucket's minute, the minute the history was read in (still
	// filling), in UTC.
	End time.Time `json:"end"`
	// Delivered counts the messages delivered in each minute, Failed those recorded as failed
	// (dead letters), Retries the attempts retried.
	Delivered [HistoryMinutes]int64 `json:"delivered"`
	Failed    [HistoryMinutes]int64 `json:"failed"`
	Retries   [HistoryMinutes]int64 `json:"retries"`
}

// Add adds the counts of o to h minute by minute: for a connector that sums the counters of its
// parts. o's buckets are placed by their own minutes, so two histories read across a minute's
// turn still line up; o's minutes outside h's hour are left out.
func (h *History) Add(o History) {
	if h.End.IsZero() {
		*h = o
		return
	}
	shift := int(h.End.Sub(o.End) / time.Minute) // o's bucket i is h's bucket i − shift
	for i := range HistoryMinutes {
		j := i - shift
		if j < 0 || j >= HistoryMinutes {
			continue
		}
		h.Delivered[j] += o.Delivered[i]
		h.Failed[j] += o.Failed[i]
		h.Retries[j] += o.Retries[i]
	}
}

// SetClock makes now the clock the history counts minutes on (default time.Now): for tests that
// step through minutes without waiting for them.
func (c *Counters) SetClock(now func() time.Time) {
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

// bucket returns the ring's bucket of the current minute, emptied when it last held an older
// minute. The caller holds c.mu.
func (c *Counters) bucket() *minuteBucket {
	m := c.minute()
	b := &c.ring[slot(m)]
	if b.minute != m {
		*b = minuteBucket{minute: m}
	}
	return b
}

// minute is the current minute on the clock, counted from the Unix epoch. The caller holds
// c.mu.
func (c *Counters) minute() int64 {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	return now().Unix() / 60
}

// slot is the ring's index of minute m (a clock before 1970 included).
func slot(m int64) int64 { return (m%HistoryMinutes + HistoryMinutes) % HistoryMinutes }

// Delivered counts one message delivered at at and notes the time as the last success; the
// history counts it in the clock's current minute, when the connector learnt of it.
func (c *Counters) Delivered(at time.Time) {
	c.delivered.Add(1)
	c.mu.Lock()
	c.lastSuccess = at
	c.bucket().delivered++
	c.mu.Unlock()
}

// Succeeded notes at as the last success without counting a delivery.
func (c *Counters) Succeeded(at time.Time) {
	c.mu.Lock()
	c.lastSuccess = at
	c.mu.Unlock()
}

// Failure notes a failed attempt or refused message at at; msg must already be scrubbed of
// secrets and personal data.
func (c *Counters) Failure(at time.Time, msg string) {
	c.mu.Lock()
	c.lastError, c.lastMessage = at, msg
	c.mu.Unlock()
}

// Retry counts one retried attempt.
func (c *Counters) Retry() { c.AddRetries(1) }

// AddRetries counts n retried attempts.
func (c *Counters) AddRetries(n int64) {
	c.retries.Add(n)
	c.mu.Lock()
	c.bucket().retries += n
	c.mu.Unlock()
}

// Failed counts one message recorded as failed (a dead letter).
func (c *Counters) Failed() {
	c.failed.Add(1)
	c.mu.Lock()
	c.bucket().failed++
	c.mu.Unlock()
}

// InFlight changes the number of messages being handled by delta: +1 when one starts, -1
// when it ends.
func (c *Counters) InFlight(delta int64) { c.inFlight.Add(delta) }

// Snapshot returns a copy of the counters, with the history up to the current minute.
func (c *Counters) Snapshot() CounterSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.minute()
	h := History{StepSeconds: 60, End: time.Unix(end*60, 0).UTC()}
	for i := range HistoryMinutes {
		m := end - int64(HistoryMinutes-1-i)
		if b := c.ring[slot(m)]; b.minute == m {
			h.Delivered[i], h.Failed[i], h.Retries[i] = b.delivered, b.failed, b.retries
		}
	}
	return CounterSnapshot{
		Delivered: c.delivered.Load(), Retries: c.retries.Load(), Failed: c.failed.Load(),
		InFlight: int(c.inFlight.Load()), LastSuccess: c.lastSuccess, LastError: c.lastError,
		LastErrorMessage: c.lastMessage, History: h,
	}
}
