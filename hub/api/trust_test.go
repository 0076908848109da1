package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// trustServer is the API with authentication and two platforms (jiangsu, lianyungang), an
// operator and the departments of 开酒吧 (tobacco, fire-rescue, admin-approval,
// urban-management), each with its key.
func trustServer(t *testing.T, open storetest.Opener) (*httptest.Server, map[string]string) {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(open)(t)})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	var file strings.Builder
	file.WriteString("clients:\n")
	for _, c := range []auth.FileClient{{Name: "jiangsu", Role: auth.RolePlatform}, {Name: "lianyungang", Role: auth.RolePlatform},
		{Name: "ops", Role: auth.RoleOperator}, {Name: "tobacco", Role: auth.RoleDepartment, Department: "tobacco"},
		{Name: "fire-rescue", Role: auth.RoleDepartment, Department: "fire-rescue"},
		{Name: "admin-approval", Role: auth.RoleDepartment, Department: "admin-approval"},
		{Name: "urban-management", Role: auth.RoleDepartment, Department: "urban-management"}} {
		key, hash := auth.NewKey()
		keys[c.Name] = key
		fmt.Fprintf(&file, "  - {name: %s, role: %s, department: %q, key_sha256: %s}\n", c.Name, c.Role, c.Department, hash)
	}
	var codes []string
	for _, d := range cat.Departments {
		codes = append(codes, d.Code)
	}
	clients, err := auth.Parse([]byte(file.String()), codes)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, withServices(hs, Config{Clients: clients, Logger: slog.New(slog.DiscardHandler)})))
	t.Cleanup(srv.Close)
	return srv, keys
}

