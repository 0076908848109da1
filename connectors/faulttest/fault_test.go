package faulttest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/connectors/restpush"
	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/hubtest"
	"yjshub/hub/outbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// fault is what a department does with one attempt.
type fault int

const (
	answer      fault = iota // apply (once per key) and answer at once
	resetBefore              // cut the connection without applying
	resetAfter               // apply, then cut the connection: the answer is lost
	lateAfter                // apply, then answer only after the connector has given up
	refuse503                // answer 503 without applying
)

// dedupDepartment is a department that keeps its own idempotency: it applies a sub-case once
// per Idempotency-Key and answers repeats with 409, as the contract allows. It counts
// applications, so that a retry under a new key would show as a second effect.
type dedupDepartment struct {
	srv *httptest.Server
	// decide picks what to do with the n-th attempt (from 1) carrying key.
	decide func(key string, n int) fault
	// delay, when set, is waited before answering, as a slow back office does.
	delay time.Duration

	mu       sync.Mutex
	attempts map[string]int
	effects  []string // keys, in the order applied
	bodies   map[string][]byte
	first    time.Time // first attempt
	arrived  chan struct{}
	once     sync.Once
}

func newDedupDepartment(t *testing.T, decide func(key string, n int) fault) *dedupDepartment {
	d := &dedupDepartment{decide: decide, attempts: map[string]int{}, bodies: map[string][]byte{}, arrived: make(chan struct{})}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *dedupDepartment) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	key := r.Header.Get(delivery.HeaderIdempotency)
	d.mu.Lock()
	if d.first.IsZero() {
		d.first = time.Now()
	}
	d.attempts[key]++
	f := answer
	if d.decide != nil {
		f = d.decide(key, d.attempts[key])
	}
	applied := false
	if f == answer || f == resetAfter || f == lateAfter {
		if _, done := d.bodies[key]; !done {
			d.bodies[key] = body
			d.effects = append(d.effects, key)
			applied = true
		}
	}
	d.mu.Unlock()
	d.once.Do(func() { close(d.arrived) })

	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch f {
	case resetBefore, resetAfter:
		connectortest.ResetConnection(w)
	case lateAfter:
		<-r.Context().Done()
	case refuse503:
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		if !applied {
			w.WriteHeader(http.StatusConflict) // already have it
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

func (d *dedupDepartment) effectCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.effects)
}

func (d *dedupDepartment) attemptsOf(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts[key]
}

func (d *dedupDepartment) firstAttempt() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}

// checkExactlyOnce fails t unless the department applied every published sub-case exactly
// once, each case's in publish order, with the bytes published.
func (d *dedupDepartment) checkExactlyOnce(t *testing.T, name string, subs []connectortest.Subcase) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.effects) != len(subs) {
		t.Errorf("%s: %d effects for %d sub-cases", name, len(d.effects), len(subs))
	}
	byCase := map[string][]string{}
	want := map[string][]string{}
	known := map[string]connectortest.Subcase{}
	for _, sc := range subs {
		known[sc.ID] = sc
		want[sc.CaseID] = append(want[sc.CaseID], sc.ID)
	}
	for _, k := range d.effects {
		sc, ok := known[k]
		if !ok {
			t.Errorf("%s: an effect under key %q, no published envelope id: a retry under a new key is a second effect", name, k)
			continue
		}
		if string(d.bodies[k]) != string(sc.Raw) {
			t.Errorf("%s: sub-case %s arrived other than published", name, k)
		}
		byCase[sc.CaseID] = append(byCase[sc.CaseID], k)
	}
	for cs, ids := range want {
		if !slices.Equal(byCase[cs], ids) {
			t.Errorf("%s: case %s took effect as %q, want %q (each once, in order)", name, cs, byCase[cs], ids)
		}
	}
}

// faultRig is the shared rig with what the fault tests add: restpush connectors on any of its
// departments, run as the connector manager runs them, and sub-cases published to them.
type faultRig struct{ *connectortest.Rig }

