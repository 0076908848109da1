package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"yjshub/hub/connector"
)

// StatusReporter reports every connector's status; connectors.Manager is one. It is called at
// each scrape, concurrently with whatever else the hub does, so it must be safe for concurrent
// use, and should return by the time ctx ends.
type StatusReporter interface {
	Statuses(ctx context.Context) []connector.Status
}

// StatusesFunc adapts a function to a StatusReporter.
type StatusesFunc func(ctx context.Context) []connector.Status

// Statuses calls f.
func (f StatusesFunc) Statuses(ctx context.Context) []connector.Status { return f(ctx) }

// connectorStates and breakerStates are the values a state gauge always shows, 0 but for the
// current one, so that an alert on "open" or "failed" sees a 0 rather than no series.
var (
	connectorStates = []string{connector.StateRunning, connector.StatePaused, connector.StateFailed, connector.StateStopped}
	breakerStates   = []string{"closed", "half-open", "open"}
)

// ConnectorCollector reads the connectors' statuses when Prometheus scrapes: state, breaker,
// in-flight messages, consumer lag, counters, dead letters waiting, last success and error.
// Every family has the labels connector (its name, "<kind>:<target>") and kind.
type ConnectorCollector struct {
	src     StatusReporter
	timeout time.Duration

	state, breaker, inFlight, lag, retries, delivered, failed, dead, lastSuccess, lastError *prometheus.Desc
}

// NewConnectorCollector returns a collector of src's statuses; timeout bounds each reading
// (the lag lookups ask the broker).
func NewConnectorCollector(src StatusReporter, timeout time.Duration) *ConnectorCollector {
	labels := []string{"connector", "kind"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "connector", name), help, append(slices.Clone(labels), extra...), nil)
	}
	return &ConnectorCollector{
		src:     src,
		timeout: timeout,
		state: desc("state", "The connector's state: 1 for the current one (running, paused, failed, stopped), 0 for the others.",
			"state"),
		breaker: desc("breaker_state", "The connector's circuit breaker: 1 for the current state (closed, half-open, open), 0 for the others; kinds with a breaker only.",
			"state"),
		inFlight:    desc("in_flight_messages", "Messages the connector is handling now."),
		lag:         desc("consumer_lag_messages", "Messages of the connector's Kafka topic that its consumer group has not committed."),
		retries:     desc("retries_total", "Attempts the connector retried since it was started."),
		delivered:   desc("delivered_messages_total", "Messages the connector delivered since it was started."),
		failed:      desc("failed_messages_total", "Messages the connector gave up on (dead-lettered) since it was started."),
		dead:        desc("dead_letters", "The connector's dead letters waiting for an operator."),
		lastSuccess: desc("last_success_timestamp_seconds", "When a message last got through, in Unix seconds; absent until one has."),
		lastError:   desc("last_error_timestamp_seconds", "When an attempt last failed, in Unix seconds; absent until one has."),
	}
}

// Describe sends the descriptions of every family.
func (c *ConnectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.breaker, c.inFlight, c.lag, c.retries, c.delivered, c.failed, c.dead, c.lastSuccess, c.lastError} {
		ch <- d
	}
}

// Collect reads every connector's status and sends its figures.
func (c *ConnectorCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, s := range c.src.Statuses(ctx) {
		lv := []string{s.Name, s.Kind}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(slices.Clone(lv), extra...)...)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
		}
		oneHot(c.state, s.State, connectorStates, gauge)
		if s.Breaker != "" {
			oneHot(c.breaker, s.Breaker, breakerStates, gauge)
		}
		gauge(c.inFlight, float64(s.InFlight))
		if s.Topic != "" && s.Group != "" {
			gauge(c.lag, float64(s.Lag))
		}
		counter(c.retries, s.Retries)
		counter(c.delivered, s.Delivered)
		counter(c.failed, s.Failed)
		gauge(c.dead, float64(s.DeadLetters))
		if s.LastSuccess != nil {
			gauge(c.lastSuccess, unixSeconds(*s.LastSuccess))
		}
		if s.LastError != nil {
			gauge(c.lastError, unixSeconds(*s.LastError))
		}
	}
}

// oneHot sends 1 for the current state and 0 for the other known ones; a state the list does
// not know is sent too, rather than hidden.
func oneHot(d *prometheus.Desc, current string, known []string, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, st := range known {
		gauge(d, boolValue(st == current), st)
	}
	if current != "" && !slices.Contains(known, current) {
		gauge(d, 1, current)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
