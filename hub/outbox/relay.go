// Package outbox publishes what the hub wrote to its transactional outbox: state changes and
// the messages announcing them are committed in one SQL transaction, and the relay here
// publishes the messages to Kafka afterwards, with full acknowledgement, marking each
// published. A crash between publishing and marking publishes a message twice; consumers
// recognise repeats by the envelope id (the department by its Idempotency-Key, the hub by its
// inbox). Several hub instances may each run a relay: they take turns (store.PublishOutbox),
// so that each message is published once, in order, outside crashes.
package outbox

import (
	"context"
	"log/slog"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/store"
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
	cfg   Config
	store *store.Store
	bus   *bus.Bus
	wake  chan struct{}
}

// New returns a relay; call Run to start it.
func New(st *store.Store, b *bus.Bus, cfg Config) *Relay {
	cfg.setDefaults()
	return &Relay{cfg: cfg, store: st, bus: b, wake: make(chan struct{}, 1)}
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
		for i, p := range pending {
			msgs[i] = bus.Message{Topic: p.Topic, Key: []byte(p.Key), Value: p.Payload, Headers: p.Headers}
		}
		return r.bus.Publish(ctx, msgs...)
	})
	return n, err
}
