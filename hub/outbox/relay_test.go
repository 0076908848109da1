package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/hubtest"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// testTimeout bounds each test: waits are on conditions, and fail rather than hang once it
// has passed.
const testTimeout = 60 * time.Second

// enqueue writes n messages for topic to the outbox in one transaction, as the hub does with
// the state change they announce, and returns their payloads.
func enqueue(t *testing.T, st *store.Store, topic string, n int) []string {
	t.Helper()
	msgs := make([]store.OutboxMessage, n)
	payloads := make([]string, n)
	for i := range msgs {
		id := "ev-" + hubtest.RandomHex(8)
		payloads[i] = fmt.Sprintf(`{"id":%q,"n":%d}`, id, i)
		msgs[i] = store.OutboxMessage{EventID: id, Topic: topic, Key: fmt.Sprintf("cs-%d", i%2), Payload: []byte(payloads[i]),
			Headers: map[string]string{"ce_type": "cn.yjshub.test"}}
	}
	if err := st.InTx(t.Context(), func(tx *sqlx.Tx) error { return st.EnqueueOutbox(t.Context(), tx, msgs...) }); err != nil {
		t.Fatalf("EnqueueOutbox: %v", err)
	}
	return payloads
}

func pending(t *testing.T, st *store.Store) []store.OutboxMessage {
	t.Helper()
	p, err := st.PendingOutbox(t.Context(), 1000)
	if err != nil {
		t.Fatalf("PendingOutbox: %v", err)
	}
	return p
}

// waitFor waits until cond holds, failing the test when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not before the deadline", what)
		case <-tick.C:
		}
	}
}

// A message is marked published only once the broker has it: while the broker is down every
// message stays pending, with the failed attempt counted, and when it comes back the relay
// publishes each message exactly once.
func TestWithTheBrokerDownMessagesStayPendingAndArePublishedOnceWhenItReturns(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			st := storetest.Migrated(open)(t)

			// The relay's client outlives the broker, as the hub's does when Kafka restarts.
			dir := t.TempDir()
			broker, port := bustest.OpenEmbeddedAt(t, dir, 0)
			client, err := bus.Open(ctx, bus.Config{Brokers: broker.Brokers(), ClientID: "yjshub-outbox-test",
				WriteTimeout: 2 * time.Second, DialTimeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = client.Close() })
			topic := "yjs.test.outbox." + hubtest.RandomHex(6)
			if err := client.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}

			const n = 7
			payloads := enqueue(t, st, topic, n)
			relay := outbox.New(st, client, outbox.Config{Interval: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond, Batch: 3})

			if err := broker.Close(); err != nil {
				t.Fatalf("stop the broker: %v", err)
			}
			published, err := relay.Flush(ctx)
			if err == nil || published != 0 {
				t.Fatalf("Flush with the broker down = %d, %v; want 0 and an error", published, err)
			}
			left := pending(t, st)
			if len(left) != n {
				t.Fatalf("%d of %d messages pending after a failed publish: a message the broker does not have was marked published", len(left), n)
			}
			failed := 0
			for _, m := range left {
				if m.Attempts == 1 && m.LastError != "" {
					failed++
				}
			}
			if failed != 3 { // one batch was tried
				t.Errorf("%d messages have one failed attempt and its error recorded, want the batch of 3", failed)
			}

			bustest.OpenEmbeddedAt(t, dir, port)
			runCtx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := relay.Run(runCtx); err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			waitFor(t, ctx, "the outbox to be emptied", func() bool { return len(pending(t, st)) == 0 })
			stop()
			wg.Wait()

			// A group that has committed nothing lags by every record kept on the topic.
			lag, err := client.Lag(ctx, "yjshub-outbox-test-"+hubtest.RandomHex(6), topic)
			if err != nil {
				t.Fatalf("Lag: %v", err)
			}
			if lag.Total != n {
				t.Errorf("the topic holds %d records for %d messages, want each exactly once", lag.Total, n)
			}
			got := map[string]int{}
			var mu sync.Mutex
			readCtx, stopReading := context.WithCancel(ctx)
			defer stopReading()
			done := make(chan error, 1)
			go func() {
				done <- client.Subscribe(readCtx, bus.SubscribeConfig{Topic: topic, GroupID: "yjshub-outbox-read-" + hubtest.RandomHex(6)},
					func(_ context.Context, m bus.Received) error {
						mu.Lock()
						got[string(m.Value)]++
						mu.Unlock()
						return nil
					})
			}()
			waitFor(t, ctx, "every message to be read back", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == n
			})
			stopReading()
			if err := <-done; err != nil {
				t.Errorf("Subscribe: %v", err)
			}
			for _, p := range payloads {
				if got[p] != 1 {
					t.Errorf("message %s was read %d times, want once", p, got[p])
				}
			}
		})
	}
}

// Three hub instances on one PostgreSQL database each run a relay: they take turns, so every
// message reaches Kafka once, and a case's messages in the order they were written.
func TestThreeInstancesPublishEachMessageOnceAndInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	u := storetest.PostgresSchemaURL(t)
	stores := make([]*store.Store, 3)
	for i := range stores {
		st, err := store.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores[i] = st
	}
	brokers := bustest.RealBrokers(t)
	if brokers == nil {
		t.Skip(bustest.KafkaEnv + " unset: the turn is PostgreSQL's, and the test needs the real pair")
	}
	b := bustest.OpenReal(t, brokers, "yjshub-outbox-test")
	topic := "yjs.test.outbox." + hubtest.RandomHex(6)
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	var payloads []string
	for range 12 { // 240 messages, written as the hub writes them: a transaction at a time
		payloads = append(payloads, enqueue(t, stores[0], topic, 20)...)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, st := range stores {
		relay := outbox.New(st, b, outbox.Config{Interval: 5 * time.Millisecond, Batch: 7})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := relay.Run(runCtx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	waitFor(t, ctx, "the outbox to be emptied", func() bool { return len(pending(t, stores[1])) == 0 })
	stop()
	wg.Wait()

	var mu sync.Mutex
	var got []string
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(readCtx, bus.SubscribeConfig{Topic: topic, GroupID: "yjshub-outbox-read-" + hubtest.RandomHex(6)},
			func(_ context.Context, m bus.Received) error {
				mu.Lock()
				got = append(got, string(m.Value))
				mu.Unlock()
				return nil
			})
	}()
	waitFor(t, ctx, "every message read back", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(payloads)
	})
	// Anything published twice would be on the topic by now: the relays have stopped.
	lag, err := b.Lag(ctx, "yjshub-outbox-count-"+hubtest.RandomHex(6), topic)
	if err != nil {
		t.Fatal(err)
	}
	stopReading()
	if err := <-done; err != nil {
		t.Errorf("Subscribe: %v", err)
	}
	if lag.Total != int64(len(payloads)) {
		t.Fatalf("the topic holds %d records for %d messages, want each exactly once", lag.Total, len(payloads))
	}
	// One key's messages keep the order they were written in (keys share partitions).
	pos := map[string]int{}
	for i, p := range got {
		pos[p] = i
	}
	for i := 2; i < len(payloads); i++ {
		if pos[payloads[i-2]] > pos[payloads[i]] { // enqueue alternates two keys
			t.Fatalf("message %d of a case was read before message %d", i, i-2)
		}
	}
}