func newFaultRig(t *testing.T, b *bus.Bus, timeout time.Duration) *faultRig {
	return &faultRig{connectortest.NewRig(t, b, timeout)}
}

func (r *faultRig) connector(cfg restpush.Config) *restpush.Connector {
	r.T.Helper()
	c, err := restpush.New(cfg, r.Bus, r.Rec, restpush.WithLogger(r.Log))
	if err != nil {
		r.T.Fatalf("restpush.New: %v", err)
	}
	return c
}

// subcases publishes n sub-cases for dept, spread over cases, and returns them.
func (r *faultRig) subcases(dept string, cases, n int) []connectortest.Subcase {
	r.T.Helper()
	ids := make([]string, cases)
	for i := range ids {
		ids[i] = "cs_" + hubtest.RandomHex(6)
	}
	subs := make([]connectortest.Subcase, n)
	msgs := make([]bus.Message, n)
	for i := range subs {
		subs[i] = connectortest.NewSubcase(dept, ids[i%cases], i/cases+1)
		msgs[i] = subs[i].Message()
	}
	if err := r.Bus.Publish(r.Ctx, msgs...); err != nil {
		r.T.Fatalf("Publish: %v", err)
	}
	return subs
}

// recordedOnce fails the test unless every sub-case's delivery was recorded exactly once.
func (r *faultRig) recordedOnce(name string, subs []connectortest.Subcase) {
	r.T.Helper()
	count := map[string]int{}
	for _, d := range r.Rec.Deliveries() {
		count[d.EventID]++
	}
	for _, sc := range subs {
		if count[sc.ID] != 1 {
			r.T.Errorf("%s: the delivery of %s was recorded %d times, want once", name, sc.ID, count[sc.ID])
		}
	}
}

func (r *faultRig) delivered(subs []connectortest.Subcase) bool {
	got := map[string]bool{}
	for _, d := range r.Rec.Deliveries() {
		got[d.EventID] = true
	}
	for _, sc := range subs {
		if !got[sc.ID] {
			return false
		}
	}
	return true
}

// supervised runs a connector as the connector manager does: Run again after an error.
type supervised struct {
	cancel   context.CancelFunc
	done     chan struct{}
	restarts atomic.Int32
	mu       sync.Mutex
	errs     []string
}

func (r *faultRig) supervise(c *restpush.Connector) *supervised {
	ctx, cancel := context.WithCancel(r.Ctx)
	s := &supervised{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			err := c.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			s.restarts.Add(1)
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Sprint(err))
			s.mu.Unlock()
			t := time.NewTimer(200 * time.Millisecond) // the manager waits a second
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	r.T.Cleanup(func() { s.stop(r.T) })
	return s
}

func (s *supervised) stop(t *testing.T) {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(connectortest.RigTimeout):
		t.Errorf("the connector did not stop")
	}
}

func fastRetry(dept, endpoint string) restpush.Config {
	return restpush.Config{Department: dept, Endpoint: endpoint, Timeout: 2 * time.Second,
		Retry:   delivery.RetryConfig{InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond},
		Breaker: restpush.BreakerConfig{ConsecutiveFailures: 5, OpenTimeout: 300 * time.Millisecond}}
}

