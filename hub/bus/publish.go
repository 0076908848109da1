package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Message is a record to publish.
type Message struct {
	// Topic is the destination topic. It must exist: the bus never creates
	// topics implicitly (see [Bus.EnsureTopics]).
	Topic string
	// Key picks the partition; messages with equal keys keep their order.
	// The hub uses the case id. A nil key spreads messages round-robin.
	Key []byte
	// Value is the payload, the JSON event envelope for hub topics.
	Value []byte
	// Headers are sent as Kafka record headers, in key order.
	Headers map[string]string
}

// Publish writes msgs and returns once every in-sync replica of their
// partitions has stored them, or with an error naming each topic that was
// refused. Messages for the same partition are written in the order given.
// On error some messages may have been written and others not: callers retry
// the whole call, and consumers tolerate the duplicates that causes.
//
// Publish is safe for concurrent use. ctx bounds the whole call.
func (b *Bus) Publish(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var errs []error
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		topic, err := b.named(m.Topic)
		if err != nil {
			errs = append(errs, fmt.Errorf("message %d: %w", i, err))
			continue
		}
		out[i] = kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: kafkaHeaders(m.Headers)}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bus: publish: %w", err)
	}
	if b.isClosed() {
		return ErrClosed
	}

	err := b.writer.WriteMessages(ctx, out...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.ErrClosedPipe):
		return ErrClosed
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		return fmt.Errorf("bus: publish: %w", byTopic(msgs, werrs))
	}
	// Errors found before anything was sent (an unknown topic, a message
	// too large, a cancelled context) apply to the whole call.
	topics := distinctTopics(msgs)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		if missing := b.unknownTopics(ctx, topics); len(missing) > 0 {
			topics = missing
		}
	}
	return fmt.Errorf("bus: publish to topic %s: %w", quoted(topics), err)
}

// unknownTopics returns those of topics that metadata does not know, to name
// the culprit when one topic of a multi-topic call is missing.
func (b *Bus) unknownTopics(ctx context.Context, topics []string) []string {
	named := make([]string, len(topics))
	for i, t := range topics {
		named[i] = b.cfg.Namespace + t
	}
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: named})
	if err != nil {
		return nil
	}
	var missing []string
	for _, t := range md.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			missing = append(missing, strings.TrimPrefix(t.Name, b.cfg.Namespace))
		}
	}
	return missing
}

// byTopic reduces kafka-go's per-message errors to one per topic and error.
func byTopic(msgs []Message, werrs kafka.WriteErrors) error {
	type key struct {
		topic string
		err   string
	}
	seen := make(map[key]bool)
	var errs []error
	for i, err := range werrs {
		if err == nil || i >= len(msgs) {
			continue
		}
		k := key{msgs[i].Topic, err.Error()}
		if seen[k] {
			continue
		}
		seen[k] = true
		errs = append(errs, fmt.Errorf("topic %q: %w", msgs[i].Topic, err))
	}
	return errors.Join(errs...)
}

func distinctTopics(msgs []Message) []string {
	var topics []string
	for _, m := range msgs {
		if !slices.Contains(topics, m.Topic) {
			topics = append(topics, m.Topic)
		}
	}
	return topics
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func kafkaHeaders(h map[string]string) []kafka.Header {
	if len(h) == 0 {
		return nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]kafka.Header, len(keys))
	for i, k := range keys {
		out[i] = kafka.Header{Key: k, Value: []byte(h[k])}
	}
	return out
}
