package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/format"
	"yjshub/hub/api"
	"yjshub/hub/cases"
)

// benchJSON runs yjshub bench with args and decodes the last line of its output.
func benchJSON(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"bench", "--json", "--quiet"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("the last line is not one JSON object: %v\n%s", err, out)
	}
	return got, out
}

// number reads a figure of the report that must be there.
func number(t *testing.T, got map[string]any, key string) float64 {
	t.Helper()
	v, ok := got[key].(float64)
	if !ok {
		t.Fatalf("%s is %v, want a number", key, got[key])
	}
	return v
}

// checkBenchFigures asserts what every run without errors reports.
func checkBenchFigures(t *testing.T, got map[string]any) {
	t.Helper()
	if n := number(t, got, "errors"); n != 0 {
		t.Errorf("errors %v: %v", n, got["error_kinds"])
	}
	// cases_per_second counts the cases settled within the run, which a short run on a busy
	// machine (the race detector) may not see; settled_per_second counts them all.
	if n := number(t, got, "settled_per_second"); n <= 0 {
		t.Errorf("settled_per_second %v, want more than 0", n)
	}
	if n := number(t, got, "cases_per_second"); n < 0 || n > number(t, got, "accepted_per_second")*2 {
		t.Errorf("cases_per_second %v", n)
	}
	for _, stage := range []string{"submit", "dispatched", "delivered", "completed", "hop"} {
		p50, p90, p99 := number(t, got, "p50_"+stage+"_ms"), number(t, got, "p90_"+stage+"_ms"), number(t, got, "p99_"+stage+"_ms")
		if p50 <= 0 || p50 > p90 || p90 > p99 {
			t.Errorf("%s: p50 %v, p90 %v, p99 %v: want 0 < p50 ≤ p90 ≤ p99", stage, p50, p90, p99)
		}
	}
	if n := number(t, got, "max_rss_mb"); n <= 0 {
		t.Errorf("max_rss_mb %v (%v)", n, got["rss_source"])
	}
}

func TestBenchInProcessCompletesEveryCaseAndReportsOrderedLatencies(t *testing.T) {
	got, out := benchJSON(t, "--rate", "20", "--duration", "2s", "--raw-messages", "200")
	checkBenchFigures(t, got)
	if n := number(t, got, "completed"); n != number(t, got, "submitted") || n < 30 {
		t.Errorf("%v of %v cases completed; want every one of about 40", n, got["submitted"])
	}
	if got["mode"] != "in-process" || got["loop"] != "open" {
		t.Errorf("mode %v, loop %v", got["mode"], got["loop"])
	}
	raw, _ := got["raw_kafka"].(map[string]any)
	if raw == nil || raw["msgs_per_second"].(float64) <= 0 || raw["p50_ms"] == nil || raw["message_bytes"].(float64) < 1000 || raw["hub_busy_cases"] != 0.0 {
		t.Errorf("raw_kafka %v (skipped: %v): want a burst rate, a median and the size of a dispatched sub-case", raw, got["raw_kafka_skipped"])
	}
	if r, ok := got["hub_latency_ratio_p50"].(float64); !ok || r <= 0 {
		t.Errorf("hub_latency_ratio_p50 %v", got["hub_latency_ratio_p50"])
	}
	if n := number(t, got, "simulator_retained_subcases"); n <= 0 {
		t.Errorf("simulator_retained_subcases %v", n)
	}
	for _, want := range []string{"delivered (last sub-case)", "SQL statements per case", "raw kafka-go on the same broker"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
}

// On each backend — and so on PostgreSQL and Kafka when the tests have them — a running hub is
// driven from the end of its change feed; on Kafka the raw baseline runs on the hub's brokers.
func TestBenchDrivesARunningHubFromTheEndOfItsFeed(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			// Unlimited: the simulated departments call back from the bench's address, and a hub
			// that holds an address to a rate would refuse their callbacks once the load spent it.
			o.limits = api.Limits{Unlimited: true}
			hub, _ := startSimulatedHub(t, o)
			// A case of before the run: the bench must neither wait for it nor count it.
			var before cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-enterprise"), &before); code != 201 {
				t.Fatalf("submitting the earlier case: %d", code)
			}
			args := []string{"--target", hub, "--concurrency", "2", "--duration", "1s", "--raw-messages", "0"}
			if len(o.brokers) > 0 {
				t.Setenv("YJSHUB_KAFKA_NAMESPACE", o.namespace)
				args = append(args, "--brokers", strings.Join(o.brokers, ","), "--raw-messages", "200")
			}
			got, _ := benchJSON(t, args...)
			checkBenchFigures(t, got)
			if got["mode"] != "target" || got["loop"] != "closed" || number(t, got, "completed") != number(t, got, "submitted") {
				t.Errorf("mode %v, loop %v, %v of %v completed", got["mode"], got["loop"], got["completed"], got["submitted"])
			}
			if src, _ := got["rss_source"].(string); !strings.Contains(src, "process_resident_memory_bytes") {
				t.Errorf("rss_source %q: without --pid the hub's own figure is read", src)
			}
			if len(o.brokers) == 0 {
				if got["raw_kafka_skipped"] != "--raw-messages 0" {
					t.Errorf("raw_kafka_skipped %v", got["raw_kafka_skipped"])
				}
				return
			}
			raw, _ := got["raw_kafka"].(map[string]any)
			if raw == nil || raw["msgs_per_second"].(float64) <= 0 || !strings.HasPrefix(raw["size_from"].(string), "the last message on "+o.namespace) {
				t.Errorf("raw_kafka %v (skipped: %v)", raw, got["raw_kafka_skipped"])
			}
		})
	}
}

