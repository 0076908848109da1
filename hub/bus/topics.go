package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topics of the hub. The Kafka key of every message on them is the case id.
const (
	// TopicResult carries departments' results and e-licences back to the
	// hub aggregator.
	TopicResult = "yjs.result"
	// TopicCaseEvent carries case lifecycle events to platform connectors
	// and supervision.
	TopicCaseEvent = "yjs.case.event"

	subcaseTopicPrefix = "yjs.subcase."
	dlqTopicPrefix     = "yjs.dlq."
)

// SubcaseTopic names the topic that carries sub-cases to the department with
// the given code, e.g. SubcaseTopic("rsj") = "yjs.subcase.rsj". The code must
// consist of characters legal in a topic name; [ValidateTopic] checks it.
func SubcaseTopic(dept string) string { return subcaseTopicPrefix + dept }

// DLQTopic names the dead-letter topic of the connector with the given name,
// e.g. DLQTopic("rsj-rest") = "yjs.dlq.rsj-rest".
func DLQTopic(connector string) string { return dlqTopicPrefix + connector }

// ErrInvalidTopic is wrapped by the errors of calls given a topic name that
// Kafka would refuse, so that callers can tell bad configuration from an
// unavailable broker.
var ErrInvalidTopic = errors.New("invalid topic name")

// maxTopicLen is Kafka's limit (Topic.MAX_NAME_LENGTH): a partition directory
// is named topic-partition and must fit a 255-byte file name.
const maxTopicLen = 249

// ValidateTopic reports whether name is a legal Kafka topic name: 1 to 249
// characters from a-z, A-Z, 0-9, '.', '_' and '-', and neither "." nor "..".
// The error wraps [ErrInvalidTopic] and says what is wrong.
func ValidateTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is reserved", ErrInvalidTopic, name)
	case len(name) > maxTopicLen:
		return fmt.Errorf("%w: %.40q... is %d bytes long, more than %d", ErrInvalidTopic, name, len(name), maxTopicLen)
	}
	for i, r := range name {
		if !legalTopicRune(r) {
			return fmt.Errorf("%w: %q has %q at byte %d (allowed: a-z A-Z 0-9 . _ -)", ErrInvalidTopic, name, r, i)
		}
	}
	return nil
}

func legalTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// TopicSpec describes a topic [Bus.EnsureTopics] creates when it is missing.
type TopicSpec struct {
	// Name is the topic name; see [ValidateTopic].
	Name string
	// Partitions is the number of partitions. It bounds how many hub
	// instances consume the topic in parallel. Default 0: the broker's
	// num.partitions.
	Partitions int
	// ReplicationFactor is the number of copies of each partition. Default 0:
	// the broker's default.replication.factor. The embedded broker has one
	// node, so only 0 and 1 work there.
	ReplicationFactor int
}

func (s TopicSpec) validate() error {
	var errs []error
	if err := ValidateTopic(s.Name); err != nil {
		errs = append(errs, err)
	}
	if s.Partitions < 0 {
		errs = append(errs, fmt.Errorf("topic %q: partitions %d is negative", s.Name, s.Partitions))
	}
	if s.ReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("topic %q: replication factor %d is negative", s.Name, s.ReplicationFactor))
	}
	return errors.Join(errs...)
}

