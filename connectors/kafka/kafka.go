package kafkaconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// Kind is the connector kind's name.
const Kind = "kafka"

// recordTimeout bounds a Recorder call; its context outlives Run's, so that a delivery the
// department already has gets recorded.
const recordTimeout = 30 * time.Second

// errStopped marks a message left unhandled because Run is stopping.
var errStopped = errors.New("stopped")

// Option changes how New and NewResults build a connector.
type Option func(*options)

type options struct{ log *slog.Logger }

// WithLogger sends the connector's logs to l. Default: nothing is logged. Log lines carry
// ids, partitions, offsets and reasons; never a payload.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Connector follows one kafka department: it reports the department's consumer group and
// records each sub-case as delivered once the department has committed it. It is safe for
// concurrent use; Run may run more than once at a time (members of TrackGroup).
type Connector struct {
	cfg   Config
	bus   *bus.Bus
	rec   connector.Recorder
	log   *slog.Logger
	topic string

	counters connector.Counters

	mu        sync.Mutex
	committed map[int]int64 // the department's committed offset per partition, as last read
	// reads numbers the reads of the department's committed offsets in the order they
	// started, read the last one applied to committed: a read that started before the one
	// applied last (several Run calls and their workers read at once) holds older offsets and
	// is not applied over it.
	reads, read uint64
}

// New returns the connector of a kafka department after applying cfg's defaults and
// validating it; the error lists every problem at once.
func New(cfg Config, b *bus.Bus, rec connector.Recorder, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if b == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if rec == nil {
		errs = append(errs, errors.New("recorder: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka: invalid configuration: %w", err)
	}
	o := buildOptions(opts)
	return &Connector{cfg: cfg, bus: b, rec: rec, topic: bus.SubcaseTopic(cfg.Department), committed: map[int]int64{},
		log: o.log.With("connector", Kind, "department", cfg.Department)}, nil
}

// Name is the connector's name in the status API.
func (c *Connector) Name() string { return Kind + ":" + c.cfg.Department }

// Run follows the department's topic in TrackGroup: for each message it waits until the
// department's group has committed past it, records it as delivered, and commits it in
// TrackGroup. Up to Concurrency messages are followed at once, one case's one at a time in
// publish order; offsets are committed in batches, each only once it and every message before
// it on its partition were recorded. It returns nil when ctx ends, or the error when recording
// fails (the message is then recorded again by the next Run).
func (c *Connector) Run(ctx context.Context) error {
	c.log.InfoContext(ctx, "kafka: following the department's consumer group", "topic", c.topic,
		"department_group", c.cfg.GroupID, "track_group", c.cfg.TrackGroup, "concurrency", c.cfg.Concurrency)
	err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: c.topic, GroupID: c.cfg.TrackGroup, Concurrency: c.cfg.Concurrency}, c.track)
	if err == nil || ctx.Err() != nil || errors.Is(err, errStopped) {
		return nil
	}
	return fmt.Errorf("kafka %s: %w", c.cfg.Department, err)
}

func (c *Connector) track(ctx context.Context, m bus.Received) error {
	c.counters.InFlight(1)
	defer c.counters.InFlight(-1)
	if err := c.waitTaken(ctx, m.Partition, m.Offset); err != nil {
		return err
	}
	var env event.Envelope
	if json.Unmarshal(m.Value, &env) != nil || env.ID == "" {
		// The department has it and judges it; the hub only follows.
		c.log.DebugContext(ctx, "kafka: the department took a message that is not an envelope", "partition", m.Partition, "offset", m.Offset)
		return nil
	}
	var data struct {
		CaseID    string `json:"case_id"`
		SubcaseID string `json:"subcase_id"`
	}
	_ = json.Unmarshal(env.Data, &data)
	d := connector.Delivery{Connector: c.Name(), EventID: env.ID, CaseID: data.CaseID, SubcaseID: data.SubcaseID,
		Department: c.cfg.Department, Attempts: 1, At: time.Now()}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := c.rec.Delivered(rctx, d); err != nil {
		c.note("recording a delivery failed")
		return fmt.Errorf("kafka: record delivery of event %s: %w", env.ID, err)
	}
	c.counters.Delivered(d.At)
	c.log.DebugContext(ctx, "kafka: the department took a sub-case", "event_id", env.ID, "case_id", data.CaseID,
		"subcase_id", data.SubcaseID, "partition", m.Partition, "offset", m.Offset)
	return nil
}

// waitTaken waits until the department's group has committed an offset beyond offset on
// partition, reading its committed offsets every PollInterval.
func (c *Connector) waitTaken(ctx context.Context, partition int, offset int64) error {
	for {
		c.mu.Lock()
		done := c.committed[partition] > offset
		if !done {
			c.reads++
		}
		read := c.reads
		c.mu.Unlock()
		if done {
			return nil
		}
		lag, err := c.bus.Lag(ctx, c.cfg.GroupID, c.topic)
		switch {
		case ctx.Err() != nil:
			return errStopped
		case err != nil:
			c.note("reading the department's committed offsets failed")
			c.log.WarnContext(ctx, "kafka: reading the department's committed offsets", "error", err)
		default:
			c.mu.Lock()
			if read > c.read {
				c.read = read
				for _, p := range lag.Partitions {
					c.committed[p.Partition] = p.Committed
				}
			}
			done = c.committed[partition] > offset
			c.mu.Unlock()
			if done {
				return nil
			}
		}
		t := time.NewTimer(c.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStopped
		case <-t.C:
		}
	}
}

func (c *Connector) note(msg string) {
	c.counters.Failure(time.Now(), msg)
}

// Status reports the department's consumer group (the manager fills in its lag) and how many
// sub-cases it has taken since the connector was created.
func (c *Connector) Status() connector.Status {
	s := c.counters.Snapshot()
	return connector.Status{
		Name: c.Name(), Kind: Kind, Department: c.cfg.Department,
		Topic: c.topic, Group: c.cfg.GroupID,
		Delivered: s.Delivered, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"track_group": c.cfg.TrackGroup, "results_group": c.cfg.ResultsGroup, "results_topic": bus.TopicResult},
	}
}
