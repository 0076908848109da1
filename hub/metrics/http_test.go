package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"yjshub/hub/metrics"
)

// The middleware counts each request under the route pattern it matched — sub-routers
// included, never the path with its ids — its method (an unknown one as "other") and its
// status class, and times it under the pattern. A request no route matched (404, or 405 for
// an unknown method) is "unmatched".
func TestTheHTTPMiddlewareLabelsByRoutePattern(t *testing.T) {
	t.Parallel()
	h := metrics.NewHTTPMetrics()
	r := chi.NewRouter()
	r.Use(h.Middleware)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/cases/{id}", func(w http.ResponseWriter, r *http.Request) {
			if chi.URLParam(r, "id") == "cs_missing" {
				http.Error(w, "no such case", http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
	})
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/cases/cs_123"}, {"GET", "/api/v1/cases/cs_456"}, {"GET", "/api/v1/cases/cs_missing"},
		{"GET", "/healthz"}, {"BREW", "/healthz"}, {"GET", "/nowhere/cs_789"},
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(req.method, req.path, nil))
	}
	want := `
# HELP yjshub_http_requests_total HTTP requests answered, by route pattern, method and status class (2xx, 4xx, 5xx …).
# TYPE yjshub_http_requests_total counter
yjshub_http_requests_total{method="GET",route="/api/v1/cases/{id}",status_class="2xx"} 2
yjshub_http_requests_total{method="GET",route="/api/v1/cases/{id}",status_class="4xx"} 1
yjshub_http_requests_total{method="GET",route="/healthz",status_class="2xx"} 1
yjshub_http_requests_total{method="GET",route="unmatched",status_class="4xx"} 1
yjshub_http_requests_total{method="other",route="unmatched",status_class="4xx"} 1
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want), "yjshub_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	observed := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "yjshub_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			route := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					route = l.GetValue()
				}
			}
			observed[route] += m.GetHistogram().GetSampleCount()
		}
	}
	if observed["/api/v1/cases/{id}"] != 3 || observed["/healthz"] != 1 || observed["unmatched"] != 2 || len(observed) != 3 {
		t.Fatalf("durations observed by route: %v", observed)
	}
	lint(t, h)
}
