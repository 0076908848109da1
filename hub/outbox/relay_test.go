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
