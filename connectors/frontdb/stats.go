package frontdb

import (
	"sync"
	"sync/atomic"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
)

// stats collects the connector's counters; safe for concurrent use. Delivered counts the
// sub-cases staged; the result counters and the last poll are frontdb's own.
type stats struct {
	connector.Counters
	applied, refused atomic.Int64

	mu       sync.Mutex
	lastPoll time.Time
	waiting  int // unprocessed result rows the last poll read
}

func (s *stats) polled(at time.Time, rows int) {
	s.mu.Lock()
	s.lastPoll, s.waiting = at, rows
	s.mu.Unlock()
}

// Status reports the connector's health: Delivered counts the sub-cases staged (and
// recorded), Retries the failed staging attempts and result rows left for the next poll,
// Failed the messages and result rows recorded as failed; Detail holds the database (its DSN
// redacted), the tables, the result counters and results_waiting, the unprocessed result rows
// the last poll read (at most batch_size).
func (c *Connector) Status() connector.Status {
	s := &c.stats
	cs := s.Snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	detail := map[string]any{
		"driver": c.cfg.Driver, "dsn": RedactDSN(c.cfg.DSN),
		"subcase_table": c.tables.Subcase, "result_table": c.tables.Result,
		"results_applied": s.applied.Load(), "results_refused": s.refused.Load(),
		"results_waiting": s.waiting,
	}
	if !s.lastPoll.IsZero() {
		detail["last_poll"] = s.lastPoll
	}
	return connector.Status{
		Name: c.Name(), Kind: Kind, Department: c.cfg.Department,
		Topic: bus.SubcaseTopic(c.cfg.Department), Group: c.cfg.GroupID,
		Delivered: cs.Delivered, Retries: cs.Retries, Failed: cs.Failed, DeadLetters: cs.Failed,
		InFlight:    cs.InFlight,
		History:     &cs.History,
		LastSuccess: connector.TimePtr(cs.LastSuccess), LastError: connector.TimePtr(cs.LastError),
		LastErrorMessage: cs.LastErrorMessage, Detail: detail,
	}
}
