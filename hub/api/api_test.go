package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/deadline"
	"yjshub/seeds"
)

func newTestServer(t *testing.T, checks ...Check) *httptest.Server {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, Config{Catalogue: cat, Checks: checks}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, path string, out any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp
}

func TestBundlesListsAllFortyWithEveryMatter(t *testing.T) {
	srv := newTestServer(t)
	var body struct {
		Version string       `json:"catalogue_version"`
		Count   int          `json:"count"`
		Bundles []BundleView `json:"bundles"`
	}
	if resp := get(t, srv, "GET", "/api/v1/bundles", &body); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if body.Count != 40 || len(body.Bundles) != 40 || len(body.Version) != 64 {
		t.Fatalf("count %d, bundles %d, version %q", body.Count, len(body.Bundles), body.Version)
	}
	total := 0
	for i, b := range body.Bundles {
		if b.Seq != i+1 {
			t.Fatalf("bundle %d has seq %d: not in seq order", i, b.Seq)
		}
		if len(b.Leads) == 0 || b.Leads[0].Department.Name == "" {
			t.Errorf("bundle %d: leads without department names: %+v", b.Seq, b.Leads)
		}
		for _, m := range b.Matters {
			if m.Name == "" || m.MatterCode == "" || m.Department.Code == "" || m.Department.Name == "" {
				t.Errorf("bundle %d: incomplete matter %+v", b.Seq, m)
			}
		}
		total += len(b.Matters)
	}
	// 开酒吧 (34): five entries, the outdoor advertising one optional, 食品经营许可 by applicant type.
	bar := body.Bundles[33]
	if bar.Name != "开酒吧" || len(bar.Matters) != 5 {
		t.Fatalf("bundle 34: %+v", bar)
	}
	food := bar.Matters[0]
	if food.Department.Name != "区市场监管局" || food.ByApplicantType["enterprise"].Name != "区行政审批局" {
		t.Errorf("开酒吧 food licence departments: %+v %+v", food.Department, food.ByApplicantType)
	}
	if !bar.Matters[2].Optional || bar.Matters[2].Name != "户外广告设施设置的审批" {
		t.Errorf("开酒吧 third matter: %+v", bar.Matters[2])
	}
	if total < 130 {
		t.Errorf("only %d bundle matters in all", total)
	}
}

func TestOneBundleByCodeOrSeq(t *testing.T) {
	srv := newTestServer(t)
	var a, b BundleView
	get(t, srv, "GET", "/api/v1/bundles/open-bar", &a)
	get(t, srv, "GET", "/api/v1/bundles/34", &b)
	if a.Code != "open-bar" || b.Code != "open-bar" || a.Seq != 34 {
		t.Fatalf("by code %q, by seq %q", a.Code, b.Code)
	}
	var c BundleView
	get(t, srv, "GET", "/api/v1/bundles/20", &c)
	if c.Name != "城乡居民养老保险关系注销" {
		t.Fatalf("bundle 20's name is %q: the table's line break must be joined", c.Name)
	}
}

func TestMattersAndDepartments(t *testing.T) {
	srv := newTestServer(t)
	var m struct {
		Code        string                   `json:"code"`
		Departments map[string]DepartmentRef `json:"departments"`
		Bundles     []BundleRef              `json:"bundles"`
		Inputs      []string                 `json:"canonical_fields"`
	}
	var bars BundleView
	get(t, srv, "GET", "/api/v1/bundles/open-bar", &bars)
	code := bars.Matters[0].MatterCode
	if resp := get(t, srv, "GET", "/api/v1/matters/"+code, &m); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if m.Code != code || m.Departments["enterprise"].Code != "admin-approval" || len(m.Bundles) < 3 || len(m.Inputs) == 0 {
		t.Fatalf("matter %+v", m)
	}
	var d struct {
		Count       int `json:"count"`
		Departments []struct {
			Code    string   `json:"code"`
			Name    string   `json:"name"`
			Handles []string `json:"matters_handled"`
		} `json:"departments"`
	}
	get(t, srv, "GET", "/api/v1/departments", &d)
	// The plan's table names 11; the law adds the traffic police to bundle 39.
	if d.Count != 12 || d.Departments[len(d.Departments)-1].Code != "traffic-police" {
		t.Fatalf("%d departments: %+v", d.Count, d.Departments)
	}
	for _, dept := range d.Departments {
		if dept.Name == "区烟草局" && len(dept.Handles) == 0 {
			t.Errorf("区烟草局 handles nothing")
		}
	}
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	srv := newTestServer(t)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/v1/bundles/no-such-bundle", 404, CodeNotFound},
		{"GET", "/api/v1/bundles/41", 404, CodeNotFound},
		{"GET", "/api/v1/matters/nope", 404, CodeNotFound},
		{"GET", "/no/such/path", 404, CodeNotFound},
		{"POST", "/api/v1/bundles", 405, CodeMethodNotAllowed},
		{"DELETE", "/api/v1/departments", 405, CodeMethodNotAllowed},
	}
	for _, c := range cases {
		var body ErrorBody
		resp := get(t, srv, c.method, c.path, &body)
		if resp.StatusCode != c.status || body.Error.Status != c.status || body.Error.Code != c.code || body.Error.Message == "" {
			t.Errorf("%s %s: status %d, body %+v; want %d %s", c.method, c.path, resp.StatusCode, body, c.status, c.code)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without an Allow header", c.method, c.path)
		}
	}
}

func TestReadiness(t *testing.T) {
	ok := Check{Name: "store", Ping: func(context.Context) error { return nil }}
	down := Check{Name: "broker", Ping: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:1: connection refused") }}
	var body map[string]any
	if resp := get(t, newTestServer(t, ok), "GET", "/readyz", &body); resp.StatusCode != 200 {
		t.Fatalf("ready: %d %v", resp.StatusCode, body)
	}
	resp := get(t, newTestServer(t, ok, down), "GET", "/readyz", &body)
	if resp.StatusCode != 503 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "broker") {
		t.Fatalf("not ready: %d %v", resp.StatusCode, body)
	}
	if resp := get(t, newTestServer(t, down), "GET", "/healthz", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz should not depend on readiness: %d", resp.StatusCode)
	}
}

// The end of the official holiday schedule is reported, and does not make the hub unready: it
// still counts deadlines, flagged provisional, and an operator has weeks to update.
func TestReadinessReportsTheCalendarsEdge(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	cal := deadline.New()
	near := time.Date(2027, 11, 1, 10, 0, 0, 0, deadline.China)
	warnings := func() []string { return []string{cal.CoverageWarning(near)} }
	srv := httptest.NewServer(newServer(t, Config{Catalogue: cat, Warnings: warnings,
		Checks: []Check{{Name: "store", Ping: func(context.Context) error { return nil }}}}))
	t.Cleanup(srv.Close)
	var body struct {
		Status   string   `json:"status"`
		Warnings []string `json:"warnings"`
	}
	if resp := get(t, srv, "GET", "/readyz", &body); resp.StatusCode != 200 || body.Status != "ready" {
		t.Fatalf("%d %+v", resp.StatusCode, body)
	}
	if len(body.Warnings) != 1 || !strings.Contains(body.Warnings[0], "known up to 2027-12-31 (60 days from today)") {
		t.Fatalf("warnings %q", body.Warnings)
	}
	var quiet map[string]any
	get(t, newTestServer(t), "GET", "/readyz", &quiet)
	if _, ok := quiet["warnings"]; ok {
		t.Fatalf("warnings without a warning: %v", quiet)
	}
}
