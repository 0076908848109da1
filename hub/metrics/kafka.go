package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KafkaClient is the hub's Kafka connection as the metrics read it; bus.Bus is one. Both
// methods are called at each scrape, concurrently with the rest of the hub.
type KafkaClient interface {
	// ClientErrors counts, by component (reader, writer), the errors the Kafka client library
	// reported and retried on its own since the connection was opened.
	ClientErrors() map[string]int64
	// Ping returns nil when a broker answers; it returns by the time ctx ends.
	Ping(ctx context.Context) error
}

// KafkaCollector reads the hub's Kafka connection when Prometheus scrapes: whether a broker
// answers, and the errors the client library retried on its own. Those are logged at DEBUG
// only (an idle hub's consumers see hundreds of fetch timeouts a minute on a healthy
// cluster), so they are counted here, where a rate that departs from its usual level shows;
// and since the library hides a broker that is gone behind its retries, a scrape asks a
// broker directly.
type KafkaCollector struct {
	src     KafkaClient
	timeout time.Duration

	reachable, clientErrors *prometheus.Desc
}

// NewKafkaCollector returns a collector of src; timeout bounds the ping of each scrape.
func NewKafkaCollector(src KafkaClient, timeout time.Duration) *KafkaCollector {
	return &KafkaCollector{src: src, timeout: timeout,
		reachable: prometheus.NewDesc(namespace+"_kafka_broker_reachable",
			"1 when a Kafka broker answered this scrape's metadata request, 0 when none did (the consumers then wait and the outbox fills).",
			nil, nil),
		clientErrors: prometheus.NewDesc(namespace+"_kafka_client_errors_total",
			"Errors the Kafka client library reported and retried on its own since the hub started (fetch timeouts, coordinator not ready, dropped connections), by component (reader, writer); logged at DEBUG only.",
			[]string{"component"}, nil),
	}
}

// Describe sends the descriptions of both families.
func (c *KafkaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reachable
	ch <- c.clientErrors
}

// Collect pings a broker and reads the counts.
func (c *KafkaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, boolValue(c.src.Ping(ctx) == nil))
	counts := c.src.ClientErrors()
	for _, component := range slices.Sorted(maps.Keys(counts)) {
		ch <- prometheus.MustNewConstMetric(c.clientErrors, prometheus.CounterValue, float64(counts[component]), component)
	}
}
