package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/metrics"
	"yjshub/hub/store/storetest"
)

// The dead-letter collector counts, on every backend, the dead letters of each connector by
// state, both states shown for a connector that has any.
func TestTheDeadLetterCollectorCountsByConnectorAndState(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(open)(t)
			dlq := deadletter.New(st, nil) // Add does not publish; the bus is for Replay
			for i, conn := range []string{"restpush:tobacco", "restpush:tobacco", "restpush:tobacco", "kafka:fire-rescue"} {
				f := connector.Failure{Delivery: connector.Delivery{Connector: conn, EventID: "ev", At: time.Now()},
					Reason: "HTTP 422", Topic: "yjs.subcase.x", Offset: int64(i), Payload: []byte(`{}`)}
				if _, err := dlq.Add(t.Context(), f); err != nil {
					t.Fatal(err)
				}
			}
			// One replayed, as Replay marks it (Replay itself needs a broker).
			if _, err := st.DB().ExecContext(t.Context(), st.DB().Rebind(`UPDATE dead_letters SET state = ? WHERE connector = ? AND offset_no = 0`),
				deadletter.StateReplayed, "restpush:tobacco"); err != nil {
				t.Fatal(err)
			}
			c := metrics.NewDeadLetterCollector(dlq, 10*time.Second)
			want := `
# HELP yjshub_dead_letters Dead letters kept by the hub, by connector and state (dead: waiting for an operator; replayed: published again).
# TYPE yjshub_dead_letters gauge
yjshub_dead_letters{connector="kafka:fire-rescue",state="dead"} 1
yjshub_dead_letters{connector="kafka:fire-rescue",state="replayed"} 0
yjshub_dead_letters{connector="restpush:tobacco",state="dead"} 2
yjshub_dead_letters{connector="restpush:tobacco",state="replayed"} 1
`
			if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
				t.Fatal(err)
			}
			lint(t, c)
		})
	}
}

// A failed count is an error of the scrape, with nothing made up.
func TestTheDeadLetterCollectorReportsAFailedCount(t *testing.T) {
	t.Parallel()
	c := metrics.NewDeadLetterCollector(metrics.DeadLetterCounterFunc(func(context.Context) ([]deadletter.StateCount, error) {
		return nil, errors.New("store unreachable")
	}), time.Second)
	if _, err := testutil.CollectAndLint(c); err == nil || !strings.Contains(err.Error(), "store unreachable") {
		t.Fatalf("a failed count: %v", err)
	}
}
