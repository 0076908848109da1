// Package hubtest runs a whole hub for the tests of connectors that work on cases (kafka,
// platform, supervision): a migrated store, a bus with the hub's topics, the case service on
// the real catalogue with its outbox relay publishing, and a recorder of what connectors
// record. [Each] runs a test on the embedded broker with SQLite always, and on Apache Kafka
// with PostgreSQL when their addresses are in the environment (YJSHUB_TEST_KAFKA,
// YJSHUB_TEST_DATABASE_URL); with YJSHUB_REQUIRE_REAL set, a missing address fails the test
// instead of leaving the real backends out.
//
// Each test has a bus namespace of its own on a real broker (bus.Config.Namespace), so its
// yjs.case.event, yjs.result and yjs.subcase.<dept> hold only its own messages; consumer
// groups are still named per test ([Env.Group]).
package hubtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// Environment variables naming the real backends.
const (
	EnvKafka       = "YJSHUB_TEST_KAFKA"
	EnvRequireReal = storetest.RequireRealEnv
)

// Timeout bounds each test run by [Each]: tests wait on conditions, never on sleeps, and fail
// rather than hang once it has passed.
const Timeout = 90 * time.Second

var (
	catOnce sync.Once
	cat     *catalogue.Catalogue
	catErr  error
)

// Catalogue returns the real catalogue (seeds), loaded once.
func Catalogue(t testing.TB) *catalogue.Catalogue {
	t.Helper()
	catOnce.Do(func() { cat, catErr = catalogue.Load(seeds.FS, "seeds") })
	if catErr != nil {
		t.Fatalf("load the catalogue: %v", catErr)
	}
	return cat
}

// Env is one hub for one test.
type Env struct {
	// Name says which backends: "embedded+sqlite" or e.g. "kafka+postgres".
	Name  string
	Ctx   context.Context
	Bus   *bus.Bus
	Store *store.Store
	Cases *cases.Service
	// Services are the hub's services on Store and Bus, Cases among them.
	Services *hub.Services
	// Rec records what connectors record; Log writes to Logs (read them for leaks).
	Rec  *Recorder
	Logs *SyncBuffer
	Log  *slog.Logger
	t    *testing.T
	id   string
}

// Each runs test on every backend pair, in parallel subtests.
func Each(t *testing.T, test func(t *testing.T, env *Env)) {
	t.Helper()
	kafkaAddrs := os.Getenv(EnvKafka)
	pgURL := os.Getenv(storetest.PostgresURLEnv)
	if os.Getenv(EnvRequireReal) != "" && (kafkaAddrs == "" || pgURL == "") {
		t.Fatalf("%s is set but %s or %s is not: this run must cover Apache Kafka and PostgreSQL", EnvRequireReal, EnvKafka, storetest.PostgresURLEnv)
	}
	type pair struct {
		name    string
		brokers []string
		open    storetest.Opener
	}
	pairs := []pair{{name: "embedded+sqlite", open: storetest.OpenSQLite}}
	if kafkaAddrs != "" || pgURL != "" {
		p := pair{name: "embedded", open: storetest.OpenSQLite}
		if kafkaAddrs != "" {
			p.name, p.brokers = "kafka", strings.Split(kafkaAddrs, ",")
		}
		if pgURL != "" {
			p.name, p.open = p.name+"+postgres", storetest.OpenPostgres
		} else {
			p.name += "+sqlite"
		}
		pairs = append(pairs, p)
	}
	t.Parallel()
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, p.name, p.brokers, p.open))
		})
	}
}