// sendWith is send with request headers.
func sendWith(t *testing.T, srv *httptest.Server, method, path, key, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The attack that succeeded: 区烟草局 approves its own sub-case with a 食品经营许可证 in
// 区市场监管局's name, valid until 2099. It is 422 naming both rules, nothing is recorded, and
// prefill neither offers it nor lets it satisfy the food-licence material. Revoking another
// department's licence is 403 with the rule issuer.
func TestADepartmentCannotIssueAnotherDepartmentsLicence(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			srv, keys := trustServer(t, open)
			code, body := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], mustJSON(t, exampleApp(t, "open-bar-enterprise")))
			if code != 201 {
				t.Fatalf("submit: %d %s", code, body)
			}
			var bar cases.CaseView
			decode(t, body, &bar)
			var tobacco cases.SubcaseView
			for _, sc := range bar.Subcases {
				if sc.Department.Code == "tobacco" {
					tobacco = sc
				}
			}
			events := "/api/v1/subcases/" + tobacco.ID + "/events"
			for _, typ := range []string{"received", "accepted"} {
				if code, body := send(t, srv, "POST", events, keys["tobacco"], `{"event_id":"`+typ+`","type":"`+typ+`"}`); code != 200 {
					t.Fatalf("%s: %d %s", typ, code, body)
				}
			}
			forged := event.DepartmentEvent{EventID: "approved", Type: "approved", DecisionNumber: "赣烟许〔2026〕1号",
				Licences: []event.Licence{{Type: foodLicence, Number: "JY99999999999999", Holder: "连云港海韵餐饮管理有限公司", HolderID: testUSCC,
					HolderIDType: "uscc", Issuer: "区市场监管局", IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2099-12-31",
					File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/forged.ofd", Format: "ofd"}}}}
			code, body = send(t, srv, "POST", events, keys["tobacco"], mustJSON(t, forged))
			var refused ErrorBody
			decode(t, body, &refused)
			if code != 422 || len(refused.Error.Problems) != 2 ||
				refused.Error.Problems[0].Path != "/licences/0/type" || refused.Error.Problems[0].Rule != licences.RuleLicenceType ||
				refused.Error.Problems[1].Path != "/licences/0/issuer" || refused.Error.Problems[1].Rule != licences.RuleIssuer {
				t.Fatalf("the forged licence: %d %s", code, body)
			}
			if code, _ := send(t, srv, "GET", "/api/v1/licences/"+url.PathEscape(foodLicence)+"/JY99999999999999", keys["jiangsu"], ""); code != 404 {
				t.Errorf("the forged licence is in the library: %d", code)
			}
			_, body = send(t, srv, "GET", "/api/v1/cases/"+bar.ID, keys["jiangsu"], "")
			var after cases.CaseView
			decode(t, body, &after)
			for _, sc := range after.Subcases {
				if sc.ID == tobacco.ID && sc.State != "accepted" {
					t.Errorf("the tobacco sub-case is %s after the refused approval, want accepted", sc.State)
				}
			}
			if code, body = send(t, srv, "POST", "/api/v1/consents", keys["jiangsu"], `{"holder":"`+testUSCC+`","purpose":"prefill","bundle":"open-bar"}`); code != 201 {
				t.Fatalf("consent: %d %s", code, body)
			}
			var c sharing.Consent
			decode(t, body, &c)
			code, body = send(t, srv, "POST", "/api/v1/prefill", keys["jiangsu"], mustJSON(t, map[string]any{"bundle": "open-bar", "applicant_type": "enterprise",
				"holder": testUSCC, "consent": map[string]string{"token": c.Token, "purpose": "prefill"}}))
			var pre sharing.Prefill
			decode(t, body, &pre)
			if code != 200 || len(pre.Licences) != 0 || len(pre.Materials) != 0 || pre.Fields["food.licence_number"].Value != nil {
				t.Fatalf("the prefill offers the forged licence: %d %s", code, body)
			}

			// Its own licence, in its own name: recorded; revoked by it alone.
			own := forged
			own.Licences = []event.Licence{forged.Licences[0]}
			own.Licences[0].Type, own.Licences[0].Number, own.Licences[0].Issuer = "烟草专卖零售许可证", "320707100123", "区烟草局"
			if code, body := send(t, srv, "POST", events, keys["tobacco"], mustJSON(t, own)); code != 200 {
				t.Fatalf("tobacco's own licence: %d %s", code, body)
			}
			licence := "/api/v1/licences/" + url.PathEscape("烟草专卖零售许可证") + "/320707100123/events"
			code, body = send(t, srv, "POST", licence, keys["fire-rescue"], `{"event_id":"r1","type":"revoked","reason":"x","department":"fire-rescue"}`)
			decode(t, body, &refused)
			if code != 403 || len(refused.Error.Problems) != 1 || refused.Error.Problems[0].Rule != licences.RuleIssuer || refused.Error.Problems[0].Path != "/department" {
				t.Fatalf("fire-rescue revokes tobacco's licence: %d %s", code, body)
			}
			if code, body := send(t, srv, "POST", licence, keys["tobacco"], `{"event_id":"r1","type":"revoked","reason":"经营场所已变更","department":"tobacco"}`); code != 200 {
				t.Fatalf("tobacco revokes its own licence: %d %s", code, body)
			}
		})
	}
}

