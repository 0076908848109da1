package bus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
)

// A department's consumer group is the one its connectors file names, exactly: a department
// whose own client commits under that name, on a hub running in a namespace, is seen to have
// committed once the group is declared foreign; the hub's own groups keep the namespace.
func TestADepartmentsGroupIsReadAsWrittenWhateverTheNamespace(t *testing.T) {
	backends := map[string]func(t *testing.T) bus.Config{
		"embedded": func(t *testing.T) bus.Config { return bus.Config{DataDir: t.TempDir()} },
	}
	if addrs := os.Getenv(envKafka); addrs != "" {
		backends["kafka"] = func(*testing.T) bus.Config { return bus.Config{Brokers: strings.Split(addrs, ",")} }
	} else if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
		t.Fatalf("YJSHUB_REQUIRE_REAL is set but %s is not: this run must cover Apache Kafka", envKafka)
	}
	for name, config := range backends {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cfg := config(t)
			cfg.Namespace = bustest.Namespace()
			b, err := bus.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			bustest.Tidy(t, b)
			topic := "yjs.subcase.groups-" + strings.TrimSuffix(bustest.Namespace(), ".")
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1}); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, bus.Message{Topic: topic, Key: []byte("cs_1"), Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
			group := "dept-approval-" + strings.TrimSuffix(bustest.Namespace(), ".")
			if got := b.GroupName(group); got != cfg.Namespace+group {
				t.Errorf("GroupName of an undeclared group = %q, want the namespace before it", got)
			}
			b.DeclareForeignGroup(group)
			if got := b.GroupName(group); got != group {
				t.Errorf("GroupName of a department's group = %q, want %q as written", got, group)
			}
			if got, want := b.TopicName(topic), cfg.Namespace+topic; got != want {
				t.Errorf("TopicName = %q, want %q", got, want)
			}

			// The department's own client, knowing only the names on the cluster.
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Brokers(), GroupID: group, Topic: b.TopicName(topic),
				StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
			defer r.Close()
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
			lag, err := b.Lag(ctx, group, topic)
			if err != nil {
				t.Fatal(err)
			}
			if lag.Total != 0 || len(lag.Partitions) != 1 || lag.Partitions[0].Committed != 1 {
				t.Errorf("the department's lag %+v: want its commit seen, nothing left", lag)
			}
			own, err := b.Lag(ctx, "yjshub-track-"+group, topic)
			if err != nil {
				t.Fatal(err)
			}
			if own.Total != 1 {
				t.Errorf("a group of the hub's that committed nothing has lag %d, want 1", own.Total)
			}
		})
	}
}
