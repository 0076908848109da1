// Package outbox publishes what the hub wrote to its transactional outbox: state changes and
// the messages announcing them are committed in one SQL transaction, and the relay here
// publishes the messages to Kafka afterwards, with full acknowledgement, marking each
// published. A crash between publishing and marking publishes a message twice; consumers
// recognise repeats by the envelope id (the department by its Idempotency-Key, the hub by its
// inbox). Several hub instances may each run a relay: they take turns (store.PublishOutbox),
// so that each message is published once, in order, outside crashes. Every record is a
// CloudEvent in the structured mode of the Kafka protocol binding ([event.KafkaHeaders]).
package outbox

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/bus"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
)

// Config configures a Relay.
type Config struct {
	// Interval is how often the relay looks for pending messages when nobody wakes it.
	// Default 500ms.
	Interval time.Duration
	// Batch is the most messages published in one request. Default 100.
	Batch int
	// RetryBackoff is the wait after a failed publish before the next try. Default 1s.
	RetryBackoff time.Duration
	// Logger receives publish failures. Default: slog.Default().
	Logger *slog.Logger
	// Tracing makes the dispatch span of each message that carries a trace context (a
	// traceparent header): a child of that context, whose own context the published record
	// carries instead, so that the department's delivery continues from it. Default:
	// tracing.Default().
	Tracing trace.TracerProvider
}

func (c *Config) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Relay moves messages from the store's outbox to Kafka.
type Relay struct {
	cfg    Config
	store  *store.Store
	bus    *bus.Bus
	tracer trace.Tracer
	wake   chan struct{}
}

// New returns a relay; call Run to start it.
func New(st *store.Store, b *bus.Bus, cfg Config) *Relay {
	cfg.setDefaults()
	return &Relay{cfg: cfg, store: st, bus: b, tracer: tracing.Tracer(cfg.Tracing), wake: make(chan struct{}, 1)}
}

// Notify wakes the relay early: call it after committing a transaction that enqueued
// messages. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes pending messages until ctx ends, and returns nil then.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		n, err := r.Flush(ctx)
		wait := time.Duration(0)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.cfg.Logger.Warn("outbox relay: publish failed; retrying", "error", err)
			wait = r.cfg.RetryBackoff
		case n == r.cfg.Batch:
			continue // more may be waiting
		}
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-timer.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-t.C:
		}
	}
}

// Flush publishes one batch of pending messages and reports how many it published. Another
// hub instance publishing at the time (store.PublishOutbox's turn) makes it publish none.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	n, _, err := r.store.PublishOutbox(ctx, r.cfg.Batch, func(pending []store.OutboxMessage) error {
		msgs := make([]bus.Message, len(pending))
		var spans []trace.Span
		for i, p := range pending {
			headers := p.Headers
			if parent := tracing.ExtractHeaders(ctx, p.Headers); trace.SpanContextFromContext(parent).IsValid() {
				sctx, span := r.tracer.Start(parent, tracing.SpanDispatch, trace.WithSpanKind(trace.SpanKindProducer),
					trace.WithAttributes(dispatchAttributes(p)...))
				headers = tracing.HeadersWith(sctx, p.Headers)
				spans = append(spans, span)
			}
			// Rows keep the ce_ headers they were written with; the record is in the binding's
			// structured mode, which the official SDKs read without configuration.
			msgs[i] = bus.Message{Topic: p.Topic, Key: []byte(p.Key), Value: p.Payload, Headers: event.KafkaHeaders(headers)}
		}
		err := r.bus.Publish(ctx, msgs...)
		for _, span := range spans {
			if err != nil {
				tracing.SetOutcome(span, "not published", true)
			} else {
				tracing.SetOutcome(span, "published", false)
			}
			span.End()
		}
		return err
	})
	return n, err
}

// dispatchAttributes name a message in its dispatch span: its topic, its key (the case id),
// its id and type, and the department whose topic it is.
func dispatchAttributes(p store.OutboxMessage) []attribute.KeyValue {
	attrs := []attribute.KeyValue{tracing.KeyMessagingSystem.String("kafka"), tracing.KeyDestination.String(p.Topic),
		tracing.KeyCaseID.String(p.Key), tracing.KeyEventID.String(p.EventID)}
	if t := p.Headers["ce_type"]; t != "" {
		attrs = append(attrs, tracing.KeyEventType.String(t))
	}
	if dept, ok := strings.CutPrefix(p.Topic, bus.SubcaseTopic("")); ok && dept != "" {
		attrs = append(attrs, tracing.KeyDepartment.String(dept))
	}
	return attrs
}
