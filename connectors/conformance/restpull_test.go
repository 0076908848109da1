package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/conformance"
	"yjshub/deptsim"
	"yjshub/hub/event"
)

var pullIDs = []string{
	conformance.CheckPullPolls, conformance.CheckPullRequests, conformance.CheckPullAck, conformance.CheckPullRedelivery,
	conformance.CheckCallbackArrives, conformance.CheckCallbackValid, conformance.CheckCallbackOrder,
}

func everyPull(result string) map[string]string { return each(pullIDs, result) }

// runPull runs the restpull kit for department dept with a client started by client against
// the kit's base URL (nil: no client, as when the department's system is down).
func runPull(t *testing.T, dept string, wait time.Duration, client func(ctx context.Context, base string)) *conformance.Report {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	if client != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client(ctx, "http://"+ln.Addr().String())
		}()
	}
	r := run(t, conformance.Config{Kind: conformance.KindRestPull, Department: dept, Listener: ln, CallbackWait: wait})
	cancel()
	wg.Wait()
	return r
}

func TestTheSimulatorPullingItsInboxPassesEveryCheck(t *testing.T) {
	t.Parallel()
	sim, err := deptsim.New(deptsim.Config{}, deptsim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	r := runPull(t, "tobacco", 20*time.Second, func(ctx context.Context, base string) {
		p := &deptsim.Puller{Hub: base, Department: "tobacco", Sim: sim, Interval: 20 * time.Millisecond}
		_ = p.Run(ctx)
	})
	wantResults(t, r, everyPull(conformance.Pass))
	if !r.Passed {
		t.Error("Passed = false")
	}
	if c, _ := r.Check(conformance.CheckPullRedelivery); !strings.Contains(c.Reason, "under lease 2 of 2") {
		t.Errorf("redelivery reason %q: want the item acknowledged under its second lease", c.Reason)
	}
}

// pollerFlaws are what a broken department client does wrong.
type pollerFlaws struct {
	dept        string                    // polls this department's inbox (default the one checked)
	query       string                    // the poll's query (default max=10&visibility=1s)
	ack         func(lease string) string // the lease it acknowledges with (nil: never acks)
	reprocesses bool                      // acts on every lease of an item, a redelivery included
}

// poller is a department client written for these tests: it reports received, accepted and
// rejected on each item it leases and acknowledges it as flaws say.
func poller(f pollerFlaws) func(ctx context.Context, base string) {
	return func(ctx context.Context, base string) {
		if f.query == "" {
			f.query = "max=10&visibility=1s"
		}
		done := map[string]bool{}
		client := &http.Client{Timeout: 5 * time.Second}
		post := func(url string, v any) {
			b, _ := json.Marshal(v)
			if resp, err := client.Post(url, "application/json", bytes.NewReader(b)); err == nil {
				resp.Body.Close()
			}
		}
		for n := 0; ctx.Err() == nil; n++ {
			resp, err := client.Get(base + "/api/v1/departments/" + f.dept + "/inbox?" + f.query)
			var items []struct {
				ID, Lease string
				Message   event.Envelope
			}
			if err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&items)
				resp.Body.Close()
			}
			for _, it := range items {
				var data event.SubcaseDispatched
				_ = json.Unmarshal(it.Message.Data, &data)
				if !done[it.ID] || f.reprocesses {
					for i, typ := range []string{"received", "accepted", "rejected"} {
						post(data.Callback, map[string]string{"event_id": fmt.Sprintf("p-%d-%s-%d", n, it.ID, i), "type": typ, "reason": "测试"})
					}
				}
				done[it.ID] = true
				if f.ack != nil {
					post(base+"/api/v1/departments/"+f.dept+"/inbox/"+it.ID+"/ack", map[string]string{"lease": f.ack(it.Lease)})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// Every broken client fails exactly the checks of what it does wrong.
func TestBrokenPullClientsFailTheRightChecks(t *testing.T) {
	t.Parallel()
	own := func(l string) string { return l }
	for _, tc := range []struct {
		name   string
		client func(ctx context.Context, base string)
		fail   []string
		reason map[string]string
	}{
		{name: "a client that is down", fail: pullIDs, reason: map[string]string{conformance.CheckPullPolls: "no poll within"}},
		{
			name:   "a client that polls another department's inbox",
			client: poller(pollerFlaws{dept: "health", ack: own}),
			fail:   pullIDs,
			reason: map[string]string{conformance.CheckPullPolls: "none for department tobacco's inbox"},
		},
		{
			name:   "a client that asks for 500 items",
			client: poller(pollerFlaws{dept: "tobacco", query: "max=500", ack: own}),
			fail:   pullIDs[1:],
			reason: map[string]string{conformance.CheckPullRequests: `max="500"`},
		},
		{
			name:   "a client that never acknowledges",
			client: poller(pollerFlaws{dept: "tobacco"}),
			fail:   []string{conformance.CheckPullAck, conformance.CheckPullRedelivery},
			reason: map[string]string{conformance.CheckPullAck: "never acknowledged"},
		},
		{
			name:   "a client that acknowledges with the item id instead of the lease",
			client: poller(pollerFlaws{dept: "tobacco", ack: func(string) string { return "conformance-not-a-lease" }}),
			fail:   []string{conformance.CheckPullAck, conformance.CheckPullRedelivery},
			reason: map[string]string{conformance.CheckPullAck: "under a lease it was not handed out with"},
		},
		{
			name:   "a client that acts on a redelivered item again",
			client: poller(pollerFlaws{dept: "tobacco", ack: own, reprocesses: true}),
			fail:   []string{conformance.CheckPullRedelivery, conformance.CheckCallbackOrder},
			reason: map[string]string{conformance.CheckPullRedelivery: "received a second time"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runPull(t, "tobacco", 3*time.Second, tc.client)
			want := everyPull(conformance.Pass)
			for _, id := range tc.fail {
				want[id] = conformance.Fail
			}
			wantResults(t, r, want)
			if r.Passed {
				t.Error("Passed = true")
			}
			for id, s := range tc.reason {
				if c, _ := r.Check(id); !strings.Contains(c.Reason, s) {
					t.Errorf("%s: reason %q does not say %q", id, c.Reason, s)
				}
			}
		})
	}
}