// EnsureTopics creates the topics that do not exist yet and waits until
// metadata shows each of them with at least the partitions asked for and a
// leader for every partition, so that [Bus.Publish] can write to them as soon
// as it returns. Topics that already exist are left as they are. It is
// idempotent and safe to call from several hub instances at once.
//
// It waits at most [Config.TopicReadyTimeout] unless ctx ends sooner; an
// existing topic with fewer partitions than asked makes it fail at that
// deadline, naming the topic and both counts.
func (b *Bus) EnsureTopics(ctx context.Context, specs ...TopicSpec) error {
	if b.isClosed() {
		return ErrClosed
	}
	var errs []error
	for _, s := range specs {
		if err := s.validate(); err != nil {
			errs = append(errs, err)
		} else if _, err := b.named(s.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bus: ensure topics: %w", err)
	}
	if len(specs) == 0 {
		return nil
	}
	if b.cfg.Namespace != "" {
		named := make([]TopicSpec, len(specs))
		for i, sp := range specs {
			sp.Name = b.cfg.Namespace + sp.Name
			named[i] = sp
		}
		specs = named
	}

	ctx, cancel := context.WithTimeout(ctx, b.cfg.TopicReadyTimeout)
	defer cancel()

	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             s.Name,
			NumPartitions:     orBrokerDefault(s.Partitions),
			ReplicationFactor: orBrokerDefault(s.ReplicationFactor),
		})
	}
	// Through the shared transport rather than a separate connection: kafka-go
	// routes CreateTopics to the controller and, on success, refreshes the
	// metadata cache the writer reads, so Publish sees the topic at once.
	resp, err := b.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("bus: create topics %v: %w", topicNames(specs), b.withCause(ctx, err))
	}
	for _, s := range specs {
		err, ok := resp.Errors[s.Name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topic %q: missing from the broker's answer", s.Name))
		case err != nil && !errors.Is(err, kafka.TopicAlreadyExists):
			errs = append(errs, fmt.Errorf("topic %q: %w", s.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bus: create topics: %w", err)
	}
	return b.waitTopics(ctx, specs)
}

// withCause adds to err, when kafka-go reports a request it routes to one broker (the
// controller) as BrokerNotAvailable, why the brokers cannot be reached — a refused TLS
// handshake, a failed SASL authentication, a refused connection — as a fresh connection (Ping)
// finds it: kafka-go's shared transport does not keep the reason.
func (b *Bus) withCause(ctx context.Context, err error) error {
	if !errors.Is(err, kafka.BrokerNotAvailable) {
		return err
	}
	if perr := b.Ping(ctx); perr != nil {
		return fmt.Errorf("%w: %w", err, perr)
	}
	return err
}

func orBrokerDefault(n int) int {
	if n == 0 {
		return -1 // CreateTopics v4+: use the broker's default
	}
	return n
}

func topicNames(specs []TopicSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// topicReadyPoll is how often waitTopics looks at the (cached) metadata.
const topicReadyPoll = 50 * time.Millisecond

// waitTopics polls the metadata the writer routes by until every topic shows
// with its partitions led, or ctx ends.
func (b *Bus) waitTopics(ctx context.Context, specs []TopicSpec) error {
	tick := time.NewTicker(topicReadyPoll)
	defer tick.Stop()
	// found is what the last answered poll found wanting. It is kept when a later poll fails:
	// the poll that the deadline cuts short fails too, and the error must still say what
	// was wrong with the topics.
	var found []error
	for {
		pending, err := b.topicsNotReady(ctx, specs)
		if err == nil && len(pending) == 0 {
			return nil
		}
		if err == nil {
			found = pending
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: topics not ready: %w", errors.Join(append(found, err, ctx.Err())...))
		case <-tick.C:
		}
	}
}

func (b *Bus) topicsNotReady(ctx context.Context, specs []TopicSpec) ([]error, error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topicNames(specs)})
	if err != nil {
		return nil, err
	}
	byName := make(map[string]kafka.Topic, len(md.Topics))
	for _, t := range md.Topics {
		byName[t.Name] = t
	}
	var pending []error
	for _, s := range specs {
		t, ok := byName[s.Name]
		switch {
		case !ok:
			pending = append(pending, fmt.Errorf("topic %q: not in metadata yet", s.Name))
			continue
		case t.Error != nil:
			pending = append(pending, fmt.Errorf("topic %q: %w", s.Name, t.Error))
			continue
		case len(t.Partitions) == 0 || len(t.Partitions) < s.Partitions:
			pending = append(pending, fmt.Errorf("topic %q: has %d partitions, want %d", s.Name, len(t.Partitions), s.Partitions))
			continue
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				pending = append(pending, fmt.Errorf("topic %q partition %d: %w", s.Name, p.ID, p.Error))
				break
			}
		}
	}
	return pending, nil
}

// Partitions reports how many partitions topic has, as the writer currently
// sees it (metadata is cached for up to [Config.MetadataTTL]).
func (b *Bus) Partitions(ctx context.Context, topic string) (int, error) {
	full, err := b.named(topic)
	if err != nil {
		return 0, fmt.Errorf("bus: partitions: %w", err)
	}
	return b.partitions(ctx, full)
}

// partitions is Partitions on a topic name that already carries the namespace.
func (b *Bus) partitions(ctx context.Context, topic string) (int, error) {
	if err := ValidateTopic(topic); err != nil {
		return 0, fmt.Errorf("bus: partitions: %w", err)
	}
	if b.isClosed() {
		return 0, ErrClosed
	}
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("bus: partitions of topic %q: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("bus: partitions of topic %q: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("bus: partitions of topic %q: %w", topic, kafka.UnknownTopicOrPartition)
}

// named checks topic, a name as the bus's callers use it, and returns it with the bus's
// namespace before it; the error names topic as given and wraps [ErrInvalidTopic].
func (b *Bus) named(topic string) (string, error) {
	if err := ValidateTopic(topic); err != nil {
		return "", err
	}
	full := b.cfg.Namespace + topic
	if len(full) > maxTopicLen {
		return "", fmt.Errorf("%w: %.40q... is %d bytes long with the namespace %q, more than %d",
			ErrInvalidTopic, topic, len(full), b.cfg.Namespace, maxTopicLen)
	}
	return full, nil
}

// ErrNoNamespace is returned by [Bus.DropNamespace] on a bus opened without
// [Config.Namespace]: without one, every topic on the cluster would match.
var ErrNoNamespace = errors.New("bus: the bus has no namespace")

// DropNamespace deletes every topic whose name starts with the bus's
// namespace and returns their names without it. It is for retiring a hub
// instance (a trial, a test run) that shared a cluster with others; consumer
// groups are left to the broker's offsets retention. It refuses to run on a
// bus without a namespace.
func (b *Bus) DropNamespace(ctx context.Context) ([]string, error) {
	ns := b.cfg.Namespace
	if ns == "" {
		return nil, ErrNoNamespace
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("bus: list topics: %w", err)
	}
	var names []string
	for _, t := range md.Topics {
		if strings.HasPrefix(t.Name, ns) {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	resp, err := b.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: names})
	if err != nil {
		return nil, fmt.Errorf("bus: delete %d topics of namespace %q: %w", len(names), ns, err)
	}
	var errs []error
	dropped := make([]string, 0, len(names))
	for _, n := range names {
		if err := resp.Errors[n]; err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("topic %q: %w", n, err))
			continue
		}
		dropped = append(dropped, strings.TrimPrefix(n, ns))
	}
	if err := errors.Join(errs...); err != nil {
		return dropped, fmt.Errorf("bus: drop namespace %q: %w", ns, err)
	}
	return dropped, nil
}