// A hub that refuses every submission: each is an error, counted by the hub's status and code;
// figures the run could not take are null, with the reason beside them.
func TestBenchCountsRefusedSubmissionsAsErrorsByKind(t *testing.T) {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/cases":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error": {"status": 503, "code": "unavailable", "message": "the store cannot take it just now"}}`)
		case r.URL.Path == "/api/v1/events":
			if r.URL.Query().Get("wait") != "" { // a long poll that finds nothing
				select {
				case <-r.Context().Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			_, _ = io.WriteString(w, `{"items": [], "next": "0"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hub.Close)
	got, out := benchJSON(t, "--target", hub.URL, "--rate", "10", "--duration", "1s", "--drain", "1s", "--raw-messages", "0")
	kinds, _ := got["error_kinds"].(map[string]any)
	if number(t, got, "errors") != 10 || number(t, got, "accepted") != 0 || kinds["HTTP 503 unavailable"] != 10.0 {
		t.Errorf("errors %v, accepted %v, kinds %v: want the 10 submissions refused 503", got["errors"], got["accepted"], kinds)
	}
	if number(t, got, "cases_per_second") != 0 || got["p50_submit_ms"] != nil || got["max_rss_mb"] != nil || got["sql_statements_per_case"] != nil {
		t.Errorf("cases_per_second %v, p50_submit_ms %v, max_rss_mb %v, sql_statements_per_case %v: want 0 and nulls",
			got["cases_per_second"], got["p50_submit_ms"], got["max_rss_mb"], got["sql_statements_per_case"])
	}
	if !strings.Contains(out, "hub RSS: n/a (the hub's /metrics could not be read") {
		t.Errorf("the summary does not say why there is no RSS:\n%s", out)
	}
}

func TestBenchNamesEveryBadFlag(t *testing.T) {
	code, _, stderr := runCLI(t, "bench", "--rate", "-1", "--duration", "0s", "--warmup", "-1s", "--concurrency", "-2",
		"--mix", "open-bar-enterprise=0,no-such-example=3,open-bar", "--pid", "7", "--raw-messages", "-5")
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, stderr)
	}
	for _, want := range []string{"--rate -1", "--duration 0s", "--warmup -1s", "--concurrency -2", "weight of open-bar-enterprise",
		`no example application "no-such-example"`, `"open-bar" is not NAME=WEIGHT`, "--pid is for --target", "--raw-messages -5"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, _, stderr = runCLI(t, "bench", "--target", "ftp://hub", "--keep")
	if code != 2 || !strings.Contains(stderr, `--target "ftp://hub"`) || !strings.Contains(stderr, "for the in-process hub") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

func TestBenchApplicantsAreDistinctAndValidAndTheMixIsWeighted(t *testing.T) {
	cat, err := loadCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	mix, err := parseBenchMix(defaultBenchMix, cat, 12345)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for n := range uint64(500) {
		body, example, err := mix.application(n, "ref")
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := cases.DecodeApplication(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("case %d (%s) does not decode: %v", n, example, err)
		}
		ids := 0
		for code, v := range app.Form {
			f, ok := cat.Field(code)
			if !ok || !identifierFormats[f.Format] {
				continue
			}
			ids++
			s, _ := v.(string)
			if err := format.Check(f.Format, s); err != nil {
				t.Errorf("case %d (%s): %s: %v", n, example, code, err)
			}
			if other, dup := seen[s]; dup {
				t.Errorf("case %d (%s): %s repeats the value of %s", n, example, code, other)
			}
			seen[s] = example + " " + code
		}
		if ids == 0 {
			t.Errorf("case %d (%s) has no identifier of its own", n, example)
		}
	}
	// 开酒吧 is 40 of the 100 weights: about 4,000 of 10,000 cases.
	bar := 0
	for n := range uint64(10000) {
		if strings.HasPrefix(mix.apps[mix.pick(n)].name, "open-bar-") {
			bar++
		}
	}
	if bar < 3800 || bar > 4200 {
		t.Errorf("%d of 10000 cases open a bar, want about 4000", bar)
	}
}

func TestBenchPercentilesAreMeasuredValuesByNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarise(ds)
	if *l.P50 != 50 || *l.P90 != 90 || *l.P99 != 99 || *l.Max != 100 || l.N != 100 {
		t.Errorf("p50 %v, p90 %v, p99 %v, max %v, n %d; want 50, 90, 99, 100, 100", *l.P50, *l.P90, *l.P99, *l.Max, l.N)
	}
	if l := summarise(nil); l.P50 != nil || l.N != 0 {
		t.Errorf("no durations: %+v, want no figures", l)
	}
}

func TestBenchReadsTheHubsCountersFromItsMetrics(t *testing.T) {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer op-key" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, "# TYPE yjshub_db_statements_total counter\n"+
			"yjshub_db_statements_total{kind=\"exec\"} 120\nyjshub_db_statements_total{kind=\"query\"} 80\n"+
			"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.048576e+08\n")
	}))
	t.Cleanup(hub.Close)
	fams, err := scrape(t.Context(), hub.Client(), hub.URL, "op-key")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sum(fams, metricStatements); !ok || v != 200 {
		t.Errorf("statements %v, %v: want the sum of both series, 200", v, ok)
	}
	if v, ok := sum(fams, metricRSS); !ok || v != 100<<20 {
		t.Errorf("RSS %v, %v", v, ok)
	}
	if _, ok := sum(fams, "yjshub_no_such_total"); ok {
		t.Error("a family the hub does not have was found")
	}
	if _, err := scrape(t.Context(), hub.Client(), hub.URL, "platform-key"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a refused scrape: %v", err)
	}
}
