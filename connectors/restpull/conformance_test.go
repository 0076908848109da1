package restpull_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/restpull"
	"yjshub/hub/api"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/inbox"
	"yjshub/hub/store"
)

// TestConformance runs the connector conformance suite with a department system that polls the
// hub's inbox API, on the embedded broker with SQLite and PostgreSQL and, when
// YJSHUB_TEST_KAFKA names one, on Apache Kafka.
func TestConformance(t *testing.T) {
	features := connectortest.Features{
		// A department that fails to take an item does not ack it; once the lease runs out the
		// item is handed out again under the same id.
		Retries:     true,
		Ordered:     true,
		Restartable: true,
		// The hub calls nobody, so there is no breaker; a department cannot refuse an item,
		// only leave it unacknowledged until it becomes a dead letter (MaxAttempts); results
		// come back through the hub's events API, not through the connector.
		Breaker: false, PermanentFailures: false, ResultsFlowBack: false,
	}
	connectortest.RunOnEach(t, features, backends(t),
		func(t *testing.T, env connectortest.Env, b *bus.Bus, be connectortest.Backend) connectortest.Harness {
			return newSuiteHarness(t, b, openStore(t, be), env)
		})
}

// fastClock runs suiteSpeed times faster than the wall clock, so that leases of the shortest
// visibility (1s) run out in a few tens of milliseconds.
type fastClock struct{ base time.Time }

const suiteSpeed = 25

func (c fastClock) now() time.Time { return c.base.Add(time.Since(c.base) * suiteSpeed) }

// suiteHarness is a department system that polls the inbox through the hub's API, takes each
// item once per id, acknowledges it, and fails (leaves an item unacknowledged) when told to.
type suiteHarness struct {
	*connectortest.HarnessBase
	env   connectortest.Env
	inbox *inbox.Inbox
	api   *httptest.Server
}

func newSuiteHarness(t *testing.T, b *bus.Bus, st *store.Store, env connectortest.Env) *suiteHarness {
	h := &suiteHarness{HarnessBase: connectortest.NewHarnessBase(t, b), env: env}
	in, err := inbox.New(st, env.Recorder, inbox.WithLogger(env.Logger),
		inbox.WithClock(fastClock{base: time.Now()}.now))
	if err != nil {
		t.Fatalf("NewInbox: %v", err)
	}
	h.inbox = in
	handler, err := api.New(api.Config{Inbox: in, Logger: env.Logger})
	if err != nil {
		t.Fatal(err)
	}
	h.api = httptest.NewServer(handler)
	t.Cleanup(h.api.Close)

	pollCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.poll(pollCtx) }()
	t.Cleanup(func() { stop(); <-done })
	return h
}

func (h *suiteHarness) NewConnector(t *testing.T) connector.Connector {
	c, err := restpull.New(restpull.Config{Department: h.Department(), MaxAttempts: 20}, h.Bus(), h.inbox, h.env.Recorder,
		restpull.WithLogger(h.env.Logger))
	if err != nil {
		t.Fatalf("restpull.New: %v", err)
	}
	return c
}

func (h *suiteHarness) Report(t *testing.T, _ string, _ event.DepartmentEvent) {
	t.Fatalf("restpull: department events come back through the hub's API, not the connector")
}

// poll is the department system: it polls the inbox every few milliseconds (the department's
// polling interval) until ctx ends.
func (h *suiteHarness) poll(ctx context.Context) {
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, it := range h.lease(ctx) {
			rec := connectortest.ReceivedFrom(it.ID, it.Message)
			rec.Failed = h.Take()
			h.Saw(rec)
			if rec.Failed == 0 {
				h.ack(ctx, it)
			}
		}
	}
}

// lease polls once; the inbox answers 404 until a connector has started for the department.
func (h *suiteHarness) lease(ctx context.Context) []inbox.Item {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.api.URL+"/api/v1/departments/"+h.Department()+"/inbox?max=10&visibility=1s", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var items []inbox.Item
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&items) != nil {
		return nil
	}
	return items
}

// ack acknowledges it, again after a failure of the hub (5xx), until the hub answers.
func (h *suiteHarness) ack(ctx context.Context, it inbox.Item) {
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			h.api.URL+"/api/v1/departments/"+h.Department()+"/inbox/"+it.ID+"/ack", strings.NewReader(`{"lease":"`+it.Lease+`"}`))
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}