func TestFaultADepartmentAnsweringInFiveSecondsDoesNotHoldUpTheOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over 10 s: a department that answers in 5 s, twice")
	}
	connectortest.OnEach(t, connectortest.Backends(t, "yjshub-fault-test"), func(t *testing.T, be connectortest.Backend) {
		r := newFaultRig(t, be.Open(t), 50*time.Second)
		slowDept, healthyDept := r.Dept, r.NewDepartment()
		slow := newDedupDepartment(t, nil)
		slow.delay = 5 * time.Second
		healthy := newDedupDepartment(t, nil)
		// The default attempt timeout, 10 s: a 5 s answer is slow, not failed.
		r.supervise(r.connector(restpush.Config{Department: slowDept, Endpoint: slow.srv.URL}))
		r.supervise(r.connector(restpush.Config{Department: healthyDept, Endpoint: healthy.srv.URL}))

		// Warm up: the healthy connector joins its group before the clock runs.
		warm := r.subcases(healthyDept, 1, 1)
		r.WaitFor("the healthy department's first sub-case", func() bool { return r.delivered(warm) })

		const n = 100
		baseline := r.subcases(healthyDept, 4, n)
		start := time.Now()
		r.WaitFor("the healthy department's sub-cases", func() bool { return healthy.effectCount() == 1+n })
		alone := time.Since(start)

		slowSubs := r.subcases(slowDept, 1, 2)
		r.WaitFor("the slow department to get its first sub-case", func() bool {
			select {
			case <-slow.arrived:
				return true
			default:
				return false
			}
		})
		during := r.subcases(healthyDept, 4, n)
		start = time.Now()
		r.WaitFor("the healthy department's sub-cases while the other is slow", func() bool { return healthy.effectCount() == 1+2*n })
		meanwhile := time.Since(start)
		if got := slow.effectCount(); got > 1 {
			t.Errorf("the slow department had answered %d sub-cases by the time the healthy one got %d: the healthy one waited for it", got, n)
		}

		r.WaitFor("the slow department's sub-cases", func() bool { return r.delivered(slowSubs) })
		slowTook := time.Since(slow.firstAttempt())
		slow.checkExactlyOnce(t, "slow department", slowSubs)
		healthy.checkExactlyOnce(t, "healthy department", slices.Concat(warm, baseline, during))
		for _, sc := range slowSubs {
			if n := slow.attemptsOf(sc.ID); n != 1 {
				t.Errorf("a slow but successful answer was retried: %d attempts at %s", n, sc.ID)
			}
		}
		r.recordedOnce("slow department", slowSubs)
		t.Logf("%s: healthy department: %d sub-cases in %v alone (%.0f/s), %d in %v while the other department answered in 5 s (%.0f/s); the slow department's 2 sub-cases took %v",
			be.Name, n, alone.Round(time.Millisecond), n/alone.Seconds(), n, meanwhile.Round(time.Millisecond), n/meanwhile.Seconds(), slowTook.Round(time.Millisecond))
	})
}

