package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/event"
	"yjshub/hub/metrics"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

type fakeAdmin struct{}

func (fakeAdmin) Statuses(context.Context) []connector.Status { return nil }
func (fakeAdmin) Status(context.Context, string) (connector.Status, error) {
	return connector.Status{}, connector.ErrUnknown
}
func (fakeAdmin) Pause(string) (connector.Status, error) {
	return connector.Status{}, connector.ErrUnknown
}
func (fakeAdmin) Resume(string) (connector.Status, error) {
	return connector.Status{}, connector.ErrUnknown
}

type fakeLetters struct{}

func (fakeLetters) List(context.Context, deadletter.Filter) ([]deadletter.Letter, error) {
	return nil, nil
}
func (fakeLetters) Get(_ context.Context, id string) (deadletter.Letter, error) {
	if id == "dl_with_payload" { // an application a platform sent that could not be mapped
		return deadletter.Letter{ID: id, Connector: "platform:jiangsu", CaseID: "cs_1", State: deadletter.StateDead,
			Payload: `{"form":{"applicant.id_number":"11010519491231002X"}}`}, nil
	}
	return deadletter.Letter{}, deadletter.ErrNotFound
}
func (fakeLetters) Replay(context.Context, string) (deadletter.Letter, error) {
	return deadletter.Letter{}, deadletter.ErrNotFound
}

// authServer is the whole API with authentication on a backend, and a key per client:
// platform, operator, and department clients of tobacco and fire-rescue.
func authServer(t *testing.T, open storetest.Opener) (*httptest.Server, map[string]string) {
	t.Helper()
	srv, keys, _ := authServices(t, open)
	return srv, keys
}

// authServices is authServer with the hub's services behind it.
func authServices(t *testing.T, open storetest.Opener) (*httptest.Server, map[string]string, *hub.Services) {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Migrated(open)(t)
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: st, DataDir: t.TempDir()}) // DataDir: the file routes too
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(metrics.Config{Store: st, Connectors: fakeAdmin{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	var file strings.Builder
	file.WriteString("clients:\n")
	for _, c := range []auth.FileClient{
		{Name: "jiangsu", Role: auth.RolePlatform}, {Name: "ops", Role: auth.RoleOperator},
		{Name: "lianyungang", Role: auth.RolePlatform}, {Name: "ops-pd", Role: auth.RoleOperator, PersonalData: true},
		{Name: "tobacco-office", Role: auth.RoleDepartment, Department: "tobacco"},
		{Name: "fire-office", Role: auth.RoleDepartment, Department: "fire-rescue"},
	} {
		key, hash := auth.NewKey()
		keys[c.Name] = key
		fmt.Fprintf(&file, "  - {name: %s, role: %s, department: %q, key_sha256: %s, personal_data: %v}\n", c.Name, c.Role, c.Department, hash, c.PersonalData)
	}
	var codes []string
	for _, d := range cat.Departments {
		codes = append(codes, d.Code)
	}
	clients, err := auth.Parse([]byte(file.String()), codes)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, withServices(hs, Config{Clients: clients, Inbox: &fakeInbox{}, Limits: Limits{Unlimited: true},
		Connectors: fakeAdmin{}, DeadLetters: fakeLetters{}, Logger: slog.New(slog.DiscardHandler),
		Metrics: m.Handler(), Instrument: m.Middleware})))
	t.Cleanup(srv.Close)
	return srv, keys, hs
}

