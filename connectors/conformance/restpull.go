package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"yjshub/hub/inbox"
)

// KindRestPull is the REST pull binding: the department's system polls the hub's inbox. The
// kit plays the hub's side of it, the inbox and the events endpoint, and the department's
// client is pointed at the kit.
const KindRestPull = "restpull"

// Check ids of the restpull kind, in the order of the report; the callback checks follow.
const (
	CheckPullPolls      = "pull-polls"
	CheckPullRequests   = "pull-requests"
	CheckPullAck        = "pull-ack"
	CheckPullRedelivery = "pull-redelivery"
)

// The hub's bounds of a poll (connectors/CONTRACT.md, "REST pull").
const (
	maxPollItems  = 100
	maxVisibility = 5 * time.Minute
)

// pullItem is one sub-case in the kit's inbox.
type pullItem struct {
	sent
	role        string
	lease       string    // the current lease; "" while pending
	leaseUntil  time.Time // when the current lease runs out
	attempts    int
	acked       bool
	ackedLease  int // the attempt whose lease was acknowledged
	staleFirst  bool
	staleAnswer bool // the first lease's ack was answered 409, as after a lease that ran out
}

// pullInbox plays the hub's inbox of one department: GET …/inbox leases, POST …/ack
// acknowledges, answering as hub/api does. The redelivered item's first ack is answered 409
// — its lease "ran out and the item was leased again" — and the item is handed out again
// under a new lease, so that the kit sees the department handle a redelivery.
type pullInbox struct {
	dept string

	mu        sync.Mutex
	items     []*pullItem
	polls     int
	foreign   []string // polls and acks for another department
	badPolls  []string // why a poll was not one the hub takes
	badAcks   []string // acks the hub would refuse (unknown item, stale or missing lease)
	lastPoll  time.Time
	firstPoll time.Time
}

func (p *pullInbox) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/departments/{dept}/inbox", p.serveLease)
	mux.HandleFunc("POST /api/v1/departments/{dept}/inbox/{id}/ack", p.serveAck)
}

// hubError answers as hub/api's writeError does.
func hubError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"status": status, "code": code, "message": message}})
	_, _ = w.Write(b)
}

func (p *pullInbox) ownDepartment(w http.ResponseWriter, r *http.Request) bool {
	if d := r.PathValue("dept"); d != p.dept {
		p.mu.Lock()
		p.foreign = append(p.foreign, fmt.Sprintf("%s %s", r.Method, r.URL.Path))
		p.mu.Unlock()
		hubError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no inbox of department %q here: the kit serves %q", d, p.dept))
		return false
	}
	return true
}

