package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/api"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

func TestReportReuseReadsTheHubsReport(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(storetest.OpenSQLite)(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiServer(t, hs))
	t.Cleanup(srv.Close)

	code, out, _ := runCLI(t, "report", "reuse", "--hub", srv.URL)
	if code != 0 || !strings.Contains(out, "no applications yet") {
		t.Fatalf("an empty hub: exit %d: %s", code, out)
	}
	if status := postJSON(t, srv.URL+"/api/v1/cases", readExample(t, "open-drink-shop-enterprise"), nil); status != http.StatusCreated {
		t.Fatalf("submit: %d", status)
	}
	code, out, _ = runCLI(t, "report", "reuse", "--hub", srv.URL)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(lines[0], "一件事") || !strings.Contains(lines[1], "开饮品店") ||
		!strings.Contains(lines[1], "░░░░") || !strings.Contains(lines[2], "合计") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "report", "reuse", "--hub", srv.URL, "--json")
	var rep sharing.ReuseReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Overall.Cases != 1 || rep.Bundles[0].Bundle.Seq != 30 || rep.Bundles[0].FieldsAsked == 0 {
		t.Fatalf("--json: exit %d: %s", code, out)
	}
	code, out, _ = runCLI(t, "report", "reuse", "--hub", srv.URL, "--from", "2026-01-01", "--to", "2026-01-31")
	if code != 0 || !strings.Contains(out, "period: 2026-01-01 to 2026-01-31") || !strings.Contains(out, "no applications yet") {
		t.Fatalf("a period without cases: exit %d: %s", code, out)
	}
	if code, _, stderr := runCLI(t, "report", "reuse", "--hub", srv.URL, "--from", "2026-13-01", "--to", "soon"); code != 1 ||
		!strings.Contains(stderr, "from  [date]") || !strings.Contains(stderr, "to  [date]") {
		t.Fatalf("bad dates: exit %d: %s", code, stderr)
	}
	srv.Close()
	if code, _, stderr := runCLI(t, "report", "reuse", "--hub", srv.URL); code != 1 || !strings.Contains(stderr, "report refused") {
		t.Fatalf("a hub that is down: exit %d: %s", code, stderr)
	}
}

func TestABarShowsTheShareInEighthsOfACell(t *testing.T) {
	cases := []struct {
		part, whole int
		want        string
	}{
		{0, 10, strings.Repeat("░", 20)},
		{10, 10, strings.Repeat("█", 20)},
		{1, 2, strings.Repeat("█", 10) + strings.Repeat("░", 10)},
		{1, 64, "▎" + strings.Repeat("░", 19)},
		{3, 0, strings.Repeat("░", 20)},
	}
	for _, c := range cases {
		if got := bar(c.part, c.whole); got != c.want || len([]rune(got)) != barWidth {
			t.Errorf("bar(%d, %d) = %q, want %q", c.part, c.whole, got, c.want)
		}
	}
}

// audit verify says intact for an untouched chain and BROKEN, with exit 1, once a row is
// changed behind the hub's back; GET /api/v1/audit lists the rows of a kind.
func TestAuditVerifyFindsAChangedRow(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Migrated(storetest.OpenSQLite)(t)
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiServer(t, hs))
	t.Cleanup(srv.Close)
	consent := []byte(`{"holder":"91350100M000100Y43","purpose":"prefill","bundle":"open-bar","ttl":"1h"}`)
	if status := postJSON(t, srv.URL+"/api/v1/consents", consent, nil); status != http.StatusCreated {
		t.Fatalf("consent: %d", status)
	}
	if code, out, stderr := runCLI(t, "audit", "verify", "--hub", srv.URL); code != 0 || !strings.Contains(out, "intact: 1 rows") {
		t.Fatalf("an untouched chain: exit %d %s %s", code, out, stderr)
	}
	var list struct {
		Count   int `json:"count"`
		Entries []struct {
			Kind    string `json:"kind"`
			Subject string `json:"subject"`
		} `json:"entries"`
	}
	if code := getJSON(t, srv.URL+"/api/v1/audit?kind=consent", &list); code != 200 || list.Count != 1 || list.Entries[0].Kind != "consent" ||
		strings.Contains(list.Entries[0].Subject, "91350100") {
		t.Fatalf("audit list: %d %+v", code, list)
	}
	var bad api.ErrorBody
	if code := getJSON(t, srv.URL+"/api/v1/audit?outcome=maybe", &bad); code != 422 || len(bad.Error.Problems) != 2 {
		t.Fatalf("audit list without kind and with a bad outcome: %d %+v", code, bad)
	}
	if _, err := st.DB().Exec(`UPDATE audit_log SET detail = '{"purpose":"marketing"}' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "audit", "verify", "--hub", srv.URL); code != 1 || !strings.Contains(out, "BROKEN at row 1 (its content does not match its hash)") {
		t.Fatalf("a changed row: exit %d %s", code, out)
	}
}
