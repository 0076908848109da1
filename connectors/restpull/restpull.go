package restpull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"yjshub/connectors/connector"
	"yjshub/hub/bus"
	"yjshub/hub/event"
)

// Kind is the connector kind's name.
const Kind = "restpull"

// recordTimeout bounds a Recorder call and the inbox writes that go with it; their context
// outlives the request's or Run's, so that an outcome already reached gets recorded.
const recordTimeout = 30 * time.Second

// statusTimeout bounds the inbox count behind Status.
const statusTimeout = 2 * time.Second

// connectorName is the name of the department's connector (Status.Name).
func connectorName(dept string) string { return Kind + ":" + dept }

// Connector fills one department's inbox from its sub-case topic. It is safe for concurrent
// use: Status may be called at any time, and Run may run more than once at a time, each call
// being one member of the consumer group.
type Connector struct {
	cfg   Config
	bus   *bus.Bus
	inbox *Inbox
	log   *slog.Logger
	stats *stats
}

// Option changes how New builds a Connector.
type Option func(*options)

type options struct{ log *slog.Logger }

// WithLogger sends the connector's logs to l. Default: nothing is logged. Lines carry event,
// case and sub-case ids; never a payload.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// New returns the connector for cfg, after applying its defaults and validating it; the error
// lists every problem at once. It consumes from b and stores into inbox, whose Recorder also
// records the messages that cannot be stored (undecodable ones).
func New(cfg Config, b *bus.Bus, inbox *Inbox, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if b == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if inbox == nil {
		errs = append(errs, errors.New("inbox: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("restpull: invalid configuration: %w", err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return &Connector{cfg: cfg, bus: b, inbox: inbox, stats: inbox.statsOf(cfg.Department),
		log: o.log.With("connector", Kind, "department", cfg.Department)}, nil
}

// Name is the connector's name in the connectors file and the status API.
func (c *Connector) Name() string { return connectorName(c.cfg.Department) }

// Run consumes the department's topic, bus.SubcaseTopic(Department), in the consumer group
// GroupID, and stores each sub-case in the department's inbox before its offset is committed:
// storing is the connector's effect, and a repeat of an envelope id already stored (or already
// acknowledged) is ignored. A message that is not a JSON envelope with an id is recorded as
// failed and committed, so that it never blocks its partition. Run returns nil when ctx ends,
// and an error when the store or the Recorder fails or consuming fails for good; the message at
// hand then stays uncommitted and is consumed again by the next Run.
//
// Run (re)registers the department with the inbox under this configuration, so that the
// department's polls are served.
func (c *Connector) Run(ctx context.Context) error {
	c.inbox.serve(c.cfg)
	go c.sweep(ctx)
	topic := bus.SubcaseTopic(c.cfg.Department)
	c.log.InfoContext(ctx, "restpull: consuming", "topic", topic, "group", c.cfg.GroupID)
	if err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: c.cfg.GroupID}, c.handle); err != nil {
		return fmt.Errorf("restpull %s: %w", c.cfg.Department, err)
	}
	return nil
}

