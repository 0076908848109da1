package api

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub/metrics"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// GET /metrics is for operators when the API authenticates: an operator's key gets the
// Prometheus text with the hub's families, a platform's 403, none 401. The HTTP families count
// a request under its route pattern, never its path: GET /api/v1/cases/cs_123 is
// /api/v1/cases/{id}.
func TestMetricsAreServedToOperators(t *testing.T) {
	t.Parallel()
	srv, keys := authServer(t, storetest.OpenSQLite)
	if code, body := send(t, srv, "GET", "/api/v1/cases/cs_123", keys["jiangsu"], ""); code != 404 {
		t.Fatalf("GET an unknown case: %d %s", code, body)
	}
	if code, body := send(t, srv, "GET", "/metrics", "", ""); code != 401 || !strings.Contains(body, `"unauthenticated"`) {
		t.Errorf("/metrics without a key: %d %s", code, body)
	}
	if code, body := send(t, srv, "GET", "/metrics", keys["jiangsu"], ""); code != 403 || !strings.Contains(body, "this route is for operator clients") {
		t.Errorf("/metrics as the platform: %d %s", code, body)
	}
	resp, b := exchange(t, srv, "GET", "/metrics", keys["ops"], nil, nil)
	body := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics as the operator: %d %s\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, want := range []string{
		`yjshub_cases{state="in_progress"} 0`,
		`yjshub_outbox_pending_messages 0`,
		`yjshub_http_requests_total{method="GET",route="/api/v1/cases/{id}",status_class="4xx"} 1`,
		`yjshub_http_requests_total{method="GET",route="/metrics",status_class="4xx"} 2`,
		`yjshub_http_request_duration_seconds_count{method="GET",route="/api/v1/cases/{id}"} 1`,
		"go_goroutines ", "process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "cs_123") {
		t.Error("a case id reached a label")
	}
}

// Without clients the API is open, /metrics too; without Config.Metrics there is no /metrics.
func TestMetricsAreOpenWithoutClientsAndAbsentWithoutAHandler(t *testing.T) {
	t.Parallel()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(metrics.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	open := httptest.NewServer(newServer(t, Config{Catalogue: cat, Metrics: m.Handler(), Instrument: m.Middleware}))
	t.Cleanup(open.Close)
	if code, body := send(t, open, "GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := send(t, open, "GET", "/metrics", "", ""); code != 200 ||
		!strings.Contains(body, `yjshub_http_requests_total{method="GET",route="/healthz",status_class="2xx"} 1`) {
		t.Errorf("/metrics of an open API: %d %.2000s", code, body)
	}
	bare := newTestServer(t)
	if code, body := send(t, bare, "GET", "/metrics", "", ""); code != 404 {
		t.Errorf("/metrics without Config.Metrics: %d %s", code, body)
	}
}
