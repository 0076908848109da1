package kafkaconn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	kafkaconn "yjshub/connectors/kafka"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// concurrentCases are the cases of the concurrency tests. They go to different workers of the
// default 8 (the bus spreads keys by their FNV-1a hash), so that nothing queues behind the
// message the tests hold, of the first case.
var concurrentCases = []string{"cs-a", "cs-b", "cs-c", "cs-d", "cs-e"}

// gate stands between a consumer and its effect: it keeps the order in which each case's
// messages took effect and how many were being handled at once; with gated set, the message
// of that id is held (holding closed) until a message of another case than gatedCase has taken
// effect. A test publishes the other cases' messages only once it is held: only a consumer
// that handles messages of different cases at once gets to them.
type gate struct {
	gated, gatedCase string
	holding          chan struct{}
	other            chan struct{} // closed when a message of another case took effect
	holdOnce, once   sync.Once
	outcome          chan error // what holding the gated message came to

	mu                    sync.Mutex
	order                 map[string][]string // ids by case, in the order they took effect
	inFlight, maxInFlight int
}

func newGate(gated, gatedCase string) *gate {
	return &gate{gated: gated, gatedCase: gatedCase, holding: make(chan struct{}), other: make(chan struct{}), outcome: make(chan error, 1),
		order: map[string][]string{}}
}

// handle lets the message id of case caseID take effect (effect, then noted), once it may.
func (g *gate) handle(ctx context.Context, caseID, id string, effect func() error) error {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if id == g.gated {
		g.holdOnce.Do(func() { close(g.holding) })
		wait, cancel := context.WithTimeout(ctx, connectortest.RetryWithin)
		defer cancel()
		var err error
		select {
		case <-g.other:
		case <-wait.Done():
			err = fmt.Errorf("no message of another case took effect while %s of %s was held", id, caseID)
		}
		select {
		case g.outcome <- err:
		default:
		}
		if err != nil {
			return err
		}
	}
	if err := effect(); err != nil {
		return err
	}
	g.mu.Lock()
	g.order[caseID] = append(g.order[caseID], id)
	g.mu.Unlock()
	if caseID != g.gatedCase {
		g.once.Do(func() { close(g.other) })
	}
	return nil
}

// held reports whether the gated message is being held (or was).
func (g *gate) held() bool {
	select {
	case <-g.holding:
		return true
	default:
		return false
	}
}

// most is how many messages were handled at once at most.
func (g *gate) most() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxInFlight
}

func (g *gate) taken() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, ids := range g.order {
		n += len(ids)
	}
	return n
}

// check fails t unless each case's messages took effect once each, in the order published.
func (g *gate) check(t *testing.T, published map[string][]string) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, want := range published {
		if !slices.Equal(g.order[k], want) {
			t.Errorf("case %s took effect as %q, want each once in the publish order %q", k, g.order[k], want)
		}
	}
}

// gatedHub is the case service of the results consumer: the sub-case of case k is k+"-sc",
// handled by dept; events take effect through a gate, after before (when set).
type gatedHub struct {
	dept   string
	g      *gate
	before func(ctx context.Context)
}

func (h *gatedHub) Department(_ context.Context, caseID, subcaseID string) (string, error) {
	if subcaseID != caseID+"-sc" || !slices.Contains(concurrentCases, caseID) {
		return "", cases.ErrNotFound
	}
	return h.dept, nil
}

func (h *gatedHub) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) error {
	if h.before != nil {
		h.before(ctx)
	}
	return h.g.handle(ctx, strings.TrimSuffix(subcaseID, "-sc"), ev.EventID, func() error { return nil })
}

