package connector

import (
	"sync"
	"sync/atomic"
	"time"
)

// Counters are the counters every connector kind keeps for its Status: messages delivered,
// retried, failed and in flight, and when the last success and the last error were. It is
// safe for concurrent use; the zero value is ready. A kind that counts more keeps that itself.
type Counters struct {
	delivered, retries, failed, inFlight atomic.Int64

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   time.Time
	lastMessage string
}

// CounterSnapshot is a copy of [Counters].
type CounterSnapshot struct {
	Delivered, Retries, Failed int64
	InFlight                   int
	// LastSuccess and LastError are zero if never; LastErrorMessage is scrubbed.
	LastSuccess, LastError time.Time
	LastErrorMessage       string
}

// Delivered counts one message delivered at at and notes the time as the last success.
func (c *Counters) Delivered(at time.Time) {
	c.delivered.Add(1)
	c.Succeeded(at)
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
func (c *Counters) Retry() { c.retries.Add(1) }

// AddRetries counts n retried attempts.
func (c *Counters) AddRetries(n int64) { c.retries.Add(n) }

// Failed counts one message recorded as failed (a dead letter).
func (c *Counters) Failed() { c.failed.Add(1) }

// InFlight changes the number of messages being handled by delta: +1 when one starts, -1
// when it ends.
func (c *Counters) InFlight(delta int64) { c.inFlight.Add(delta) }

// Snapshot returns a copy of the counters.
func (c *Counters) Snapshot() CounterSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CounterSnapshot{
		Delivered: c.delivered.Load(), Retries: c.retries.Load(), Failed: c.failed.Load(),
		InFlight: int(c.inFlight.Load()), LastSuccess: c.lastSuccess, LastError: c.lastError,
		LastErrorMessage: c.lastMessage,
	}
}
