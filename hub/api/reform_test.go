package api

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/reform"
	"yjshub/hub/store/storetest"
)

// GET /api/v1/reports/reform answers the report as the document describes it: over every case,
// over a period, and 422 naming every parameter that is not a date, or a period that ends
// before it starts.
func TestTheReformReportIsServedAsDocumented(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, _ := sharingServer(t, storetest.OpenSQLite)
	get := func(path string, want int) []byte {
		t.Helper()
		resp, b := exchange(t, srv, "GET", path, "", nil, nil)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d %s; want %d", path, resp.StatusCode, b, want)
		}
		conforms(t, doc, "GET", "/api/v1/reports/reform", resp, b)
		return b
	}

	var empty reform.Report
	decode(t, string(get("/api/v1/reports/reform", 200)), &empty)
	if empty.Overall.Cases != 0 || empty.Bundles == nil || empty.Departments == nil || len(empty.Plan.Promises) == 0 {
		t.Errorf("the report of a hub without cases: %+v", empty)
	}

	// 开饮品店 submitted and decided today, both matters approved: 0 working days each.
	app, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-drink-shop-enterprise.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v cases.CaseView
	resp, b := exchange(t, srv, "POST", "/api/v1/cases", "", app, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	decode(t, string(b), &v)
	for _, sc := range v.Subcases {
		for _, body := range []string{`{"event_id":"r","type":"received"}`, `{"event_id":"a","type":"accepted"}`,
			`{"event_id":"ok","type":"approved","decision_number":"赣审〔2026〕1号"}`} {
			if resp, b := exchange(t, srv, "POST", "/api/v1/subcases/"+sc.ID+"/events", "", []byte(body), nil); resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", sc.MatterCode, body, resp.StatusCode, b)
			}
		}
	}
	today := time.Now().In(deadline.China).Format(time.DateOnly)
	var rep reform.Report
	decode(t, string(get("/api/v1/reports/reform?from="+today+"&to="+today, 200)), &rep)
	h := rep.Overall.Handling
	if rep.Period.From != today || rep.Period.To != today || rep.Overall.Cases != 1 || rep.Overall.Completed != 1 || rep.Overall.Matters != 2 ||
		h.Decided != 2 || h.MeanDays != 0 || h.WithinPromisedPercent != 100 || h.ReductionPercent != 100 || rep.Overall.OneRound.Percent != 100 ||
		len(rep.Bundles) != 1 || rep.Bundles[0].Bundle.Seq != 30 || len(rep.Departments) != 2 {
		t.Errorf("today's report: %+v", rep)
	}
	var before reform.Report
	decode(t, string(get("/api/v1/reports/reform?to=2020-01-01", 200)), &before)
	if before.Overall.Cases != 0 || before.Period.To != "2020-01-01" {
		t.Errorf("a period before any case: %+v", before)
	}

	var bad ErrorBody
	decode(t, string(get("/api/v1/reports/reform?from=yesterday&to=2026-13-01", 422)), &bad)
	var paths []string
	for _, p := range bad.Error.Problems {
		paths = append(paths, p.Path+":"+p.Rule)
	}
	if !slices.Equal(paths, []string{"from:date", "to:date"}) {
		t.Errorf("two bad dates: problems %v; want both named", paths)
	}
	decode(t, string(get("/api/v1/reports/reform?from=2026-12-31&to=2026-12-01", 422)), &bad)
	if len(bad.Error.Problems) != 1 || bad.Error.Problems[0].Path != "to" || !strings.Contains(bad.Error.Problems[0].Message, "before from") {
		t.Errorf("a period that ends before it starts: %+v", bad.Error)
	}
}
