package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/connector"
	"yjshub/hub/metrics"
)

// Each connector's status becomes its figures, labelled by connector and kind: the state and
// the breaker one-hot over their known values, lag only for a connector that consumes a topic
// with a group, last success and error only once they happened.
func TestTheConnectorCollectorReadsTheStatusesAtScrapeTime(t *testing.T) {
	t.Parallel()
	success := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	failure := success.Add(1500 * time.Millisecond)
	calls := 0
	src := metrics.StatusesFunc(func(ctx context.Context) []connector.Status {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("Statuses was called without a deadline")
		}
		return []connector.Status{
			{Name: "restpush:tobacco", Kind: "restpush", Department: "tobacco", State: connector.StateRunning, Breaker: "half-open",
				Topic: "yjs.subcase.tobacco", Group: "yjshub-restpush-tobacco", Lag: 3, Delivered: 10, Retries: 4, Failed: 1,
				DeadLetters: 2, InFlight: 1, LastSuccess: &success, LastError: &failure, LastErrorMessage: "503"},
			{Name: "supervision:supervision", Kind: "supervision", State: connector.StatePaused},
		}
	})
	c := metrics.NewConnectorCollector(src, time.Second)
	want := `
# HELP yjshub_connector_breaker_state The connector's circuit breaker: 1 for the current state (closed, half-open, open), 0 for the others; kinds with a breaker only.
# TYPE yjshub_connector_breaker_state gauge
yjshub_connector_breaker_state{connector="restpush:tobacco",kind="restpush",state="closed"} 0
yjshub_connector_breaker_state{connector="restpush:tobacco",kind="restpush",state="half-open"} 1
yjshub_connector_breaker_state{connector="restpush:tobacco",kind="restpush",state="open"} 0
# HELP yjshub_connector_consumer_lag_messages Messages of the connector's Kafka topic that its consumer group has not committed.
# TYPE yjshub_connector_consumer_lag_messages gauge
yjshub_connector_consumer_lag_messages{connector="restpush:tobacco",kind="restpush"} 3
# HELP yjshub_connector_dead_letters The connector's dead letters waiting for an operator.
# TYPE yjshub_connector_dead_letters gauge
yjshub_connector_dead_letters{connector="restpush:tobacco",kind="restpush"} 2
yjshub_connector_dead_letters{connector="supervision:supervision",kind="supervision"} 0
# HELP yjshub_connector_delivered_messages_total Messages the connector delivered since it was started.
# TYPE yjshub_connector_delivered_messages_total counter
yjshub_connector_delivered_messages_total{connector="restpush:tobacco",kind="restpush"} 10
yjshub_connector_delivered_messages_total{connector="supervision:supervision",kind="supervision"} 0
# HELP yjshub_connector_failed_messages_total Messages the connector gave up on (dead-lettered) since it was started.
# TYPE yjshub_connector_failed_messages_total counter
yjshub_connector_failed_messages_total{connector="restpush:tobacco",kind="restpush"} 1
yjshub_connector_failed_messages_total{connector="supervision:supervision",kind="supervision"} 0
# HELP yjshub_connector_in_flight_messages Messages the connector is handling now.
# TYPE yjshub_connector_in_flight_messages gauge
yjshub_connector_in_flight_messages{connector="restpush:tobacco",kind="restpush"} 1
yjshub_connector_in_flight_messages{connector="supervision:supervision",kind="supervision"} 0
# HELP yjshub_connector_last_error_timestamp_seconds When an attempt last failed, in Unix seconds; absent until one has.
# TYPE yjshub_connector_last_error_timestamp_seconds gauge
yjshub_connector_last_error_timestamp_seconds{connector="restpush:tobacco",kind="restpush"} 1.7957718015e+09
# HELP yjshub_connector_last_success_timestamp_seconds When a message last got through, in Unix seconds; absent until one has.
# TYPE yjshub_connector_last_success_timestamp_seconds gauge
yjshub_connector_last_success_timestamp_seconds{connector="restpush:tobacco",kind="restpush"} 1.7957718e+09
# HELP yjshub_connector_retries_total Attempts the connector retried since it was started.
# TYPE yjshub_connector_retries_total counter
yjshub_connector_retries_total{connector="restpush:tobacco",kind="restpush"} 4
yjshub_connector_retries_total{connector="supervision:supervision",kind="supervision"} 0
# HELP yjshub_connector_state The connector's state: 1 for the current one (running, paused, failed, stopped), 0 for the others.
# TYPE yjshub_connector_state gauge
yjshub_connector_state{connector="restpush:tobacco",kind="restpush",state="failed"} 0
yjshub_connector_state{connector="restpush:tobacco",kind="restpush",state="paused"} 0
yjshub_connector_state{connector="restpush:tobacco",kind="restpush",state="running"} 1
yjshub_connector_state{connector="restpush:tobacco",kind="restpush",state="stopped"} 0
yjshub_connector_state{connector="supervision:supervision",kind="supervision",state="failed"} 0
yjshub_connector_state{connector="supervision:supervision",kind="supervision",state="paused"} 1
yjshub_connector_state{connector="supervision:supervision",kind="supervision",state="running"} 0
yjshub_connector_state{connector="supervision:supervision",kind="supervision",state="stopped"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("Statuses called %d times for one scrape", calls)
	}
	lint(t, c)
}

// A state the collector does not know is shown, not hidden; no connector, no series.
func TestTheConnectorCollectorShowsAnUnknownStateAndNothingWithoutConnectors(t *testing.T) {
	t.Parallel()
	var statuses []connector.Status
	c := metrics.NewConnectorCollector(metrics.StatusesFunc(func(context.Context) []connector.Status { return statuses }), time.Second)
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series without connectors", n)
	}
	statuses = []connector.Status{{Name: "kafka:fire-rescue", Kind: "kafka", State: "draining"}}
	want := `
# HELP yjshub_connector_state The connector's state: 1 for the current one (running, paused, failed, stopped), 0 for the others.
# TYPE yjshub_connector_state gauge
yjshub_connector_state{connector="kafka:fire-rescue",kind="kafka",state="draining"} 1
yjshub_connector_state{connector="kafka:fire-rescue",kind="kafka",state="failed"} 0
yjshub_connector_state{connector="kafka:fire-rescue",kind="kafka",state="paused"} 0
yjshub_connector_state{connector="kafka:fire-rescue",kind="kafka",state="running"} 0
yjshub_connector_state{connector="kafka:fire-rescue",kind="kafka",state="stopped"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "yjshub_connector_state"); err != nil {
		t.Fatal(err)
	}
}
