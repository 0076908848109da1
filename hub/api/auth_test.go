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
	"yjshub/hub/metrics"
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
func (fakeLetters) Get(context.Context, string) (deadletter.Letter, error) {
	return deadletter.Letter{}, deadletter.ErrNotFound
}
func (fakeLetters) Replay(context.Context, string) (deadletter.Letter, error) {
	return deadletter.Letter{}, deadletter.ErrNotFound
}

// authServer is the whole API with authentication on a backend, and a key per client:
// platform, operator, and department clients of tobacco and fire-rescue.
func authServer(t *testing.T, open storetest.Opener) (*httptest.Server, map[string]string) {
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
	m, err := metrics.New(metrics.Config{Store: st, Connectors: fakeAdmin{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	var file strings.Builder
	file.WriteString("clients:\n")
	for _, c := range []auth.FileClient{
		{Name: "jiangsu", Role: auth.RolePlatform}, {Name: "ops", Role: auth.RoleOperator},
		{Name: "tobacco-office", Role: auth.RoleDepartment, Department: "tobacco"},
		{Name: "fire-office", Role: auth.RoleDepartment, Department: "fire-rescue"},
	} {
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
	srv := httptest.NewServer(newServer(t, withServices(hs, Config{Clients: clients, Inbox: &fakeInbox{},
		Connectors: fakeAdmin{}, DeadLetters: fakeLetters{}, Logger: slog.New(slog.DiscardHandler),
		Metrics: m.Handler(), Instrument: m.Middleware})))
	t.Cleanup(srv.Close)
	return srv, keys
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
		{"POST", "/api/v1/cases", []string{"jiangsu"}},
		{"GET", "/api/v1/cases/cs_unknown", []string{"jiangsu", "ops"}},
		{"POST", "/api/v1/subcases/sc_unknown/events", []string{"tobacco-office", "fire-office"}},
		{"GET", "/api/v1/departments/tobacco/inbox", []string{"tobacco-office"}},
		{"POST", "/api/v1/departments/tobacco/inbox/x/ack", []string{"tobacco-office"}},
		{"GET", "/api/v1/connectors", []string{"ops"}},
		{"POST", "/api/v1/connectors/restpush:tobacco/pause", []string{"ops"}},
		{"GET", "/api/v1/dlq", []string{"ops"}},
		{"POST", "/api/v1/dlq/x/replay", []string{"ops"}},
		{"GET", "/api/v1/reports/reuse", []string{"ops"}},
		{"GET", "/api/v1/deadlines", []string{"tobacco-office", "fire-office", "ops"}},
		{"GET", "/api/v1/audit?kind=prefill", []string{"ops"}},
		{"GET", "/api/v1/audit/verify", []string{"ops"}},
		{"GET", "/metrics", []string{"ops"}},
		{"GET", "/api/v1/licences?holder=91350100M000100Y43", []string{"jiangsu", "ops"}},
		{"GET", "/api/v1/licences/%E9%A3%9F/JY1", []string{"jiangsu", "ops", "tobacco-office", "fire-office"}},
		{"POST", "/api/v1/licences/%E9%A3%9F/JY1/events", []string{"tobacco-office", "fire-office"}},
		{"POST", "/api/v1/consents", []string{"jiangsu"}},
		{"POST", "/api/v1/prefill", []string{"jiangsu"}},
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
			if code, resp := send(t, srv, "POST", "/api/v1/subcases/"+fire+"/events", keys["tobacco-office"], ev); code != 403 ||
				!strings.Contains(resp, "belongs to another department") {
				t.Errorf("tobacco reporting on fire-rescue's sub-case: %d %s; want 403", code, resp)
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
