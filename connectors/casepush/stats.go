package casepush

import (
	"time"

	"yjshub/hub/connector"
)

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

// statsOf fills StatsSnapshot from the shared counters.
func statsOf(s connector.CounterSnapshot) StatsSnapshot {
	return StatsSnapshot{Delivered: s.Delivered, Retries: s.Retries, Failed: s.Failed,
		InFlight: s.InFlight, LastSuccess: s.LastSuccess, LastError: s.LastError, LastErrorMessage: s.LastErrorMessage}
}
