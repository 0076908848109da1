package connectortest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/store/storetest"
)

// This file holds what the tests of each connector kind share besides the conformance suite:
// the backends they run on ([Backends]), a [Rig] that runs a connector against a department of
// the test's own, and the common part of a kind's conformance [Harness] ([HarnessBase]).

// RigTimeout bounds a [Rig]'s waits when its test gives no bound of its own: tests wait on
// conditions, never on sleeps, and fail rather than hang once it has passed. Two consumer-group
// joins on Apache Kafka (3s initial rebalance delay each) fit well inside it.
const RigTimeout = 60 * time.Second

// RetryWithin bounds a wait for what retries bring about (a retried delivery, a breaker that
// opens after failures in a row), counted from an attempt the test has already seen: with a
// kind's waits as short as a [Harness] keeps them (retries within about 50ms, an attempt
// timeout of at most a second) a few retries take well under a second. A broken retry loop
// then fails the test in seconds, not at the rig's or the check's deadline.
const RetryWithin = 10 * time.Second

// waitTick is how often a wait looks at its condition again.
const waitTick = 2 * time.Millisecond

// Backend is a broker a kind's tests run on.
type Backend struct {
	// Name names the subtest: "embedded" or "kafka"; [BackendsWithDatabase] adds "-sqlite" or
	// "-postgres" to the embedded broker's.
	Name string
	// Postgres, from [BackendsWithDatabase], says that the test's SQL database is PostgreSQL
	// (from storetest), not SQLite.
	Postgres bool
	// Open opens a bus for one test; it is closed, and on Apache Kafka its topics deleted, when
	// the test ends.
	Open func(t testing.TB) *bus.Bus
}

// Backends returns the brokers to run on: always the embedded one, and Apache Kafka when
// YJSHUB_TEST_KAFKA names one (bustest.RealBrokers; YJSHUB_REQUIRE_REAL makes its absence a
// failure). clientID is the Kafka client's id.
func Backends(t *testing.T, clientID string) []Backend {
	t.Helper()
	bs := []Backend{{Name: "embedded", Open: OpenEmbedded}}
	if kafka, ok := realBackend(t, clientID); ok {
		bs = append(bs, kafka)
	}
	return bs
}

// BackendsWithDatabase returns the backends of tests that need a SQL database besides the
// bus: the embedded broker with SQLite and with PostgreSQL (whose storetest opener skips the
// test without YJSHUB_TEST_DATABASE_URL, or fails it with YJSHUB_REQUIRE_REAL), and Apache
// Kafka as [Backends] has it, with PostgreSQL when YJSHUB_TEST_DATABASE_URL names one, else
// SQLite.
func BackendsWithDatabase(t *testing.T, clientID string) []Backend {
	t.Helper()
	bs := []Backend{
		{Name: "embedded-sqlite", Open: OpenEmbedded},
		{Name: "embedded-postgres", Postgres: true, Open: OpenEmbedded},
	}
	if kafka, ok := realBackend(t, clientID); ok {
		kafka.Postgres = os.Getenv(storetest.PostgresURLEnv) != ""
		bs = append(bs, kafka)
	}
	return bs
}

func realBackend(t *testing.T, clientID string) (Backend, bool) {
	t.Helper()
	brokers := bustest.RealBrokers(t)
	if brokers == nil {
		return Backend{}, false
	}
	return Backend{Name: "kafka", Open: func(t testing.TB) *bus.Bus { return bustest.OpenReal(t, brokers, clientID) }}, true
}

// OpenEmbedded opens the embedded broker on a temporary directory of t's, closed when the test
// ends.
func OpenEmbedded(t testing.TB) *bus.Bus {
	t.Helper()
	b, err := bus.Open(t.Context(), bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open the embedded broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// OnEach runs test once per backend, in parallel subtests of t, which it makes parallel too.
func OnEach(t *testing.T, backends []Backend, test func(t *testing.T, be Backend)) {
	t.Helper()
	t.Parallel()
	for _, be := range backends {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			test(t, be)
		})
	}
}

// RunOnEach runs the conformance suite ([Run]) once per backend, in parallel subtests of t,
// which it makes parallel too. newHarness gets the suite's Env and the bus to use: Env.Bus, or
// else a fresh one of the backend.
func RunOnEach(t *testing.T, f Features, backends []Backend, newHarness func(t *testing.T, env Env, b *bus.Bus, be Backend) Harness) {
	t.Helper()
	OnEach(t, backends, func(t *testing.T, be Backend) {
		Run(t, f, func(t *testing.T, env Env) Harness {
			b := env.Bus
			if b == nil {
				b = be.Open(t)
			}
			return newHarness(t, env, b, be)
		})
	})
}