func newEnv(t *testing.T, name string, brokers []string, open storetest.Opener) *Env {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	env := &Env{Name: name, Ctx: ctx, Rec: &Recorder{}, Logs: &SyncBuffer{}, t: t, id: RandomHex(6)}
	env.Log = slog.New(slog.NewTextHandler(env.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", env.Logs.String())
		}
	})
	env.Store = storetest.Migrated(open)(t)

	cfg := bus.Config{Brokers: brokers, ClientID: "yjshub-connector-test"}
	if len(brokers) == 0 {
		cfg.DataDir = t.TempDir()
	} else {
		// Topics and groups of this test only: a shared broker's yjs.case.event holds other
		// tests' and earlier runs' events, which a new group would read from the first.
		cfg.Namespace = Namespace(env.id)
	}
	b, err := bus.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open the bus: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	bustest.Tidy(t, b)
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("the broker does not answer: %v", err)
	}
	env.Bus = b
	if err := b.EnsureTopics(ctx, hub.Topics(Catalogue(t))...); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}

	svc, err := hub.New(hub.Config{Catalogue: Catalogue(t), Store: env.Store, Bus: b, Logger: env.Log,
		Relay: outbox.Config{Interval: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	env.Services, env.Cases = svc, svc.Cases
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Relay.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	return env
}

// Group returns a consumer group name unique to this test: name plus a random suffix.
func (e *Env) Group(name string) string { return name + "-" + e.id }

// Namespace returns the bus namespace of a test run identified by id on a shared broker.
func Namespace(id string) string { return "t" + id + "." }

// Submit submits examples/<example>.json and returns its case.
func (e *Env) Submit(example string) *cases.CaseView {
	e.t.Helper()
	app, hash := Example(e.t, example)
	v, _, err := e.Cases.Submit(e.Ctx, app, hash, "")
	if err != nil {
		e.t.Fatalf("submit %s: %v", example, err)
	}
	return v
}

// SubmitApplication submits an application (an example changed for the test) and returns its
// case.
func (e *Env) SubmitApplication(app cases.Application, hash string) *cases.CaseView {
	e.t.Helper()
	v, _, err := e.Cases.Submit(e.Ctx, app, hash, "")
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return v
}

// Case returns the case as it is now.
func (e *Env) Case(id string) *cases.CaseView {
	e.t.Helper()
	v, err := e.Cases.Get(e.Ctx, id)
	if err != nil {
		e.t.Fatalf("get case %s: %v", id, err)
	}
	return v
}

// ApproveEvents returns the events of a department that receives, accepts and approves a
// sub-case, with an e-licence for the case's applicant when the matter issues one.
func (e *Env) ApproveEvents(v *cases.CaseView, sc cases.SubcaseView) []event.DepartmentEvent {
	e.t.Helper()
	at := time.Now().UTC().Truncate(time.Second)
	evs := []event.DepartmentEvent{
		{EventID: sc.ID + "-received", Type: event.Received, Time: at},
		{EventID: sc.ID + "-accepted", Type: event.Accepted, Time: at.Add(time.Second)},
	}
	ok := event.DepartmentEvent{EventID: sc.ID + "-approved", Type: event.Approved, Time: at.Add(2 * time.Second),
		DecisionNumber: "赣审〔2026〕" + sc.ID[len(sc.ID)-6:] + "号"}
	m, _ := Catalogue(e.t).Matter(sc.MatterCode)
	if m.Result.Kind == "licence" {
		holder, err := e.Cases.Holder(e.Ctx, v.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		ok.Licences = []event.Licence{{Type: m.Result.Name, TypeCode: m.Result.LicenceTypeCode, Number: "JY" + strings.ToUpper(sc.ID[len(sc.ID)-10:]),
			Holder: holder.Name, HolderID: holder.ID, HolderIDType: holder.IDType, Issuer: sc.Department.Name,
			IssuedAt: at.Format(time.DateOnly), ValidFrom: at.Format(time.DateOnly), ValidUntil: at.AddDate(5, 0, -1).Format(time.DateOnly),
			File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/licences/" + sc.ID + ".ofd", Format: "ofd"}}}
	}
	return append(evs, ok)
}

// Approve applies ApproveEvents directly through the case service.
func (e *Env) Approve(v *cases.CaseView, sc cases.SubcaseView) {
	e.t.Helper()
	for _, ev := range e.ApproveEvents(v, sc) {
		if _, _, err := e.Cases.ApplyEvent(e.Ctx, sc.ID, ev); err != nil {
			e.t.Fatalf("%s %s: %v", sc.MatterCode, ev.Type, err)
		}
	}
}

// WaitFor waits until cond holds, failing the test at the deadline.
func (e *Env) WaitFor(what string, cond func() bool) {
	e.t.Helper()
	e.WaitWithin(Timeout, what, cond)
}

// WaitWithin is WaitFor with a deadline of its own, d from now, when that comes before the
// test's: for what must follow soon after something the test has seen, as a retried push
// follows the first attempt.
func (e *Env) WaitWithin(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			e.t.Fatalf("waiting for %s: not within %v", what, min(d, Timeout))
		case <-tick.C:
		}
	}
}

// Start runs c until the test ends, running it again after an error as the connector manager
// does; the errors are kept (RunErrors).
func (e *Env) Start(c connector.Connector) *Running {
	ctx, cancel := context.WithCancel(e.Ctx)
	r := &Running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			err := c.Run(ctx)
			if ctx.Err() != nil {
				r.final = err
				return
			}
			if err == nil {
				err = errors.New("Run returned nil before its context ended")
			}
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	e.t.Cleanup(func() { r.Stop(e.t) })
	return r
}

// Running is a connector running in the background.
type Running struct {
	cancel context.CancelFunc
	done   chan struct{}
	final  error
	mu     sync.Mutex
	errs   []error
}

// Stop stops the connector and fails t if its last Run did not return nil.
func (r *Running) Stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(Timeout):
		t.Errorf("Run did not return within %v of its context ending", Timeout)
		return
	}
	if r.final != nil {
		t.Errorf("Run returned %v when its context ended, want nil", r.final)
	}
}

// RunErrors returns the errors Run returned before it was stopped.
func (r *Running) RunErrors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// Example reads examples/<name>.json from the module's root.
func Example(t testing.TB, name string) (cases.Application, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(t), "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	app, hash, err := cases.DecodeApplication(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("examples/%s.json: %v", name, err)
	}
	return app, hash
}

// ModuleRoot returns the directory of go.mod, found upwards from the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Recorder keeps what connectors record; FailNext makes its next call fail. Safe for
// concurrent use.
type Recorder struct {
	mu         sync.Mutex
	deliveries []connector.Delivery
	failures   []connector.Failure
	refuse     error
}

// Delivered implements connector.Recorder.
func (r *Recorder) Delivered(_ context.Context, d connector.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refuse; err != nil {
		r.refuse = nil
		return err
	}
	r.deliveries = append(r.deliveries, d)
	return nil
}

// Failed implements connector.Recorder.
func (r *Recorder) Failed(_ context.Context, f connector.Failure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refuse; err != nil {
		r.refuse = nil
		return err
	}
	r.failures = append(r.failures, f)
	return nil
}

// FailNext makes the next Delivered or Failed call return err without recording.
func (r *Recorder) FailNext(err error) {
	r.mu.Lock()
	r.refuse = err
	r.mu.Unlock()
}

// Deliveries returns the deliveries recorded whose case is one of caseIDs (all when none).
func (r *Recorder) Deliveries(caseIDs ...string) []connector.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []connector.Delivery
	for _, d := range r.deliveries {
		if len(caseIDs) == 0 || slices.Contains(caseIDs, d.CaseID) {
			out = append(out, d)
		}
	}
	return out
}

// Failures returns the failures recorded that keep returns true for (all when keep is nil).
func (r *Recorder) Failures(keep func(connector.Failure) bool) []connector.Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []connector.Failure
	for _, f := range r.failures {
		if keep == nil || keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
