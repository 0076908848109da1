package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/leaktest"
)

// defaultTimeout bounds each check when Features.Timeout is zero. Two consumer-group joins on
// Apache Kafka (3s initial rebalance delay each) and a breaker's open and close fit well
// inside it.
const defaultTimeout = 60 * time.Second

// restartPause is how long the suite waits before running a connector again after its Run
// returned an error, as the connector manager does (there, a second).
const restartPause = 100 * time.Millisecond

// Run runs the conformance suite: one parallel subtest per check, each with harnesses of its
// own from newHarness (which it calls with a fresh [Env]; twice, sharing a bus, in the breaker
// check). Checks that need a feature the kind does not declare are skipped with the reason.
func Run(t *testing.T, f Features, newHarness func(t *testing.T, env Env) Harness) {
	t.Helper()
	if f.Timeout <= 0 {
		f.Timeout = defaultTimeout
	}
	checks := []struct {
		name  string
		needs bool
		skip  string
		run   func(s *suite)
	}{
		{"each sub-case is delivered with its mapped form and material references", true, "", checkDelivered},
		{"the effect happens once under duplicate delivery and restarts", true, "", checkOnce},
		{"5xx, timeouts and connection resets are retried with the same key", f.Retries,
			"the kind does not retry (Features.Retries)", checkRetries},
		{"a 4xx is not retried and becomes a dead letter with its reason", f.PermanentFailures,
			"the kind has no permanent failures (Features.PermanentFailures)", checkPermanent},
		{"a failing department opens its breaker without slowing the others and recovers through half-open", f.Breaker && (f.supports(Timeout) || f.supports(Transient5xx)),
			"the kind has no breaker (Features.Breaker), or cannot fail with a timeout nor a 5xx", checkBreaker},
		{"each case's sub-cases arrive in publish order", f.Ordered,
			"the kind does not keep order (Features.Ordered)", checkOrder},
		{"department results flow back to the hub", f.ResultsFlowBack,
			"results do not come back through the kind (Features.ResultsFlowBack)", checkResults},
		{"no personal data reaches errors, dead letters, status or logs", true, "", checkNoLeak},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.needs {
				t.Skip(c.skip)
			}
			t.Parallel()
			c.run(newSuite(t, f, newHarness))
		})
	}
}

// suite is the state of one check.
type suite struct {
	t          *testing.T
	f          Features
	ctx        context.Context
	newHarness func(t *testing.T, env Env) Harness
	logs       *hubtest.SyncBuffer
	log        *slog.Logger
	rec        *Recording
	events     *Events

	mu            sync.Mutex
	runErrs       []error
	expectRunErrs bool
}

