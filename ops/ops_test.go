package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/metrics"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

const (
	alertsFile     = "prometheus/alerts.yml"
	alertTestsFile = "prometheus/alerts_test.yml"
	dashboardFile  = "grafana/yjshub-dashboard.json"
	readmeFile     = "README.md"
)

// prometheusMade are the series Prometheus writes itself for every target; the rules may use
// them though no hub exports them.
var prometheusMade = []string{"up"}

// promtool returns the path of promtool, skipping the test when it is not installed (failing
// it instead when storetest.RequireRealEnv is set, as make test sets it, so that a run meant to
// check the rules cannot pass without checking them).
func promtool(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"promtool", "/usr/bin/promtool"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(storetest.RequireRealEnv) != "" {
		t.Fatalf("%s is set but promtool is not installed: run make promtool (bash scripts/promtool.sh up)", storetest.RequireRealEnv)
	}
	t.Skip("promtool is not installed: run make promtool (bash scripts/promtool.sh up) to check the alert rules")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The alert rules are valid Prometheus rules, and their unit tests pass: each alert fires on
// the series that should fire it and stays silent on the ones beside it that should not.
func TestTheAlertRulesPassPromtool(t *testing.T) {
	runPromtool(t, "check", "rules", alertsFile)
	runPromtool(t, "test", "rules", alertTestsFile)
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readAlerts(t *testing.T) ruleFile {
	t.Helper()
	var f ruleFile
	readYAML(t, alertsFile, &f)
	if len(f.Groups) == 0 || len(f.Groups[0].Rules) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return f
}

// Every alert has a unit test in which it fires, a runbook annotation that points at its
// section of ops/README.md, and that section.
func TestEveryAlertIsTestedAndDocumented(t *testing.T) {
	var tests struct {
		Tests []struct {
			Name           string `yaml:"name"`
			AlertRuleTests []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, alertTestsFile, &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	headings := regexp.MustCompile(`(?m)^#+ +(\S+)`).FindAllStringSubmatch(string(readme), -1)
	documented := map[string]bool{}
	for _, h := range headings {
		documented[strings.ToLower(h[1])] = true
	}
	for _, g := range readAlerts(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no test in %s in which it fires", r.Alert, alertTestsFile)
			}
			anchor := strings.ToLower(r.Alert)
			if want := "ops/README.md#" + anchor; r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], want)
			}
			if !documented[anchor] {
				t.Errorf("%s: no section of %s is headed with its name", r.Alert, readmeFile)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description are required", r.Alert)
			}
		}
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not a JSON dashboard: %v", dashboardFile, err)
	}
	return d
}

// allPanels returns every panel of d, those inside collapsed rows included.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// query is one PromQL expression of the dashboard, with where it is.
type query struct{ at, expr string }

// queries returns every PromQL expression of d: its panels' targets and its variables'
// label_values queries.
func (d dashboard) queries() []query {
	var out []query
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			out = append(out, query{fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if json.Unmarshal(v.Query, &s) == nil {
				q.Query = s
			}
		}
		if m := labelValues.FindStringSubmatch(q.Query); m != nil {
			out = append(out, query{"variable " + v.Name, m[1]})
		}
	}
	return out
}

// labelValues is a Grafana variable query label_values(<selector>, <label>).
var labelValues = regexp.MustCompile(`^label_values\(\s*(.+?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

// The dashboard is a well-formed Grafana dashboard: a title and uid, a data source variable
// that every panel and query uses, unique panel ids, and every panel but a row showing at least
// one non-empty query on a place of the grid.
func TestTheDashboardIsValid(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both are required", d.Title, d.UID)
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			dsVar = dsVar || v.Name == "datasource"
		case "query":
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" || len(v.Query) == 0 {
				t.Errorf("variable %s: needs the data source variable and a query", v.Name)
			}
		}
	}
	if !dsVar {
		t.Error("no data source variable named datasource")
	}
	seen := map[int]bool{}
	shown := 0
	for _, p := range d.allPanels() {
		at := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if seen[p.ID] {
			t.Errorf("%s: the id is used twice", at)
		}
		seen[p.ID] = true
		if p.Title == "" || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: needs a title and a place within the 24 columns of the grid: %+v", at, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		shown++
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %+v, want the prometheus ${datasource}", at, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", at)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s target %q: needs a refId, an expression and the data source", at, tg.RefID)
			}
		}
	}
	if shown == 0 {
		t.Error("the dashboard shows nothing")
	}
}

// Every query of the dashboard is valid PromQL, once Grafana's variables are put in: promtool
// checks them as the expressions of recording rules.
func TestTheDashboardQueriesAreValidPromQL(t *testing.T) {
	qs := readDashboard(t).queries()
	vars := regexp.MustCompile(`\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?`)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	g := group{Name: "dashboard"}
	for i, q := range qs {
		expr := strings.ReplaceAll(q.expr, "$__rate_interval", "5m")
		expr = vars.ReplaceAllString(expr, ".*")
		g.Rules = append(g.Rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: expr})
	}
	b, err := yaml.Marshal(map[string][]group{"groups": {g}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		var where strings.Builder
		for i, q := range qs {
			fmt.Fprintf(&where, "dashboard:query_%d is %s\n", i, q.at)
		}
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, where.String())
	}
}

// metricNames returns the metric names in a PromQL expression: what is left of it once string
// literals, label matchers, ranges, the label lists of by/without/on/ignoring/group_*, numbers,
// durations, keywords, Grafana's $variables and the names of functions are taken out.
func metricNames(expr string) []string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`"),
		regexp.MustCompile(`\{[^}]*\}`),
		regexp.MustCompile(`\[[^\]]*\]`),
		regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	} {
		expr = re.ReplaceAllString(expr, " ")
	}
	keywords := []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	names := map[string]bool{}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c >= '0' && c <= '9' || c == '.': // a number or a duration: 0.95, 5m, 1e3
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case c == '$': // a Grafana variable
			i++
			for i < len(expr) && isPart(expr[i]) {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && strings.ContainsRune(" \t\n", rune(expr[k])) {
				k++
			}
			if (k >= len(expr) || expr[k] != '(') && !slices.Contains(keywords, strings.ToLower(word)) {
				names[word] = true
			}
			i = j
		default:
			i++
		}
	}
	return slices.Sorted(maps.Keys(names))
}

