package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"yjshub/hub/deadletter"
)

// DeadLetterCounter counts dead letters by connector and state; deadletter.Store is one.
type DeadLetterCounter interface {
	CountsByState(ctx context.Context) ([]deadletter.StateCount, error)
}

// DeadLetterCounterFunc adapts a function to a DeadLetterCounter.
type DeadLetterCounterFunc func(ctx context.Context) ([]deadletter.StateCount, error)

// CountsByState calls f.
func (f DeadLetterCounterFunc) CountsByState(ctx context.Context) ([]deadletter.StateCount, error) {
	return f(ctx)
}

// deadLetterStates are shown for every connector that has dead letters, 0 when none is in them.
var deadLetterStates = []string{deadletter.StateDead, deadletter.StateReplayed}

// DeadLetterCollector counts the dead letters when Prometheus scrapes, by connector and state
// (dead: waiting for an operator; replayed: published again), including those of connectors no
// longer configured.
type DeadLetterCollector struct {
	src     DeadLetterCounter
	timeout time.Duration
	letters *prometheus.Desc
}

// NewDeadLetterCollector returns a collector of src's counts; timeout bounds each reading.
func NewDeadLetterCollector(src DeadLetterCounter, timeout time.Duration) *DeadLetterCollector {
	return &DeadLetterCollector{src: src, timeout: timeout,
		letters: prometheus.NewDesc(namespace+"_dead_letters",
			"Dead letters kept by the hub, by connector and state (dead: waiting for an operator; replayed: published again).",
			[]string{"connector", "state"}, nil)}
}

// Describe sends the description of the family.
func (c *DeadLetterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.letters }

// Collect reads the counts.
func (c *DeadLetterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.src.CountsByState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.letters, err)
		return
	}
	byConnector := map[string]map[string]int64{}
	for _, n := range counts {
		if byConnector[n.Connector] == nil {
			byConnector[n.Connector] = map[string]int64{}
		}
		byConnector[n.Connector][n.State] += n.N
	}
	for conn, byState := range byConnector {
		for state, n := range withZeros(byState, deadLetterStates) {
			ch <- prometheus.MustNewConstMetric(c.letters, prometheus.GaugeValue, float64(n), conn, state)
		}
	}
}