func TestFaultResetsAndLostAnswersCauseNoSecondEffect(t *testing.T) {
	t.Parallel()
	// Every other sub-case, in the order they arrive, meets the fault on its first attempt.
	faulty := func(f fault, hit map[string]bool) func(string, int) fault {
		seen := 0
		return func(key string, n int) fault { // called with the department's lock held
			if n > 1 {
				return answer
			}
			seen++
			if seen%2 == 1 {
				hit[key] = true
				return f
			}
			return answer
		}
	}
	tests := []struct {
		name  string
		fault fault
		// applied: whether the department applied the sub-case before the fault, so that the
		// retry finds it done.
		applied bool
	}{
		{"a connection reset before the department acts", resetBefore, false},
		{"a connection reset after the department acted (the answer is lost)", resetAfter, true},
		{"an answer that comes after the connector gave up", lateAfter, true},
	}
	for _, be := range connectortest.Backends(t, "yjshub-fault-test") {
		for _, tc := range tests {
			t.Run(be.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := newFaultRig(t, be.Open(t), 0)
				dept, otherDept := r.Dept, r.NewDepartment()
				hit := map[string]bool{}
				d := newDedupDepartment(t, faulty(tc.fault, hit))
				other := newDedupDepartment(t, nil)
				cfg := fastRetry(dept, d.srv.URL)
				cfg.Timeout = 500 * time.Millisecond // what a lost answer costs
				c := r.connector(cfg)
				r.supervise(c)
				r.supervise(r.connector(fastRetry(otherDept, other.srv.URL)))

				subs := r.subcases(dept, 3, 12)
				others := r.subcases(otherDept, 3, 12)
				r.WaitFor("every sub-case delivered", func() bool { return r.delivered(subs) && r.delivered(others) })

				d.checkExactlyOnce(t, "faulty department", subs)
				other.checkExactlyOnce(t, "other department", others)
				r.recordedOnce("faulty department", subs)
				d.mu.Lock()
				faults := len(hit)
				for _, sc := range subs {
					// A sub-case that met the fault is tried again — by the connector, or, for
					// a reset on a reused connection, by Go's HTTP client itself (the request
					// has an Idempotency-Key). On a loaded machine any answer may come after
					// the attempt timeout and cost another attempt; the effects above are what
					// must not change.
					if n := d.attempts[sc.ID]; hit[sc.ID] && n < 2 {
						t.Errorf("sub-case %s met the fault but was tried only %d times", sc.ID, n)
					}
				}
				d.mu.Unlock()
				if faults != len(subs)/2 {
					t.Errorf("%d sub-cases met the fault, want %d", faults, len(subs)/2)
				}
				for _, sc := range others {
					if n := other.attemptsOf(sc.ID); n != 1 {
						t.Errorf("the other department needed %d attempts for %s: it was affected", n, sc.ID)
					}
				}
				if s := c.Stats(); s.Failed != 0 || tc.fault == lateAfter && s.Retries < int64(faults) {
					t.Errorf("Stats = %+v: want no failures (and a retry for each late answer)", s)
				}
				t.Logf("%s, %s: %d of %d sub-cases met the fault; %d effects, %d deliveries recorded, %d retries",
					be.Name, tc.name, faults, len(subs), d.effectCount(), len(subs), c.Stats().Retries)
			})
		}
	}
}

