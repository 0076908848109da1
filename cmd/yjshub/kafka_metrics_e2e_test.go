package main

import (
	"strings"
	"testing"
)

// serve hands its bus to the metrics: /metrics says whether a broker answered the scrape and
// counts, by component, the errors the Kafka client retried on its own, which the log keeps at
// DEBUG (the alerts and the dashboard under ops/ read both).
func TestServeExportsItsKafkaConnection(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			o.dataDir = t.TempDir()
			addr, stop := startServe(t, o)
			defer func() {
				if err := stop(); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			}()
			body := scrapeMetrics(t, "http://"+addr)
			for _, want := range []string{"\nyjshub_kafka_broker_reachable 1\n",
				"\nyjshub_kafka_client_errors_total{component=\"reader\"} ", "\nyjshub_kafka_client_errors_total{component=\"writer\"} "} {
				if !strings.Contains(body, want) {
					t.Errorf("the scrape lacks %q", strings.TrimSpace(want))
				}
			}
		})
	}
}