// The name finder finds the metrics of the kinds of expression the dashboard and rules use,
// and nothing else.
func TestMetricNamesFindsTheMetricsOfAnExpression(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="yjshub"} == 0`, []string{"up"}},
		{`histogram_quantile(0.95, sum by (route, le) (rate(yjshub_http_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`,
			[]string{"yjshub_http_request_duration_seconds_bucket"}},
		{"(lag > 0 and deriv(lag[15m]) > 0)\nunless on (connector) state{state=\"paused\"} == 1", []string{"lag", "state"}},
		{`time() - max by (connector) (last_success{a="b, c"}) offset 5m`, []string{"last_success"}},
		{`sum without (route, method, status_class) (rate(requests{status_class="5xx"}[5m])) / sum without (route) (rate(requests[5m])) > 0.05`,
			[]string{"requests"}},
		{`max without (state) (max_over_time(breaker{state="closed"}[10m])) == 0`, []string{"breaker"}},
		{`yjshub_cases`, []string{"yjshub_cases"}},
		{"sum (\n  rate(a_total[$__rate_interval])\n) * 60 / ignoring (x) b", []string{"a_total", "b"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// exportedNames gathers a hub's registry with every source it can have, each reporting
// something, and returns the names of the series it exports: a histogram's _bucket, _sum and
// _count, a summary's _sum and _count and its own name.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	// The sub-case families have series per department that has sub-cases: submit a case.
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("..", "examples", "open-bar-enterprise.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	app, hash, err := cases.DecodeApplication(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := hs.Cases.Submit(t.Context(), app, hash, ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m, err := metrics.New(metrics.Config{
		Store: st,
		Connectors: metrics.StatusesFunc(func(context.Context) []connector.Status {
			return []connector.Status{{Name: "restpush:tobacco", Kind: "restpush", Department: "tobacco", State: connector.StateRunning,
				Breaker: "closed", Topic: "yjs.subcase.tobacco", Group: "yjshub-restpush-tobacco", Lag: 1, Delivered: 1, Retries: 1,
				Failed: 1, DeadLetters: 1, InFlight: 1, LastSuccess: &now, LastError: &now}}
		}),
		DeadLetters: metrics.DeadLetterCounterFunc(func(context.Context) ([]deadletter.StateCount, error) {
			return []deadletter.StateCount{{Connector: "restpush:tobacco", State: deadletter.StateDead, N: 1}}, nil
		}),
		Kafka: kafka{},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The HTTP families have series once a request has been answered.
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Get("/api/v1/cases/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/cases/cs_1", nil))

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n], names[n+"_sum"], names[n+"_count"] = true, true, true
		default:
			names[n] = true
		}
	}
	return names
}

// kafka is a Kafka connection whose broker answers.
type kafka struct{}

func (kafka) ClientErrors() map[string]int64 { return map[string]int64{"reader": 0, "writer": 0} }
func (kafka) Ping(context.Context) error     { return nil }

// Every metric the dashboard and the alert rules name is one the hub exports (or one
// Prometheus writes itself for every target, such as up): a rule or panel over a name that
// was renamed or never existed would otherwise stay silent or empty for good.
func TestEveryMetricNamedIsOneTheHubExports(t *testing.T) {
	exported := exportedNames(t)
	for _, n := range prometheusMade {
		exported[n] = true
	}
	var used []query
	for _, g := range readAlerts(t).Groups {
		for _, r := range g.Rules {
			used = append(used, query{"alert " + r.Alert, r.Expr})
		}
	}
	used = append(used, readDashboard(t).queries()...)
	var errs []error
	found := 0
	for _, q := range used {
		names := metricNames(q.expr)
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("%s: no metric in %q", q.at, q.expr))
		}
		for _, n := range names {
			found++
			if !exported[n] {
				errs = append(errs, fmt.Errorf("%s: %s is not exported by the hub", q.at, n))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("%v\nthe hub exports: %s", err, strings.Join(slices.Sorted(maps.Keys(exported)), " "))
	}
	if found == 0 {
		t.Error("no metric name found in the rules and the dashboard")
	}
}
