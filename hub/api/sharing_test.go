package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/sharing"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

const (
	testUSCC    = "91350100M000100Y43"
	foodLicence = "食品经营许可证"
)

// sharingServer serves the API on a backend and returns the server and its store.
func sharingServer(t *testing.T, open storetest.Opener) (*httptest.Server, *store.Store) {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Migrated(open)(t)
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, servicesConfig(hs)))
	t.Cleanup(srv.Close)
	return srv, st
}

// call sends a request and decodes the answer into out; it returns the response and its body.
func call(t *testing.T, srv *httptest.Server, method, path string, body any, out any) (*http.Response, string) {
	t.Helper()
	return callWith(t, srv, method, path, nil, body, out)
}

// callWith is call with request headers.
func callWith(t *testing.T, srv *httptest.Server, method, path string, headers map[string]string, body any, out any) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = strings.NewReader(string(b))
	default:
		enc, _ := json.Marshal(b)
		r = strings.NewReader(string(enc))
	}
	req, _ := http.NewRequest(method, srv.URL+path, r)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp, string(raw)
}

func exampleApp(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	return app
}

func licencePath(number string) string {
	return "/api/v1/licences/" + url.PathEscape(foodLicence) + "/" + url.PathEscape(number)
}

// TestSharedDataOverHTTP is the whole story on every backend: 开饮品店 completes for an
// enterprise and issues a 食品经营许可证; a 开酒吧 application for the same enterprise is
// prefilled (with consent) and gives that licence as its food-licence material; another holder
// cannot use it; a revoked one is refused with the reason; the reuse report counts it all.
func TestSharedDataOverHTTP(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			srv, st := sharingServer(t, open)

			// 开饮品店 for the enterprise, every matter approved, the food licence issued.
			var drink cases.CaseView
			if resp, body := call(t, srv, "POST", "/api/v1/cases", exampleApp(t, "open-drink-shop-enterprise"), &drink); resp.StatusCode != 201 {
				t.Fatalf("开饮品店: %d %s", resp.StatusCode, body)
			}
			number := "JY13207070012345"
			for i, sc := range drink.Subcases {
				for _, typ := range []string{"received", "accepted"} {
					if resp, body := call(t, srv, "POST", "/api/v1/subcases/"+sc.ID+"/events", map[string]any{"event_id": fmt.Sprint(sc.ID, typ), "type": typ}, nil); resp.StatusCode != 200 {
						t.Fatalf("%s %s: %d %s", sc.MatterCode, typ, resp.StatusCode, body)
					}
				}
				ev := event.DepartmentEvent{EventID: sc.ID + "-ok", Type: "approved", DecisionNumber: fmt.Sprintf("赣审〔2026〕%d号", 100+i)}
				if sc.MatterCode == "food-business-licence" {
					ev.Licences = []event.Licence{{Type: foodLicence, Number: number, Holder: "连云港海韵餐饮管理有限公司", HolderID: testUSCC, HolderIDType: "uscc",
						Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
						File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://licences.example.org/jy.ofd", Format: "ofd", Size: 48213}}}
				}
				if resp, body := call(t, srv, "POST", "/api/v1/subcases/"+sc.ID+"/events", ev, nil); resp.StatusCode != 200 {
					t.Fatalf("%s approved: %d %s", sc.MatterCode, resp.StatusCode, body)
				}
			}

			// The library: by holder, one licence verified, a malformed holder refused unrepeated.
			var list struct {
				Count    int                `json:"count"`
				Licences []licences.Licence `json:"licences"`
			}
			var listing sharing.Consent
			if resp, body := call(t, srv, "POST", "/api/v1/consents", map[string]any{"holder": testUSCC, "purpose": sharing.PurposeLicences, "bundle": "open-bar"}, &listing); resp.StatusCode != 201 {
				t.Fatalf("a consent to list: %d %s", resp.StatusCode, body)
			}
			if resp, _ := callWith(t, srv, "GET", "/api/v1/licences?holder="+testUSCC, map[string]string{sharing.ConsentHeader: listing.Token}, nil, &list); resp.StatusCode != 200 ||
				list.Count != 1 || list.Licences[0].Number != number || list.Licences[0].Source != "hub" {
				t.Fatalf("the holder's licences: %d %+v", resp.StatusCode, list)
			}
			if resp, body := call(t, srv, "GET", "/api/v1/licences?holder=91350100M000100Y44", nil, nil); resp.StatusCode != 422 || strings.Contains(body, "91350100M000100Y44") {
				t.Fatalf("a malformed holder: %d %s", resp.StatusCode, body)
			}
			var verified licences.Licence
			if resp, _ := call(t, srv, "GET", licencePath(number), nil, &verified); resp.StatusCode != 200 || verified.Status != "valid" || verified.Department != "admin-approval" || verified.CaseID != drink.ID {
				t.Fatalf("verify: %d %+v", resp.StatusCode, verified)
			}
			if resp, _ := call(t, srv, "GET", licencePath("JY00000000000000"), nil, nil); resp.StatusCode != 404 {
				t.Fatalf("an unknown licence: %d", resp.StatusCode)
			}

			// Prefill: refused without consent, granted with it.
			prefillReq := map[string]any{"bundle": 34, "applicant_type": "enterprise", "holder": testUSCC}
			var refused ErrorBody
			if resp, body := call(t, srv, "POST", "/api/v1/prefill", prefillReq, &refused); resp.StatusCode != 403 || refused.Error.Problems[0].Rule != "consent_missing" || strings.Contains(body, testUSCC) {
				t.Fatalf("no consent: %d %s", resp.StatusCode, body)
			}
			var consent sharing.Consent
			if resp, body := call(t, srv, "POST", "/api/v1/consents", map[string]any{"holder": testUSCC, "purpose": "prefill", "bundle": "open-bar", "ttl": "15m"}, &consent); resp.StatusCode != 201 || !strings.HasPrefix(consent.Token, "yjc_") || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("consent: %d %s", resp.StatusCode, body)
			}
			var tokenStored int
			if err := st.DB().Get(&tokenStored, st.DB().Rebind("SELECT COUNT(*) FROM consents WHERE token_hash = ?"), consent.Token); err != nil || tokenStored != 0 {
				t.Fatalf("the token itself is stored (%v)", err)
			}
			prefillReq["consent"] = map[string]string{"token": consent.Token, "purpose": "prefill"}
			var pre sharing.Prefill
			if resp, body := call(t, srv, "POST", "/api/v1/prefill", prefillReq, &pre); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("prefill: %d %s", resp.StatusCode, body)
			}
			if f := pre.Fields["enterprise.name"]; f.Value != "连云港海韵餐饮管理有限公司" || f.Source.Kind != "case" || f.Source.ID != drink.ID {
				t.Fatalf("enterprise.name: %+v", f)
			}
			if f := pre.Fields["food.licence_number"]; f.Value != number || f.Source.Kind != "licence" {
				t.Fatalf("food.licence_number: %+v", f)
			}
			if len(pre.Materials) != 1 || pre.Materials[0].Code != "food-business-licence-copy" {
				t.Fatalf("materials: %+v", pre.Materials)
			}
			if len(pre.AlreadyHeld) == 0 || pre.AlreadyHeld[0].Matter != "food-business-licence" || pre.AlreadyHeld[0].Licence.Number != number {
				t.Fatalf("already held: %+v", pre.AlreadyHeld)
			}
			prefillReq["consent"] = map[string]string{"token": consent.Token, "purpose": "marketing"}
			if resp, _ := call(t, srv, "POST", "/api/v1/prefill", prefillReq, &refused); resp.StatusCode != 403 || refused.Error.Problems[0].Rule != "consent_purpose" {
				t.Fatalf("another purpose: %d %+v", resp.StatusCode, refused)
			}
			if resp, _ := call(t, srv, "POST", "/api/v1/prefill", []byte(`{"bundle": 34, "colour": "red"}`), nil); resp.StatusCode != 422 {
				t.Fatalf("an unknown key: %d", resp.StatusCode)
			}

			// 开酒吧 with the prefill and the food licence given as a material.
			bar := exampleApp(t, "open-bar-enterprise")
			form := bar["form"].(map[string]any)
			for code, f := range pre.Fields {
				form[code] = f.Value
			}
			bar["materials"] = append(bar["materials"].([]any), pre.Materials[0].Supply)
			var barCase cases.CaseView
			if resp, body := call(t, srv, "POST", "/api/v1/cases", bar, &barCase); resp.StatusCode != 201 {
				t.Fatalf("开酒吧 with the licence: %d %s", resp.StatusCode, body)
			}
			carried := 0
			pending, _ := st.PendingOutbox(context.Background(), 10000)
			for _, m := range pending {
				var env event.Envelope
				_ = json.Unmarshal(m.Payload, &env)
				var d event.SubcaseDispatched
				if env.Type != event.TypeSubcaseDispatched || json.Unmarshal(env.Data, &d) != nil || d.CaseID != barCase.ID {
					continue
				}
				for _, mat := range d.Materials {
					if mat.Licence != nil && mat.Licence.Number == number && mat.Licence.Status == "valid" && mat.Size == 48213 {
						carried++
					}
				}
			}
			if carried != 1 {
				t.Fatalf("%d department messages carry the licence material, want 1 (tobacco)", carried)
			}

			// Another holder cannot use it.
			other := exampleApp(t, "open-bar-enterprise")
			other["form"].(map[string]any)["enterprise.uscc"] = "91320707MA1XYW1231"
			other["materials"] = append(other["materials"].([]any), pre.Materials[0].Supply)
			var holderErr ErrorBody
			if resp, body := call(t, srv, "POST", "/api/v1/cases", other, &holderErr); resp.StatusCode != 422 || strings.Contains(body, testUSCC) {
				t.Fatalf("another holder: %d %s", resp.StatusCode, body)
			}
			if p := holderErr.Error.Problems; len(p) != 1 || p[0].Path != "/materials/14/licence" || p[0].Rule != "licence_holder" {
				t.Fatalf("another holder's problems: %+v", p)
			}

			// Revocation: not by another department, once by the issuer, idempotently.
			revoke := map[string]string{"event_id": "rv-1", "type": "revoked", "reason": "经营场所已变更，原许可注销", "department": "tobacco"}
			if resp, _ := call(t, srv, "POST", licencePath(number)+"/events", revoke, nil); resp.StatusCode != 403 {
				t.Fatalf("another department revokes: %d", resp.StatusCode)
			}
			revoke["department"] = "admin-approval"
			announcements := func() int {
				t.Helper()
				var n int
				if err := st.DB().Get(&n, st.DB().Rebind(`SELECT COUNT(*) FROM outbox WHERE msg_key = ? AND topic = ?`), drink.ID, "yjs.case.event"); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := announcements()
			var revoked licences.Licence
			if resp, body := call(t, srv, "POST", licencePath(number)+"/events", revoke, &revoked); resp.StatusCode != 200 || revoked.Status != "revoked" {
				t.Fatalf("the issuer revokes: %d %s", resp.StatusCode, body)
			}
			if resp, _ := call(t, srv, "POST", licencePath(number)+"/events", revoke, nil); resp.StatusCode != 200 || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("the same event again: %d", resp.StatusCode)
			}
			revoke["event_id"] = "rv-2"
			if resp, _ := call(t, srv, "POST", licencePath(number)+"/events", revoke, nil); resp.StatusCode != 409 {
				t.Fatalf("revoking a revoked licence: %d", resp.StatusCode)
			}
			// The drink shop's case shows the revocation once, and is announced again.
			var shop cases.CaseView
			if resp, body := call(t, srv, "GET", "/api/v1/cases/"+drink.ID, nil, &shop); resp.StatusCode != 200 {
				t.Fatalf("the drink shop's case: %d %s", resp.StatusCode, body)
			}
			var marks []cases.TimelineEntry
			for _, e := range shop.Timeline {
				if e.Type == "licence_revoked" {
					marks = append(marks, e)
				}
			}
			if len(marks) != 1 || !strings.Contains(marks[0].Detail, number) || !strings.Contains(marks[0].Detail, "经营场所已变更") ||
				len(shop.Licences) != 1 || shop.Licences[0].Status != "revoked" {
				t.Fatalf("timeline %+v, licences %+v: want one licence_revoked entry and the licence revoked", marks, shop.Licences)
			}
			if n := announcements(); n != before+1 {
				t.Errorf("yjs.case.event messages of the case: %d before the revocation, %d after; want one more (the replay and the 409 add none)", before, n)
			}
			var again ErrorBody
			if resp, body := call(t, srv, "POST", "/api/v1/cases", bar, &again); resp.StatusCode != 422 || again.Error.Problems[0].Rule != "licence_revoked" || !strings.Contains(again.Error.Problems[0].Message, "经营场所已变更") {
				t.Fatalf("a revoked licence: %d %s", resp.StatusCode, body)
			}

			// The report counts the prefilled fields and the licence material.
			var rep sharing.ReuseReport
			if resp, body := call(t, srv, "GET", "/api/v1/reports/reuse", nil, &rep); resp.StatusCode != 200 {
				t.Fatalf("report: %d %s", resp.StatusCode, body)
			}
			var barFigures *sharing.BundleReuse
			for i := range rep.Bundles {
				if rep.Bundles[i].Bundle.Code == "open-bar" {
					barFigures = &rep.Bundles[i]
				}
			}
			if barFigures == nil || barFigures.Cases != 1 || barFigures.FieldsPrefilled != len(pre.Fields) || barFigures.MaterialsFromLicences != 1 ||
				barFigures.PrefillsGranted != 1 || barFigures.PrefillsRefused != 2 || rep.Overall.Cases != 2 {
				t.Fatalf("report: %+v", rep)
			}
		})
	}
}
