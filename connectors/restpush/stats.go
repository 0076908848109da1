package restpush

import (
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
)

// Stats is a snapshot of a connector's health, for status reporting. Counts
// are since [New], over all Runs.
type Stats struct {
	Department string
	// BreakerState is "closed", "open" or "half-open".
	BreakerState string
	// Delivered counts messages the department took (and that were recorded).
	Delivered int64
	// Retries counts POSTs that repeated an earlier attempt at a message.
	Retries int64
	// Failed counts messages recorded as failed: refused, given up or
	// undecodable.
	Failed int64
	// InFlight is how many messages are being handled right now: at most one
	// per running Run.
	InFlight int
	// LastSuccess is when a message was last delivered; zero if never.
	LastSuccess time.Time
	// LastError is when an attempt last failed or a message was last refused;
	// zero if never.
	LastError time.Time
	// LastErrorMessage describes that failure without secrets or personal
	// data.
	LastErrorMessage string
}

// statsOf fills Stats from the shared counters.
func statsOf(s connector.CounterSnapshot) Stats {
	return Stats{
		Delivered:        s.Delivered,
		Retries:          s.Retries,
		Failed:           s.Failed,
		InFlight:         s.InFlight,
		LastSuccess:      s.LastSuccess,
		LastError:        s.LastError,
		LastErrorMessage: s.LastErrorMessage,
	}
}

// Name is the connector's name in the connectors file and the status API.
func (c *Connector) Name() string { return "restpush:" + c.cfg.Department }

// Status reports the connector's health in the shape every kind shares.
func (c *Connector) Status() connector.Status {
	s := c.Stats()
	return connector.Status{
		Name: c.Name(), Kind: "restpush", Department: c.cfg.Department,
		Breaker: s.BreakerState, Topic: bus.SubcaseTopic(c.cfg.Department), Group: c.cfg.GroupID,
		Delivered: s.Delivered, Retries: s.Retries, Failed: s.Failed, DeadLetters: s.Failed, InFlight: s.InFlight,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"endpoint": c.client.Endpoint()},
	}
}