func TestResultsOfDifferentCasesAreAppliedAtOnceAndEachCasesInOrder(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		published := map[string][]string{}
		var first, rest []bus.Message
		for i := range 4 {
			for _, k := range concurrentCases {
				id := fmt.Sprintf("%s-ev-%d", k, i)
				published[k] = append(published[k], id)
				m := resultMessage(t, k, k+"-sc", dept, event.DepartmentEvent{EventID: id, Type: event.Received})
				if i == 0 && k == "cs-a" {
					first = append(first, m)
				} else {
					rest = append(rest, m)
				}
			}
		}
		total := len(first) + len(rest)
		publish := func(msgs []bus.Message) {
			t.Helper()
			if err := env.Bus.Publish(env.Ctx, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		start := func(name string, concurrency int, hub *gatedHub) (*kafkaconn.Results, *hubtest.Running) {
			t.Helper()
			res, err := kafkaconn.NewResults(kafkaconn.ResultsConfig{GroupID: env.Group(name), Concurrency: concurrency},
				env.Bus, hub, env.Rec, kafkaconn.WithLogger(env.Log))
			if err != nil {
				t.Fatal(err)
			}
			return res, env.Start(res)
		}
		finish := func(name string, g *gate, r *hubtest.Running) {
			t.Helper()
			env.WaitFor(name+": every event applied and committed", func() bool {
				l, err := env.Bus.Lag(env.Ctx, env.Group(name), bus.TopicResult)
				return g.taken() == total && err == nil && l.Total == 0
			})
			r.Stop(t)
			if errs := r.RunErrors(); len(errs) > 0 {
				t.Errorf("%s: Run returned %v", name, errs)
			}
			g.check(t, published)
		}

		// The default concurrency: cs-a's first event is held until an event of another case,
		// published only once it is held, has been applied.
		held := newGate(published["cs-a"][0], "cs-a")
		res, r := start("results-concurrent", 0, &gatedHub{dept: dept, g: held})
		publish(first)
		env.WaitFor("the first event of cs-a to be held", held.held)
		publish(rest)
		finish("results-concurrent", held, r)
		if err := <-held.outcome; err != nil {
			t.Fatal(err)
		}
		if st := res.Status(); st.Delivered != int64(total) || st.Failed != 0 {
			t.Errorf("status %+v, want %d events applied and no dead letter", st, total)
		}
		if f := env.Rec.Failures(func(f connector.Failure) bool { return slices.Contains(concurrentCases, string(f.Key)) }); len(f) != 0 {
			t.Errorf("dead letters %+v, want none", f)
		}

		// Concurrency 1, in a group of its own over the same events: one at a time, as before,
		// each committed before the next is applied — so as each is applied, the group's lag is
		// exactly the events not applied yet.
		serial := newGate("", "")
		var mu sync.Mutex
		var lags []string
		_, r = start("results-serial", 1, &gatedHub{dept: dept, g: serial, before: func(ctx context.Context) {
			l, err := env.Bus.Lag(ctx, env.Group("results-serial"), bus.TopicResult)
			if want := int64(total - serial.taken()); err != nil || l.Total != want {
				mu.Lock()
				lags = append(lags, fmt.Sprintf("lag %d (%v) with %d events not applied", l.Total, err, want))
				mu.Unlock()
			}
		}})
		finish("results-serial", serial, r)
		if n := serial.most(); n != 1 {
			t.Errorf("with concurrency 1, %d events were applied at once", n)
		}
		mu.Lock()
		if len(lags) > 0 {
			t.Errorf("with concurrency 1, an event was applied before the one before it was committed: %q", lags)
		}
		mu.Unlock()
	})
}

// gatedRecorder records deliveries once the gate lets them through.
type gatedRecorder struct {
	connector.Recorder
	g *gate
}

func (r gatedRecorder) Delivered(ctx context.Context, d connector.Delivery) error {
	return r.g.handle(ctx, d.CaseID, d.EventID, func() error { return r.Recorder.Delivered(ctx, d) })
}