// sweep deletes the department's acknowledged items past their retention now and then every
// sweepInterval(AckedRetention) until ctx ends. A failed sweep is logged and tried next time.
func (c *Connector) sweep(ctx context.Context) {
	tick := time.NewTicker(sweepInterval(c.cfg.AckedRetention))
	defer tick.Stop()
	for {
		if _, err := c.inbox.Sweep(ctx, c.cfg.Department); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "restpull: sweeping acknowledged items failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweepInterval is a tenth of the retention, at most an hour.
func sweepInterval(retention time.Duration) time.Duration {
	return min(retention/10, time.Hour)
}

// handle is the bus handler: decode, store. Returning nil commits.
func (c *Connector) handle(ctx context.Context, rm bus.Received) error {
	c.stats.InFlight(1)
	defer c.stats.InFlight(-1)
	e, problem := decode(rm)
	if problem != "" {
		at := time.Now()
		c.log.WarnContext(ctx, "restpull: undecodable message, recording it as failed",
			"partition", rm.Partition, "offset", rm.Offset, "problem", problem)
		c.stats.Failure(at, "undecodable message")
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := c.inbox.rec.Failed(rctx, connector.Failure{
			Delivery: connector.Delivery{Connector: c.Name(), Department: c.cfg.Department, At: at},
			Reason:   "undecodable message",
			Topic:    rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key, Payload: rm.Value,
		}); err != nil {
			return fmt.Errorf("restpull: record failure at partition %d offset %d: %w", rm.Partition, rm.Offset, err)
		}
		c.stats.Failed()
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	fresh, err := c.inbox.put(sctx, c.cfg.Department, e)
	if err != nil {
		c.stats.Failure(time.Now(), "storing in the inbox failed")
		return err
	}
	if fresh {
		c.stats.stored.Add(1)
	}
	c.log.DebugContext(ctx, "restpull: stored in the inbox", "event_id", e.id, "case_id", e.caseID,
		"subcase_id", e.subcaseID, "duplicate", !fresh)
	return nil
}

// decode reads what the inbox needs from a consumed envelope; problem is non-empty when the
// message cannot be an inbox item.
func decode(rm bus.Received) (e entry, problem string) {
	if !utf8.Valid(rm.Value) || strings.ContainsRune(string(rm.Value), 0) {
		return e, "not UTF-8 text"
	}
	var env event.Envelope
	if err := json.Unmarshal(rm.Value, &env); err != nil {
		return e, "not a JSON event envelope"
	}
	if env.ID == "" {
		return e, "envelope has no id"
	}
	if len(env.ID) > 200 || strings.ContainsFunc(env.ID, func(r rune) bool { return r < ' ' || r == 0x7f || r == '/' }) {
		return e, "envelope id is longer than 200 bytes or has control characters or slashes"
	}
	var data struct {
		CaseID    string `json:"case_id"`
		SubcaseID string `json:"subcase_id"`
	}
	_ = json.Unmarshal(env.Data, &data) // ids are for records and logs only
	return entry{id: env.ID, caseID: data.CaseID, subcaseID: data.SubcaseID, payload: rm.Value,
		topic: rm.Topic, partition: rm.Partition, offset: rm.Offset, key: rm.Key}, ""
}

// Status reports the connector's health: Delivered counts the acknowledged items of the
// department (over all hub instances); Detail holds the inbox's pending, leased and acked
// counts and what this instance stored.
func (c *Connector) Status() connector.Status {
	s := c.stats.snapshot()
	st := connector.Status{
		Name: c.Name(), Kind: Kind, Department: c.cfg.Department,
		Topic: bus.SubcaseTopic(c.cfg.Department), Group: c.cfg.GroupID,
		Delivered: s.delivered, Retries: s.retries, Failed: s.failed, DeadLetters: s.failed, InFlight: s.inFlight,
		LastSuccess: connector.TimePtr(s.lastSuccess), LastError: connector.TimePtr(s.lastError), LastErrorMessage: s.lastMessage,
		Detail: map[string]any{"stored": s.stored, "max_attempts": c.cfg.MaxAttempts,
			"default_visibility": c.cfg.DefaultVisibility.String(), "max_visibility": c.cfg.MaxVisibility.String()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	counts, err := c.inbox.Counts(ctx, c.cfg.Department)
	if err != nil {
		st.Detail["counts_error"] = "the inbox could not be counted"
		return st
	}
	st.Delivered = counts[stateAcked]
	st.Detail["pending"] = counts[statePending]
	st.Detail["leased"] = counts[stateLeased]
	st.Detail["acked"] = counts[stateAcked]
	return st
}

// stats are a department's counters, shared by its connectors and the inbox; safe for
// concurrent use. stored, what this instance put in the inbox, is restpull's own.
type stats struct {
	connector.Counters
	stored atomic.Int64
}

type snapshot struct {
	delivered, failed, stored, retries int64
	inFlight                           int
	lastSuccess, lastError             time.Time
	lastMessage                        string
}

func (s *stats) snapshot() snapshot {
	cs := s.Snapshot()
	return snapshot{delivered: cs.Delivered, failed: cs.Failed, stored: s.stored.Load(), retries: cs.Retries,
		inFlight: cs.InFlight, lastSuccess: cs.LastSuccess, lastError: cs.LastError, lastMessage: cs.LastErrorMessage}
}
