package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupLag is how far a consumer group is behind on a topic.
type GroupLag struct {
	Topic string
	Group string
	// Total is the sum of the partitions' lags.
	Total int64
	// Partitions lists every partition of the topic, in partition order.
	Partitions []PartitionLag
}

// PartitionLag is a group's position on one partition.
type PartitionLag struct {
	Partition int
	// Committed is the offset of the next message the group will consume,
	// or -1 when the group has committed nothing on this partition.
	Committed int64
	// End is the offset the next published message will get.
	End int64
	// Lag is the number of messages kept on the partition that the group
	// has not committed.
	Lag int64
}

// Lag reports how many messages of topic group has not committed, per
// partition. A partition the group has never committed counts from its oldest
// kept message, which is where a new member would start. group is the hub's own (the namespace
// goes before it) unless declared foreign ([Bus.DeclareForeignGroup]).
func (b *Bus) Lag(ctx context.Context, group, topic string) (GroupLag, error) {
	out := GroupLag{Topic: topic, Group: group}
	if group == "" {
		return out, fmt.Errorf("bus: lag of topic %q: empty group", topic)
	}
	topic, err := b.named(topic)
	if err != nil {
		return out, fmt.Errorf("bus: lag: %w", err)
	}
	group = b.GroupName(group)
	if b.isClosed() {
		return out, ErrClosed
	}
	n, err := b.partitions(ctx, topic)
	if err != nil {
		return out, fmt.Errorf("bus: lag of group %q: %w", group, err)
	}
	partitions := make([]int, n)
	for i := range partitions {
		partitions[i] = i
	}

	// Two requests: brokers refuse a ListOffsets that names a partition twice.
	first, err := b.listOffsets(ctx, topic, partitions, kafka.FirstOffsetOf)
	if err != nil {
		return out, fmt.Errorf("bus: lag of group %q: %w", group, err)
	}
	last, err := b.listOffsets(ctx, topic, partitions, kafka.LastOffsetOf)
	if err != nil {
		return out, fmt.Errorf("bus: lag of group %q: %w", group, err)
	}
	committed, err := b.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: group,
		Topics:  map[string][]int{topic: partitions},
	})
	if err == nil {
		err = committed.Error
	}
	// A group that never committed does not exist yet; newer brokers
	// (and the embedded one) say so rather than answering -1.
	if err != nil && !errors.Is(err, kafka.GroupIdNotFound) {
		return out, fmt.Errorf("bus: committed offsets of group %q on topic %q: %w", group, topic, err)
	}
	commits := make(map[int]int64, n)
	for _, p := range topicCommits(committed, topic) {
		if p.Error != nil {
			return out, fmt.Errorf("bus: committed offset of group %q on topic %q partition %d: %w", group, topic, p.Partition, p.Error)
		}
		commits[p.Partition] = p.CommittedOffset
	}

	for _, p := range partitions {
		pl := PartitionLag{Partition: p, Committed: -1, End: last[p].LastOffset}
		if c, ok := commits[p]; ok && c >= 0 {
			pl.Committed = c
		}
		from := max(pl.Committed, first[p].FirstOffset)
		pl.Lag = max(pl.End-from, 0)
		out.Total += pl.Lag
		out.Partitions = append(out.Partitions, pl)
	}
	return out, nil
}

func topicCommits(r *kafka.OffsetFetchResponse, topic string) []kafka.OffsetFetchPartition {
	if r == nil {
		return nil
	}
	return r.Topics[topic]
}

// listOffsetsAttempts bounds the tries of listOffsets at a partition whose leader is moving (a
// new topic, a broker restart); the pauses between them (about 4 s in all) outlast the
// default metadata TTL, so the client has refreshed its view of the leaders by the last.
const listOffsetsAttempts = 10

// listOffsets asks for the offsets of partitions, trying again, after a short pause, while the
// broker answers with an error Kafka calls retriable (not the leader, leader not available …).
func (b *Bus) listOffsets(ctx context.Context, topic string, partitions []int, of func(int) kafka.OffsetRequest) (map[int]kafka.PartitionOffsets, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var out map[int]kafka.PartitionOffsets
		out, err = b.listOffsetsOnce(ctx, topic, partitions, of)
		var kerr kafka.Error
		if err == nil || attempt == listOffsetsAttempts || !errors.As(err, &kerr) || !kerr.Temporary() {
			return out, err
		}
		t := time.NewTimer(min(time.Duration(attempt)*100*time.Millisecond, 500*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

func (b *Bus) listOffsetsOnce(ctx context.Context, topic string, partitions []int, of func(int) kafka.OffsetRequest) (map[int]kafka.PartitionOffsets, error) {
	reqs := make([]kafka.OffsetRequest, len(partitions))
	for i, p := range partitions {
		reqs[i] = of(p)
	}
	resp, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of topic %q: %w", topic, err)
	}
	out := make(map[int]kafka.PartitionOffsets, len(partitions))
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of topic %q partition %d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("list offsets of topic %q: partition %d missing from the answer", topic, p)
		}
	}
	return out, nil
}