// A consent is a grant to the platform that obtained it: another platform's use is refused
// (consent_platform) and its withdrawal 404; it serves as many listings as it says, then
// consent_used; its platform withdraws it (204), then it is refused (consent_withdrawn).
// Every listing is audited, an operator's too.
func TestAConsentIsAGrantToThePlatformThatObtainedIt(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			srv, keys := trustServer(t, open)
			code, body := send(t, srv, "POST", "/api/v1/consents", keys["jiangsu"], `{"holder":"`+testUSCC+`","purpose":"licences","bundle":"open-bar","uses":2}`)
			var c sharing.Consent
			decode(t, body, &c)
			if code != 201 || len(c.ID) != 16 || c.Uses != 2 || strings.Contains(c.Token, c.ID) {
				t.Fatalf("consent: %d %s", code, body)
			}
			list := "/api/v1/licences?holder=" + testUSCC
			withToken := map[string]string{sharing.ConsentHeader: c.Token}
			rule := func(code int, body string) string {
				t.Helper()
				var e ErrorBody
				decode(t, body, &e)
				if code != 403 || len(e.Error.Problems) != 1 || e.Error.Problems[0].Path != sharing.ConsentHeader || strings.Contains(body, testUSCC) {
					t.Fatalf("want a 403 with one problem at %s, not repeating the holder: %d %s", sharing.ConsentHeader, code, body)
				}
				return e.Error.Problems[0].Rule
			}
			if r := rule(sendWith(t, srv, "GET", list, keys["lianyungang"], "", withToken)); r != sharing.RuleConsentPlatform {
				t.Errorf("another platform's listing: rule %s", r)
			}
			if code, body := send(t, srv, "DELETE", "/api/v1/consents/"+c.ID, keys["lianyungang"], ""); code != 404 {
				t.Errorf("another platform withdraws: %d %s", code, body)
			}
			if r := rule(sendWith(t, srv, "GET", list, keys["jiangsu"], "", nil)); r != sharing.RuleConsentMissing {
				t.Errorf("no consent: rule %s", r)
			}
			for i := range 2 {
				if code, body := sendWith(t, srv, "GET", list, keys["jiangsu"], "", withToken); code != 200 || !strings.Contains(body, `"count":0`) {
					t.Fatalf("use %d: %d %s", i+1, code, body)
				}
			}
			if r := rule(sendWith(t, srv, "GET", list, keys["jiangsu"], "", withToken)); r != sharing.RuleConsentUsed {
				t.Errorf("a third use: rule %s", r)
			}
			if code, body = send(t, srv, "POST", "/api/v1/consents", keys["jiangsu"], `{"holder":"`+testUSCC+`","purpose":"licences","bundle":34,"uses":5}`); code != 201 {
				t.Fatalf("a second consent: %d %s", code, body)
			}
			var second sharing.Consent
			decode(t, body, &second)
			if code, body := send(t, srv, "DELETE", "/api/v1/consents/"+second.ID, keys["jiangsu"], ""); code != 204 || body != "" {
				t.Fatalf("its platform withdraws: %d %s", code, body)
			}
			if code, _ := send(t, srv, "DELETE", "/api/v1/consents/"+second.ID, keys["jiangsu"], ""); code != 204 {
				t.Errorf("withdrawing again: %d", code)
			}
			if r := rule(sendWith(t, srv, "GET", list, keys["jiangsu"], "", map[string]string{sharing.ConsentHeader: second.Token})); r != sharing.RuleConsentWithdrawn {
				t.Errorf("a withdrawn consent: rule %s", r)
			}
			if code, body := send(t, srv, "GET", list, keys["ops"], ""); code != 200 {
				t.Errorf("an operator lists: %d %s", code, body)
			}

			var rows struct {
				Entries []audit.Record `json:"entries"`
			}
			_, body = send(t, srv, "GET", "/api/v1/audit?kind=licences", keys["ops"], "")
			decode(t, body, &rows)
			var got []string
			for _, r := range rows.Entries {
				got = append(got, r.Outcome+" "+field(r.Detail, "client")+" "+strings.TrimSpace(field(r.Detail, "reason")+" "+field(r.Detail, "basis")))
				if !strings.HasPrefix(r.Subject, "k1:") || strings.Contains(string(r.Detail), testUSCC) {
					t.Errorf("audit row %d: subject %q, detail %s", r.Seq, r.Subject, r.Detail)
				}
			}
			want := []string{"refused lianyungang consent_platform consent", "refused jiangsu consent_missing consent", "granted jiangsu consent",
				"granted jiangsu consent", "refused jiangsu consent_used consent", "refused jiangsu consent_withdrawn consent", "granted ops operator"}
			if strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("listings audited:\n got %q\nwant %q", got, want)
			}
			_, body = send(t, srv, "GET", "/api/v1/audit?kind=consent_withdrawn", keys["ops"], "")
			if !strings.Contains(body, second.ID) || !strings.Contains(body, `"count":1`) {
				t.Errorf("the withdrawal audited: %s", body)
			}
		})
	}
}

// field returns a string field of a JSON object, or "".
func field(raw []byte, key string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	s, _ := m[key].(string)
	return s
}
