package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
)

// refusingDepartment is a department's back office that refuses every push with 400 — for good:
// the hub dead-letters it — until told to accept (POST /accept), as a department does that
// mends its side before the operator replays.
type refusingDepartment struct {
	srv     *httptest.Server
	accept  atomic.Bool
	refused atomic.Int32
}

func newRefusingDepartment(t *testing.T) *refusingDepartment {
	d := &refusingDepartment{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /subcases", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if d.accept.Load() {
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status": "accepted"}`))
			return
		}
		d.refused.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message": "营业执照副本无法识别"}`))
	})
	mux.HandleFunc("POST /accept", func(w http.ResponseWriter, r *http.Request) {
		d.accept.Store(true)
		w.WriteHeader(http.StatusNoContent)
	})
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

// browserTools returns the node_modules directory holding playwright-core (scripts/browser.sh
// path), skipping the test when it, node or chromium is missing — failing it instead when
// YJSHUB_REQUIRE_REAL is set, so that `make test` cannot pass without the browser test.
func browserTools(t *testing.T) (node, nodePath string) {
	t.Helper()
	nodePath = installedTool(t, "browser.sh", "chromium or playwright-core for the browser test")
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
			t.Fatal("YJSHUB_REQUIRE_REAL is set but the browser test needs node")
		}
		t.Skip("the browser test needs node")
	}
	return node, nodePath
}

// The operator console in a real browser (tests/browser/console.spec.mjs, headless chromium):
// against a hub started as serve starts it — a clients file with an operator's and a platform's
// key, the simulated back office, and tobacco's connector pushing to a department that refuses
// until it is mended — the script signs in, watches a case complete on the case page, sees a
// refused delivery as 推送失败 on the case page and the connectors page, replays the dead letter
// from the connectors page once the department accepts and sees the sub-case delivered, pauses
// and resumes a connector, and screenshots every page into build/screenshots. Any step that
// fails fails the test with the script's output. The hub runs on the embedded store and broker:
// the console is the HTTP layer's, and the backends have suites of their own.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test drives chromium through the console for about a minute")
	}
	node, nodePath := browserTools(t)
	dept := newRefusingDepartment(t)
	dir := t.TempDir()
	var o serveOptions
	o.clientsFile = filepath.Join(dir, "clients.yaml")
	keys := writeClients(t, o.clientsFile, "platform", "operator")
	o.connectorsFile = filepath.Join(dir, "connectors.yaml")
	writeConnectors(t, o.connectorsFile, dept.srv.URL+"/subcases")
	// The simulated departments approve after a moment, so that the case page is seen changing;
	// health decides only after an hour and hrss asks for a supplement, so that the deadline
	// page has sub-cases open and paused.
	o.simConfig = filepath.Join(dir, "simulator.yaml")
	writeFile(t, o.simConfig, "default: {decision: approve, delay: 300ms}\ndepartments:\n  health: {decision: approve, delay: 1h}\n  hrss: {decision: supplement, delay: 100ms}\n")
	hub, _ := startSimulatedHub(t, o)
	for _, example := range []string{"open-barbershop-enterprise", "social-security-card-individual"} {
		req, _ := http.NewRequest(http.MethodPost, hub+"/api/v1/cases", strings.NewReader(string(readExample(t, example))))
		req.Header.Set("Authorization", "Bearer "+keys["platform"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("submitting %s: %v %v", example, err, resp)
		}
		resp.Body.Close()
	}

	shots, err := filepath.Abs(filepath.Join("..", "..", "build", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := filepath.Abs(filepath.Join("..", "..", "tests", "browser", "console.spec.mjs"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, spec)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "YJSHUB_HUB="+hub,
		"YJSHUB_OPERATOR_KEY="+keys["operator"], "YJSHUB_PLATFORM_KEY="+keys["platform"],
		"YJSHUB_DEPARTMENT_CONTROL="+dept.srv.URL, "YJSHUB_SCREENSHOTS="+shots)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	// The keys are the run's own, but a log is no place for a key.
	shown := strings.NewReplacer(keys["operator"], "$OPERATOR_KEY", keys["platform"], "$PLATFORM_KEY").Replace(string(out))
	if ctx.Err() != nil {
		t.Fatalf("the browser test did not finish within 8 minutes:\n%s", shown)
	}
	if err != nil {
		t.Fatalf("the browser test failed (%v):\n%s", err, shown)
	}
	t.Logf("the browser test passed in %s:\n%s", time.Since(start).Round(time.Second), shown)

	// What the script saw, checked at the source: the refused delivery was dead-lettered once,
	// replayed and delivered; the connector it paused runs again.
	var letters struct {
		DeadLetters []deadletter.Letter `json:"dead_letters"`
	}
	getWithKey(t, hub+"/api/v1/dlq?connector=restpush:tobacco", keys["operator"], &letters)
	if len(letters.DeadLetters) != 1 || letters.DeadLetters[0].State != deadletter.StateReplayed || dept.refused.Load() != 1 {
		t.Fatalf("tobacco's dead letters %+v after %d refusals; want one, replayed", letters.DeadLetters, dept.refused.Load())
	}
	var c cases.CaseView
	getWithKey(t, hub+"/api/v1/cases/"+letters.DeadLetters[0].CaseID, keys["operator"], &c)
	for _, sc := range c.Subcases {
		if sc.Department.Code == "tobacco" && (sc.Delivery == nil || sc.Delivery.State != cases.DeliveryDelivered) {
			t.Fatalf("the replayed tobacco sub-case's delivery: %+v", sc.Delivery)
		}
	}
	var st connector.Status
	getWithKey(t, hub+"/api/v1/connectors/restpush:market-regulation", keys["operator"], &st)
	if st.State != connector.StateRunning {
		t.Fatalf("restpush:market-regulation is %s after the script resumed it", st.State)
	}
	for _, name := range []string{"00-signin", "01-connectors", "01-connectors-dead-letter", "03-case-completed", "04-case-delivery-failed",
		"06-cases", "07-deadlines", "07-deadlines-delivery-failed", "08-catalogue", "09-catalogue-form", "10-reform"} {
		fi, err := os.Stat(filepath.Join(shots, name+".png"))
		if err != nil || fi.Size() < 10_000 || fi.ModTime().Before(start) {
			t.Errorf("screenshot %s: %v (a page drawn in this run is larger than 10 kB)", name, err)
		}
	}
}

func getWithKey(t *testing.T, url, key string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