func send(t *testing.T, srv *httptest.Server, method, path, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

// Every route answers 401 without a key or with an unknown one, 403 to a client of a role it
// is not for, and lets the roles it is for through to the handler (whatever the handler then
// answers: 404 for an unknown id is the handler speaking, not the guard).
func TestEveryRouteLetsOnlyItsRolesThrough(t *testing.T) {
	t.Parallel()
	srv, keys := authServer(t, storetest.OpenSQLite)
	routes := []struct {
		method, path string
		roles        []string // clients let through; nil = public
	}{
		{"GET", "/healthz", nil},
		{"GET", "/api/v1/bundles", nil},
		{"GET", "/api/v1/bundles/open-bar/form?applicant_type=enterprise", nil},
		{"GET", "/api/v1/departments", nil},
		{"POST", "/api/v1/cases", []string{"jiangsu", "lianyungang"}},
		{"GET", "/api/v1/cases/cs_unknown", []string{"jiangsu", "lianyungang", "ops", "ops-pd"}},
		{"POST", "/api/v1/subcases/sc_unknown/events", []string{"tobacco-office", "fire-office"}},
		{"GET", "/api/v1/departments/tobacco/inbox", []string{"tobacco-office"}},
		{"POST", "/api/v1/departments/tobacco/inbox/x/ack", []string{"tobacco-office"}},
		{"GET", "/api/v1/connectors", []string{"ops", "ops-pd"}},
		{"POST", "/api/v1/connectors/restpush:tobacco/pause", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/dlq", []string{"ops", "ops-pd"}},
		{"POST", "/api/v1/dlq/x/replay", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/reports/reuse", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/deadlines", []string{"tobacco-office", "fire-office", "ops", "ops-pd"}},
		{"GET", "/api/v1/audit?kind=prefill", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/audit/verify", []string{"ops", "ops-pd"}},
		{"GET", "/metrics", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/licences?holder=91350100M000100Y43", []string{"jiangsu", "lianyungang", "ops", "ops-pd"}},
		{"GET", "/api/v1/licences/%E9%A3%9F/JY1", []string{"jiangsu", "lianyungang", "ops", "ops-pd", "tobacco-office", "fire-office"}},
		{"POST", "/api/v1/licences/%E9%A3%9F/JY1/events", []string{"tobacco-office", "fire-office"}},
		{"POST", "/api/v1/consents", []string{"jiangsu", "lianyungang"}},
		{"DELETE", "/api/v1/consents/0000000000000000", []string{"jiangsu", "lianyungang"}},
		{"POST", "/api/v1/prefill", []string{"jiangsu", "lianyungang"}},
	}
	for _, rt := range routes {
		if rt.roles == nil {
			if code, body := send(t, srv, rt.method, rt.path, "", ""); code != 200 {
				t.Errorf("%s %s without a key: %d %s; want public", rt.method, rt.path, code, body)
			}
			continue
		}
		for _, key := range []string{"", "yjk_not-a-key-of-the-hub"} {
			code, body := send(t, srv, rt.method, rt.path, key, "{}")
			if code != 401 || !strings.Contains(body, `"unauthenticated"`) {
				t.Errorf("%s %s with key %q: %d %s; want 401", rt.method, rt.path, key, code, body)
			}
		}
		for name, key := range keys {
			allowed := false
			for _, r := range rt.roles {
				allowed = allowed || r == name
			}
			code, body := send(t, srv, rt.method, rt.path, key, "{}")
			switch {
			case allowed && (code == 401 || (code == 403 && strings.Contains(body, "this route is for"))):
				t.Errorf("%s %s as %s: %d %s; want it let through", rt.method, rt.path, name, code, body)
			case !allowed && code != 403:
				t.Errorf("%s %s as %s: %d %s; want 403", rt.method, rt.path, name, code, body)
			}
		}
	}
}

// A department reports only on its own sub-cases, polls only its own inbox and revokes only
// as itself; the platform submits and follows the case.
func TestADepartmentActsOnlyOnItsOwnSubcases(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys := authServer(t, open)
			app := exampleApp(t, "open-bar-enterprise")
			body := mustJSON(t, app)
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], body)
			if code != 201 {
				t.Fatalf("submit as the platform: %d %s", code, resp)
			}
			var view cases.CaseView
			decode(t, resp, &view)
			var tobacco, fire string
			for _, sc := range view.Subcases {
				switch sc.Department.Code {
				case "tobacco":
					tobacco = sc.ID
				case "fire-rescue":
					fire = sc.ID
				}
			}
			if tobacco == "" || fire == "" {
				t.Fatalf("开酒吧 has no tobacco or fire-rescue sub-case: %+v", view.Subcases)
			}
			ev := `{"event_id":"e1","type":"received"}`
			_, unknown := send(t, srv, "POST", "/api/v1/subcases/sc_unknown/events", keys["tobacco-office"], ev)
			if code, resp := send(t, srv, "POST", "/api/v1/subcases/"+fire+"/events", keys["tobacco-office"], ev); code != 404 || resp != unknown {
				t.Errorf("tobacco reporting on fire-rescue's sub-case: %d %s; want the 404 of a sub-case that does not exist: %s", code, resp, unknown)
			}
			if code, resp := send(t, srv, "POST", "/api/v1/subcases/"+tobacco+"/events", keys["tobacco-office"], ev); code != 200 {
				t.Errorf("tobacco reporting on its own sub-case: %d %s", code, resp)
			}
			if code, resp := send(t, srv, "POST", "/api/v1/subcases/sc_unknown/events", keys["tobacco-office"], ev); code != 404 {
				t.Errorf("an unknown sub-case: %d %s; want 404", code, resp)
			}
			var after cases.CaseView
			code, resp = send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys["jiangsu"], "")
			decode(t, resp, &after)
			for _, sc := range after.Subcases {
				if want := map[bool]string{true: "received", false: sc.State}[sc.ID == tobacco]; code != 200 || sc.State != want ||
					(sc.ID == fire && sc.State == "received") {
					t.Errorf("after the refused event: %s is %s", sc.Department.Code, sc.State)
				}
			}
			if code, resp := send(t, srv, "GET", "/api/v1/departments/fire-rescue/inbox", keys["tobacco-office"], ""); code != 403 {
				t.Errorf("tobacco polling fire-rescue's inbox: %d %s; want 403", code, resp)
			}
			if code, resp := send(t, srv, "GET", "/api/v1/departments/tobacco/inbox", keys["tobacco-office"], ""); code != 200 {
				t.Errorf("tobacco polling its own inbox: %d %s", code, resp)
			}
			if code, resp := send(t, srv, "GET", "/api/v1/deadlines?department=fire-rescue", keys["tobacco-office"], ""); code != 403 {
				t.Errorf("tobacco watching fire-rescue's deadlines: %d %s; want 403", code, resp)
			}
			var watch cases.DeadlineWatch
			code, resp = send(t, srv, "GET", "/api/v1/deadlines?all=true", keys["tobacco-office"], "")
			decode(t, resp, &watch)
			if code != 200 || len(watch.Items) != 1 || watch.Items[0].SubcaseID != tobacco {
				t.Errorf("tobacco's own deadlines: %d %+v; want its one sub-case", code, watch.Items)
			}
			revoke := `{"event_id":"r1","type":"revoked","department":"admin-approval","reason":"x"}`
			if code, resp := send(t, srv, "POST", "/api/v1/licences/%E9%A3%9F/JY1/events", keys["tobacco-office"], revoke); code != 403 ||
				!strings.Contains(resp, "belongs to another department") {
				t.Errorf("tobacco revoking as admin-approval: %d %s; want 403", code, resp)
			}
		})
	}
}