func TestFaultTheBrokerRestartsMidFlow(t *testing.T) {
	t.Parallel()

	// The broker goes away and comes back on the same data and port while the connector's
	// client stays up, retrying a department that fails at that moment.
	t.Run("under a running connector", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		broker, port := bustest.OpenEmbeddedAt(t, dir, 0)
		client, err := bus.Open(t.Context(), bus.Config{Brokers: broker.Brokers(), ClientID: "yjshub-fault-test",
			WriteTimeout: 2 * time.Second, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		r := newFaultRig(t, client, 50*time.Second)
		flakyDept, steadyDept := r.Dept, r.NewDepartment()
		// The hub publishes through its outbox: the relay on the same client retries while the
		// broker is away.
		hub := newHubOutbox(r)
		var failing atomic.Bool
		flaky := newDedupDepartment(t, func(string, int) fault {
			if failing.Load() {
				return refuse503
			}
			return answer
		})
		steady := newDedupDepartment(t, nil)
		flakyRun := r.supervise(r.connector(fastRetry(flakyDept, flaky.srv.URL)))
		steadyRun := r.supervise(r.connector(fastRetry(steadyDept, steady.srv.URL)))

		first := r.subcases(flakyDept, 3, 9)
		firstSteady := r.subcases(steadyDept, 3, 9)
		r.WaitFor("the first sub-cases", func() bool { return r.delivered(first) && r.delivered(firstSteady) })
		failing.Store(true)
		pending := r.subcases(flakyDept, 3, 6)
		r.WaitWithin(connectortest.RetryWithin, "the connector to be retrying", func() bool { return retrying(flaky, pending) })

		if err := broker.Close(); err != nil {
			t.Fatalf("stop the broker: %v", err)
		}
		downAt := time.Now()
		// While the broker is down the department recovers and takes the sub-case being
		// retried, whose offset cannot be committed; and the hub goes on taking applications,
		// whose sub-cases wait in its outbox.
		failing.Store(false)
		late := hub.enqueue(flakyDept, 6)
		lateSteady := hub.enqueue(steadyDept, 6)
		r.WaitFor("the connector to notice the broker is gone", func() bool { return flakyRun.restarts.Load() > 0 })
		bustest.OpenEmbeddedAt(t, dir, port)
		upAt := time.Now()
		downFor := upAt.Sub(downAt)
		r.WaitFor("the relay to publish the later sub-cases", hub.drained)

		all := slices.Concat(first, pending, late)
		allSteady := slices.Concat(firstSteady, lateSteady)
		r.WaitFor("every sub-case after the restart", func() bool { return r.delivered(all) && r.delivered(allSteady) })
		caughtUp := time.Since(upAt)
		// Stopped before the restarted broker, which closes first at cleanup.
		flakyRun.stop(t)
		steadyRun.stop(t)
		flaky.checkExactlyOnce(t, "flaky department", all)
		steady.checkExactlyOnce(t, "steady department", allSteady)
		flakyRun.mu.Lock()
		why := flakyRun.errs[0]
		flakyRun.mu.Unlock()
		t.Logf("broker down for %v, every sub-case delivered %v after it came back; %d sub-cases, each took effect once; connector runs restarted %d and %d times (first: %s)",
			downFor.Round(time.Millisecond), caughtUp.Round(time.Millisecond), len(all)+len(allSteady), flakyRun.restarts.Load(), steadyRun.restarts.Load(), why)
	})

	// The hub's own embedded broker stops with its bus — the connector's Run returns — and
	// starts again on the same data and port with a new connector, as a restarted hub does.
	t.Run("with the hub's embedded broker", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		b, port := bustest.OpenEmbeddedAt(t, dir, 0)
		r := newFaultRig(t, b, 50*time.Second)
		dept := r.Dept
		var failing atomic.Bool
		d := newDedupDepartment(t, func(string, int) fault {
			if failing.Load() {
				return refuse503
			}
			return answer
		})
		c := r.connector(fastRetry(dept, d.srv.URL))
		run := r.Start(c.Run)

		first := r.subcases(dept, 2, 6)
		r.WaitFor("the first sub-cases", func() bool { return r.delivered(first) })
		failing.Store(true)
		pending := r.subcases(dept, 2, 4)
		r.WaitWithin(connectortest.RetryWithin, "the connector to be retrying", func() bool { return retrying(d, pending) })
		if err := b.Close(); err != nil {
			t.Fatalf("close the bus: %v", err)
		}
		if err := r.Wait(run); err != nil {
			t.Errorf("Run returned %v when the bus closed, want nil", err)
		}
		failing.Store(false)

		b, _ = bustest.OpenEmbeddedAt(t, dir, port)
		r.Bus = b
		c = r.connector(fastRetry(dept, d.srv.URL))
		r.supervise(c)
		late := r.subcases(dept, 2, 4)
		all := slices.Concat(first, pending, late)
		r.WaitFor("every sub-case after the restart", func() bool { return r.delivered(all) })
		d.checkExactlyOnce(t, "department", all)
	})
}

// retrying reports whether the department has seen a sub-case of subs more than once.
func retrying(d *dedupDepartment, subs []connectortest.Subcase) bool {
	for _, sc := range subs {
		if d.attemptsOf(sc.ID) >= 2 {
			return true
		}
	}
	return false
}

// hubOutbox is the hub's side of publishing: sub-cases enqueued in its store's outbox and
// published by the outbox relay (hub/outbox), running on the rig's bus.
type hubOutbox struct {
	r     *faultRig
	st    *store.Store
	relay *outbox.Relay
}

func newHubOutbox(r *faultRig) *hubOutbox {
	st := storetest.Migrated(storetest.OpenSQLite)(r.T)
	h := &hubOutbox{r: r, st: st,
		relay: outbox.New(st, r.Bus, outbox.Config{Interval: 20 * time.Millisecond, RetryBackoff: 100 * time.Millisecond, Logger: r.Log})}
	r.Start(h.relay.Run)
	return h
}

