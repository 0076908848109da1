package deptsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"yjshub/deptsim"
	"yjshub/hub/event"
)

// inbox serves one item, handed out again under a new lease until an ack of the current
// lease arrives; the first ack is answered 409, as after a lease that ran out.
type inbox struct {
	mu     sync.Mutex
	body   []byte
	leases int
	acks   []int // the status of every ack
	acked  bool
}

func (in *inbox) serve(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if r.Method == http.MethodGet {
		if in.acked {
			_, _ = w.Write([]byte("[]"))
			return
		}
		in.leases++
		_ = json.NewEncoder(w).Encode([]map[string]any{{"id": "ev-pull", "lease": fmt.Sprint("ls-", in.leases), "attempts": in.leases, "message": json.RawMessage(in.body)}})
		return
	}
	var ack struct{ Lease string }
	_ = json.NewDecoder(r.Body).Decode(&ack)
	status := http.StatusOK
	if len(in.acks) == 0 || ack.Lease != fmt.Sprint("ls-", in.leases) {
		status = http.StatusConflict
	} else {
		in.acked = true
	}
	in.acks = append(in.acks, status)
	w.WriteHeader(status)
}

func TestThePullerTakesAnItemOnceAndAcknowledgesItsRedelivery(t *testing.T) {
	hub := newFakeHub(t)
	sim, err := deptsim.New(deptsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	in := &inbox{body: envelope(t, sub{id: "ev-pull", subcase: "sc_pull", dept: "tax", callback: hub.callback("sc_pull")})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/departments/tax/inbox", in.serve)
	mux.HandleFunc("/api/v1/departments/tax/inbox/ev-pull/ack", in.serve)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- (&deptsim.Puller{Hub: srv.URL, Department: "tax", Sim: sim, Interval: 10 * time.Millisecond}).Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		in.mu.Lock()
		acked := in.acked
		in.mu.Unlock()
		if acked || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	waitIdle(t, sim)
	in.mu.Lock()
	defer in.mu.Unlock()
	if !reflect.DeepEqual(in.acks, []int{http.StatusConflict, http.StatusOK}) || in.leases != 2 {
		t.Errorf("acks %v after %d leases: want the stale one 409 and the second lease's 200", in.acks, in.leases)
	}
	if got := hub.typesOf("sc_pull"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Errorf("events %v: want one set, the redelivery without a second effect", got)
	}
	if d := sim.Stats().Departments["tax"]; d.Received != 2 || d.Duplicates != 1 {
		t.Errorf("stats %+v: want the item received twice, once as a duplicate", d)
	}
}
