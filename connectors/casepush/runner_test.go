package casepush_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/store/storetest"
)

// statePlanner calls for one step per case event, named by the event's state, whose key is
// the case id and the state.
type statePlanner struct{}

func (statePlanner) Steps(_ context.Context, ev cases.CaseUpdated) ([]casepush.Step, error) {
	return []casepush.Step{{Key: ev.CaseID + ":" + ev.State, CaseID: ev.CaseID, Name: ev.State}}, nil
}

func (statePlanner) Build(_ context.Context, _ cases.CaseUpdated, steps []casepush.Step) ([]casepush.Push, error) {
	pushes := make([]casepush.Push, len(steps))
	for i, s := range steps {
		pushes[i] = casepush.Push{Step: s, Body: []byte(`{"step":"` + s.Key + `"}`)}
	}
	return pushes, nil
}

// heldReceiver takes pushes; the push of key held waits (holding closed) until a push of
// another case than heldCase has been taken. The test publishes the other cases' events only
// once it waits: only a runner that handles events of different cases at once gets to them.
type heldReceiver struct {
	held, heldCase string
	holding        chan struct{}
	other          chan struct{}
	holdOnce, once sync.Once

	mu       sync.Mutex
	released bool  // the held push was let through or given up
	holdErr  error // why it was given up

	taken map[string][]string // keys by case, in the order taken
	seen  map[string]int      // pushes per key
}

func (h *heldReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(delivery.HeaderIdempotency)
	caseID, _, _ := strings.Cut(key, ":")
	h.mu.Lock()
	h.seen[key]++
	h.mu.Unlock()
	if key == h.held {
		h.holdOnce.Do(func() { close(h.holding) })
		var err error
		select {
		case <-h.other:
		case <-time.After(connectortest.RetryWithin):
			err = fmt.Errorf("no push of another case was taken while %s was held", key)
		case <-r.Context().Done():
			err = fmt.Errorf("the push of %s ended while held: %w", key, r.Context().Err())
		}
		h.mu.Lock()
		if !h.released {
			h.released, h.holdErr = true, err
		}
		h.mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
	}
	h.mu.Lock()
	h.taken[caseID] = append(h.taken[caseID], key)
	h.mu.Unlock()
	if caseID != h.heldCase {
		h.once.Do(func() { close(h.other) })
	}
	w.WriteHeader(http.StatusOK)
}

func TestEventsOfDifferentCasesArePushedAtOnceAndEachCasesInOrder(t *testing.T) {
	connectortest.OnEach(t, connectortest.BackendsWithDatabase(t, "yjshub-casepush-test"), func(t *testing.T, be connectortest.Backend) {
		open := storetest.OpenSQLite
		if be.Postgres {
			open = storetest.OpenPostgres
		}
		st := storetest.Migrated(open)(t)
		rig := connectortest.NewRig(t, be.Open(t), 0)
		if err := rig.Bus.EnsureTopics(rig.Ctx, bus.TopicSpec{Name: bus.TopicCaseEvent, Partitions: 3}); err != nil {
			t.Fatal(err)
		}
		// The case ids go to different workers of the default 8 (the bus spreads keys by their
		// FNV-1a hash), so that nothing queues behind cs-a's held push.
		caseIDs := []string{"cs-a", "cs-b", "cs-c", "cs-d", "cs-e"}
		published := map[string][]string{}
		var first, rest []bus.Message
		for i := range 3 {
			for _, k := range caseIDs {
				state := fmt.Sprintf("s%d", i)
				env, err := event.New("ev-"+hubtest.RandomHex(8), event.TypeCaseUpdated, k, time.Now(), cases.CaseUpdated{CaseID: k, State: state})
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(env)
				if err != nil {
					t.Fatal(err)
				}
				published[k] = append(published[k], k+":"+state)
				m := bus.Message{Topic: bus.TopicCaseEvent, Key: []byte(k), Value: raw}
				if i == 0 && k == "cs-a" {
					first = append(first, m)
				} else {
					rest = append(rest, m)
				}
			}
		}
		total := len(first) + len(rest)

		recv := &heldReceiver{held: "cs-a:s0", heldCase: "cs-a", holding: make(chan struct{}), other: make(chan struct{}),
			taken: map[string][]string{}, seen: map[string]int{}}
		srv := httptest.NewServer(recv)
		t.Cleanup(srv.Close)
		client, err := delivery.NewClient(delivery.ClientConfig{Endpoint: srv.URL, Timeout: 2 * connectortest.RetryWithin}, nil)
		if err != nil {
			t.Fatal(err)
		}
		const name = "test:push"
		group := "yjshub-casepush-test-" + hubtest.RandomHex(6)
		ledger := casepush.NewLedger(st, name)
		r, err := casepush.NewRunner(casepush.RunnerConfig{Name: name, GroupID: group, Concurrency: casepush.DefaultConcurrency},
			rig.Bus, client, ledger, rig.Rec, statePlanner{}, rig.Log)
		if err != nil {
			t.Fatal(err)
		}
		rig.Start(r.Run)
		if err := rig.Bus.Publish(rig.Ctx, first...); err != nil {
			t.Fatal(err)
		}
		rig.WaitFor("the push of cs-a's first event to be held", func() bool {
			select {
			case <-recv.holding:
				return true
			default:
				return false
			}
		})
		if err := rig.Bus.Publish(rig.Ctx, rest...); err != nil {
			t.Fatal(err)
		}
		rig.WaitFor("every step pushed and recorded, and every event committed", func() bool {
			counts, err := ledger.Counts(rig.Ctx)
			lag, lerr := rig.Bus.Lag(rig.Ctx, group, bus.TopicCaseEvent)
			recv.mu.Lock()
			holdErr := recv.holdErr
			recv.mu.Unlock()
			if holdErr != nil {
				t.Fatal(holdErr)
			}
			return err == nil && lerr == nil && counts[casepush.StatePushed] == int64(total) && lag.Total == 0
		})

		recv.mu.Lock()
		defer recv.mu.Unlock()
		if !recv.released {
			t.Fatal("the push of cs-a's first event was never let through")
		}
		for k, want := range published {
			if !slices.Equal(recv.taken[k], want) {
				t.Errorf("case %s pushed as %q, want the publish order %q", k, recv.taken[k], want)
			}
		}
		for key, n := range recv.seen {
			if n != 1 {
				t.Errorf("%s pushed %d times, want once", key, n)
			}
		}
		if f := rig.Rec.Failures(); len(f) != 0 {
			t.Errorf("dead letters %+v, want none", f)
		}
		if s := r.Stats(); s.Delivered != int64(total) {
			t.Errorf("stats %+v, want %d pushed", s, total)
		}
	})
}

func TestTheRunnersConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, casepush.MaxConcurrency + 1} {
		_, err := casepush.NewRunner(casepush.RunnerConfig{Name: "x", GroupID: "g", Concurrency: n}, nil, nil, nil, nil, nil, nil)
		if want := fmt.Sprintf("concurrency: %d is not from 1 to %d", n, casepush.MaxConcurrency); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("concurrency %d: %v, want %q", n, err, want)
		}
	}
}