func newSuite(t *testing.T, f Features, newHarness func(t *testing.T, env Env) Harness) *suite {
	ctx, cancel := context.WithTimeout(t.Context(), f.Timeout)
	t.Cleanup(cancel)
	s := &suite{t: t, f: f, ctx: ctx, newHarness: newHarness, logs: &hubtest.SyncBuffer{}, rec: &Recording{}, events: &Events{}}
	s.log = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Registered before any department's, so it runs after every connector has stopped.
	t.Cleanup(func() {
		s.mu.Lock()
		errs, expected := s.runErrs, s.expectRunErrs
		s.mu.Unlock()
		if !expected {
			for _, err := range errs {
				t.Errorf("Run returned an error while the bus and the recorder were healthy: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("connector logs:\n%s", s.logs.String())
		}
	})
	return s
}

// department is one harness and the connector the suite runs for it.
type department struct {
	s         *suite
	h         Harness
	code      string
	run       *running
	published map[string]bool // envelope ids
}

// department builds a harness; on shared when it is not nil.
func (s *suite) department(shared *bus.Bus) *department {
	s.t.Helper()
	h := s.newHarness(s.t, Env{Recorder: s.rec, Logger: s.log, Events: s.events, Bus: shared})
	if h.Bus() == nil || h.Department() == "" {
		s.t.Fatalf("the harness has no bus or no department")
	}
	if shared != nil && h.Bus() != shared {
		s.t.Fatalf("the harness did not use the bus the suite gave it (Env.Bus)")
	}
	d := &department{s: s, h: h, code: h.Department(), published: map[string]bool{}}
	// Registered after the harness's own cleanups, so it runs before them: the connector
	// stops before its department and bus go away.
	s.t.Cleanup(func() {
		if d.run != nil {
			d.stop()
		}
	})
	return d
}

// running is one connector instance running in the background: its Run is called again after
// an error, as the connector manager does.
type running struct {
	conn   connector.Connector
	cancel context.CancelFunc
	done   chan struct{}
	final  error // what the last Run returned, valid once done is closed
}

// start builds a connector and runs it until stop.
func (d *department) start() {
	d.s.t.Helper()
	if d.run != nil {
		d.s.t.Fatalf("start: a connector is already running for %s", d.code)
	}
	c := d.h.NewConnector(d.s.t)
	ctx, cancel := context.WithCancel(d.s.ctx)
	r := &running{conn: c, cancel: cancel, done: make(chan struct{})}
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
			d.s.mu.Lock()
			d.s.runErrs = append(d.s.runErrs, err)
			d.s.mu.Unlock()
			t := time.NewTimer(restartPause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	d.run = r
}

// stop cancels the connector's Run and waits for it to return, which must be with nil.
func (d *department) stop() {
	d.s.t.Helper()
	r := d.run
	d.run = nil
	r.cancel()
	t := time.NewTimer(d.s.f.Timeout)
	defer t.Stop()
	select {
	case <-r.done:
		if r.final != nil {
			d.s.t.Errorf("Run returned %v when its context ended, want nil", r.final)
		}
	case <-t.C:
		d.s.t.Errorf("Run did not return within %v of its context ending", d.s.f.Timeout)
	}
}

// restart stops the connector and runs a new one, as a restarted hub does.
func (d *department) restart() {
	d.s.t.Helper()
	d.stop()
	d.start()
}

func (d *department) status() connector.Status { return d.run.conn.Status() }

func (d *department) publish(subs ...Subcase) {
	d.s.t.Helper()
	for _, sc := range subs {
		d.published[sc.ID] = true
		// One call each: the order of calls is the publish order.
		if err := d.h.Bus().Publish(d.s.ctx, sc.Message()); err != nil {
			d.s.t.Fatalf("Publish: %v", err)
		}
	}
}

// subcases makes n sub-cases of one case.
func (d *department) subcases(caseID string, n int) []Subcase {
	out := make([]Subcase, n)
	for i := range out {
		out[i] = NewSubcase(d.code, caseID, i+1)
	}
	return out
}

// effects returns, per idempotency key, the attempt the department took first, in the order
// the department took them.
func (d *department) effects() []Received {
	var out []Received
	seen := map[string]bool{}
	for _, r := range d.h.Received() {
		if r.Failed == 0 && !seen[r.Key] {
			seen[r.Key] = true
			out = append(out, r)
		}
	}
	return out
}

func (d *department) effect(key string) (Received, bool) {
	for _, r := range d.effects() {
		if r.Key == key {
			return r, true
		}
	}
	return Received{}, false
}

func (d *department) hasEffects(subs ...Subcase) bool {
	got := map[string]bool{}
	for _, r := range d.effects() {
		got[r.Key] = true
	}
	for _, sc := range subs {
		if !got[sc.ID] {
			return false
		}
	}
	return true
}

// attempts returns every attempt with the key.
func (d *department) attempts(key string) []Received {
	var out []Received
	for _, r := range d.h.Received() {
		if r.Key == key {
			out = append(out, r)
		}
	}
	return out
}

// badKey describes the first attempt whose key is not a published envelope id or differs
// from the envelope id in the message, if there is one.
func (d *department) badKey() (string, bool) {
	for _, r := range d.h.Received() {
		if r.EventID != r.Key {
			return fmt.Sprintf("a delivery carried key %q but envelope id %q: the key must be the envelope id", r.Key, r.EventID), true
		}
		if !d.published[r.Key] {
			return fmt.Sprintf("the department got a delivery with key %q, which is no published envelope id", r.Key), true
		}
	}
	return "", false
}

// checkKeys fails the check if badKey finds something.
func (d *department) checkKeys() {
	d.s.t.Helper()
	if why, bad := d.badKey(); bad {
		d.s.t.Error(why)
	}
}

// waitEffects waits until the department has taken every one of subs, failing at once if a
// delivery comes with a key that can never match.
func (d *department) waitEffects(what string, subs ...Subcase) {
	d.s.t.Helper()
	d.waitEffectsWithin(d.s.f.Timeout, what, subs...)
}

// waitEffectsWithin is waitEffects failing after limit (or at the check's deadline, when that
// comes first).
func (d *department) waitEffectsWithin(limit time.Duration, what string, subs ...Subcase) {
	d.s.t.Helper()
	d.s.waitWithin(limit, what, func() bool {
		if why, bad := d.badKey(); bad {
			d.s.t.Fatal(why)
		}
		return d.hasEffects(subs...)
	})
}

// waitAttempted waits until the department has seen an attempt at sc: what a wait for
// retries ([RetryWithin]) counts from, once the connector has joined its group.
func (d *department) waitAttempted(sc Subcase) {
	d.s.t.Helper()
	d.s.waitFor("the first attempt at sub-case "+sc.ID, func() bool { return len(d.attempts(sc.ID)) > 0 })
}

// waitFor waits until cond holds, failing the check at its deadline.
func (s *suite) waitFor(what string, cond func() bool) {
	s.t.Helper()
	s.waitWithin(s.f.Timeout, what, cond)
}

// waitWithin waits until cond holds, failing the check after limit, or at its deadline when
// that comes first.
func (s *suite) waitWithin(limit time.Duration, what string, cond func() bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, limit)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			s.t.Fatalf("waiting for %s: not within %v", what, min(limit, s.f.Timeout))
		case <-tick.C:
		}
	}
}