func (p *pullInbox) serveLease(w http.ResponseWriter, r *http.Request) {
	if !p.ownDepartment(w, r) {
		return
	}
	q := r.URL.Query()
	max, visibility := 10, 30*time.Second
	var problems []string
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPollItems {
			problems = append(problems, fmt.Sprintf("max=%q is not a number from 1 to %d", v, maxPollItems))
		}
		max = n
	}
	if v := q.Get("visibility"); v != "" {
		d, err := parseVisibility(v)
		if err != nil || d <= 0 || d > maxVisibility {
			problems = append(problems, fmt.Sprintf("visibility=%q is not a duration (or seconds) up to %v", v, maxVisibility))
		}
		visibility = d
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	p.lastPoll = now
	if p.firstPoll.IsZero() {
		p.firstPoll = now
	}
	if len(problems) > 0 {
		p.badPolls = append(p.badPolls, strings.Join(problems, "; "))
		hubError(w, http.StatusUnprocessableEntity, "unprocessable", strings.Join(problems, "; "))
		return
	}
	out := []inbox.Item{}
	for _, it := range p.items {
		if len(out) == max {
			break
		}
		if it.acked || (it.lease != "" && now.Before(it.leaseUntil)) {
			continue
		}
		it.attempts++
		it.lease = fmt.Sprintf("ls_%s_%d", randomHex(6), it.attempts)
		it.leaseUntil = now.Add(visibility)
		out = append(out, inbox.Item{ID: it.id, Lease: it.lease, LeaseUntil: it.leaseUntil.UTC(), Attempts: it.attempts, Message: it.raw})
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func parseVisibility(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func (p *pullInbox) serveAck(w http.ResponseWriter, r *http.Request) {
	if !p.ownDepartment(w, r) {
		return
	}
	var ack struct {
		Lease string `json:"lease"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err := json.Unmarshal(body, &ack); err != nil || ack.Lease == "" {
		p.mu.Lock()
		p.badAcks = append(p.badAcks, "an ack without {\"lease\": …}")
		p.mu.Unlock()
		hubError(w, http.StatusUnprocessableEntity, "unprocessable", "the ack names no lease: give the lease the item was received under")
		return
	}
	id := r.PathValue("id")
	p.mu.Lock()
	defer p.mu.Unlock()
	var it *pullItem
	for _, c := range p.items {
		if c.id == id {
			it = c
		}
	}
	switch {
	case it == nil:
		p.badAcks = append(p.badAcks, fmt.Sprintf("an ack of %q, an item never handed out", id))
		hubError(w, http.StatusNotFound, "not_found", "no such item")
		return
	case it.acked && ack.Lease == it.lease:
		// Acknowledged before: answered as the first time.
	case ack.Lease != it.lease:
		p.badAcks = append(p.badAcks, fmt.Sprintf("an ack of the %s item under a lease it was not handed out with (attempt %d)", it.role, it.attempts))
		hubError(w, http.StatusConflict, "conflict", "the lease is not the item's current one")
		return
	case it.staleFirst && !it.staleAnswer:
		// The redelivery the kit plays: as if this lease had run out before the ack.
		it.staleAnswer = true
		it.lease, it.leaseUntil = it.lease+"-expired", time.Time{}
		hubError(w, http.StatusConflict, "conflict", "the lease is not the item's current one (it ran out and the item will be leased again)")
		return
	default:
		it.acked, it.ackedLease = true, it.attempts
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "state": "acked"})
}

// settled tells whether every item is acknowledged.
func (p *pullInbox) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range p.items {
		if !it.acked {
			return false
		}
	}
	return true
}

// runPull offers the department two sub-cases in the kit's inbox, one of them redelivered,
// and waits for the department's client to lease, acknowledge and report on them.
func (k *kit) runPull(ctx context.Context) error {
	in := &pullInbox{dept: k.cfg.Department}
	h, err := startHub(k.cfg, in.routes)
	if err != nil {
		return err
	}
	defer h.close()
	k.hub, k.callbackBase = h, h.url
	k.report.Target = h.url + "/api/v1/departments/" + k.cfg.Department + "/inbox"
	valid, again := k.subcase("valid"), k.subcase("redelivered")
	in.mu.Lock()
	in.items = []*pullItem{{sent: valid, role: "valid"}, {sent: again, role: "redelivered", staleFirst: true}}
	in.mu.Unlock()

	k.progress.printf("     the inbox of department %s is served at %s", k.cfg.Department, k.report.Target)
	k.progress.printf("     point the department's client at %s (base URL of the hub's API) and start it", h.url)
	wctx, cancel := context.WithTimeout(ctx, k.cfg.CallbackWait)
	defer cancel()
	stop := k.waiting("the department's client to poll, acknowledge and report", k.cfg.CallbackWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if h.settledQuiet(valid.subcaseID) && in.settled() {
			break
		}
		select {
		case <-wctx.Done():
			break wait
		case <-tick.C:
		}
	}
	stop()
	k.judgePull(in, valid, again)
	return nil
}

func (k *kit) judgePull(in *pullInbox, valid, again sent) {
	in.mu.Lock()
	polls, foreign, badPolls, badAcks := in.polls, in.foreign, in.badPolls, in.badAcks
	v, r := *in.items[0], *in.items[1]
	in.mu.Unlock()
	wait := k.cfg.CallbackWait

	k.check(Check{ID: CheckPullPolls, Title: "the department's client polls its own inbox", Required: true}, func() (string, string) {
		switch {
		case polls == 0 && len(foreign) > 0:
			return Fail, fmt.Sprintf("%d requests, none for department %s's inbox: %s", len(foreign), k.cfg.Department, firstOf(foreign))
		case polls == 0:
			return Fail, fmt.Sprintf("no poll within %v", wait)
		default:
			return Pass, fmt.Sprintf("%d polls", polls)
		}
	})
	k.check(Check{ID: CheckPullRequests, Title: "every poll is one the hub takes (max 1–100, visibility up to 5m)", Required: true}, func() (string, string) {
		switch {
		case polls == 0:
			return Fail, "nothing to judge: no poll arrived"
		case len(badPolls) > 0:
			return Fail, fmt.Sprintf("%d of %d polls answered 422: %s", len(badPolls), polls, firstOf(badPolls))
		default:
			return Pass, fmt.Sprintf("%d polls, all taken", polls)
		}
	})
	k.check(Check{ID: CheckPullAck, Title: "the item is acknowledged under the lease it came with", Required: true}, func() (string, string) {
		switch {
		case v.attempts == 0:
			return Fail, "nothing to judge: the item was never leased"
		case !v.acked && len(badAcks) > 0:
			return Fail, "not acknowledged; the hub would refuse " + firstOf(badAcks)
		case !v.acked:
			return Fail, fmt.Sprintf("leased %d times, never acknowledged within %v: the hub hands it out again and again, then dead-letters it", v.attempts, wait)
		case len(badAcks) > 0:
			return Fail, "acknowledged, but the hub would refuse " + firstOf(badAcks)
		default:
			return Pass, fmt.Sprintf("acknowledged after %d lease(s)", v.attempts)
		}
	})

	cbs := k.judgeCallbacks(valid.subcaseID, answer{status: http.StatusOK})[:3]
	logs, calls := k.hub.snapshot()
	k.check(Check{ID: CheckPullRedelivery, Title: "an item handed out again is acknowledged under its new lease and acted on once", Required: true}, func() (string, string) {
		received := 0
		for _, c := range calls {
			if c.subcase == again.subcaseID && c.status == http.StatusConflict && strings.HasPrefix(c.problem, "received ") {
				received++
			}
		}
		switch {
		case r.attempts == 0:
			return Fail, "nothing to judge: the item was never leased"
		case !r.staleAnswer && !r.acked && r.attempts == 1:
			return Fail, fmt.Sprintf("never acknowledged within %v", wait)
		case !r.acked:
			return Fail, fmt.Sprintf("handed out %d times, never acknowledged under a current lease within %v", r.attempts, wait)
		case received > 0:
			return Fail, "the redelivered item was received a second time, under a new event id: the department must treat the same id as the same delivery"
		case len(logs[again.subcaseID].events) == 0:
			return Fail, "acknowledged, but the department reported nothing on it"
		default:
			return Pass, fmt.Sprintf("acknowledged under lease %d of %d, %d events, none repeated", r.ackedLease, r.attempts, len(logs[again.subcaseID].events))
		}
	})
	for _, c := range cbs {
		k.add(c)
	}
}