// Rig is what a kind's own tests share: one test's bus, a department of its own with its
// sub-case topic, a recorder, logs (printed when the test fails), and the connector runs it
// started, whose early return fails the test's waits. A kind's test embeds it in a harness of
// its own for the department's side (an HTTP server, an inbox, an exchange database).
//
// Its methods are for the test's goroutine; the recorder and the logs are safe for concurrent
// use.
type Rig struct {
	T *testing.T
	// Ctx ends at the rig's deadline: a wait still waiting then fails the test.
	Ctx context.Context
	Bus *bus.Bus
	// Dept is a department code of the test's own; Topic, its sub-case topic (3 partitions).
	Dept  string
	Topic string
	// Rec is the recorder to give the connectors.
	Rec *Recording
	// Log writes to Logs, at every level.
	Logs *hubtest.SyncBuffer
	Log  *slog.Logger

	runs []*Running
}

// NewRig returns a rig on b whose waits fail after timeout (RigTimeout when 0).
func NewRig(t *testing.T, b *bus.Bus, timeout time.Duration) *Rig {
	t.Helper()
	if timeout <= 0 {
		timeout = RigTimeout
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	r := &Rig{T: t, Ctx: ctx, Bus: b, Rec: &Recording{}, Logs: &hubtest.SyncBuffer{}}
	r.Log = slog.New(slog.NewTextHandler(r.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", r.Logs.String())
		}
	})
	r.Dept = r.NewDepartment()
	r.Topic = bus.SubcaseTopic(r.Dept)
	return r
}

// NewDepartment returns another department code of the test's own, with its sub-case topic.
func (r *Rig) NewDepartment() string {
	r.T.Helper()
	return newDepartment(r.T, r.Ctx, r.Bus)
}

// newDepartment makes a department code ("t-" and 12 hex digits) with its sub-case topic of 3
// partitions on b, trying again while a busy Kafka answers that its controller is not
// available.
func newDepartment(t testing.TB, ctx context.Context, b *bus.Bus) string {
	t.Helper()
	dept := "t-" + hubtest.RandomHex(6)
	topic := bus.SubcaseTopic(dept)
	for {
		err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 3})
		if err == nil {
			return dept
		}
		pause := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			pause.Stop()
			t.Fatalf("EnsureTopics(%s): %v", topic, err)
		case <-pause.C:
		}
	}
}

// Running is one Run call in the background, from [Rig.Start].
type Running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error       // valid once done is closed
	ending atomic.Bool // Wait or Stop was called: its return is expected
}

// Start calls run (a connector's Run) in the background, with a context that ends at Stop, at
// the rig's deadline or when the test ends. Until Wait or Stop is called for it, its return
// fails the rig's waits.
func (r *Rig) Start(run func(ctx context.Context) error) *Running {
	ctx, cancel := context.WithCancel(r.Ctx)
	rn := &Running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rn.done)
		rn.err = run(ctx)
	}()
	r.runs = append(r.runs, rn)
	r.T.Cleanup(func() {
		rn.ending.Store(true)
		rn.cancel()
		select {
		case <-rn.done:
		case <-time.After(RigTimeout):
			r.T.Errorf("Run did not return within %v of its context ending", RigTimeout)
		}
	})
	return rn
}

// Stop cancels a Run and returns what it returned.
func (r *Rig) Stop(rn *Running) error {
	r.T.Helper()
	rn.ending.Store(true)
	rn.cancel()
	return r.Wait(rn)
}

// Wait returns what a Run returned, without cancelling it; the test fails if it has not
// returned by the rig's deadline.
func (r *Rig) Wait(rn *Running) error {
	r.T.Helper()
	rn.ending.Store(true)
	select {
	case <-rn.done:
		return rn.err
	case <-r.Ctx.Done():
		r.T.Fatalf("Run did not return before the deadline")
		return nil
	}
}

// WaitFor waits until cond holds, failing the test at the rig's deadline or when a Run
// returns that was not expected to.
func (r *Rig) WaitFor(what string, cond func() bool) {
	r.T.Helper()
	r.wait(r.Ctx, what, cond)
}