// waitRecorded waits until the deliveries of subs are recorded.
func (s *suite) waitRecorded(subs ...Subcase) {
	s.t.Helper()
	s.waitFor("the deliveries to be recorded", func() bool {
		for _, sc := range subs {
			if !s.rec.delivered(sc.ID) {
				return false
			}
		}
		return true
	})
}

// waitCommitted waits until the connector's group has committed every message of its topic,
// for kinds that report the topic and group they consume.
func (d *department) waitCommitted() {
	d.s.t.Helper()
	st := d.status()
	if st.Topic == "" || st.Group == "" {
		return
	}
	d.s.waitFor("the offsets to be committed", func() bool {
		lag, err := d.h.Bus().Lag(d.s.ctx, st.Group, st.Topic)
		return err == nil && lag.Total == 0
	})
}

func caseID() string { return "cs_" + hubtest.RandomHex(8) }

func checkDelivered(s *suite) {
	d := s.department(nil)
	first, second := caseID(), caseID()
	subs := append(d.subcases(first, 2), d.subcases(second, 1)...)
	d.publish(subs...)
	d.start()
	d.waitEffects("every sub-case to reach the department", subs...)
	s.waitRecorded(subs...)

	d.checkKeys()
	for _, sc := range subs {
		got, _ := d.effect(sc.ID)
		if got.CaseID != sc.CaseID || got.SubcaseID != sc.SubcaseID || got.Department != d.code {
			s.t.Errorf("sub-case %s reached the department as case %q, sub-case %q, department %q; want %q, %q, %q",
				sc.ID, got.CaseID, got.SubcaseID, got.Department, sc.CaseID, sc.SubcaseID, d.code)
		}
		if want := normalize(s.t, sc.Data.Form); !reflect.DeepEqual(normalize(s.t, got.Form), want) {
			s.t.Errorf("sub-case %s: the department got the form\n%v\nwant\n%v", sc.ID, got.Form, want)
		}
		if !reflect.DeepEqual(got.Materials, sc.Data.Materials) {
			s.t.Errorf("sub-case %s: the department got the material references\n%+v\nwant\n%+v", sc.ID, got.Materials, sc.Data.Materials)
		}
	}
	byID := map[string]connector.Delivery{}
	for _, dl := range s.rec.Deliveries() {
		byID[dl.EventID] = dl
	}
	for _, sc := range subs {
		dl := byID[sc.ID]
		if dl.Connector == "" || dl.CaseID != sc.CaseID || dl.SubcaseID != sc.SubcaseID || dl.Department != d.code || dl.At.IsZero() {
			s.t.Errorf("recorded delivery of %s = %+v; want the connector's name, case %s, sub-case %s, department %s and a time",
				sc.ID, dl, sc.CaseID, sc.SubcaseID, d.code)
		}
	}
	if f := s.rec.Failures(); len(f) != 0 {
		s.t.Errorf("recorded %d failures, want none: %+v", len(f), f[0].Delivery)
	}
	st := d.status()
	if st.Name == "" || st.Kind == "" || st.Department != d.code {
		s.t.Errorf("Status() = name %q, kind %q, department %q; want a name, a kind and department %q", st.Name, st.Kind, st.Department, d.code)
	}
	if st.Delivered < int64(len(subs)) {
		s.t.Errorf("Status().Delivered = %d, want at least %d", st.Delivered, len(subs))
	}
	if h := st.History; h == nil || h.StepSeconds != 60 || h.End.IsZero() {
		s.t.Errorf("Status().History = %+v; want the last hour minute by minute", h)
	} else if n := sumOf(h.Delivered[:]); n < int64(len(subs)) {
		s.t.Errorf("Status().History counts %d deliveries in the last hour, want at least %d", n, len(subs))
	}
	d.waitCommitted()
}

