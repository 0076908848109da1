package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"yjshub/hub/store/storetest"
)

// The bad inputs of the trust review, each on every route it reached, on both backends: each is
// refused with one status and the rule at its path, and none reaches the store (NUL in a query
// was a 500 on PostgreSQL).
func TestBadInputIsRefusedByRuleOnEveryRoute(t *testing.T) {
	t.Parallel()
	app := exampleApp(t, "open-bar-enterprise")
	good := mustJSON(t, app)
	withForm := func(k, v string) string {
		a := exampleApp(t, "open-bar-enterprise")
		a["form"].(map[string]any)[k] = v
		return mustJSON(t, a)
	}
	withURI := func(uri string) string {
		a := exampleApp(t, "open-bar-enterprise")
		a["materials"].([]any)[0].(map[string]any)["uri"] = uri
		return mustJSON(t, a)
	}
	manyEmpty := `{"bundle":"open-bar","applicant_type":"enterprise","materials":[` + strings.TrimSuffix(strings.Repeat("{},", 340000), ",") + `]}`
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys := authServer(t, open)
			cases := []struct {
				name, client, method, path, body string
				status                           int
				path0, rule0                     string // the first problem's path and rule; "" = none checked
			}{
				// Control characters in queries and paths, on every route that reads one.
				{"NUL in holder", "jiangsu", "GET", "/api/v1/licences?holder=9135%00", "", 422, "query.holder", "control_character"},
				{"NUL in the audit kind", "ops", "GET", "/api/v1/audit?kind=prefill%00", "", 422, "query.kind", "control_character"},
				{"NUL in a dead-letter filter", "ops", "GET", "/api/v1/dlq?connector=a%00", "", 422, "query.connector", "control_character"},
				{"NUL in the deadline department", "ops", "GET", "/api/v1/deadlines?department=tob%00", "", 422, "query.department", "control_character"},
				{"NUL in the applicant type", "", "GET", "/api/v1/bundles/open-bar/form?applicant_type=enterprise%00", "", 422, "query.applicant_type", "control_character"},
				{"NUL in the inbox max", "tobacco-office", "GET", "/api/v1/departments/tobacco/inbox?max=1%00", "", 422, "query.max", "control_character"},
				{"NUL in the reuse report", "ops", "GET", "/api/v1/reports/reuse?bundle=%00", "", 422, "query.bundle", "control_character"},
				{"NUL in a case id", "jiangsu", "GET", "/api/v1/cases/cs_%00", "", 422, "path", "control_character"},
				{"NUL in a licence number", "jiangsu", "GET", "/api/v1/licences/%E9%A3%9F/JY%00", "", 422, "path", "control_character"},
				{"C1 control in a query", "jiangsu", "GET", "/api/v1/licences?holder=%C2%85", "", 422, "query.holder", "control_character"},
				// Bodies: control characters, duplicate keys, trailing data, not UTF-8, an empty bundle.
				{"NUL in a form string", "jiangsu", "POST", "/api/v1/cases", withForm("enterprise.name", "某某\u0000酒吧"), 422, "/form/enterprise.name", "control_character"},
				{"a duplicate key", "jiangsu", "POST", "/api/v1/cases", strings.Replace(good, `"bundle":`, `"bundle":"open-drink-shop","bundle":`, 1), 422, "/bundle", "duplicate"},
				{"trailing data", "jiangsu", "POST", "/api/v1/cases", good + `{"bundle":"x"}`, 422, "", "trailing_data"},
				{"not UTF-8", "jiangsu", "POST", "/api/v1/cases", `{"bundle":"` + "\xff\xfe" + `"}`, 422, "", "utf8"},
				{"an empty bundle", "jiangsu", "POST", "/api/v1/cases", `{"bundle":""}`, 422, "/bundle", "required"},
				{"a duplicate key in a consent", "jiangsu", "POST", "/api/v1/consents", `{"holder":"a","holder":"b"}`, 422, "/holder", "duplicate"},
				{"trailing data in a prefill", "jiangsu", "POST", "/api/v1/prefill", `{} []`, 422, "", "trailing_data"},
				{"NUL in an event", "tobacco-office", "POST", "/api/v1/subcases/sc_x/events", `{"event_id":"e\u0000","type":"received"}`, 422, "/event_id", "control_character"},
				{"a duplicate key in an ack", "tobacco-office", "POST", "/api/v1/departments/tobacco/inbox/x/ack", `{"lease":"a","lease":"b"}`, 422, "/lease", "duplicate"},
				// Material URIs that pointed departments at files and metadata services.
				{"a file: material", "jiangsu", "POST", "/api/v1/cases", withURI("file:///etc/passwd"), 422, "/materials/0/uri", "uri"},
				{"a metadata-service material", "jiangsu", "POST", "/api/v1/cases", withURI("http://169.254.169.254/latest/meta-data/"), 422, "/materials/0/uri", "uri"},
				{"an IP-literal https material", "jiangsu", "POST", "/api/v1/cases", withURI("https://10.0.0.8/a.pdf"), 422, "/materials/0/uri", "material_host"},
				// Oversize bodies: 413 on every route that takes one.
				{"an application over 1 MiB", "jiangsu", "POST", "/api/v1/cases", `{"form":{"x":"` + strings.Repeat("x", 1<<20) + `"}}`, 413, "", ""},
				{"an event over 1 MiB", "tobacco-office", "POST", "/api/v1/subcases/sc_x/events", `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", ""},
				{"a consent over 64 KiB", "jiangsu", "POST", "/api/v1/consents", `{"holder":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "", ""},
				{"a prefill over 64 KiB", "jiangsu", "POST", "/api/v1/prefill", `{"holder":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "", ""},
				{"an ack over 4 KiB", "tobacco-office", "POST", "/api/v1/departments/tobacco/inbox/x/ack", `{"lease":"` + strings.Repeat("x", 4<<10) + `"}`, 413, "", ""},
				{"a revocation over 64 KiB", "tobacco-office", "POST", "/api/v1/licences/%E9%A3%9F/JY1/events", `{"reason":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "", ""},
				// An answer never grows faster than its request: 340,000 empty materials in one MiB.
				{"340,000 empty materials", "jiangsu", "POST", "/api/v1/cases", manyEmpty, 422, "/materials", "max_items"},
			}
			for _, c := range cases {
				req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
				if c.client != "" {
					req.Header.Set("Authorization", "Bearer "+keys[c.client])
				}
				if c.status == http.StatusRequestEntityTooLarge {
					// The hub refuses an oversize body by its length, unread, and closes the
					// connection; a client still writing it could see the reset before the
					// answer. A client sending a large body asks first, as curl does.
					req.Header.Set("Expect", "100-continue")
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				var eb ErrorBody
				raw := json.NewDecoder(res.Body)
				derr := raw.Decode(&eb)
				res.Body.Close()
				if res.StatusCode != c.status || derr != nil || eb.Error.Status != c.status {
					t.Errorf("%s: %d %+v (%v); want %d", c.name, res.StatusCode, eb.Error, derr, c.status)
					continue
				}
				if c.rule0 == "" {
					continue
				}
				if len(eb.Error.Problems) == 0 || eb.Error.Problems[0].Path != c.path0 || eb.Error.Problems[0].Rule != c.rule0 {
					t.Errorf("%s: problems %+v; want the first at %q with rule %q", c.name, eb.Error.Problems, c.path0, c.rule0)
				}
				if len(eb.Error.Problems) > MaxProblems {
					t.Errorf("%s: %d problems listed", c.name, len(eb.Error.Problems))
				}
				for _, p := range eb.Error.Problems {
					if strings.ContainsRune(p.Message, 0) || strings.Contains(p.Message, "某某") {
						t.Errorf("%s: a message repeats the input: %q", c.name, p.Message)
					}
				}
			}
		})
	}
}