// WaitWithin is WaitFor with a deadline of its own, d from now, when that comes before the
// rig's: for what must follow soon after something the test has seen, as a retried delivery
// follows the first attempt ([RetryWithin]).
func (r *Rig) WaitWithin(d time.Duration, what string, cond func() bool) {
	r.T.Helper()
	ctx, cancel := context.WithTimeout(r.Ctx, d)
	defer cancel()
	r.wait(ctx, what+" (within "+d.String()+")", cond)
}

func (r *Rig) wait(ctx context.Context, what string, cond func() bool) {
	r.T.Helper()
	tick := time.NewTicker(waitTick)
	defer tick.Stop()
	for !cond() {
		for _, rn := range r.runs {
			select {
			case <-rn.done:
				if !rn.ending.Load() {
					r.T.Fatalf("waiting for %s: Run returned early: %v", what, rn.err)
				}
			default:
			}
		}
		select {
		case <-ctx.Done():
			r.T.Fatalf("waiting for %s: not before the deadline", what)
		case <-tick.C:
		}
	}
}

// Publish publishes values onto the department's topic under key, in order.
func (r *Rig) Publish(key string, values ...[]byte) {
	r.T.Helper()
	msgs := make([]bus.Message, len(values))
	for i, v := range values {
		msgs[i] = bus.Message{Topic: r.Topic, Key: []byte(key), Value: v}
	}
	if err := r.Bus.Publish(r.Ctx, msgs...); err != nil {
		r.T.Fatalf("Publish: %v", err)
	}
}

// Lag returns how many of the department topic's messages the consumer group has not
// committed.
func (r *Rig) Lag(group string) int64 {
	r.T.Helper()
	l, err := r.Bus.Lag(r.Ctx, group, r.Topic)
	if err != nil {
		r.T.Fatalf("Lag: %v", err)
	}
	return l.Total
}

// Dispatched returns a sub-case of the case caseID dispatched to the department as an
// envelope: its id, the sub-case's id and the envelope's bytes. The sub-case is 开酒吧's food
// business licence for an individual applicant, with form and materials as given.
func (r *Rig) Dispatched(caseID string, form map[string]any, materials ...event.MaterialRef) (id, subcaseID string, raw []byte) {
	r.T.Helper()
	id = "ev-" + hubtest.RandomHex(8)
	subcaseID = "sc-" + hubtest.RandomHex(6)
	env, err := event.New(id, event.TypeSubcaseDispatched, subcaseID, time.Now(), event.SubcaseDispatched{
		CaseID: caseID, SubcaseID: subcaseID, Department: r.Dept, ApplicantType: "individual",
		Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
		Matter: event.MatterRef{Code: "food-business-licence", Name: "食品经营许可（新设）"},
		Form:   form, Materials: materials, SubmittedAt: time.Now().UTC(),
	})
	if err != nil {
		r.T.Fatal(err)
	}
	raw, err = json.Marshal(env)
	if err != nil {
		r.T.Fatal(err)
	}
	return id, subcaseID, raw
}

// ResetConnection cuts a department's connection with a TCP RST, as a crashing department or
// a middlebox does.
func ResetConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.(*net.TCPConn).SetLinger(0)
	_ = conn.Close()
}

// HarnessBase is the part of a [Harness] every kind shares: the bus, a department of its own
// with its sub-case topic, the attempts the department saw, and the failures queued for it
// (Faults: FailNext, and Take for the department). A kind's harness embeds it, adds
// NewConnector and Report, and plays the department, which calls Saw for every attempt.
type HarnessBase struct {
	Faults
	bus  *bus.Bus
	dept string

	mu  sync.Mutex
	got []Received
}

// NewHarnessBase returns a base on b with a department of its own.
func NewHarnessBase(t *testing.T, b *bus.Bus) *HarnessBase {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return &HarnessBase{bus: b, dept: newDepartment(t, ctx, b)}
}

// Bus implements Harness.Bus.
func (h *HarnessBase) Bus() *bus.Bus { return h.bus }

// Department implements Harness.Department.
func (h *HarnessBase) Department() string { return h.dept }

// Received implements Harness.Received.
func (h *HarnessBase) Received() []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// Saw records an attempt that reached the department and reports whether an earlier attempt
// with the same key took effect (was not failed): a repeat the department must not apply
// again.
func (h *HarnessBase) Saw(rec Received) (repeat bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	repeat = slices.ContainsFunc(h.got, func(g Received) bool { return g.Key == rec.Key && g.Failed == 0 })
	h.got = append(h.got, rec)
	return repeat
}