func TestSubcasesOfDifferentCasesAreFollowedAtOnceAndEachCasesInOrder(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		const dept = "market-regulation"
		published := map[string][]string{}
		var first, rest []bus.Message
		for i := range 3 {
			for _, k := range concurrentCases {
				id, sc := fmt.Sprintf("%s-ev-%d", k, i), fmt.Sprintf("%s-sc-%d", k, i)
				e, err := event.New(id, event.TypeSubcaseDispatched, sc, time.Now(), event.SubcaseDispatched{CaseID: k, SubcaseID: sc, Department: dept})
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				published[k] = append(published[k], id)
				m := bus.Message{Topic: bus.SubcaseTopic(dept), Key: []byte(k), Value: raw}
				if i == 0 && k == "cs-a" {
					first = append(first, m)
				} else {
					rest = append(rest, m)
				}
			}
		}
		total := len(first) + len(rest)
		// The department takes everything; recording cs-a's first sub-case as delivered is held
		// until a sub-case of another case, published only once it is held, has been recorded.
		cfg := kafkaconn.Config{Department: dept, GroupID: env.Group("dept"), TrackGroup: env.Group("track"), PollInterval: 10 * time.Millisecond}
		startDepartment(t, env, dept, cfg.GroupID, concurrentCases, nil)
		g := newGate(published["cs-a"][0], "cs-a")
		c, err := kafkaconn.New(cfg, env.Bus, gatedRecorder{Recorder: env.Rec, g: g}, kafkaconn.WithLogger(env.Log))
		if err != nil {
			t.Fatal(err)
		}
		r := env.Start(c)
		if err := env.Bus.Publish(env.Ctx, first...); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the first sub-case of cs-a to be held", g.held)
		if err := env.Bus.Publish(env.Ctx, rest...); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("every sub-case recorded as delivered and committed in the track group", func() bool {
			l, err := env.Bus.Lag(env.Ctx, cfg.TrackGroup, bus.SubcaseTopic(dept))
			return g.taken() == total && err == nil && l.Total == 0
		})
		if err := <-g.outcome; err != nil {
			t.Fatal(err)
		}
		if errs := r.RunErrors(); len(errs) > 0 {
			t.Errorf("Run returned %v", errs)
		}
		g.check(t, published)
		if n := len(env.Rec.Deliveries(concurrentCases...)); n != total {
			t.Errorf("%d deliveries recorded, want %d", n, total)
		}
		if st := c.Status(); st.Delivered != int64(total) {
			t.Errorf("status %+v, want %d delivered", st, total)
		}
	})
}

func TestConcurrencySettingsAreValidatedAndReachTheResultsConsumer(t *testing.T) {
	t.Parallel()
	ok := kafkaconn.Config{Department: "market-regulation", GroupID: "scjg", Concurrency: 64, ResultsConcurrency: 1}
	if err := ok.Validate(); err != nil {
		t.Errorf("concurrency 64 and results_concurrency 1: %v, want valid", err)
	}
	err := (&kafkaconn.Config{Department: "market-regulation", GroupID: "scjg", Concurrency: 65, ResultsConcurrency: -1}).Validate()
	for _, want := range []string{"concurrency: 65 is not from 1 to 64", "results_concurrency: -1 is not from 1 to 64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	if rc, _ := kafkaconn.ResultsConfigOf([]kafkaconn.Config{ok}); rc.Concurrency != 1 {
		t.Errorf("ResultsConfigOf = %+v, want the departments' results_concurrency 1", rc)
	}
	if rc, _ := kafkaconn.ResultsConfigOf([]kafkaconn.Config{{Department: "market-regulation", GroupID: "scjg"}}); rc.Concurrency != kafkaconn.DefaultConcurrency {
		t.Errorf("ResultsConfigOf = %+v, want the default concurrency %d", rc, kafkaconn.DefaultConcurrency)
	}
	_, err = kafkaconn.NewResults(kafkaconn.ResultsConfig{Concurrency: 65}, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "concurrency: 65 is not from 1 to 64") {
		t.Errorf("NewResults with concurrency 65: %v", err)
	}
}
