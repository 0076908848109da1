package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Received is a message delivered to a [Handler].
type Received struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	// Headers holds the record headers; of repeated header keys the last
	// one wins.
	Headers map[string]string
	// Time is the record's timestamp, set by its producer.
	Time time.Time
}

// Handler applies the effect of one message. Returning nil acknowledges the
// message: its offset is committed after Handler returns. Returning an error
// leaves it uncommitted and stops the subscription, so the group delivers it
// again (to this process once it subscribes again, or to another member).
//
// A Handler is called from one goroutine at a time, in partition order, unless
// SubscribeConfig.Concurrency is above 1: then from that many goroutines at
// once, one key's messages still one at a time in partition order. ctx
// is cancelled when the subscription stops; a Handler that cannot finish
// should return an error rather than acknowledge work it did not do.
type Handler func(ctx context.Context, m Received) error

// SubscribeConfig configures one [Bus.Subscribe] call. Durations left zero
// take the defaults stated on each field.
type SubscribeConfig struct {
	// Topic to consume. Required.
	Topic string
	// GroupID is the consumer group: processes subscribing with the same
	// GroupID share the topic's partitions and its committed offsets. The
	// namespace goes before it unless it was declared a department's
	// ([Bus.DeclareForeignGroup]).
	// Required. A group that has committed nothing starts at the oldest
	// message still kept.
	GroupID string

	// MaxWait bounds how long one fetch waits for new messages; stopping a
	// subscription waits for the fetch in flight, so also up to this long.
	// Default 500ms.
	MaxWait time.Duration
	// HeartbeatInterval is how often the member tells the group coordinator
	// it is alive; members notice a rebalance at their next heartbeat.
	// Default the bus's GroupHeartbeatInterval.
	HeartbeatInterval time.Duration
	// SessionTimeout is how long the coordinator waits without a heartbeat
	// before it gives a silent member's partitions to others. Must lie within
	// the broker's group.min/max.session.timeout.ms (6s and 30m by default in
	// Kafka, 1s and 5m in the embedded broker). Default the bus's
	// GroupSessionTimeout.
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin during a rebalance. Default 30s.
	RebalanceTimeout time.Duration
	// JoinGroupBackoff is the pause before joining the group again after an
	// error. Default 1s.
	JoinGroupBackoff time.Duration
	// CommitTimeout bounds the commit after a successful Handler call. The
	// commit is not cut short by the subscription stopping, so that work
	// done is not redone needlessly. Default 10s.
	CommitTimeout time.Duration

	// Concurrency is how many messages are handled at once. Default 1: one at
	// a time, each committed before the next is handled. Above 1, messages
	// are spread over that many workers by key, so that the messages of one
	// key (one case) are still handled one at a time in partition order, and
	// offsets are committed in batches by a committer of their own, each only
	// once it and every message before it in its partition were handled.
	Concurrency int
}

const (
	defaultMaxWait          = 500 * time.Millisecond
	defaultRebalanceTimeout = 30 * time.Second
	defaultJoinGroupBackoff = time.Second
	defaultCommitTimeout    = 10 * time.Second
)

func (c *SubscribeConfig) setDefaults() {
	if c.MaxWait == 0 {
		c.MaxWait = defaultMaxWait
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = defaultRebalanceTimeout
	}
	if c.JoinGroupBackoff == 0 {
		c.JoinGroupBackoff = defaultJoinGroupBackoff
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = defaultCommitTimeout
	}
}