func checkOnce(s *suite) {
	d := s.department(nil)
	cs := caseID()
	early := d.subcases(cs, 3)
	// The same envelope published twice, as a relay that retried a publish does.
	d.publish(early[0], early[0], early[1], early[1], early[2])
	d.start()
	d.waitEffects("the first sub-cases to reach the department", early...)
	all := early

	if s.f.Restartable {
		late := d.subcases(cs, 8)
		d.publish(late...)
		s.waitFor("the department to get some of the later sub-cases", func() bool {
			for _, sc := range late {
				if _, ok := d.effect(sc.ID); ok {
					return true
				}
			}
			return false
		})
		d.restart() // mid-way: some later sub-cases are still to go, maybe one uncommitted
		more := d.subcases(cs, 2)
		d.publish(more...)
		all = slices.Concat(early, late, more)
		d.waitEffects("every sub-case to reach the department after the restart", all...)
	} else {
		s.t.Log("the kind is not restartable (Features.Restartable): duplicates only")
	}
	s.waitRecorded(all...)

	d.checkKeys()
	repeats := 0
	for _, sc := range all {
		var taken []Received
		for _, r := range d.attempts(sc.ID) {
			if r.Failed == 0 {
				taken = append(taken, r)
			}
		}
		repeats += len(taken) - 1
		for _, r := range taken[1:] {
			if !reflect.DeepEqual(normalize(s.t, r.Form), normalize(s.t, taken[0].Form)) || r.SubcaseID != taken[0].SubcaseID {
				s.t.Errorf("sub-case %s was delivered again with other content under the same key", sc.ID)
			}
		}
	}
	if n := len(d.effects()); n != len(all) {
		s.t.Errorf("the department applied %d distinct keys, want one per envelope: %d", n, len(all))
	}
	s.t.Logf("%d envelopes (2 published twice): the department got %d repeated deliveries, each under its envelope's key", len(all), repeats)
	d.waitCommitted()
}

