package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"yjshub/hub/store"
)

// MaterialCollector reads the material objects the hub holds when Prometheus scrapes: how many
// are kept and their bytes, and how many retention has removed and theirs. The removed figures
// only grow (a removed object's row is kept), so they are counters, the same on every hub
// instance of one database; the bytes are the objects' sizes, which the blob store keeps once
// however many objects share them.
type MaterialCollector struct {
	db      *store.Store
	timeout time.Duration

	held, heldBytes, removed, removedBytes *prometheus.Desc
}

// NewMaterialCollector returns a collector of the material objects in st; timeout bounds the
// query.
func NewMaterialCollector(st *store.Store, timeout time.Duration) *MaterialCollector {
	return &MaterialCollector{
		db: st, timeout: timeout,
		held: prometheus.NewDesc(namespace+"_materials_held",
			"Material objects (uploaded files) the hub keeps.", nil, nil),
		heldBytes: prometheus.NewDesc(namespace+"_materials_held_bytes",
			"Sizes of the material objects the hub keeps, in bytes (bytes shared by several objects count for each).", nil, nil),
		removed: prometheus.NewDesc(namespace+"_materials_removed_total",
			"Material objects removed when their retention ended.", nil, nil),
		removedBytes: prometheus.NewDesc(namespace+"_materials_removed_bytes_total",
			"Sizes of the material objects removed when their retention ended, in bytes.", nil, nil),
	}
}

// Describe sends the descriptions of every family.
func (c *MaterialCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.held
	ch <- c.heldBytes
	ch <- c.removed
	ch <- c.removedBytes
}

// Collect reads the figures with one query.
func (c *MaterialCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var row struct {
		Held         int64 `db:"held"`
		HeldBytes    int64 `db:"held_bytes"`
		Removed      int64 `db:"removed"`
		RemovedBytes int64 `db:"removed_bytes"`
	}
	if err := c.db.DB().GetContext(ctx, &row, `SELECT
		COALESCE(SUM(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END), 0) AS held,
		COALESCE(SUM(CASE WHEN removed_at IS NULL THEN size ELSE 0 END), 0) AS held_bytes,
		COALESCE(SUM(CASE WHEN removed_at IS NULL THEN 0 ELSE 1 END), 0) AS removed,
		COALESCE(SUM(CASE WHEN removed_at IS NULL THEN 0 ELSE size END), 0) AS removed_bytes
		FROM materials_uploaded`); err != nil {
		ch <- prometheus.NewInvalidMetric(c.held, fmt.Errorf("metrics: reading the material objects: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(row.Held))
	ch <- prometheus.MustNewConstMetric(c.heldBytes, prometheus.GaugeValue, float64(row.HeldBytes))
	ch <- prometheus.MustNewConstMetric(c.removed, prometheus.CounterValue, float64(row.Removed))
	ch <- prometheus.MustNewConstMetric(c.removedBytes, prometheus.CounterValue, float64(row.RemovedBytes))
}
