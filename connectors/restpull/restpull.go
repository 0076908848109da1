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

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/inbox"
)

// Kind is the connector kind's name.
const Kind = "restpull"

// recordTimeout bounds a Recorder call and the inbox write that goes with it; their context
// outlives Run's, so that an outcome already reached gets recorded.
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
	inbox *inbox.Inbox
	rec   connector.Recorder
	log   *slog.Logger
	// counters are the department's, shared with the inbox (which counts acknowledgements and
	// dead letters); stored, what this instance put in the inbox, is the connector's own.
	counters *connector.Counters
	stored   atomic.Int64
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
// lists every problem at once. It consumes from b and stores into in; rec records the
// messages that cannot be stored (undecodable ones).
func New(cfg Config, b *bus.Bus, in *inbox.Inbox, rec connector.Recorder, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if b == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if in == nil {
		errs = append(errs, errors.New("inbox: required"))
	}
	if rec == nil {
		errs = append(errs, errors.New("recorder: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("restpull: invalid configuration: %w", err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return &Connector{cfg: cfg, bus: b, inbox: in, rec: rec, counters: in.Counters(cfg.Department),
		log: o.log.With("connector", Kind, "department", cfg.Department)}, nil
}

// Name is the connector's name in the connectors file and the status API.
func (c *Connector) Name() string { return connectorName(c.cfg.Department) }

// Run consumes the department's topic, bus.SubcaseTopic(Department), in the consumer group
// GroupID, and stores each sub-case in the department's inbox before its offset is committed:
// storing is the connector's effect, and a repeat of an envelope id already stored (or already
// acknowledged) is ignored. Up to Concurrency sub-cases are stored at once, one case's one at a
// time in publish order; offsets are committed in batches, each only once it and every message
// before it on its partition were stored. A message that is not a JSON envelope with an id is
// recorded as failed and committed, so that it never blocks its partition. Run returns nil
// when ctx ends, and an error when the store or the Recorder fails or consuming fails for
// good; the message at hand then stays uncommitted and is consumed again by the next Run.
//
// Run (re)registers the department with the inbox under this configuration, so that the
// department's polls are served.
func (c *Connector) Run(ctx context.Context) error {
	c.inbox.Serve(c.cfg.inboxSettings())
	go c.sweep(ctx)
	topic := bus.SubcaseTopic(c.cfg.Department)
	c.log.InfoContext(ctx, "restpull: consuming", "topic", topic, "group", c.cfg.GroupID)
	err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: c.cfg.GroupID, Concurrency: c.cfg.Concurrency}, c.handle)
	if err != nil {
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
	c.counters.InFlight(1)
	defer c.counters.InFlight(-1)
	e, problem := decode(rm)
	if problem != "" {
		at := time.Now()
		c.log.WarnContext(ctx, "restpull: undecodable message, recording it as failed",
			"partition", rm.Partition, "offset", rm.Offset, "problem", problem)
		c.counters.Failure(at, "undecodable message")
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := c.rec.Failed(rctx, connector.Failure{
			Delivery: connector.Delivery{Connector: c.Name(), Department: c.cfg.Department, At: at},
			Reason:   "undecodable message",
			Topic:    rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key, Payload: rm.Value,
		}); err != nil {
			return fmt.Errorf("restpull: record failure at partition %d offset %d: %w", rm.Partition, rm.Offset, err)
		}
		c.counters.Failed()
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	fresh, err := c.inbox.Put(sctx, c.cfg.Department, e)
	if err != nil {
		c.counters.Failure(time.Now(), "storing in the inbox failed")
		return err
	}
	if fresh {
		c.stored.Add(1)
	}
	c.log.DebugContext(ctx, "restpull: stored in the inbox", "event_id", e.ID, "case_id", e.CaseID,
		"subcase_id", e.SubcaseID, "duplicate", !fresh)
	return nil
}

// decode reads what the inbox needs from a consumed envelope; problem is non-empty when the
// message cannot be an inbox item.
func decode(rm bus.Received) (e inbox.Entry, problem string) {
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
	return inbox.Entry{ID: env.ID, CaseID: data.CaseID, SubcaseID: data.SubcaseID, Payload: rm.Value,
		Topic: rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key}, ""
}

// Status reports the connector's health: Delivered counts the acknowledged items of the
// department (over all hub instances); Detail holds the inbox's pending, leased and acked
// counts and what this instance stored.
func (c *Connector) Status() connector.Status {
	s := c.counters.Snapshot()
	st := connector.Status{
		Name: c.Name(), Kind: Kind, Department: c.cfg.Department,
		Topic: bus.SubcaseTopic(c.cfg.Department), Group: c.cfg.GroupID,
		Delivered: s.Delivered, Retries: s.Retries, Failed: s.Failed, DeadLetters: s.Failed, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"stored": c.stored.Load(), "max_attempts": c.cfg.MaxAttempts,
			"default_visibility": c.cfg.DefaultVisibility.String(), "max_visibility": c.cfg.MaxVisibility.String()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	counts, err := c.inbox.Counts(ctx, c.cfg.Department)
	if err != nil {
		st.Detail["counts_error"] = "the inbox could not be counted"
		return st
	}
	st.Delivered = counts[inbox.StateAcked]
	st.Detail["pending"] = counts[inbox.StatePending]
	st.Detail["leased"] = counts[inbox.StateLeased]
	st.Detail["acked"] = counts[inbox.StateAcked]
	return st
}
