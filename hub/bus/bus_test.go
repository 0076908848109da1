package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
)

// envKafka names the environment variable holding a comma-separated
// host:port list of an Apache Kafka broker to run the suite against.
const envKafka = "YJSHUB_TEST_KAFKA"

func openEmbedded(t *testing.T, dir string, port int) *bus.Bus {
	t.Helper()
	b, err := bus.Open(t.Context(), bus.Config{DataDir: dir, EmbeddedPort: port})
	if err != nil {
		t.Fatalf("Open embedded: %v", err)
	}
	return b
}

func TestEmbeddedBroker(t *testing.T) {
	bustest.Run(t, func(t *testing.T) *bus.Bus {
		b := openEmbedded(t, t.TempDir(), 0)
		if !b.Embedded() {
			t.Errorf("Embedded() = false for a bus without brokers")
		}
		return b
	})
}

func TestApacheKafka(t *testing.T) {
	addrs := os.Getenv(envKafka)
	if addrs == "" && os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
		t.Fatalf("YJSHUB_REQUIRE_REAL is set but %s is not: this run must cover Apache Kafka", envKafka)
	}
	if addrs == "" {
		t.Skipf("%s is not set: set it to a comma-separated host:port list of an Apache Kafka broker (auto.create.topics.enable=false) to run the suite against it", envKafka)
	}
	brokers := strings.Split(addrs, ",")
	bustest.Run(t, func(t *testing.T) *bus.Bus {
		b, err := bus.Open(t.Context(), bus.Config{Brokers: brokers, ClientID: "yjshub-test", Namespace: bustest.Namespace()})
		if err != nil {
			t.Fatalf("Open %v: %v", brokers, err)
		}
		bustest.Tidy(t, b)
		if b.Embedded() {
			t.Errorf("Embedded() = true for a bus with brokers")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := b.Ping(ctx); err != nil {
			t.Fatalf("%s=%s is set but no broker answers: %v", envKafka, addrs, err)
		}
		return b
	})
}

// The embedded broker keeps topics, messages and committed group offsets
// across a restart on the same data directory and port.
func TestEmbeddedBrokerKeepsMessagesAndOffsetsAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bustest.Timeout)
	defer cancel()
	dir := t.TempDir()
	const topic, group = "yjs.subcase.restart", "hub"

	b := openEmbedded(t, dir, 0)
	addr := b.Brokers()[0]
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("broker address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("broker port %q: %v", portStr, err)
	}

	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 2}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	for i := range 5 {
		err := b.Publish(ctx, bus.Message{Topic: topic, Key: []byte("case-1"), Value: fmt.Appendf(nil, "m-%d", i)})
		if err != nil {
			t.Fatalf("Publish m-%d: %v", i, err)
		}
	}
	if got := consume(t, ctx, b, topic, group, 3); strings.Join(got, ",") != "m-0,m-1,m-2" {
		t.Fatalf("before restart the group got %v, want m-0..m-2", got)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b = openEmbedded(t, dir, port)
	t.Cleanup(func() { _ = b.Close() })
	if got := b.Brokers()[0]; got != addr {
		t.Errorf("restarted broker listens on %s, want %s", got, addr)
	}
	if n, err := b.Partitions(ctx, topic); err != nil || n != 2 {
		t.Fatalf("after restart Partitions = %d, %v; want 2", n, err)
	}
	lag, err := b.Lag(ctx, group, topic)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if lag.Total != 2 {
		t.Errorf("after restart lag = %+v, want 2", lag)
	}
	if got := consume(t, ctx, b, topic, group, 2); strings.Join(got, ",") != "m-3,m-4" {
		t.Errorf("after restart the group got %v, want m-3,m-4", got)
	}
	if got := consume(t, ctx, b, topic, "another-group", 5); strings.Join(got, ",") != "m-0,m-1,m-2,m-3,m-4" {
		t.Errorf("after restart a new group got %v, want m-0..m-4", got)
	}
	if err := b.Publish(ctx, bus.Message{Topic: topic, Key: []byte("case-1"), Value: []byte("m-5")}); err != nil {
		t.Errorf("Publish after restart: %v", err)
	}
	if got := consume(t, ctx, b, topic, group, 1); strings.Join(got, ",") != "m-5" {
		t.Errorf("after restart the group got %v, want m-5", got)
	}
}

