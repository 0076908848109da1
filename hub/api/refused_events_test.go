package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// A department event the hub refuses is one WARN line with the sub-case id, the status and the
// rule it broke — never a value from the body; an event the hub takes, or takes again, is not
// logged as refused.
func TestARefusedDepartmentEventIsLoggedWithTheSubcaseAndTheRule(t *testing.T) {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(storetest.OpenSQLite)(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// The line is written before the handler returns, so before net/http sends the answer.
	logs := &lockedBuffer{}
	srv := httptest.NewServer(newServer(t, withServices(hs, Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})))
	t.Cleanup(srv.Close)
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-bar-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c cases.CaseView
	if resp := post(t, srv, "/api/v1/cases", body, nil, &c); resp.StatusCode != 201 {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	sc := c.Subcases[0].ID
	// A marker that stands for whatever personal data an event may carry.
	const secret = "张三13800138000"
	for _, tc := range []struct {
		name, subcase, body string
		status              int
		rule                string // "" when nothing is to be logged
	}{
		{name: "an event the hub takes is not logged", subcase: sc, body: `{"event_id": "d1", "type": "accepted", "comment": "` + secret + `"}`, status: 200},
		{name: "the same event again is not logged", subcase: sc, body: `{"event_id": "d1", "type": "accepted", "comment": "` + secret + `"}`, status: 200},
		{name: "an event its state does not allow", subcase: sc, body: `{"event_id": "d2", "type": "resumed", "comment": "` + secret + `"}`, status: 409,
			rule: "conflict: the sub-case's state or an earlier event does not allow it"},
		{name: "an unknown sub-case", subcase: "sc_nope", body: `{"event_id": "d3", "type": "received"}`, status: 404, rule: "unknown sub-case"},
		{name: "an event that breaks its rules", subcase: sc, body: `{"event_id": "d4", "type": "rejected", "comment": "` + secret + `"}`, status: 422,
			rule: "invalid request: /reason: required"},
		{name: "a body that is not an event", subcase: sc, body: `{"event_id": "d5", "type": "accepted", "holder": "` + secret + `"}`, status: 422,
			rule: "body: not a department event of the expected shape, or too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			if resp := post(t, srv, "/api/v1/subcases/"+tc.subcase+"/events", []byte(tc.body), nil, nil); resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the body reached the log: %s", logs.String())
			}
			if tc.rule == "" {
				if logs.String() != "" {
					t.Errorf("logged: %s", logs.String())
				}
				return
			}
			var line struct {
				Level, Msg, Subcase, Rule string
				Status                    int
			}
			if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
				t.Fatalf("not one log line: %v\n%s", err, logs.String())
			}
			if line.Level != "WARN" || line.Msg != "department event refused" || line.Subcase != tc.subcase || line.Status != tc.status || line.Rule != tc.rule {
				t.Errorf("logged %+v, want WARN \"department event refused\" subcase %s status %d rule %q", line, tc.subcase, tc.status, tc.rule)
			}
		})
	}
}

// lockedBuffer is a log written by the server's goroutines and read by the test's.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
