// Package bustest is the conformance suite every Kafka the hub runs on must
// pass: the embedded broker and Apache Kafka alike. It checks the guarantees
// the rest of the hub builds on: per-key order, acknowledged writes,
// commit-after-effect consumer groups and refusal of bad topic names.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"yjshub/hub/bus"
)

// Timeout bounds every subtest: each waits on conditions, never on sleeps,
// and fails rather than hangs once this has passed. Two consumer-group joins
// on Apache Kafka with its default group.initial.rebalance.delay.ms (3s) fit
// well inside it.
const Timeout = 60 * time.Second

// Run runs the suite. open is called once per subtest and returns a fresh,
// open Bus; Run closes it when the subtest ends. Subtests run in parallel and
// each uses topics and groups of its own, named yjs.test.<random>, so the
// suite can share a broker with other tests and with earlier runs.
func Run(t *testing.T, open func(t *testing.T) *bus.Bus) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, b *bus.Bus)
	}{
		{"a published message arrives with its key, value and headers", testRoundTrip},
		{"the writer waits for all in-sync replicas", testRequireAll},
		{"messages with one key arrive in publish order across partitions", testPerKeyOrder},
		{"EnsureTopics is idempotent and creates the partitions asked for", testEnsureTopics},
		{"EnsureTopics fails on an existing topic with fewer partitions than asked", testEnsureTopicsTooFewPartitions},
		{"a group resumes after its last commit", testGroupResumes},
		{"a message whose handler fails is not committed and is redelivered", testRedelivery},
		{"handled concurrently, one key's messages keep their order and all are committed", testConcurrentKeyOrder},
		{"handled concurrently, a failed message, what follows it on its key and nothing unhandled is lost", testConcurrentRedelivery},
		{"Lag counts the messages a group has not committed", testLag},
		{"an invalid topic name is refused with a clear error", testInvalidTopic},
		{"publishing to a missing topic fails naming the topic", testMissingTopic},
		{"Ping reaches a broker", testPing},
		{"Joined says ready once a subscription has joined its group", testJoined},
		{"Close stops running subscriptions and later calls fail with ErrClosed", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), Timeout)
			defer cancel()
			tc.run(t, ctx, b)
		})
	}
}

// unique returns a name no other test or earlier run has used.
func unique(kind string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "yjs.test." + kind + "." + hex.EncodeToString(b[:])
}

// topic creates a fresh topic with the given partitions.
func topic(t *testing.T, ctx context.Context, b *bus.Bus, partitions int) string {
	t.Helper()
	name := unique("topic")
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("EnsureTopics(%s): %v", name, err)
	}
	return name
}

func publish(t *testing.T, ctx context.Context, b *bus.Bus, msgs ...bus.Message) {
	t.Helper()
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// values builds n messages on topic with one key and values prefix-0...
func values(topic, key, prefix string, from, n int) []bus.Message {
	msgs := make([]bus.Message, n)
	for i := range msgs {
		msgs[i] = bus.Message{Topic: topic, Key: []byte(key), Value: fmt.Appendf(nil, "%s-%d", prefix, from+i)}
	}
	return msgs
}

// consumer runs one Subscribe call in the background and hands each message
// its handler saw to the test.
type consumer struct {
	t      *testing.T
	got    chan bus.Received
	done   chan error
	cancel context.CancelFunc
}

// subscribe starts a group member. fail, when not nil, decides the handler's
// result per message; the message is handed to the test either way.
func subscribe(t *testing.T, ctx context.Context, b *bus.Bus, topic, group string, fail func(bus.Received) error) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	c := &consumer{t: t, got: make(chan bus.Received, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		c.done <- b.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: group}, func(ctx context.Context, m bus.Received) error {
			select {
			case c.got <- m:
			case <-ctx.Done():
				return ctx.Err()
			}
			if fail != nil {
				return fail(m)
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(context.Background()) })
	return c
}

// next waits for the next handled message.
func (c *consumer) next(ctx context.Context) bus.Received {
	c.t.Helper()
	select {
	case m := <-c.got:
		return m
	case err := <-c.done:
		c.done <- err // keep it for stop
		c.t.Fatalf("subscription ended while a message was awaited: %v", err)
	case <-ctx.Done():
		c.t.Fatalf("no message before the deadline: %v", ctx.Err())
	}
	return bus.Received{}
}

// take waits for n handled messages.
func (c *consumer) take(ctx context.Context, n int) []bus.Received {
	c.t.Helper()
	out := make([]bus.Received, 0, n)
	for len(out) < n {
		out = append(out, c.next(ctx))
	}
	return out
}

// stop cancels the subscription and returns what Subscribe returned.
func (c *consumer) stop(ctx context.Context) error {
	c.cancel()
	return c.wait(ctx)
}

// wait returns what Subscribe returned, without cancelling it.
func (c *consumer) wait(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-ctx.Done():
		c.t.Errorf("Subscribe did not return before the deadline")
		return ctx.Err()
	}
}

