package casepush

import (
	"sync"
	"sync/atomic"
	"time"
)

// counters collects a connector's counters; safe for concurrent use. The zero value is ready.
type counters struct {
	delivered, retries, failed atomic.Int64
	inFlight                   atomic.Int64

	mu          sync.Mutex
	lastSuccess time.Time
	lastError   time.Time
	lastMessage string
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	// Delivered counts documents the receiver took.
	Delivered int64
	// Retries counts attempts that failed and were retried.
	Retries int64
	// Failed counts messages recorded as dead letters.
	Failed   int64
	InFlight int
	// LastSuccess, LastError and LastErrorMessage (scrubbed) describe the latest outcomes.
	LastSuccess      time.Time
	LastError        time.Time
	LastErrorMessage string
}

func (s *counters) success(at time.Time) {
	s.delivered.Add(1)
	s.mu.Lock()
	s.lastSuccess = at
	s.mu.Unlock()
}

// failure notes a failed attempt or refusal; msg must be scrubbed.
func (s *counters) failure(at time.Time, msg string) {
	s.mu.Lock()
	s.lastError, s.lastMessage = at, msg
	s.mu.Unlock()
}

func (s *counters) snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StatsSnapshot{Delivered: s.delivered.Load(), Retries: s.retries.Load(), Failed: s.failed.Load(),
		InFlight: int(s.inFlight.Load()), LastSuccess: s.lastSuccess, LastError: s.lastError, LastErrorMessage: s.lastMessage}
}
