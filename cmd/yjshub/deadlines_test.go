package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// yjshub deadlines draws the open sub-cases with their standing and exits 1 once any is past
// its statutory limit.
func TestDeadlinesShowsStandingsAndFailsPastTheStatutoryLimit(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(storetest.OpenSQLite)(t), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiServer(t, hs))
	t.Cleanup(srv.Close)
	var v cases.CaseView
	if status := postJSON(t, srv.URL+"/api/v1/cases", readExample(t, "open-drink-shop-individual"), &v); status != http.StatusCreated {
		t.Fatalf("submit: %d", status)
	}

	// Sent and not yet delivered: listed apart from the on-track, even without --all.
	code, out, stderr := runCLI(t, "deadlines", "--hub", srv.URL)
	if code != 0 || !strings.Contains(out, "2 not yet delivered") || strings.Count(out, "未送达") != 2 {
		t.Fatalf("before delivery: exit %d\n%s%s", code, out, stderr)
	}
	for i, sc := range v.Subcases {
		if err := hs.Cases.RecordDelivered(context.Background(), connector.Delivery{EventID: fmt.Sprint("ev", i), CaseID: v.ID, SubcaseID: sc.ID,
			Department: sc.Department.Code, Status: 202, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr = runCLI(t, "deadlines", "--hub", srv.URL, "--all")
	if code != 0 || !strings.Contains(out, "as of 2026-11-27: 0 refused by the department's system, 0 past the statutory limit") || !strings.Contains(out, "区市场监管局") ||
		strings.Count(out, "\n") != 4 { // the summary, the header and the two sub-cases
		t.Fatalf("on the day: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "deadlines", "--hub", srv.URL)
	if code != 0 || strings.Contains(out, "正常") {
		t.Fatalf("without --all the on-track ones are not listed: exit %d\n%s", code, out)
	}

	mu.Lock()
	now = now.AddDate(0, 2, 0)
	mu.Unlock()
	code, out, _ = runCLI(t, "deadlines", "--hub", srv.URL)
	if code != 1 || !strings.Contains(out, "2 past the statutory limit") || strings.Count(out, "超法定时限") != 2 || !strings.Contains(out, "████") {
		t.Fatalf("two months on: exit %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "deadlines", "--hub", srv.URL, "--within", "0"); code != 1 || !strings.Contains(stderr, "within") {
		t.Fatalf("--within 0: exit %d %s", code, stderr)
	}

	// A second case whose delivery the department's system refused for good: it leads the list,
	// and the command fails on it.
	mu.Lock()
	now = time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)
	mu.Unlock()
	var v2 cases.CaseView
	if status := postJSON(t, srv.URL+"/api/v1/cases", readExample(t, "open-bar-individual"), &v2); status != http.StatusCreated {
		t.Fatalf("submit: %d", status)
	}
	sc := v2.Subcases[0]
	if err := hs.Cases.RecordFailed(context.Background(), connector.Delivery{EventID: "ev_refused", CaseID: v2.ID, SubcaseID: sc.ID,
		Department: sc.Department.Code, Status: 400, Attempts: 1}, "HTTP 400", "dl_7"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "deadlines", "--hub", srv.URL)
	lines := strings.Split(out, "\n")
	if code != 1 || !strings.Contains(out, "1 refused by the department's system") || len(lines) < 3 || !strings.Contains(lines[2], "推送失败") || !strings.Contains(lines[2], sc.ID) {
		t.Fatalf("a refused delivery: exit %d\n%s", code, out)
	}
}