func checkRetries(s *suite) {
	d := s.department(nil)
	d.start()
	cs := caseID()
	tried := 0
	for _, mode := range []FailMode{Transient5xx, Timeout, Reset} {
		if !s.f.supports(mode) {
			s.t.Logf("%v: not expressible by the kind (Features.Unsupported)", mode)
			continue
		}
		tried++
		before := d.status().Retries
		d.h.FailNext(mode, 2)
		sc := NewSubcase(d.code, cs, tried)
		d.publish(sc)
		d.waitAttempted(sc)
		d.waitEffectsWithin(RetryWithin, fmt.Sprintf("the sub-case to get through after %v twice", mode), sc)
		s.waitRecorded(sc)
		var failed []FailMode
		for _, r := range d.attempts(sc.ID) {
			failed = append(failed, r.Failed)
		}
		// Two failed, then taken. On a loaded machine the answer to the attempt taken may come
		// after the attempt timeout and cost a repeat, which the department takes again.
		if len(failed) < 3 || !slices.Equal(failed[:3], []FailMode{mode, mode, 0}) || slices.ContainsFunc(failed[3:], func(m FailMode) bool { return m != 0 }) {
			s.t.Errorf("%v: the department saw attempts %v, want %v: two failed, then one taken", mode, failed, []FailMode{mode, mode, 0})
		}
		// At least one more: an HTTP client may repeat a request cut on a reused connection
		// by itself, as Go's does for requests with an Idempotency-Key.
		if after := d.status().Retries; after <= before {
			s.t.Errorf("%v: Status().Retries stayed at %d, want it to count the retries", mode, before)
		}
	}
	d.checkKeys()
	if tried == 0 {
		s.t.Skip("the kind can express none of 5xx, timeout and reset")
	}
	if st := d.status(); st.LastError == nil || st.LastErrorMessage == "" {
		s.t.Errorf("Status() after failed attempts has no LastError and LastErrorMessage: %+v", st)
	}
	if f := s.rec.Failures(); len(f) != 0 {
		s.t.Errorf("recorded %d failures, want none: retried failures are not dead letters", len(f))
	}
}

func checkPermanent(s *suite) {
	d := s.department(nil)
	cs := caseID()
	refused := d.subcases(cs, 5) // more refusals in a row than any breaker takes
	d.h.FailNext(Permanent4xx, len(refused))
	d.publish(refused...)
	d.start()
	s.waitFor("every refused sub-case to be recorded as failed", func() bool {
		for _, sc := range refused {
			if n := len(d.attempts(sc.ID)); n > 1 {
				s.t.Fatalf("refused sub-case %s was tried %d times, want once: a refusal is not retried", sc.ID, n)
			}
		}
		return len(s.rec.Failures()) >= len(refused)
	})

	byID := map[string]connector.Failure{}
	for _, f := range s.rec.Failures() {
		byID[f.EventID] = f
	}
	for _, sc := range refused {
		f, ok := byID[sc.ID]
		if !ok {
			s.t.Errorf("no dead letter for refused sub-case %s", sc.ID)
			continue
		}
		if n := len(d.attempts(sc.ID)); n != 1 {
			s.t.Errorf("refused sub-case %s was tried %d times, want once: a refusal is not retried", sc.ID, n)
		}
		if f.CaseID != sc.CaseID || f.SubcaseID != sc.SubcaseID || f.Department != d.code || f.At.IsZero() {
			s.t.Errorf("dead letter of %s = %+v; want case %s, sub-case %s, department %s and a time", sc.ID, f.Delivery, sc.CaseID, sc.SubcaseID, d.code)
		}
		if !strings.Contains(f.Reason, RefusalGist) {
			s.t.Errorf("dead letter of %s has reason %q, want the department's reason (%q)", sc.ID, f.Reason, RefusalGist)
		}
		leaktest.AssertNoLeak(s.t, f.Reason, Personal.Secrets()...)
		if !bytes.Equal(f.Payload, sc.Raw) || f.Topic != bus.SubcaseTopic(d.code) {
			s.t.Errorf("dead letter of %s does not hold the message as published (topic %q, %d payload bytes): it could not be replayed",
				sc.ID, f.Topic, len(f.Payload))
		}
		if s.rec.delivered(sc.ID) {
			s.t.Errorf("refused sub-case %s was also recorded as delivered", sc.ID)
		}
	}

	next := NewSubcase(d.code, cs, len(refused)+1)
	d.publish(next)
	d.waitEffects("the next sub-case of the case to get through", next)
	if n := len(d.attempts(next.ID)); n != 1 {
		s.t.Errorf("the sub-case after the refusals took %d attempts, want 1", n)
	}
	st := d.status()
	if s.f.Breaker && st.Breaker != "closed" {
		s.t.Errorf("breaker %q after refusals, want closed: a department that refuses is up", st.Breaker)
	}
	if st.Failed < int64(len(refused)) {
		s.t.Errorf("Status().Failed = %d, want at least %d", st.Failed, len(refused))
	}
	d.waitCommitted()
}

