package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/seeds"
)

// department is a test back office: it answers with status() and counts requests by key.
type department struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	keys   map[string]int
}

func newDepartment(t *testing.T, status int) *department {
	d := &department{keys: map[string]int{}}
	d.status.Store(int32(status))
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		d.mu.Lock()
		d.keys[r.Header.Get("Idempotency-Key")]++
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(d.status.Load()))
		_, _ = w.Write([]byte(`{"message": "licence photo missing"}`))
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *department) requests(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keys[key]
}

func (d *department) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.keys {
		n += c
	}
	return n
}

func writeConnectors(t *testing.T, path, tobaccoEndpoint string) {
	t.Helper()
	yaml := "departments:\n  tobacco:\n    kind: restpush\n    restpush:\n      endpoint: " + tobaccoEndpoint + "\n      timeout: 2s\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func TestDeadLettersAreKeptAndReplayed(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			dept := newDepartment(t, http.StatusUnprocessableEntity)
			o.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
			writeConnectors(t, o.connectorsFile, dept.srv.URL)
			hub, _ := startSimulatedHub(t, o)

			var c cases.CaseView
			if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-individual"), &c); code != 201 {
				t.Fatalf("submit: %d", code)
			}
			var letters struct {
				DeadLetters []deadletter.Letter `json:"dead_letters"`
			}
			eventually(t, "a dead letter for the tobacco sub-case", func() bool {
				getJSON(t, hub+"/api/v1/dlq?connector=restpush:tobacco", &letters)
				for _, l := range letters.DeadLetters {
					if l.CaseID == c.ID {
						return true
					}
				}
				return false
			})
			var l deadletter.Letter
			for _, x := range letters.DeadLetters {
				if x.CaseID == c.ID {
					l = x
				}
			}
			// On a shared broker the department may also get sub-cases an earlier run left
			// behind; what counts is this message's key.
			if !strings.Contains(l.Reason, "422") || l.State != deadletter.StateDead || dept.requests(l.EventID) != 1 {
				t.Fatalf("dead letter %+v after %d requests for it (a 4xx must not be retried)", l, dept.requests(l.EventID))
			}
			var st connector.Status
			eventually(t, "the connector to count the failure", func() bool {
				getJSON(t, hub+"/api/v1/connectors/restpush:tobacco", &st)
				return st.Failed >= 1
			})
			if st.DeadLetters < 1 || st.Breaker != "closed" || !strings.Contains(st.LastErrorMessage, "422") {
				t.Fatalf("status after a 4xx: %+v", st)
			}
			// The other departments' sub-cases are not held up by tobacco's refusal.
			eventually(t, "the other matters decided", func() bool {
				var v cases.CaseView
				getJSON(t, hub+"/api/v1/cases/"+c.ID, &v)
				for _, sc := range v.Subcases {
					if sc.Department.Code != "tobacco" && sc.State != cases.StateApproved {
						return false
					}
				}
				return true
			})

			// The refused sub-case shows as failed, with its dead letter, in the case view and in
			// watch, which gives up at its timeout saying so and exits non-zero.
			var v cases.CaseView
			getJSON(t, hub+"/api/v1/cases/"+c.ID, &v)
			for _, sc := range v.Subcases {
				if sc.Department.Code == "tobacco" && (sc.Delivery == nil || sc.Delivery.State != cases.DeliveryFailed || sc.Delivery.DeadLetterID != l.ID) {
					t.Fatalf("the refused sub-case in the case view: %+v, want delivery failed with dead letter %s", sc.Delivery, l.ID)
				}
			}
			code, out, stderr := runCLI(t, "watch", "--hub", hub, "--interval", "20ms", "--timeout", "500ms", c.ID)
			if code == 0 || !strings.Contains(out, "delivery_failed (dead letter "+l.ID) || !strings.Contains(stderr, "gave up after 500ms") ||
				!strings.Contains(stderr, "1 delivery failed for good") {
				t.Fatalf("watch of a case with a refused delivery: exit %d\n%s\n%s", code, out, stderr)
			}

			// The department mends its side; the operator replays.
			dept.status.Store(http.StatusAccepted)
			code, out, stderr = runCLI(t, "dlq", "replay", "--hub", hub, "--all", "--connector", "restpush:tobacco")
			if code != 0 || !strings.Contains(out, "replayed 1 of 1") {
				t.Fatalf("dlq replay: exit %d\n%s\n%s", code, out, stderr)
			}
			eventually(t, "the replayed sub-case delivered", func() bool {
				var v cases.CaseView
				getJSON(t, hub+"/api/v1/cases/"+c.ID, &v)
				for _, sc := range v.Subcases {
					if sc.Department.Code == "tobacco" {
						return sc.DeliveredAt != nil && sc.DeliveryError == "" && sc.Delivery != nil && sc.Delivery.State == cases.DeliveryDelivered
					}
				}
				return false
			})
			if n := dept.requests(l.EventID); n != 2 {
				t.Fatalf("the department saw the original Idempotency-Key %d times, want 2 (the refusal and the replay)", n)
			}
			code, out, _ = runCLI(t, "dlq", "list", "--hub", hub, "--state", "replayed")
			if code != 0 || !strings.Contains(out, l.ID) {
				t.Fatalf("dlq list: %d %s", code, out)
			}
		})
	}
}