// Validate reports every problem in c at once. Zero durations are accepted:
// they mean "use the default".
func (c *SubscribeConfig) Validate() error {
	var errs []error
	if err := ValidateTopic(c.Topic); err != nil {
		errs = append(errs, fmt.Errorf("topic: %w", err))
	}
	if c.GroupID == "" {
		errs = append(errs, errors.New("group_id: required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"max_wait", c.MaxWait},
		{"heartbeat_interval", c.HeartbeatInterval},
		{"session_timeout", c.SessionTimeout},
		{"rebalance_timeout", c.RebalanceTimeout},
		{"join_group_backoff", c.JoinGroupBackoff},
		{"commit_timeout", c.CommitTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", d.name, d.v))
		}
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 0 to %d", c.Concurrency, maxConcurrency))
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat_interval: %v is not shorter than session_timeout %v", c.HeartbeatInterval, c.SessionTimeout))
	}
	return errors.Join(errs...)
}

// Subscribe joins the consumer group cfg.GroupID on cfg.Topic and calls
// handle for each message, committing each offset only after handle returned
// nil (at-least-once delivery). It blocks until:
//
//   - ctx is cancelled or the Bus is closed: it returns nil;
//   - handle returns an error: the message is not committed and Subscribe
//     returns that error wrapped, naming topic, partition and offset;
//   - fetching or committing fails for good: it returns that error.
//
// Messages fetched after a failed one are not handled either, so a caller
// that wants to go on calls Subscribe again and the group redelivers from the
// last commit. Subscribe leaves the group before it returns, so its
// partitions move to the remaining members at once.
//
// Subscribe may be called concurrently, on the same or different groups;
// each call is one group member with its own connections.
func (b *Bus) Subscribe(ctx context.Context, cfg SubscribeConfig, handle Handler) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bus: subscribe: invalid config: %w", err)
	}
	if handle == nil {
		return errors.New("bus: subscribe: nil handler")
	}
	topic, err := b.named(cfg.Topic)
	if err != nil {
		return fmt.Errorf("bus: subscribe: invalid config: %w", err)
	}
	cfg.setDefaults()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = b.cfg.GroupSessionTimeout
	}
	if cfg.HeartbeatInterval == 0 || cfg.HeartbeatInterval >= cfg.SessionTimeout {
		cfg.HeartbeatInterval = min(b.cfg.GroupHeartbeatInterval, cfg.SessionTimeout/3)
	}
	ctx, release, err := b.track(ctx)
	if err != nil {
		return err
	}
	defer release()

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           b.brokers,
		GroupID:           b.GroupName(cfg.GroupID),
		Topic:             topic,
		Dialer:            b.dialer,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0, // synchronous: CommitMessages returns once committed
		MaxWait:           cfg.MaxWait,
		HeartbeatInterval: cfg.HeartbeatInterval,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  cfg.JoinGroupBackoff,
		ReadLagInterval:   -1, // lag is reported by Bus.Lag, per group
		ErrorLogger:       clientLogger(b.log, ComponentReader, &b.clientErrors.reader),
	})
	joined := b.member(ctx, cfg, r)
	defer joined()
	if cfg.Concurrency > 1 {
		err = b.consumeConcurrently(ctx, r, cfg, handle)
	} else {
		err = b.consume(ctx, r, cfg, handle)
	}
	if cerr := r.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("bus: close reader of topic %q: %w", cfg.Topic, cerr))
	}
	return err
}

func (b *Bus) consume(ctx context.Context, r *kafka.Reader, cfg SubscribeConfig, handle Handler) error {
	for {
		m, err := r.FetchMessage(ctx)
		// FetchMessage may return a buffered message even though ctx is
		// done: once stopped, handle nothing more.
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bus: fetch from topic %q for group %q: %w", cfg.Topic, cfg.GroupID, err)
		}
		if err := handle(ctx, received(m, b.cfg.Namespace)); err != nil {
			return fmt.Errorf("bus: handler failed on topic %q partition %d offset %d, not committed: %w",
				m.Topic, m.Partition, m.Offset, err)
		}
		// The effect is done: commit even if the subscription is stopping,
		// else the message would be handled twice for nothing.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.CommitTimeout)
		err = r.CommitMessages(cctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("bus: commit topic %q partition %d offset %d for group %q: %w",
				m.Topic, m.Partition, m.Offset, cfg.GroupID, err)
		}
	}
}

func received(m kafka.Message, namespace string) Received {
	r := Received{
		Topic:     strings.TrimPrefix(m.Topic, namespace),
		Partition: m.Partition,
		Offset:    m.Offset,
		Key:       m.Key,
		Value:     m.Value,
		Time:      m.Time,
	}
	if len(m.Headers) > 0 {
		r.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			r.Headers[h.Key] = string(h.Value)
		}
	}
	return r
}