// A case is its submitting platform's: another platform gets the 404 of a case that does not
// exist; an operator reads it, and one granted personal data is audited for each read.
func TestACaseIsReadOnlyByItsPlatformAndOperators(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys, hs := authServices(t, open)
			body := mustJSON(t, exampleApp(t, "open-bar-enterprise"))
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], body)
			if code != 201 {
				t.Fatalf("submit as jiangsu: %d %s", code, resp)
			}
			var view cases.CaseView
			decode(t, resp, &view)
			_, unknown := send(t, srv, "GET", "/api/v1/cases/cs_unknown", keys["lianyungang"], "")
			for _, c := range []struct {
				client string
				status int
			}{{"jiangsu", 200}, {"lianyungang", 404}, {"ops", 200}, {"ops-pd", 200}, {"tobacco-office", 403}} {
				code, resp := send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys[c.client], "")
				if code != c.status {
					t.Errorf("%s reading jiangsu's case: %d %s; want %d", c.client, code, resp, c.status)
				}
				if c.status == 404 && resp != strings.Replace(unknown, "cs_unknown", view.ID, 1) {
					t.Errorf("%s: %s; want the answer for a case that does not exist: %s", c.client, resp, unknown)
				}
			}
			// A dead letter's payload is personal data: withheld from ops, shown to ops-pd, audited.
			for client, withheld := range map[string]bool{"ops": true, "ops-pd": false} {
				code, resp := send(t, srv, "GET", "/api/v1/dlq/dl_with_payload", keys[client], "")
				if code != 200 || strings.Contains(resp, "11010519491231002X") != !withheld || strings.Contains(resp, `"payload_withheld":true`) != withheld {
					t.Errorf("%s reading a dead letter: %d %s; want the payload withheld %v", client, code, resp, withheld)
				}
			}
			if rows, err := hs.Audit.Entries(context.Background(), AuditDeadLetterRead, ""); err != nil || len(rows) != 1 ||
				!strings.Contains(string(rows[0].Detail), `"client":"ops-pd"`) {
				t.Errorf("audit rows of dead-letter reads: %+v %v; want one, of ops-pd", rows, err)
			}
			reads, err := hs.Audit.Entries(context.Background(), AuditCaseRead, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(reads) != 1 || !strings.Contains(string(reads[0].Detail), `"client":"ops-pd"`) || reads[0].Subject == "" {
				t.Errorf("audit rows of case reads: %+v; want one, of ops-pd, with the holder's reference", reads)
			}
			// Searching cases by holder: operators granted personal data alone, each search audited.
			holder := "91350100M000100Y43" // the example's enterprise.uscc
			for _, c := range []struct {
				client string
				status int
			}{{"jiangsu", 403}, {"ops", 403}, {"ops-pd", 200}} {
				code, resp := send(t, srv, "GET", "/api/v1/cases?holder="+holder, keys[c.client], "")
				if code != c.status || (code == 200 && !strings.Contains(resp, view.ID)) || (code == 403 && !strings.Contains(resp, "personal data")) {
					t.Errorf("%s searching by holder: %d %s; want %d", c.client, code, resp, c.status)
				}
			}
			if code, resp := send(t, srv, "GET", "/api/v1/cases?holder=91350100M000100Y44", keys["ops-pd"], ""); code != 200 || strings.Contains(resp, view.ID) {
				t.Errorf("ops-pd searching another holder: %d %s", code, resp)
			}
			searches, err := hs.Audit.Entries(context.Background(), AuditCaseSearch, "")
			if err != nil || len(searches) != 2 || searches[0].Subject == "" || searches[0].Subject == searches[1].Subject ||
				strings.Contains(string(searches[0].Detail), holder) || !strings.Contains(string(searches[0].Detail), `"client":"ops-pd"`) {
				t.Errorf("audit rows of holder searches: %+v %v; want two of ops-pd, keyed by pseudonym, without the number", searches, err)
			}
			// A platform lists the licences of the holder of its own case without a consent token.
			list := "/api/v1/licences?holder=" + holder + "&case=" + view.ID
			if code, resp := send(t, srv, "GET", list, keys["jiangsu"], ""); code != 200 {
				t.Errorf("jiangsu listing the licences of its case's holder: %d %s", code, resp)
			}
			for _, c := range []struct{ client, path string }{
				{"lianyungang", list},
				{"jiangsu", "/api/v1/licences?holder=11010519491231002X&case=" + view.ID}, // another holder
				{"jiangsu", "/api/v1/licences?holder=" + holder + "&case=cs_unknown"},
			} {
				if code, resp := send(t, srv, "GET", c.path, keys[c.client], ""); code != 403 || !strings.Contains(resp, sharing.RuleConsentCase) {
					t.Errorf("%s GET %s: %d %s; want 403 %s", c.client, c.path, code, resp, sharing.RuleConsentCase)
				}
			}
			// Idempotency keys are each platform's own: lianyungang's equal key is another key.
			a := submitWith(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], body, "Idempotency-Key", "k-1")
			b := submitWith(t, srv, "POST", "/api/v1/cases", keys["lianyungang"], body, "Idempotency-Key", "k-1")
			if a.id == "" || b.id == "" || a.id == b.id || b.replayed {
				t.Errorf("one Idempotency-Key from two platforms: %+v and %+v; want two cases", a, b)
			}
			if again := submitWith(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], body, "Idempotency-Key", "k-1"); again.id != a.id || !again.replayed {
				t.Errorf("jiangsu's key again: %+v; want its first answer replayed", again)
			}
		})
	}
}