func testRoundTrip(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 1)
	want := bus.Message{
		Topic:   tp,
		Key:     []byte("case-0001"),
		Value:   []byte(`{"type":"yjs.subcase.dispatched","data":{"成功":true}}`),
		Headers: map[string]string{"ce_type": "yjs.subcase.dispatched", "ce_id": "evt-1", "空": ""},
	}
	before := time.Now().Add(-time.Minute)
	publish(t, ctx, b, want)

	c := subscribe(t, ctx, b, tp, unique("group"), nil)
	got := c.next(ctx)
	if got.Topic != tp || got.Partition != 0 || got.Offset != 0 {
		t.Errorf("got %s/%d@%d, want %s/0@0", got.Topic, got.Partition, got.Offset, tp)
	}
	if string(got.Key) != string(want.Key) {
		t.Errorf("key = %q, want %q", got.Key, want.Key)
	}
	if string(got.Value) != string(want.Value) {
		t.Errorf("value = %q, want %q", got.Value, want.Value)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Errorf("headers = %v, want %v", got.Headers, want.Headers)
	}
	for k, v := range want.Headers {
		if gv, ok := got.Headers[k]; !ok || gv != v {
			t.Errorf("header %q = %q (present %v), want %q", k, gv, ok, v)
		}
	}
	if got.Time.Before(before) || got.Time.After(time.Now().Add(time.Minute)) {
		t.Errorf("time = %v, want about now", got.Time)
	}
	if err := c.stop(ctx); err != nil {
		t.Errorf("Subscribe returned %v after cancel, want nil", err)
	}
}

func testRequireAll(t *testing.T, _ context.Context, b *bus.Bus) {
	if got := b.RequiredAcks(); got != kafka.RequireAll {
		t.Errorf("RequiredAcks() = %v, want %v", got, kafka.RequireAll)
	}
}

