package metrics_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/metrics"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// The outbox collector shows, on every backend, the messages not yet published and how long
// the oldest of them has waited; 0 and 0 once all are published.
func TestTheOutboxCollectorShowsPendingMessagesAndTheOldestAge(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			ctx := t.Context()
			now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			c := metrics.NewOutboxCollector(st, func() time.Time { return now }, 10*time.Second)
			check := func(pending int, age string) {
				t.Helper()
				want := `
# HELP yjshub_outbox_oldest_pending_age_seconds How long the oldest unpublished outbox message has waited, in seconds; 0 when none waits.
# TYPE yjshub_outbox_oldest_pending_age_seconds gauge
yjshub_outbox_oldest_pending_age_seconds ` + age + `
# HELP yjshub_outbox_pending_messages Messages in the outbox not yet published to Kafka.
# TYPE yjshub_outbox_pending_messages gauge
yjshub_outbox_pending_messages ` + strconv.Itoa(pending) + `
`
				if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
					t.Fatal(err)
				}
			}
			check(0, "0")
			var msgs []store.OutboxMessage
			for i, ago := range []time.Duration{90 * time.Second, 30 * time.Second, 2500 * time.Millisecond} {
				msgs = append(msgs, store.OutboxMessage{EventID: "ev_" + strconv.Itoa(i), Topic: "yjs.case.event", Key: "cs_1",
					Payload: []byte(`{}`), CreatedAt: now.Add(-ago)})
			}
			if err := st.InTx(ctx, func(tx *sqlx.Tx) error { return st.EnqueueOutbox(ctx, tx, msgs...) }); err != nil {
				t.Fatal(err)
			}
			check(3, "90")
			pending, err := st.PendingOutbox(ctx, 10)
			if err != nil || len(pending) != 3 {
				t.Fatalf("pending %d %v", len(pending), err)
			}
			if err := st.MarkOutboxPublished(ctx, pending[0].ID); err != nil {
				t.Fatal(err)
			}
			check(2, "30")
			if err := st.MarkOutboxPublished(ctx, pending[1].ID, pending[2].ID); err != nil {
				t.Fatal(err)
			}
			check(0, "0")
			lint(t, c)
		})
	}
}