type submitted struct {
	status   int
	id       string
	replayed bool
}

func submitWith(t *testing.T, srv *httptest.Server, method, path, key, body, header, value string) submitted {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(header, value)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(res.Body).Decode(&v)
	return submitted{status: res.StatusCode, id: v.ID, replayed: res.Header.Get("Idempotent-Replayed") == "true"}
}

func TestOperatorsSeeIndividualsMasked(t *testing.T) {
	v := &cases.CaseView{Licences: []cases.LicenceView{
		{Licence: event.Licence{Holder: "张小明", HolderID: "110105194912310029", HolderIDType: "resident_id"}},
		{Licence: event.Licence{Holder: "连云港某某餐饮有限公司", HolderID: "91320700MA1XXXXX1X", HolderIDType: "uscc"}},
	}}
	maskPersonalData(v)
	if l := v.Licences[0]; l.HolderID != "110*************29" || l.Holder != "张**" {
		t.Errorf("an individual's licence: %q %q", l.HolderID, l.Holder)
	}
	if l := v.Licences[1]; l.HolderID != "91320700MA1XXXXX1X" || l.Holder != "连云港某某餐饮有限公司" {
		t.Errorf("a company's licence changed: %q %q (a USCC and a company name are public)", l.HolderID, l.Holder)
	}
}