// enqueue commits n sub-cases of one case for dept to the outbox and wakes the relay.
func (h *hubOutbox) enqueue(dept string, n int) []connectortest.Subcase {
	h.r.T.Helper()
	subs := make([]connectortest.Subcase, n)
	msgs := make([]store.OutboxMessage, n)
	cs := "cs_" + hubtest.RandomHex(6)
	for i := range subs {
		subs[i] = connectortest.NewSubcase(dept, cs, i+1)
		m := subs[i].Message()
		msgs[i] = store.OutboxMessage{EventID: subs[i].ID, Topic: m.Topic, Key: string(m.Key), Payload: m.Value}
	}
	if err := h.st.InTx(h.r.Ctx, func(tx *sqlx.Tx) error { return h.st.EnqueueOutbox(h.r.Ctx, tx, msgs...) }); err != nil {
		h.r.T.Fatalf("EnqueueOutbox: %v", err)
	}
	h.relay.Notify()
	return subs
}

// drained reports whether the relay has published everything enqueued.
func (h *hubOutbox) drained() bool {
	p, err := h.st.PendingOutbox(h.r.Ctx, 1)
	return err == nil && len(p) == 0
}

func TestFaultBreakerOpenAndCloseTimes(t *testing.T) {
	t.Parallel()
	b, _ := bustest.OpenEmbeddedAt(t, t.TempDir(), 0)
	r := newFaultRig(t, b, 50*time.Second)
	downDept, upDept := r.Dept, r.NewDepartment()
	var down atomic.Bool
	down.Store(true)
	d := newDedupDepartment(t, func(string, int) fault {
		if down.Load() {
			return refuse503
		}
		return answer
	})
	up := newDedupDepartment(t, nil)
	// The default retry schedule (200 ms doubling, ±20 %) and breaker threshold (5 in a row);
	// the open time shortened from its default of 30 s.
	cfg := restpush.Config{Department: downDept, Endpoint: d.srv.URL,
		Breaker: restpush.BreakerConfig{OpenTimeout: 2 * time.Second}}
	c := r.connector(cfg)
	r.supervise(c)
	r.supervise(r.connector(restpush.Config{Department: upDept, Endpoint: up.srv.URL}))

	held := r.subcases(downDept, 1, 1)
	r.WaitFor("the first attempt", func() bool { return !d.firstAttempt().IsZero() })
	state := func() string { return c.Stats().BreakerState }
	r.WaitFor("the breaker to open", func() bool { return state() == "open" })
	opened := time.Now()
	toOpen := opened.Sub(d.firstAttempt())
	attempts := d.attemptsOf(held[0].ID)

	flowing := r.subcases(upDept, 4, 40)
	r.WaitFor("the other department's sub-cases while the breaker is open", func() bool { return r.delivered(flowing) })
	if state() == "closed" {
		t.Errorf("the breaker closed while the department was still down")
	}

	down.Store(false)
	recovered := time.Now()
	r.WaitFor("the breaker to close", func() bool { return state() == "closed" })
	toClose := time.Since(recovered)
	openFor := time.Since(opened)
	r.WaitFor("the held sub-case", func() bool { return r.delivered(held) })
	d.checkExactlyOnce(t, "department that was down", held)
	up.checkExactlyOnce(t, "department that stayed up", flowing)

	if attempts != 5 {
		t.Errorf("the breaker opened after %d attempts, want 5", attempts)
	}
	// The probe goes out at the later of the open time's end and the held message's retry
	// backoff (3.2 s ± 20 % after the fifth failure, doubling after each failed probe), so
	// closing takes up to that long: a figure to log, not to assert.
	t.Logf("breaker (5 failures in a row, default retry schedule): opened %v after the first failed attempt, after %d attempts; "+
		"closed %v after the department recovered (open %v in all, open_timeout 2s); 40 sub-cases of another department delivered meanwhile",
		toOpen.Round(time.Millisecond), attempts, toClose.Round(time.Millisecond), openFor.Round(time.Millisecond))
}
