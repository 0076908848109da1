package restpush

import (
	"yjshub/hub/bus"
	"yjshub/hub/connector"
)

// Stats is a snapshot of a connector's health, for status reporting: the counters every kind
// keeps (since [New], over all Runs; InFlight is at most one per running Run) and the breaker.
type Stats struct {
	Department string
	// BreakerState is "closed", "open" or "half-open".
	BreakerState string
	connector.CounterSnapshot
}

// Name is the connector's name in the connectors file and the status API.
func (c *Connector) Name() string { return "restpush:" + c.cfg.Department }

// Status reports the connector's health in the shape every kind shares.
func (c *Connector) Status() connector.Status {
	s := c.Stats()
	return connector.Status{
		Name: c.Name(), Kind: "restpush", Department: c.cfg.Department,
		Breaker: s.BreakerState, Topic: bus.SubcaseTopic(c.cfg.Department), Group: c.cfg.GroupID,
		Delivered: s.Delivered, Retries: s.Retries, Failed: s.Failed, DeadLetters: s.Failed, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"endpoint": c.client.Endpoint()},
	}
}