// breakerWatch samples a connector's breaker state and keeps its transitions.
type breakerWatch struct {
	mu     sync.Mutex
	states []string
	at     []time.Time
}

func (s *suite) watchBreaker(c connector.Connector) *breakerWatch {
	w := &breakerWatch{}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			st := c.Status().Breaker
			w.mu.Lock()
			if n := len(w.states); n == 0 || w.states[n-1] != st {
				w.states = append(w.states, st)
				w.at = append(w.at, time.Now())
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
	return w
}

// since returns when the breaker last entered state, if it did after from.
func (w *breakerWatch) since(state string, from time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.states) - 1; i >= 0; i-- {
		if w.states[i] == state && !w.at[i].Before(from) {
			return w.at[i], true
		}
	}
	return time.Time{}, false
}

func (w *breakerWatch) history() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.states)
}

func (w *breakerWatch) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.states) == 0 {
		return ""
	}
	return w.states[len(w.states)-1]
}

func checkBreaker(s *suite) {
	bad := s.department(nil)
	good := s.department(bad.h.Bus())
	// A department that hangs shows its half-open probe for a whole attempt timeout; one that
	// answers 5xx at once only for a moment.
	mode := Transient5xx
	if s.f.supports(Timeout) {
		mode = Timeout
	}
	bad.h.FailNext(mode, Always)
	stuck := NewSubcase(bad.code, caseID(), 1)
	bad.publish(stuck)
	began := time.Now()
	bad.start()
	good.start()
	watch := s.watchBreaker(bad.run.conn)

	bad.waitAttempted(stuck)
	s.waitWithin(RetryWithin, "the failing department's breaker to open", func() bool { _, ok := watch.since("open", began); return ok })
	opened, _ := watch.since("open", began)

	// While it is open, the healthy department's sub-cases keep flowing.
	const n = 20
	var flowing []Subcase
	for range 4 {
		flowing = append(flowing, good.subcases(caseID(), n/4)...)
	}
	flowStart := time.Now()
	good.publish(flowing...)
	good.waitEffects("the healthy department to get every sub-case while the other is failing", flowing...)
	flowTook := time.Since(flowStart)
	if _, ok := bad.effect(stuck.ID); ok {
		s.t.Fatalf("the failing department took the sub-case while it was failing")
	}
	if st := watch.current(); st == "closed" {
		s.t.Errorf("the failing department's breaker is closed while the department still fails (history %v)", watch.history())
	}
	if st := good.status().Breaker; st != "closed" {
		s.t.Errorf("the healthy department's breaker is %q, want closed: breakers are per department", st)
	}

	// It recovers through half-open.
	if mode == Timeout {
		s.waitWithin(RetryWithin, "a half-open probe of the failing department", func() bool { _, ok := watch.since("half-open", opened); return ok })
	}
	healed := time.Now()
	bad.h.FailNext(0, 0)
	bad.waitEffectsWithin(RetryWithin, "the held sub-case to get through once the department recovered", stuck)
	s.waitFor("the breaker to close", func() bool { _, ok := watch.since("closed", healed); return ok })
	closed, _ := watch.since("closed", healed)
	s.waitRecorded(stuck)

	h := watch.history()
	if !isSubsequence([]string{"closed", "open", "half-open", "closed"}, h) && !(mode != Timeout && isSubsequence([]string{"closed", "open", "closed"}, h)) {
		s.t.Errorf("the breaker went %v, want closed → open → half-open → closed", h)
	}
	attempts := len(bad.attempts(stuck.ID))
	s.t.Logf("failing with %v: breaker open %v after the connector started; %d sub-cases of the healthy department delivered meanwhile in %v (%.0f/s); closed %v after the department recovered; %d attempts in all; states %v",
		mode, opened.Sub(began).Round(time.Millisecond), n, flowTook.Round(time.Millisecond), float64(n)/flowTook.Seconds(),
		closed.Sub(healed).Round(time.Millisecond), attempts, h)
}

