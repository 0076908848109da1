package metrics_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/metrics"
	"yjshub/hub/store/storetest"
)

func scrape(t *testing.T, h http.Handler) (int, string, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, w.Header().Get("Content-Type"), string(b)
}

// A hub's metrics have a registry of their own — two hubs in one process do not collide — with
// every family whose source is configured, the Go runtime and the process, all of which pass
// Prometheus' linter.
func TestNewServesEveryFamilyOnARegistryOfItsOwn(t *testing.T) {
	t.Parallel()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	cfg := metrics.Config{
		Store: st,
		Connectors: metrics.StatusesFunc(func(context.Context) []connector.Status {
			return []connector.Status{{Name: "restpush:tobacco", Kind: "restpush", State: connector.StateRunning, Breaker: "closed"}}
		}),
		DeadLetters: deadletter.New(st, nil),
		Kafka:       fakeKafka{counts: map[string]int64{"reader": 0, "writer": 0}, noDeadline: new(atomic.Bool)},
		Logger:      slog.New(slog.DiscardHandler),
	}
	m, err := metrics.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(cfg); err != nil {
		t.Fatalf("a second hub's metrics in the same process: %v", err)
	}
	code, ct, body := scrape(t, m.Handler())
	if code != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("%d %s\n%.500s", code, ct, body)
	}
	for _, family := range []string{"yjshub_connector_state", "yjshub_connector_breaker_state", "yjshub_cases", "yjshub_outbox_pending_messages",
		"yjshub_outbox_oldest_pending_age_seconds", "yjshub_kafka_broker_reachable", "yjshub_kafka_client_errors_total", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "# TYPE "+family+" ") {
			t.Errorf("no %s in the scrape", family)
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// A query that fails costs its own families, not the scrape: the others are served, the error
// is logged, and promhttp counts it.
func TestAFailingStoreLeavesTheOtherFamiliesServed(t *testing.T) {
	t.Parallel()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	var logs bytes.Buffer
	m, err := metrics.New(metrics.Config{Store: st, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Connectors: metrics.StatusesFunc(func(context.Context) []connector.Status {
			return []connector.Status{{Name: "restpush:tobacco", Kind: "restpush", State: connector.StateFailed}}
		})})
	if err != nil {
		t.Fatal(err)
	}
	closeStore(t, st)
	code, _, body := scrape(t, m.Handler())
	if code != 200 || !strings.Contains(body, `yjshub_connector_state{connector="restpush:tobacco",kind="restpush",state="failed"} 1`) {
		t.Fatalf("%d\n%.1000s", code, body)
	}
	if strings.Contains(body, "yjshub_cases") || strings.Contains(body, "yjshub_outbox_pending_messages") {
		t.Error("a family whose query failed was served anyway")
	}
	// promhttp counts a scrape's failure once it has gathered, so the next scrape shows it.
	if _, _, next := scrape(t, m.Handler()); !strings.Contains(next, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Error("the failure is not counted")
	}
	if !strings.Contains(logs.String(), "counting cases") || !strings.Contains(logs.String(), "reading the outbox") {
		t.Errorf("the failure is not logged: %s", logs.String())
	}
}