func testPerKeyOrder(t *testing.T, ctx context.Context, b *bus.Bus) {
	const partitions, keys, perKey = 4, 12, 40
	tp := topic(t, ctx, b, partitions)

	// Interleave keys, and mix single and batched calls, as the outbox
	// relay does.
	var all []bus.Message
	for i := range perKey {
		for k := range keys {
			all = append(all, bus.Message{Topic: tp, Key: fmt.Appendf(nil, "case-%02d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	half := len(all) / 2
	for _, m := range all[:half] {
		publish(t, ctx, b, m)
	}
	for i := half; i < len(all); i += 50 {
		publish(t, ctx, b, all[i:min(i+50, len(all))]...)
	}

	c := subscribe(t, ctx, b, tp, unique("group"), nil)
	next := make(map[string]int)        // key -> next expected sequence number
	partitionOf := make(map[string]int) // key -> the one partition it lives on
	used := make(map[int]bool)          // partitions that carried messages
	for _, m := range c.take(ctx, len(all)) {
		key := string(m.Key)
		var seq int
		if _, err := fmt.Sscan(string(m.Value), &seq); err != nil {
			t.Fatalf("value %q: %v", m.Value, err)
		}
		if seq != next[key] {
			t.Fatalf("key %s: got sequence %d, want %d (out of order or lost)", key, seq, next[key])
		}
		next[key]++
		if p, ok := partitionOf[key]; ok && p != m.Partition {
			t.Fatalf("key %s: on partitions %d and %d", key, p, m.Partition)
		}
		partitionOf[key] = m.Partition
		used[m.Partition] = true
	}
	for k := range keys {
		key := fmt.Sprintf("case-%02d", k)
		if next[key] != perKey {
			t.Errorf("key %s: got %d messages, want %d", key, next[key], perKey)
		}
	}
	// The fixed keys hash onto several partitions; if they all landed on
	// one, the test would not exercise ordering across partitions.
	if len(used) < 2 {
		t.Errorf("messages used partitions %v of %d, want at least 2", slices.Sorted(maps.Keys(used)), partitions)
	}
}

func testEnsureTopics(t *testing.T, ctx context.Context, b *bus.Bus) {
	specs := []bus.TopicSpec{
		{Name: unique("topic"), Partitions: 3, ReplicationFactor: 1},
		{Name: unique("topic"), Partitions: 1},
	}
	for round := range 2 {
		if err := b.EnsureTopics(ctx, specs...); err != nil {
			t.Fatalf("EnsureTopics, round %d: %v", round+1, err)
		}
		for _, s := range specs {
			n, err := b.Partitions(ctx, s.Name)
			if err != nil {
				t.Fatalf("Partitions(%s), round %d: %v", s.Name, round+1, err)
			}
			if n != s.Partitions {
				t.Errorf("topic %s has %d partitions after round %d, want %d", s.Name, n, round+1, s.Partitions)
			}
		}
	}
	// A topic is usable as soon as EnsureTopics returns.
	publish(t, ctx, b, bus.Message{Topic: specs[0].Name, Key: []byte("k"), Value: []byte("v")})
	if err := b.EnsureTopics(ctx); err != nil {
		t.Errorf("EnsureTopics with no topics: %v", err)
	}
}

func testEnsureTopicsTooFewPartitions(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 1)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := b.EnsureTopics(short, bus.TopicSpec{Name: tp, Partitions: 3})
	if err == nil {
		t.Fatalf("EnsureTopics asked 3 partitions of a 1-partition topic: got nil error")
	}
	if !strings.Contains(err.Error(), tp) || !strings.Contains(err.Error(), "has 1 partitions, want 3") {
		t.Errorf("error %q does not name the topic and both partition counts", err)
	}
}

func testGroupResumes(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 2)
	group := unique("group")
	// Two keys, so both partitions carry messages.
	publish(t, ctx, b, append(values(tp, "case-a", "old", 0, 5), values(tp, "case-b", "old", 5, 5)...)...)

	first := subscribe(t, ctx, b, tp, group, nil)
	first.take(ctx, 10)
	if err := first.stop(ctx); err != nil {
		t.Fatalf("first member: Subscribe returned %v, want nil", err)
	}

	fresh := append(values(tp, "case-a", "new", 0, 3), values(tp, "case-b", "new", 3, 3)...)
	publish(t, ctx, b, fresh...)
	second := subscribe(t, ctx, b, tp, group, nil)
	want := make(map[string]bool)
	for _, m := range fresh {
		want[string(m.Value)] = true
	}
	for _, m := range second.take(ctx, len(fresh)) {
		if !want[string(m.Value)] {
			t.Errorf("second member got %q at %d@%d: it was committed by the first", m.Value, m.Partition, m.Offset)
		}
		delete(want, string(m.Value))
	}
	if len(want) > 0 {
		t.Errorf("second member missed %v", want)
	}
	if err := second.stop(ctx); err != nil {
		t.Errorf("second member: Subscribe returned %v, want nil", err)
	}
	lag, err := b.Lag(ctx, group, tp)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if lag.Total != 0 {
		t.Errorf("lag after consuming everything = %+v, want 0", lag)
	}
}

var errRefused = errors.New("department refused")

func testRedelivery(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 1)
	group := unique("group")
	publish(t, ctx, b, values(tp, "case-x", "m", 1, 3)...)

	failing := subscribe(t, ctx, b, tp, group, func(m bus.Received) error {
		if string(m.Value) == "m-2" {
			return errRefused
		}
		return nil
	})
	got := failing.take(ctx, 2)
	if string(got[0].Value) != "m-1" || string(got[1].Value) != "m-2" {
		t.Fatalf("first member got %q, %q; want m-1, m-2", got[0].Value, got[1].Value)
	}
	err := failing.wait(ctx)
	if !errors.Is(err, errRefused) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
	if !strings.Contains(err.Error(), tp) || !strings.Contains(err.Error(), "offset 1") {
		t.Errorf("error %q does not name the topic and offset", err)
	}

	again := subscribe(t, ctx, b, tp, group, nil)
	got = again.take(ctx, 2)
	if string(got[0].Value) != "m-2" || string(got[1].Value) != "m-3" {
		t.Errorf("second member got %q, %q; want m-2 (redelivered) then m-3", got[0].Value, got[1].Value)
	}
}

// subscribeConcurrently starts a group member handling n messages at once.
func subscribeConcurrently(t *testing.T, ctx context.Context, b *bus.Bus, topic, group string, n int, fail func(bus.Received) error) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	c := &consumer{t: t, got: make(chan bus.Received, 4096), done: make(chan error, 1), cancel: cancel}
	go func() {
		c.done <- b.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: group, Concurrency: n}, func(ctx context.Context, m bus.Received) error {
			if fail != nil {
				if err := fail(m); err != nil {
					return err
				}
			}
			select {
			case c.got <- m:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(context.Background()) })
	return c
}

func testConcurrentKeyOrder(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 3)
	group := unique("group")
	const keys, each = 12, 20
	var msgs []bus.Message
	for i := range each {
		for k := range keys {
			msgs = append(msgs, bus.Message{Topic: tp, Key: fmt.Appendf(nil, "case-%d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	publish(t, ctx, b, msgs...)
	c := subscribeConcurrently(t, ctx, b, tp, group, 8, nil)
	next := map[string]int{}
	for _, m := range c.take(ctx, keys*each) {
		want := next[string(m.Key)]
		if string(m.Value) != strconv.Itoa(want) {
			t.Fatalf("key %s: got message %s, want %d: one key's messages out of order", m.Key, m.Value, want)
		}
		next[string(m.Key)] = want + 1
	}
	if err := c.stop(ctx); err != nil {
		t.Fatalf("Subscribe returned %v, want nil", err)
	}
	// Everything handled was committed by the time Subscribe returned.
	lag, err := b.Lag(ctx, group, tp)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if lag.Total != 0 {
		t.Errorf("lag after handling everything concurrently = %+v, want 0", lag)
	}
}

func testConcurrentRedelivery(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 1)
	group := unique("group")
	var msgs []bus.Message
	for i := range 10 {
		for _, k := range []string{"case-a", "case-b"} {
			msgs = append(msgs, bus.Message{Topic: tp, Key: []byte(k), Value: fmt.Appendf(nil, "%s-%d", k, i)})
		}
	}
	publish(t, ctx, b, msgs...)
	failing := subscribeConcurrently(t, ctx, b, tp, group, 4, func(m bus.Received) error {
		if string(m.Value) == "case-a-5" {
			return errRefused
		}
		return nil
	})
	if err := failing.wait(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
	handled := map[string]bool{}
	for len(failing.got) > 0 {
		handled[string((<-failing.got).Value)] = true
	}
	if handled["case-a-5"] || handled["case-a-6"] {
		t.Errorf("a message after the failed one on its key was handled: %v", handled)
	}
	// Nothing the first member did not handle is lost: the second gets each of those (and
	// perhaps some it did handle, after a message of the other key it had not: at least once).
	again := subscribeConcurrently(t, ctx, b, tp, group, 4, nil)
	seen := map[string]bool{}
	for !seen["case-a-9"] || !seen["case-b-9"] {
		m := again.next(ctx)
		seen[string(m.Value)] = true
	}
	for _, m := range msgs {
		if v := string(m.Value); !handled[v] && !seen[v] {
			t.Errorf("%s was neither handled by the first member nor delivered to the second", v)
		}
	}
	for i := 5; i < 10; i++ {
		if v := fmt.Sprintf("case-a-%d", i); !seen[v] {
			t.Errorf("%s, at or after the failed message on its key, was not delivered again", v)
		}
	}
}

func testJoined(t *testing.T, ctx context.Context, b *bus.Bus) {
	if err := b.Joined(ctx); err != nil {
		t.Fatalf("Joined without subscriptions: %v", err)
	}
	tp := topic(t, ctx, b, 2)
	group := unique("group")
	c := subscribe(t, ctx, b, tp, group, nil)
	for b.Joined(ctx) != nil {
		select {
		case <-ctx.Done():
			t.Fatalf("the subscription did not join within the test's time: %v", b.Joined(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Joined, it takes what is published.
	publish(t, ctx, b, values(tp, "case-j", "m", 0, 1)...)
	if m := c.next(ctx); string(m.Value) != "m-0" {
		t.Errorf("got %q", m.Value)
	}
	if err := c.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Joined(ctx); err != nil {
		t.Errorf("Joined after the subscription stopped: %v", err)
	}
}

func testLag(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 2)
	group := unique("group")
	publish(t, ctx, b, values(tp, "case-lag", "m", 0, 5)...)

	lag, err := b.Lag(ctx, group, tp)
	if err != nil {
		t.Fatalf("Lag before consuming: %v", err)
	}
	if lag.Total != 5 || len(lag.Partitions) != 2 {
		t.Errorf("lag before consuming = %+v, want total 5 over 2 partitions", lag)
	}

	c := subscribe(t, ctx, b, tp, group, func(m bus.Received) error {
		if string(m.Value) == "m-2" {
			return errRefused
		}
		return nil
	})
	c.take(ctx, 3)
	if err := c.wait(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
	lag, err = b.Lag(ctx, group, tp)
	if err != nil {
		t.Fatalf("Lag after consuming: %v", err)
	}
	if lag.Total != 3 {
		t.Errorf("lag after committing 2 of 5 = %+v, want 3", lag)
	}
}

func testInvalidTopic(t *testing.T, ctx context.Context, b *bus.Bus) {
	for _, name := range []string{"", "has space", "yjs.subcase.人社", strings.Repeat("x", 250), ".."} {
		err := b.Publish(ctx, bus.Message{Topic: name, Value: []byte("v")})
		if !errors.Is(err, bus.ErrInvalidTopic) {
			t.Errorf("Publish to %q: got %v, want ErrInvalidTopic", name, err)
		}
		err = b.EnsureTopics(ctx, bus.TopicSpec{Name: name, Partitions: 1})
		if !errors.Is(err, bus.ErrInvalidTopic) {
			t.Errorf("EnsureTopics(%q): got %v, want ErrInvalidTopic", name, err)
		}
		err = b.Subscribe(ctx, bus.SubscribeConfig{Topic: name, GroupID: "g"}, func(context.Context, bus.Received) error { return nil })
		if !errors.Is(err, bus.ErrInvalidTopic) {
			t.Errorf("Subscribe(%q): got %v, want ErrInvalidTopic", name, err)
		}
	}
	err := b.Publish(ctx, bus.Message{Topic: "has space", Value: []byte("v")})
	if err == nil || !strings.Contains(err.Error(), `"has space"`) || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("error %v should quote the name and say what is allowed", err)
	}
}

func testMissingTopic(t *testing.T, ctx context.Context, b *bus.Bus) {
	existing := topic(t, ctx, b, 1)
	missing := unique("missing")
	err := b.Publish(ctx,
		bus.Message{Topic: existing, Value: []byte("v")},
		bus.Message{Topic: missing, Value: []byte("v")},
	)
	if err == nil {
		t.Fatalf("Publish to missing topic %s: got nil error", missing)
	}
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("error %v does not wrap UnknownTopicOrPartition", err)
	}
	if !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), existing) {
		t.Errorf("error %q should name %s and only it", err, missing)
	}
	if _, err := b.Partitions(ctx, missing); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("Partitions(missing topic): got %v, want UnknownTopicOrPartition", err)
	}
}

func testPing(t *testing.T, ctx context.Context, b *bus.Bus) {
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if len(b.Brokers()) == 0 {
		t.Errorf("Brokers() is empty")
	}
}

func testClose(t *testing.T, ctx context.Context, b *bus.Bus) {
	tp := topic(t, ctx, b, 1)
	publish(t, ctx, b, bus.Message{Topic: tp, Value: []byte("v")})
	c := subscribe(t, ctx, b, tp, unique("group"), nil)
	c.next(ctx)

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.wait(ctx); err != nil {
		t.Errorf("Subscribe returned %v after Close, want nil", err)
	}
	if err := b.Publish(ctx, bus.Message{Topic: tp, Value: []byte("v")}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: got %v, want ErrClosed", err)
	}
	err := b.Subscribe(ctx, bus.SubscribeConfig{Topic: tp, GroupID: "g"}, func(context.Context, bus.Received) error { return nil })
	if !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: got %v, want ErrClosed", err)
	}
	if err := b.Ping(ctx); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Ping after Close: got %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
