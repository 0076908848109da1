package deadletter_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/store/storetest"
)

func openBus(t *testing.T) *bus.Bus {
	t.Helper()
	cfg := bus.Config{DataDir: t.TempDir()}
	if addrs := os.Getenv("YJSHUB_TEST_KAFKA"); addrs != "" {
		cfg = bus.Config{Brokers: strings.Split(addrs, ","), Namespace: bustest.Namespace()}
	}
	b, err := bus.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	bustest.Tidy(t, b)
	return b
}

func TestDeadLetters(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			b := openBus(t)
			ctx := context.Background()
			topic := "yjs.test.dlq." + strings.ReplaceAll(t.Name(), "/", ".")
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1}); err != nil {
				t.Fatal(err)
			}
			dlq := deadletter.New(st, b)
			f := connector.Failure{
				Delivery: connector.Delivery{Connector: "restpush:tobacco", EventID: "ev_1", CaseID: "cs_1", SubcaseID: "sc_1",
					Department: "tobacco", Status: 422, Attempts: 1, At: time.Now()},
				Reason: "HTTP 422", Topic: topic, Partition: 0, Offset: 7, Key: []byte("cs_1"), Payload: []byte(`{"id":"ev_1"}`),
			}
			id, err := dlq.Add(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			again, err := dlq.Add(ctx, f)
			if err != nil || again != id {
				t.Fatalf("the same message kept twice: %s vs %s (%v)", again, id, err)
			}
			poison := f
			poison.Offset, poison.Payload, poison.EventID = 8, []byte{0xff, 0x00, 0xfe}, ""
			pid, err := dlq.Add(ctx, poison)
			if err != nil {
				t.Fatalf("a non-UTF-8 poison message must be kept: %v", err)
			}
			got, err := dlq.Get(ctx, pid)
			if err != nil || string(got.PayloadBytes()) != string(poison.Payload) {
				t.Fatalf("poison payload round trip: %v %q", err, got.PayloadBytes())
			}
			counts, err := dlq.Counts(ctx)
			if err != nil || counts["restpush:tobacco"] != 2 {
				t.Fatalf("counts %v %v", counts, err)
			}
			list, err := dlq.List(ctx, deadletter.Filter{Connector: "restpush:tobacco"})
			if err != nil || len(list) != 2 {
				t.Fatalf("list %d %v", len(list), err)
			}
			if other, _ := dlq.List(ctx, deadletter.Filter{Connector: "restpush:health"}); len(other) != 0 {
				t.Fatalf("filter by connector: %d", len(other))
			}
			// Replay publishes the message unchanged and marks it.
			received := make(chan bus.Received, 1)
			subCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			go func() {
				_ = b.Subscribe(subCtx, bus.SubscribeConfig{Topic: topic, GroupID: "g-" + strings.ReplaceAll(t.Name(), "/", "-")}, func(ctx context.Context, m bus.Received) error {
					received <- m
					cancel()
					return nil
				})
			}()
			l, err := dlq.Replay(ctx, id)
			if err != nil || l.State != deadletter.StateReplayed || l.ReplayCount != 1 || l.ReplayedAt == nil {
				t.Fatalf("replay: %+v %v", l, err)
			}
			// The handler cancels subCtx once it has the message: wait on a deadline of our own,
			// or the two could be ready at once.
			waitCtx, waitCancel := context.WithTimeout(ctx, 60*time.Second)
			defer waitCancel()
			select {
			case m := <-received:
				if string(m.Value) != `{"id":"ev_1"}` || string(m.Key) != "cs_1" || m.Headers["dlq_replay_of"] != id {
					t.Fatalf("replayed message %q key %q headers %v", m.Value, m.Key, m.Headers)
				}
			case <-waitCtx.Done():
				t.Fatal("the replayed message never arrived")
			}
			byState, err := dlq.CountsByState(ctx)
			want := []deadletter.StateCount{{Connector: "restpush:tobacco", State: deadletter.StateDead, N: 1},
				{Connector: "restpush:tobacco", State: deadletter.StateReplayed, N: 1}}
			if err != nil || !reflect.DeepEqual(byState, want) {
				t.Fatalf("counts by state %+v %v; want %+v", byState, err, want)
			}
			if _, err := dlq.Replay(ctx, "dl_nope"); !errors.Is(err, deadletter.ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
			// The mirror copy for yjs.dlq.* waits in the outbox.
			pending, _ := st.PendingOutbox(ctx, 10)
			mirrored := 0
			for _, p := range pending {
				if p.Topic == deadletter.Topic("restpush:tobacco") {
					mirrored++
				}
			}
			if mirrored != 2 {
				t.Fatalf("%d mirror messages, want 2", mirrored)
			}
		})
	}
}