// isSubsequence reports whether want appears in got in order, not necessarily adjacent.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func checkOrder(s *suite) {
	d := s.department(nil)
	const cases, perCase = 4, 6
	ids := make([]string, cases)
	subs := make([][]Subcase, cases)
	for i := range cases {
		ids[i] = caseID()
		subs[i] = d.subcases(ids[i], perCase)
	}
	retrying := s.f.Retries && s.f.supports(Transient5xx)
	if retrying {
		d.h.FailNext(Transient5xx, 3) // retries must not reorder
	}
	// Interleaved: the first half of every case, then the second half.
	half := func(from, to int) []Subcase {
		var out []Subcase
		for j := from; j < to; j++ {
			for i := range cases {
				out = append(out, subs[i][j])
			}
		}
		return out
	}
	first, second := half(0, perCase/2), half(perCase/2, perCase)
	d.publish(first...)
	d.start()
	within := s.f.Timeout
	if retrying {
		s.waitFor("the first attempt", func() bool { return len(d.h.Received()) > 0 })
		within = RetryWithin
	}
	s.waitWithin(within, "some sub-cases to get through", func() bool { return len(d.effects()) >= 2 })
	if retrying {
		d.h.FailNext(Transient5xx, 2)
	}
	d.publish(second...)
	all := slices.Concat(first, second)
	d.waitEffectsWithin(within, "every sub-case to get through", all...)

	caseOf := map[string]int{}
	for i := range cases {
		for _, sc := range subs[i] {
			caseOf[sc.ID] = i
		}
	}
	seen := make([][]string, cases) // per case: keys in the order attempted, repeats in a row collapsed
	for _, r := range d.h.Received() {
		i, ok := caseOf[r.Key]
		if !ok {
			continue
		}
		if l := seen[i]; len(l) == 0 || l[len(l)-1] != r.Key {
			seen[i] = append(seen[i], r.Key)
		}
	}
	for i := range cases {
		var want []string
		for _, sc := range subs[i] {
			want = append(want, sc.ID)
		}
		if !slices.Equal(seen[i], want) {
			s.t.Errorf("case %s reached the department in the order %q, want publish order %q (each once, retries in place)", ids[i], seen[i], want)
		}
	}
	if retrying {
		failed := 0
		for _, r := range d.h.Received() {
			if r.Failed != 0 {
				failed++
			}
		}
		if failed == 0 {
			s.t.Errorf("no attempt failed; the check would not see retries reorder")
		}
	}
	d.checkKeys()
}

