package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"yjshub/deptsim"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/cases"
	"yjshub/hub/store/storetest"
)

// envAsMain makes the test binary run the yjshub command (its arguments are the command's):
// the kill tests start hubs as processes of their own, to SIGKILL them.
const envAsMain = "YJSHUB_TEST_AS_MAIN"

// envFaults enables the kill tests; `make test-faults` sets it.
const envFaults = "YJSHUB_FAULT_TESTS"

func TestMain(m *testing.M) {
	if os.Getenv(envAsMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// hubProcess is `yjshub serve` run as a process of its own.
type hubProcess struct {
	cmd  *exec.Cmd
	addr string
	log  *os.File
}

// startHubProcess runs serve on addr with args and env, and waits until /readyz says ready.
func startHubProcess(t *testing.T, addr string, env []string, args ...string) *hubProcess {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "hub-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Env = append(append(os.Environ(), envAsMain+"=1"), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hubProcess{cmd: cmd, addr: addr, log: logf}
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			_ = h.cmd.Wait()
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub on %s was not ready within 90s; its log:\n%s", addr, h.tail())
		}
		time.Sleep(50 * time.Millisecond) // polling a probe, as an orchestrator does
	}
}

// kill SIGKILLs the hub: nothing of it runs its shutdown.
func (h *hubProcess) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

