package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/metrics"
)

// fakeKafka is a Kafka connection whose broker answers or not, with fixed error counts.
type fakeKafka struct {
	down       bool
	counts     map[string]int64
	noDeadline *atomic.Bool // set when a Ping came without a deadline
}

func (k fakeKafka) ClientErrors() map[string]int64 { return k.counts }

func (k fakeKafka) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		k.noDeadline.Store(true)
	}
	if k.down {
		return errors.New("no broker answered")
	}
	return nil
}

// The Kafka collector says whether a broker answered the scrape's ping, asked with a deadline,
// and counts the client library's retried errors by component.
func TestTheKafkaCollectorPingsABrokerAndCountsTheClientsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reachable string
		down            bool
	}{
		{name: "a broker answers", reachable: "1"},
		{name: "no broker answers", reachable: "0", down: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := fakeKafka{down: tc.down, counts: map[string]int64{"reader": 139, "writer": 2}, noDeadline: new(atomic.Bool)}
			c := metrics.NewKafkaCollector(k, time.Second)
			want := `
# HELP yjshub_kafka_broker_reachable 1 when a Kafka broker answered this scrape's metadata request, 0 when none did (the consumers then wait and the outbox fills).
# TYPE yjshub_kafka_broker_reachable gauge
yjshub_kafka_broker_reachable ` + tc.reachable + `
# HELP yjshub_kafka_client_errors_total Errors the Kafka client library reported and retried on its own since the hub started (fetch timeouts, coordinator not ready, dropped connections), by component (reader, writer); logged at DEBUG only.
# TYPE yjshub_kafka_client_errors_total counter
yjshub_kafka_client_errors_total{component="reader"} 139
yjshub_kafka_client_errors_total{component="writer"} 2
`
			if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
				t.Fatal(err)
			}
			if k.noDeadline.Load() {
				t.Error("Ping was called without a deadline")
			}
			lint(t, c)
		})
	}
}