func checkResults(s *suite) {
	d := s.department(nil)
	sc := NewSubcase(d.code, caseID(), 1)
	d.publish(sc)
	d.start()
	d.waitEffects("the sub-case to reach the department", sc)

	at := time.Now().Truncate(time.Second)
	evs := []event.DepartmentEvent{
		{EventID: "ev-" + hubtest.RandomHex(6), Type: event.Received, Time: at, Comment: "已收件"},
		{EventID: "ev-" + hubtest.RandomHex(6), Type: event.Accepted, Time: at.Add(time.Minute), Comment: "已受理"},
		{EventID: "ev-" + hubtest.RandomHex(6), Type: event.Approved, Time: at.Add(time.Hour), DecisionNumber: "赣审食〔2026〕118号",
			Licences: []event.Licence{{Type: "食品经营许可证", Number: "JY13207070012345", Holder: Personal.Name, HolderID: Personal.IDNumber,
				HolderIDType: "resident_id", Issuer: "连云港市赣榆区行政审批局", IssuedAt: at.Format(time.DateOnly), ValidFrom: at.Format(time.DateOnly),
				ValidUntil: at.AddDate(5, 0, -1).Format(time.DateOnly),
				File:       event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.yjshub.example/licences/JY13207070012345.ofd", Format: "ofd"}}}},
	}
	for _, ev := range evs {
		d.h.Report(s.t, sc.SubcaseID, ev)
	}
	d.h.Report(s.t, sc.SubcaseID, evs[1]) // the department sends one twice

	s.waitFor("every reported event to reach the hub", func() bool {
		got := map[string]bool{}
		for _, r := range s.events.All() {
			got[r.Event.EventID] = true
		}
		for _, ev := range evs {
			if !got[ev.EventID] {
				return false
			}
		}
		return true
	})
	want := map[string]event.DepartmentEvent{}
	for _, ev := range evs {
		want[ev.EventID] = ev
	}
	var order []string
	for _, r := range s.events.All() {
		if r.SubcaseID != sc.SubcaseID {
			s.t.Errorf("event %s reached the hub for sub-case %q, want %q", r.Event.EventID, r.SubcaseID, sc.SubcaseID)
		}
		w, ok := want[r.Event.EventID]
		if !ok {
			s.t.Errorf("the hub got event %q, which the department did not report", r.Event.EventID)
			continue
		}
		if g, w := normalize(s.t, r.Event), normalize(s.t, w); !reflect.DeepEqual(g, w) {
			s.t.Errorf("event %s reached the hub as\n%v\nwant\n%v", r.Event.EventID, g, w)
		}
		if !slices.Contains(order, r.Event.EventID) {
			order = append(order, r.Event.EventID)
		}
	}
	if want := []string{evs[0].EventID, evs[1].EventID, evs[2].EventID}; !slices.Equal(order, want) {
		s.t.Errorf("events reached the hub in the order %q, want %q (received, accepted, approved)", order, want)
	}
}

func checkNoLeak(s *suite) {
	s.mu.Lock()
	s.expectRunErrs = true // the recorder fails once, so that Run's error is looked at too
	s.mu.Unlock()
	d := s.department(nil)
	var statuses []string
	snapshot := func() {
		b, _ := json.Marshal(d.status())
		statuses = append(statuses, string(b))
	}
	d.start()

	// Every way an attempt can fail, each answer quoting the applicant, then success; and the
	// store fails once at recording it.
	within := s.f.Timeout
	for _, m := range []FailMode{Reset, Timeout, Transient5xx} {
		if s.f.Retries && s.f.supports(m) {
			d.h.FailNext(m, 1)
			within = RetryWithin
		}
	}
	s.rec.RefuseNext(errors.New("store unavailable"))
	cs := caseID()
	sc := NewSubcase(d.code, cs, 1)
	d.publish(sc)
	d.waitAttempted(sc)
	d.waitEffectsWithin(within, "the sub-case to get through", sc)
	s.waitRecorded(sc)
	snapshot()
	if s.f.PermanentFailures {
		d.h.FailNext(Permanent4xx, 1)
		refused := NewSubcase(d.code, cs, 2)
		d.publish(refused)
		s.waitFor("the refusal to be recorded", func() bool { return len(s.rec.Failures()) >= 1 })
		snapshot()
	}

	// The data did travel: a check that never sent it proves nothing.
	got, _ := d.effect(sc.ID)
	if got.Form["SFZHM"] != Personal.IDNumber || got.Form["LXDH"] != Personal.Mobile {
		s.t.Fatalf("the department did not get the applicant's personal data; the check would prove nothing")
	}

	hay := map[string]string{"logs": s.logs.String(), "status": strings.Join(statuses, "\n")}
	for i, f := range s.rec.Failures() {
		hay[fmt.Sprintf("dead letter %d's reason", i+1)] = f.Reason
	}
	s.mu.Lock()
	for i, err := range s.runErrs {
		hay[fmt.Sprintf("Run's error %d", i+1)] = err.Error()
	}
	s.mu.Unlock()
	if hay["logs"] == "" {
		s.t.Log("the connector logged nothing")
	}
	for where, text := range hay {
		if ls := leaktest.Leaks(text, Personal.Secrets()...); len(ls) > 0 {
			for _, l := range ls {
				s.t.Errorf("%s: personal data leaks: %s", where, l)
			}
		}
	}
}

// normalize turns v into what its JSON decodes to, so that values compare whatever Go types
// they were built from.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("normalize: %v", err)
	}
	return out
}

// sumOf adds up counts.
func sumOf(counts []int64) int64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}
