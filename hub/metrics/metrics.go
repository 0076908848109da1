package metrics

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"yjshub/hub/store"
)

// namespace prefixes every family of the hub's own.
const namespace = "yjshub"

// Config wires the metrics to the hub's parts. Every source is optional: a family whose source
// is missing is not collected.
type Config struct {
	// Store is the hub's SQL store: cases, sub-cases, the outbox and the material objects
	// (held and removed) are counted in it.
	// Default: none (those families are not collected).
	Store *store.Store
	// Connectors reports the connectors' statuses (connectors.Manager). Default: none.
	Connectors StatusReporter
	// DeadLetters counts dead letters by connector and state (deadletter.Store). Default: none.
	DeadLetters DeadLetterCounter
	// Kafka is the hub's Kafka connection (bus.Bus): whether a broker answers, and the errors
	// the client library retried on its own. Default: none.
	Kafka KafkaClient
	// Now is the clock the deadline and outbox-age figures are read against. Default: time.Now.
	Now func() time.Time
	// Timeout bounds each collector's reading at scrape time. Default: 5s, half of Prometheus'
	// default scrape timeout.
	Timeout time.Duration
	// Logger receives the errors of a scrape (a query that failed); the rest of the scrape is
	// still served. Default: slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Metrics is one hub's metrics: a registry of its own with the hub's collectors, the Go runtime
// and process collectors, and the HTTP metrics that Middleware records.
type Metrics struct {
	reg     *prometheus.Registry
	http    *HTTPMetrics
	handler http.Handler
}

// New builds the registry and registers every collector whose source cfg has.
func New(cfg Config) (*Metrics, error) {
	cfg.setDefaults()
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, http: NewHTTPMetrics()}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.http,
	}
	if cfg.Connectors != nil {
		cs = append(cs, NewConnectorCollector(cfg.Connectors, cfg.Timeout))
	}
	if cfg.Store != nil {
		st := cfg.Store
		cs = append(cs, NewCaseCollector(st, cfg.Now, cfg.Timeout), NewOutboxCollector(st, cfg.Now, cfg.Timeout), NewMaterialCollector(st, cfg.Timeout),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "yjshub_db_statements_total",
				Help: "SQL statements this hub instance has sent to its database since it started (the scrape's own included)."},
				func() float64 { return float64(st.Counts().Statements) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "yjshub_db_transactions_total",
				Help: "Transactions this hub instance has begun since it started."},
				func() float64 { return float64(st.Counts().Transactions) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "yjshub_db_pipelines_total",
				Help: "Times this hub instance has sent several statements of a transaction in one round trip (PostgreSQL); their statements count in yjshub_db_statements_total."},
				func() float64 { return float64(st.Counts().Pipelines) }))
	}
	if cfg.DeadLetters != nil {
		cs = append(cs, NewDeadLetterCollector(cfg.DeadLetters, cfg.Timeout))
	}
	if cfg.Kafka != nil {
		cs = append(cs, NewKafkaCollector(cfg.Kafka, cfg.Timeout))
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// ContinueOnError: a query that fails costs its own families, not the whole scrape; it is
	// logged and counted in promhttp_metric_handler_errors_total{cause="gathering"}.
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg,
		ErrorLog:      slog.NewLogLogger(cfg.Logger.With("component", "metrics").Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m, nil
}

// Registry returns the hub's registry, for a caller that adds collectors of its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats (GET /metrics).
func (m *Metrics) Handler() http.Handler { return m.handler }

// Middleware counts and times the requests of a chi router by route pattern (see HTTPMetrics).
func (m *Metrics) Middleware(next http.Handler) http.Handler { return m.http.Middleware(next) }