func TestConnectorsPauseResumeAndReload(t *testing.T) {
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) { testPauseResumeReload(t, o) })
	}
}

func testPauseResumeReload(t *testing.T, o serveOptions) {
	first := newDepartment(t, http.StatusAccepted)
	second := newDepartment(t, http.StatusAccepted)
	o.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
	writeConnectors(t, o.connectorsFile, first.srv.URL)
	hub, _ := startSimulatedHub(t, o)

	var list struct {
		Connectors []connector.Status `json:"connectors"`
	}
	getJSON(t, hub+"/api/v1/connectors", &list)
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Connectors) != len(cat.Departments) {
		t.Fatalf("%d connectors, want one per department (%d)", len(list.Connectors), len(cat.Departments))
	}
	post := func(path string, out any) int {
		resp, err := http.Post(hub+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var st connector.Status
	if code := post("/api/v1/connectors/restpush:tobacco/pause", &st); code != 200 || st.State != connector.StatePaused {
		t.Fatalf("pause: %d %+v", code, st)
	}
	var c cases.CaseView
	if code := postJSON(t, hub+"/api/v1/cases", readExample(t, "open-bar-individual"), &c); code != 201 {
		t.Fatalf("submit: %d", code)
	}
	eventually(t, "the paused connector's lag to show the waiting sub-case", func() bool {
		getJSON(t, hub+"/api/v1/connectors/restpush:tobacco", &st)
		return st.Lag >= 1
	})
	if first.count() != 0 {
		t.Fatalf("a paused connector delivered %d", first.count())
	}
	// Reload with another endpoint: the connector restarts on it (and runs again).
	writeConnectors(t, o.connectorsFile, second.srv.URL)
	if code := post("/api/v1/connectors/reload", nil); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	eventually(t, "delivery to the new endpoint", func() bool { return second.count() == 1 })
	if first.count() != 0 {
		t.Fatalf("the old endpoint got %d requests after the reload", first.count())
	}
	// A broken file is refused and changes nothing.
	if err := os.WriteFile(o.connectorsFile, []byte("departments:\n  tobacco:\n    kind: carrier-pigeon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct {
			Problems []struct{ Message string } `json:"problems"`
		} `json:"error"`
	}
	if code := post("/api/v1/connectors/reload", &e); code != 422 || !strings.Contains(e.Error.Problems[0].Message, "carrier-pigeon") {
		t.Fatalf("a broken file: %d %+v", code, e)
	}
	getJSON(t, hub+"/api/v1/connectors/restpush:tobacco", &st)
	if st.State != connector.StateRunning || st.Detail["endpoint"] != second.srv.URL {
		t.Fatalf("after a refused reload: %+v", st)
	}
	if code := post("/api/v1/connectors/restpush:nowhere/pause", nil); code != 404 {
		t.Fatalf("unknown connector: %d", code)
	}
}