func (h *hubProcess) tail() string {
	b, _ := os.ReadFile(h.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// simulatedDepartments runs the simulated back offices outside the hubs, so they outlive a
// killed one, and writes the connectors file that points every department at them.
func simulatedDepartments(t *testing.T) (*deptsim.Simulator, string) {
	t.Helper()
	cat, err := loadCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range cat.Departments {
		names[d.Code] = d.Name
	}
	sim, err := deptsim.New(deptsim.Config{}, deptsim.WithDepartmentNames(names), deptsim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { _ = sim.Close(); srv.Close() })
	var b strings.Builder
	b.WriteString("departments:\n")
	for _, d := range cat.Departments {
		fmt.Fprintf(&b, "  %s:\n    kind: restpush\n    restpush:\n      endpoint: %s/departments/%s/subcases\n      timeout: 5s\n", d.Code, srv.URL, d.Code)
	}
	path := filepath.Join(t.TempDir(), "connectors.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return sim, path
}

// submitter sends applications with one Idempotency-Key each, again until one is taken, and
// keeps the ids of those acknowledged (201).
type submitter struct {
	url   func() string // the hub to send to now
	body  []byte
	mu    sync.Mutex
	acked map[string]string // key → case id
	sent  atomic.Int64
}

func (s *submitter) submit(ctx context.Context, key string) {
	client := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url()+"/api/v1/cases", strings.NewReader(string(s.body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := client.Do(req)
		if err == nil {
			var v cases.CaseView
			derr := decodeJSON(res.Body, &v)
			res.Body.Close()
			if (res.StatusCode == http.StatusCreated || res.StatusCode == http.StatusOK) && derr == nil {
				s.mu.Lock()
				s.acked[key] = v.ID
				s.mu.Unlock()
				s.sent.Add(1)
				return
			}
		}
		select { // the hub is down or busy: as a client does, send again shortly
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run submits n applications, eight at a time, calling at(i) before the i-th.
func (s *submitter) run(ctx context.Context, n int, at func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		at(i)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.submit(ctx, fmt.Sprintf("kill-%d-%d", time.Now().UnixNano(), i))
		}()
	}
	wg.Wait()
}

// checkAllCompletedOnce waits until every acknowledged case is completed, then checks that no
// effect was applied twice: one case per acknowledgement, each sub-case approved once with one
// step of each kind, each e-licence issued once.
func checkAllCompletedOnce(t *testing.T, hub string, acked map[string]string, sim *deptsim.Simulator) (subcases, duplicates int) {
	t.Helper()
	ids := map[string]bool{}
	for _, id := range acked {
		if ids[id] {
			t.Errorf("two acknowledgements name case %s", id)
		}
		ids[id] = true
	}
	for id := range ids {
		v := waitCompletedAndDelivered(t, hub, id)
		if v.Outcome != cases.OutcomeApproved {
			t.Errorf("case %s: outcome %s", id, v.Outcome)
		}
		steps := map[string]int{}
		for _, e := range v.Timeline {
			steps[e.SubcaseID+"/"+e.Type]++
		}
		for _, sc := range v.Subcases {
			subcases++
			for _, typ := range []string{cases.StateDispatched, cases.StateReceived, cases.StateAccepted, cases.StateApproved} {
				if n := steps[sc.ID+"/"+typ]; n != 1 {
					t.Errorf("case %s sub-case %s: %d %s steps, want 1", id, sc.MatterCode, n, typ)
				}
			}
		}
		numbers := map[string]bool{}
		for _, l := range v.Licences {
			if numbers[l.Number] {
				t.Errorf("case %s: e-licence %s issued twice", id, l.Number)
			}
			numbers[l.Number] = true
		}
	}
	for _, d := range sim.Stats().Departments {
		duplicates += d.Duplicates
	}
	t.Logf("%d cases acknowledged and completed, %d sub-cases; %d duplicate deliveries so far (%.2f %% of sub-cases), each without a second effect",
		len(ids), subcases, duplicates, 100*float64(duplicates)/float64(max(subcases, 1)))
	return subcases, duplicates
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// A hub SIGKILLed in the middle of a flow of 300 cases, then started again on its data: every
// case it acknowledged completes, and nothing takes effect twice.
func TestKillTheHubMidFlow(t *testing.T) {
	if os.Getenv(envFaults) == "" {
		t.Skip("a kill test: make test-faults runs it")
	}
	const n = 300
	for name, o := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			sim, connectors := simulatedDepartments(t)
			addr := freeAddr(t)
			env := []string{"YJSHUB_DATABASE_URL=" + o.databaseURL, "YJSHUB_KAFKA_BROKERS=" + strings.Join(o.brokers, ","), "YJSHUB_KAFKA_NAMESPACE=" + o.namespace}
			args := []string{"--data-dir", t.TempDir(), "--connectors", connectors, "--client-rate", "100000", "--client-burst", "100000"}
			hub := startHubProcess(t, addr, env, args...)
			s := &submitter{url: func() string { return "http://" + addr }, body: readExample(t, "open-bar-enterprise"), acked: map[string]string{}}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			restarted := make(chan struct{})
			s.run(ctx, n, func(i int) {
				if i == n/3 {
					hub.kill(t)
					go func() { // a supervisor starts it again on the same data
						hub = startHubProcess(t, addr, env, args...)
						close(restarted)
					}()
				}
			})
			<-restarted
			if got := len(s.acked); got != n {
				t.Fatalf("%d of %d applications acknowledged", got, n)
			}
			checkAllCompletedOnce(t, "http://"+addr, s.acked, sim)
		})
	}
}

// Three hub instances on one PostgreSQL database and one Kafka cluster, behind one public URL.
// First 150 cases without a crash: under 0.5 % of their sub-cases are delivered twice. Then one
// instance is SIGKILLed in the middle of 300 more: the other two take its partitions and every
// case completes, each effect once.
func TestKillOneOfThreeInstances(t *testing.T) {
	if os.Getenv(envFaults) == "" {
		t.Skip("a kill test: make test-faults runs it")
	}
	db, kafka := os.Getenv("YJSHUB_TEST_DATABASE_URL"), os.Getenv("YJSHUB_TEST_KAFKA")
	if db == "" || kafka == "" {
		t.Skip("three instances share PostgreSQL and Kafka: YJSHUB_TEST_DATABASE_URL and YJSHUB_TEST_KAFKA are unset")
	}
	const n = 300
	sim, connectors := simulatedDepartments(t)
	lb := &balancer{}
	public := httptest.NewServer(lb)
	t.Cleanup(public.Close)
	ns := bustest.Namespace()
	bustest.TidyNamespace(t, splitList(kafka), ns)
	env := []string{"YJSHUB_DATABASE_URL=" + storetest.PostgresSchemaURL(t), "YJSHUB_KAFKA_BROKERS=" + kafka, "YJSHUB_KAFKA_NAMESPACE=" + ns,
		"YJSHUB_KAFKA_SESSION_TIMEOUT=2s"}
	var hubs []*hubProcess
	for range 3 {
		hubs = append(hubs, startHubProcess(t, freeAddr(t), env, "--data-dir", t.TempDir(), "--connectors", connectors,
			"--public-url", public.URL, "--client-rate", "100000", "--client-burst", "100000"))
	}
	lb.mu.Lock()
	for _, h := range hubs {
		lb.backends = append(lb.backends, h.addr)
	}
	lb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Without a crash, the three deliver each sub-case once, bar a few in 200.
	calm := &submitter{url: func() string { return public.URL }, body: readExample(t, "open-bar-enterprise"), acked: map[string]string{}}
	calm.run(ctx, n/2, func(int) {})
	subcases, dups := checkAllCompletedOnce(t, "http://"+hubs[1].addr, calm.acked, sim)
	if dups*200 >= subcases {
		t.Errorf("without a crash, %d duplicate deliveries of %d sub-cases: not under 0.5 %%", dups, subcases)
	}
	s := &submitter{url: func() string { return public.URL }, body: readExample(t, "open-bar-enterprise"), acked: map[string]string{}}
	killedAt := time.Time{}
	s.run(ctx, n, func(i int) {
		if i == n/3 {
			hubs[0].kill(t) // the load balancer's first choice
			killedAt = time.Now()
		}
	})
	if got := len(s.acked); got != n {
		t.Fatalf("%d of %d applications acknowledged", got, n)
	}
	checkAllCompletedOnce(t, "http://"+hubs[1].addr, s.acked, sim)
	t.Logf("all completed %s after the kill", time.Since(killedAt).Round(time.Millisecond))
}
