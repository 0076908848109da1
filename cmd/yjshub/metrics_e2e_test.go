package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/seeds"
)

// scrapeMetrics returns the body of GET /metrics, failing the test on another status.
func scrapeMetrics(t *testing.T, hub string) string {
	t.Helper()
	resp, err := http.Get(hub + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

// serve --simulate answers /metrics with a connector of each simulated department, running,
// and, once 开酒吧 has gone through, its deliveries, the case and sub-cases by state and the
// API's requests by route pattern.
func TestServeExposesMetrics(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			hub, _ := startSimulatedHub(t, o)
			body := scrapeMetrics(t, hub)
			for _, d := range cat.Departments {
				want := `yjshub_connector_state{connector="restpush:` + d.Code + `",kind="restpush",state="running"} 1`
				if !strings.Contains(body, want) {
					t.Errorf("the scrape lacks %s", want)
				}
			}
			for _, family := range []string{"yjshub_connector_breaker_state", "yjshub_connector_consumer_lag_messages", "yjshub_cases",
				"yjshub_outbox_pending_messages", "go_goroutines", "process_resident_memory_bytes"} {
				if !strings.Contains(body, "# TYPE "+family+" ") {
					t.Errorf("the scrape lacks %s", family)
				}
			}

			var v cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-enterprise"), &v); code != 201 {
				t.Fatalf("submit: %d", code)
			}
			waitCompletedAndDelivered(t, hub, v.ID)
			wants := []string{
				`yjshub_cases{state="completed"} 1`,
				`yjshub_subcases{department="admin-approval",state="approved"} 1`,
				`yjshub_subcases{department="tobacco",state="approved"} 1`,
				`yjshub_connector_delivered_messages_total{connector="restpush:admin-approval",kind="restpush"} 1`,
				`yjshub_connector_delivered_messages_total{connector="restpush:tobacco",kind="restpush"} 1`,
				`yjshub_http_requests_total{method="POST",route="/api/v1/cases",status_class="2xx"} 1`,
				`yjshub_http_requests_total{method="GET",route="/api/v1/cases/{id}",status_class="2xx"}`,
			}
			// The connector counts a delivery once the recorder has it, which the case view may
			// show a moment earlier.
			missing := ""
			defer func() {
				if t.Failed() && missing != "" {
					t.Logf("the last scrape lacked %s", missing)
				}
			}()
			eventually(t, "the case's figures in /metrics", func() bool {
				body = scrapeMetrics(t, hub)
				for _, w := range wants {
					if !strings.Contains(body, w) {
						missing = w
						return false
					}
				}
				return true
			})
			if strings.Contains(body, v.ID) {
				t.Error("a case id reached the metrics")
			}
		})
	}
}
