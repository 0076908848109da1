package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"yjshub/hub/store"
)

// OutboxCollector reads the transactional outbox when Prometheus scrapes: how many messages
// wait for the relay to publish them, and how long the oldest has waited. A growing age means
// the relay cannot reach the broker.
type OutboxCollector struct {
	db      *store.Store
	now     func() time.Time
	timeout time.Duration

	pending, oldestAge *prometheus.Desc
}

// NewOutboxCollector returns a collector of st's outbox; now is the clock the age is read
// against, timeout bounds the query.
func NewOutboxCollector(st *store.Store, now func() time.Time, timeout time.Duration) *OutboxCollector {
	return &OutboxCollector{
		db: st, now: now, timeout: timeout,
		pending: prometheus.NewDesc(namespace+"_outbox_pending_messages",
			"Messages in the outbox not yet published to Kafka.", nil, nil),
		oldestAge: prometheus.NewDesc(namespace+"_outbox_oldest_pending_age_seconds",
			"How long the oldest unpublished outbox message has waited, in seconds; 0 when none waits.", nil, nil),
	}
}

// Describe sends the descriptions of every family.
func (c *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldestAge
}

// Collect reads the pending messages with one query over the outbox's partial index of
// pending rows.
func (c *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var row struct {
		N      int64           `db:"n"`
		Oldest store.Timestamp `db:"oldest"`
	}
	if err := c.db.DB().GetContext(ctx, &row, `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE published_at IS NULL`); err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, fmt.Errorf("metrics: reading the outbox: %w", err))
		return
	}
	age := 0.0
	if !row.Oldest.IsZero() {
		age = max(c.now().Sub(row.Oldest.Time).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(row.N))
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
}
