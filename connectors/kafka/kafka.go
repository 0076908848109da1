package kafkaconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/tracing"
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

type options struct {
	log     *slog.Logger
	tracing trace.TracerProvider
}

// WithLogger sends the connector's logs to l. Default: nothing is logged. Log lines carry
// ids, partitions, offsets and reasons; never a payload.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTracerProvider makes the spans with tp: a department connector's span of each sub-case
// from its record until the department took it, a child of the trace context the record
// carries (which the department reads from the same headers). Default: tracing.Default().
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tracing = tp } }

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
	cfg    Config
	bus    *bus.Bus
	rec    connector.Recorder
	log    *slog.Logger
	tracer trace.Tracer
	topic  string

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
	// The department's group is its own, exactly as the connectors file names it: its
	// consumers commit under that name whatever namespace the hub runs in.
	b.DeclareForeignGroup(cfg.GroupID)
	return &Connector{cfg: cfg, bus: b, rec: rec, topic: bus.SubcaseTopic(cfg.Department), committed: map[int]int64{},
		log: o.log.With("connector", Kind, "department", cfg.Department), tracer: tracing.Tracer(o.tracing)}, nil
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
	// The names as the cluster has them: what the department's and the operator's tools show.
	c.log.InfoContext(ctx, "kafka: following the department's consumer group", "topic", c.bus.TopicName(c.topic),
		"department_group", c.bus.GroupName(c.cfg.GroupID), "track_group", c.bus.GroupName(c.cfg.TrackGroup), "concurrency", c.cfg.Concurrency)
	err := c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: c.topic, GroupID: c.cfg.TrackGroup, Concurrency: c.cfg.Concurrency}, c.track)
	if err == nil || ctx.Err() != nil || errors.Is(err, errStopped) {
		return nil
	}
	return fmt.Errorf("kafka %s: %w", c.cfg.Department, err)
}

func (c *Connector) track(ctx context.Context, m bus.Received) (err error) {
	c.counters.InFlight(1)
	defer c.counters.InFlight(-1)
	// The span lasts until the department took the record: what delivery is to a department
	// that consumes the topic itself.
	ctx, span := c.tracer.Start(tracing.ExtractHeaders(ctx, m.Headers), tracing.DeliverSpan(Kind), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(tracing.KeyConnector.String(c.Name()), tracing.KeyDepartment.String(c.cfg.Department),
			tracing.KeyMessagingSystem.String("kafka"), tracing.KeyDestination.String(m.Topic)))
	defer func() {
		switch {
		case err == nil:
			tracing.SetOutcome(span, "delivered", false)
		case ctx.Err() != nil:
			tracing.SetOutcome(span, "stopped", false)
		default:
			tracing.SetOutcome(span, "not recorded", true)
		}
		span.End()
	}()
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
	span.SetAttributes(tracing.KeyCaseID.String(data.CaseID), tracing.KeySubcaseID.String(data.SubcaseID), tracing.KeyEventID.String(env.ID))
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

// Status reports the department's consumer group, exactly as the connectors file names it
// (the manager fills in its lag), and how many sub-cases it has taken since the connector was
// created. Topic is the hub's name of the topic; Detail gives the names on the cluster, with
// the namespace, of the topic and of the hub's own groups.
func (c *Connector) Status() connector.Status {
	s := c.counters.Snapshot()
	return connector.Status{
		Name: c.Name(), Kind: Kind, Department: c.cfg.Department,
		Topic: c.topic, Group: c.cfg.GroupID,
		Delivered: s.Delivered, InFlight: s.InFlight, History: &s.History,
		LastSuccess: connector.TimePtr(s.LastSuccess), LastError: connector.TimePtr(s.LastError), LastErrorMessage: s.LastErrorMessage,
		Detail: map[string]any{"track_group": c.bus.GroupName(c.cfg.TrackGroup), "results_group": c.bus.GroupName(c.cfg.ResultsGroup),
			"results_topic": c.bus.TopicName(bus.TopicResult), "cluster_topic": c.bus.TopicName(c.topic)},
	}
}