// consume runs a group member until it has handled n messages, then stops it
// and returns their values.
func consume(t *testing.T, ctx context.Context, b *bus.Bus, topic, group string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []string
	err := b.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: group}, func(_ context.Context, m bus.Received) error {
		got = append(got, string(m.Value))
		if len(got) == n {
			cancel() // committed before Subscribe returns
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if len(got) != n {
		t.Fatalf("group %s got %d messages before the deadline, want %d: %v", group, len(got), n, got)
	}
	return got
}

func TestOpenFailsWhenTheEmbeddedPortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	b, err := bus.Open(t.Context(), bus.Config{DataDir: t.TempDir(), EmbeddedPort: port})
	if err == nil {
		b.Close()
		t.Fatalf("Open on taken port %d: got nil error", port)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Errorf("error %q does not name the port", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  bus.Config
		want []string // substrings of the error; none means valid
	}{
		{name: "an embedded broker with a data dir is valid", cfg: bus.Config{DataDir: "/var/lib/yjshub"}},
		{name: "external brokers need no data dir", cfg: bus.Config{Brokers: []string{"kafka-1:9092", "10.0.0.2:9092"}}},
		{name: "an embedded broker needs a data dir", cfg: bus.Config{}, want: []string{"data_dir: required"}},
		{name: "the embedded port must be a TCP port", cfg: bus.Config{DataDir: "d", EmbeddedPort: 70000}, want: []string{"embedded_port: 70000"}},
		{
			name: "every problem is reported at once",
			cfg: bus.Config{
				Brokers:      []string{"kafka-1", ":9092", "h:0"},
				WriteTimeout: -time.Second,
				MetadataTTL:  -1,
			},
			want: []string{"brokers[0]", "brokers[1]", "brokers[2]", "write_timeout", "metadata_ttl"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantValidate(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestOpenRejectsAnInvalidConfig(t *testing.T) {
	_, err := bus.Open(t.Context(), bus.Config{})
	if err == nil || !strings.Contains(err.Error(), "data_dir") {
		t.Errorf("Open(Config{}): got %v, want the data_dir error", err)
	}
}

func TestSubscribeConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  bus.SubscribeConfig
		want []string
	}{
		{name: "topic and group are enough", cfg: bus.SubscribeConfig{Topic: bus.TopicResult, GroupID: "hub"}},
		{name: "topic and group are required", cfg: bus.SubscribeConfig{}, want: []string{"topic:", "group_id: required"}},
		{
			name: "the heartbeat must come before the session times out",
			cfg:  bus.SubscribeConfig{Topic: "t", GroupID: "g", HeartbeatInterval: 10 * time.Second, SessionTimeout: 6 * time.Second},
			want: []string{"heartbeat_interval"},
		},
		{name: "durations are not negative", cfg: bus.SubscribeConfig{Topic: "t", GroupID: "g", MaxWait: -1, CommitTimeout: -1}, want: []string{"max_wait", "commit_timeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantValidate(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestTopicNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{bus.SubcaseTopic("rsj"), "yjs.subcase.rsj"},
		{bus.DLQTopic("rsj-rest"), "yjs.dlq.rsj-rest"},
		{bus.TopicResult, "yjs.result"},
		{bus.TopicCaseEvent, "yjs.case.event"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
		if err := bus.ValidateTopic(tc.got); err != nil {
			t.Errorf("ValidateTopic(%q): %v", tc.got, err)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		want  string // substring of the error; empty means valid
	}{
		{"letters, digits, dot, underscore and dash are allowed", "yjs.subcase.Dept_01-a", ""},
		{"249 characters are allowed", strings.Repeat("a", 249), ""},
		{"an empty name is refused", "", "empty"},
		{"250 characters are refused", strings.Repeat("a", 250), "more than 249"},
		{"a dot alone is reserved", ".", "reserved"},
		{"two dots alone are reserved", "..", "reserved"},
		{"a space is refused and located", "yjs.sub case", `' ' at byte 7`},
		{"a slash is refused", "yjs/result", `'/'`},
		{"non-ASCII letters are refused", "yjs.subcase.人社局", `'人'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := bus.ValidateTopic(tc.topic)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateTopic: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, bus.ErrInvalidTopic) {
				t.Fatalf("ValidateTopic: %v, want ErrInvalidTopic", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func FuzzValidateTopic(f *testing.F) {
	for _, s := range []string{"yjs.result", "", ".", "..", "a b", "人", strings.Repeat("x", 249)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := bus.ValidateTopic(name)
		legal := name != "" && name != "." && name != ".." && len(name) <= 249
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
				legal = false
			}
		}
		if legal != (err == nil) {
			t.Errorf("ValidateTopic(%q) = %v, but legal = %v", name, err, legal)
		}
	})
}

// TestNamespacesKeepBusesApart runs two buses with different namespaces on one broker: each
// sees only its own messages, under the plain topic names.
func TestNamespacesKeepBusesApart(t *testing.T) {
	cfgs := map[string]bus.Config{"embedded": {}}
	if addrs := os.Getenv(envKafka); addrs != "" {
		cfgs["kafka"] = bus.Config{Brokers: strings.Split(addrs, ",")}
	}
	for name, base := range cfgs {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			if base.Brokers == nil {
				embedded := openEmbedded(t, t.TempDir(), 0)
				defer embedded.Close()
				base.Brokers = embedded.Brokers()
			}
			run := fmt.Sprintf("ns%d.", time.Now().UnixNano())
			open := func(ns string) *bus.Bus {
				cfg := base
				cfg.Namespace = run + ns
				b, err := bus.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: "yjs.result", Partitions: 1}); err != nil {
					t.Fatal(err)
				}
				return b
			}
			a, b := open("a."), open("b.")
			if err := a.Publish(ctx, bus.Message{Topic: "yjs.result", Key: []byte("k"), Value: []byte("from a")}); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, bus.Message{Topic: "yjs.result", Key: []byte("k"), Value: []byte("from b")}); err != nil {
				t.Fatal(err)
			}
			got := make(chan bus.Received, 2)
			sctx, scancel := context.WithCancel(ctx)
			defer scancel()
			go func() {
				_ = b.Subscribe(sctx, bus.SubscribeConfig{Topic: "yjs.result", GroupID: "g"}, func(_ context.Context, m bus.Received) error {
					got <- m
					return nil
				})
			}()
			select {
			case m := <-got:
				if string(m.Value) != "from b" || m.Topic != "yjs.result" {
					t.Fatalf("bus b received %q on %q", m.Value, m.Topic)
				}
			case <-ctx.Done():
				t.Fatal("nothing received")
			}
			lag, err := a.Lag(ctx, "g", "yjs.result")
			if err != nil || lag.Total != 1 {
				t.Fatalf("bus a's group g (never consumed) should lag by its one message: %+v %v", lag, err)
			}

			// Dropping a's namespace deletes a's topic and leaves b's alone.
			dropped, err := a.DropNamespace(ctx)
			if err != nil || !slices.Equal(dropped, []string{"yjs.result"}) {
				t.Fatalf("a.DropNamespace() = %q, %v; want [yjs.result]", dropped, err)
			}
			if n, err := b.Partitions(ctx, "yjs.result"); err != nil || n != 1 {
				t.Fatalf("b's topic after dropping a's namespace: %d partitions, %v", n, err)
			}
			// Deletion is asynchronous on Apache Kafka: wait until the broker no longer knows it.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				_, err := a.Partitions(ctx, "yjs.result")
				if errors.Is(err, kafka.UnknownTopicOrPartition) {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("a's topic is still there after DropNamespace: %v", err)
				case <-tick.C:
				}
			}
			if dropped, err := b.DropNamespace(ctx); err != nil || len(dropped) != 1 {
				t.Fatalf("b.DropNamespace() = %q, %v", dropped, err)
			}
			plain, err := bus.Open(ctx, bus.Config{Brokers: base.Brokers})
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			if _, err := plain.DropNamespace(ctx); !errors.Is(err, bus.ErrNoNamespace) {
				t.Fatalf("DropNamespace without a namespace: %v, want ErrNoNamespace", err)
			}
		})
	}
}

// wantValidate checks a Validate error: nil when want is empty, else naming each of want.
func wantValidate(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate: %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate: nil, want errors %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// A member that cannot reach its group coordinator is not ready, and Joined says which.
func TestJoinedNamesASubscriptionThatCannotJoin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	b, err := bus.Open(t.Context(), bus.Config{Brokers: []string{addr}, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(ctx, bus.SubscribeConfig{Topic: "yjs.subcase.tobacco", GroupID: "g-unreachable"}, func(context.Context, bus.Received) error { return nil })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for b.Joined(ctx) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until the subscription has registered
	}
	err = b.Joined(ctx)
	if err == nil || !strings.Contains(err.Error(), `"g-unreachable"`) || !strings.Contains(err.Error(), "still joining") {
		t.Errorf("Joined = %v; want the unreachable group named as still joining", err)
	}
	cancel()
	<-done
	if err := b.Joined(t.Context()); err != nil {
		t.Errorf("Joined after the subscription stopped: %v", err)
	}
}
