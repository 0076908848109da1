package restpush_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/connectors/restpush"
	"yjshub/connectors/signing"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// onEachBackend runs test once per backend, in parallel subtests.
func onEachBackend(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	connectortest.OnEach(t, connectortest.Backends(t, "yjshub-restpush-test"), func(t *testing.T, be connectortest.Backend) {
		test(t, &harness{Rig: connectortest.NewRig(t, be.Open(t), 0)})
	})
}

// harness is the shared rig, with the order of the recorder's calls and a hook into them.
type harness struct {
	*connectortest.Rig
	// onDelivered, when set (before Start), is called before a delivery is recorded, and its
	// error returned instead of recording.
	onDelivered func(d restpush.Delivery) error

	mu    sync.Mutex
	order []string // "delivered:<id>" and "failed:<id>" in call order
}

// config is a configuration for the department at endpoint with waits short
// enough for tests.
func (h *harness) config(endpoint string) restpush.Config {
	return restpush.Config{
		Department: h.Dept,
		Endpoint:   endpoint,
		Timeout:    5 * time.Second,
		Retry:      delivery.RetryConfig{InitialInterval: 5 * time.Millisecond, MaxInterval: 50 * time.Millisecond},
	}
}

func (h *harness) connector(cfg restpush.Config) *restpush.Connector {
	h.T.Helper()
	c, err := restpush.New(cfg, h.Bus, h.recorder(), restpush.WithLogger(h.Log))
	if err != nil {
		h.T.Fatalf("New: %v", err)
	}
	return c
}

// recorder records into the rig's recorder, through onDelivered, keeping the calls' order.
func (h *harness) recorder() restpush.Recorder {
	called := func(what string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.order = append(h.order, what)
	}
	return restpush.RecorderFuncs{
		DeliveredFunc: func(ctx context.Context, d restpush.Delivery) error {
			if h.onDelivered != nil {
				if err := h.onDelivered(d); err != nil {
					return err
				}
			}
			called("delivered:" + d.EventID) // first, so that whoever sees the delivery sees it
			return h.Rec.Delivered(ctx, d)
		},
		FailedFunc: func(ctx context.Context, f restpush.Failure) error {
			called("failed:" + f.EventID)
			return h.Rec.Failed(ctx, f)
		},
		RetryingFunc: func(ctx context.Context, r connector.Retry) error {
			called(fmt.Sprintf("retrying:%s:%d:%s", r.EventID, r.Attempts, r.Reason))
			if r.NextAt.Before(r.At) || r.SubcaseID == "" {
				return fmt.Errorf("a retry note with its next attempt %v before %v, or no sub-case %q", r.NextAt, r.At, r.SubcaseID)
			}
			return nil
		},
	}
}

func (h *harness) snapshot() (d []restpush.Delivery, f []restpush.Failure, order []string) {
	h.mu.Lock()
	order = slices.Clone(h.order)
	h.mu.Unlock()
	return h.Rec.Deliveries(), h.Rec.Failures(), order
}

func (h *harness) counts() (delivered, failed int) {
	return len(h.Rec.Deliveries()), len(h.Rec.Failures())
}

// waitRetried waits for what retries bring about: the department's first attempt by the rig's
// deadline (the connector joins its group first), then cond within connectortest.RetryWithin,
// so that a broken retry loop fails the test in seconds.
func (h *harness) waitRetried(d *department, what string, cond func() bool) {
	h.T.Helper()
	h.WaitFor("the first attempt", func() bool { return d.count() > 0 })
	h.WaitWithin(connectortest.RetryWithin, what, cond)
}

// defaultGroup is the group a connector joins when Config.GroupID is empty.
func (h *harness) defaultGroup() string { return "yjshub-restpush-" + h.Dept }

// subcase builds a dispatched sub-case envelope for the department.
func (h *harness) subcase(caseID string, form map[string]any) (id string, raw []byte) {
	h.T.Helper()
	id, _, raw = h.Dispatched(caseID, form)
	return id, raw
}

// department is a department's back office: it records every request and
// answers with respond (200 when nil).
type department struct {
	srv     *httptest.Server
	mu      sync.Mutex
	seen    []request
	respond func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
}

type request struct {
	at     time.Time
	body   []byte
	header http.Header
	url    string
	user   string
	pass   string
}

func newDepartment(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *department {
	d := &department{respond: respond}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body first also makes the server cancel r.Context()
		// when the client goes away.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("department: read body: %v", err)
		}
		user, pass, _ := r.BasicAuth()
		d.mu.Lock()
		d.seen = append(d.seen, request{at: time.Now(), body: body, header: r.Header.Clone(),
			url: r.URL.String(), user: user, pass: pass})
		n := len(d.seen)
		d.mu.Unlock()
		if d.respond != nil {
			d.respond(n, w, r)
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *department) requests() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.seen)
}

func (d *department) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// keys returns the Idempotency-Key of every request, in order.
func (d *department) keys() []string {
	var ks []string
	for _, r := range d.requests() {
		ks = append(ks, r.header.Get("Idempotency-Key"))
	}
	return ks
}

func TestPostsTheEnvelopeBytesWithItsIDAsIdempotencyKey(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, nil)
		cfg := h.config(d.srv.URL + "/api/subcases")
		cfg.Headers = map[string]string{"X-Api-Key": "key-S3cr3t"}
		c := h.connector(cfg)

		// Odd spacing, key order, escapes and an unknown attribute: a
		// connector that re-encoded the envelope would change them.
		const id = "0193c2a4-7e1f-7c3a-9d2e-5b6a7c8d9e0f"
		raw := []byte(`{ "type":"cn.yjshub.subcase.dispatched","specversion":"1.0","id":"` + id + `",` +
			`"source":"yjshub","subject":"sc_01J","time":"2026-11-27T09:30:00.123Z","x-extension":true,` +
			`"datacontenttype":"application/json","data":{"case_id":"cs_01J","subcase_id":"sc_01J",` +
			`"form":{"SQRMC":"\u8fde\u4e91\u6e2f","TYSHXYDM":"91350100M000100Y43","amount":1.50}} }` + "\n")
		h.Publish("cs_01J", raw)
		h.Start(c.Run)
		h.WaitFor("one delivery", func() bool { n, _ := h.counts(); return n == 1 })

		reqs := d.requests()
		if len(reqs) != 1 {
			t.Fatalf("department saw %d requests, want 1", len(reqs))
		}
		got := reqs[0]
		if !bytes.Equal(got.body, raw) {
			t.Errorf("body differs from the envelope as published:\n got %q\nwant %q", got.body, raw)
		}
		if k := got.header.Get("Idempotency-Key"); k != id {
			t.Errorf("Idempotency-Key = %q, want the envelope id %q", k, id)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/cloudevents+json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if k := got.header.Get("X-Api-Key"); k != "key-S3cr3t" {
			t.Errorf("X-Api-Key = %q, want the configured header", k)
		}
		if got.url != "/api/subcases" {
			t.Errorf("posted to %q, want /api/subcases", got.url)
		}
		deliveries, failures, _ := h.snapshot()
		want := restpush.Delivery{Connector: "restpush:" + h.Dept, EventID: id, CaseID: "cs_01J", SubcaseID: "sc_01J", Department: h.Dept,
			Status: 200, Attempts: 1}
		dl := deliveries[0]
		if dl.At.IsZero() {
			t.Errorf("Delivery.At is zero")
		}
		dl.At = time.Time{}
		if dl != want {
			t.Errorf("Delivery = %+v\nwant       %+v", dl, want)
		}
		if len(failures) != 0 {
			t.Errorf("failures = %+v, want none", failures)
		}
		s := c.Stats()
		if s.Department != h.Dept || s.Delivered != 1 || s.Retries != 0 || s.Failed != 0 ||
			s.BreakerState != "closed" || s.LastSuccess.IsZero() || !s.LastError.IsZero() {
			t.Errorf("Stats = %+v", s)
		}
		h.WaitFor("the offset committed by the default group", func() bool { return h.Lag(h.defaultGroup()) == 0 })
	})
}

func TestServerErrorsAreRetriedWithTheSameIdempotencyKey(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				http.Error(w, "busy", []int{http.StatusServiceUnavailable, http.StatusInternalServerError}[n-1])
			}
		})
		c := h.connector(h.config(d.srv.URL))
		id, raw := h.subcase("cs-1", map[string]any{"SQRMC": "海韵餐饮"})
		h.Publish("cs-1", raw)
		h.Start(c.Run)
		h.waitRetried(d, "one delivery", func() bool { n, _ := h.counts(); return n == 1 })

		if keys := d.keys(); !slices.Equal(keys, []string{id, id, id}) {
			t.Errorf("Idempotency-Keys = %q, want %q three times", keys, id)
		}
		deliveries, _, _ := h.snapshot()
		if len(deliveries) != 1 || deliveries[0].Attempts != 3 || deliveries[0].Status != 200 {
			t.Errorf("deliveries = %+v, want one with 3 attempts and status 200", deliveries)
		}
		s := c.Stats()
		if s.Delivered != 1 || s.Retries != 2 || s.Failed != 0 || s.BreakerState != "closed" {
			t.Errorf("Stats = %+v, want 1 delivered after 2 retries, breaker closed", s)
		}
		if !strings.HasPrefix(s.LastErrorMessage, "HTTP 500 Internal Server Error") {
			t.Errorf("LastErrorMessage = %q, want the last failure's status", s.LastErrorMessage)
		}
		// Each failed attempt is noted for the case view before the next, then the delivery.
		_, _, order := h.snapshot()
		if want := []string{"retrying:" + id + ":1:HTTP 503", "retrying:" + id + ":2:HTTP 500", "delivered:" + id}; len(order) != 3 ||
			!strings.HasPrefix(order[0], want[0]) || !strings.HasPrefix(order[1], want[1]) || order[2] != want[2] {
			t.Errorf("recorder calls %q, want %q", order, want)
		}
	})
}

func TestClientErrorIsPermanentAndDoesNotTripTheBreaker(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"form field SQRMC is required"}`)
		})
		cfg := h.config(d.srv.URL)
		cfg.Breaker.ConsecutiveFailures = 2 // three 4xx in a row would open it if they counted
		c := h.connector(cfg)
		var ids []string
		for range 3 {
			id, raw := h.subcase("cs-bad", map[string]any{})
			ids = append(ids, id)
			h.Publish("cs-bad", raw)
		}
		h.Start(c.Run)
		h.WaitFor("three failures", func() bool { _, n := h.counts(); return n == 3 })

		if got := d.keys(); !slices.Equal(got, ids) {
			t.Errorf("department saw keys %q, want each message once: %q", got, ids)
		}
		_, failures, _ := h.snapshot()
		for i, f := range failures {
			if f.EventID != ids[i] || f.Status != 400 || f.Attempts != 1 ||
				f.Reason != "HTTP 400 Bad Request: form field SQRMC is required" {
				t.Errorf("failure %d = %+v", i, f.Delivery)
				t.Errorf("reason %q", f.Reason)
			}
			if f.Topic != h.Topic || len(f.Payload) == 0 {
				t.Errorf("failure %d does not locate the message: topic %q, %d payload bytes", i, f.Topic, len(f.Payload))
			}
		}
		s := c.Stats()
		if s.BreakerState != "closed" || s.Failed != 3 || s.Retries != 0 || s.Delivered != 0 {
			t.Errorf("Stats = %+v, want 3 failed, no retries, breaker closed", s)
		}
		h.WaitFor("the offsets committed", func() bool { return h.Lag(h.defaultGroup()) == 0 })
	})
}

func TestAConnectionResetIsRetried(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				connectortest.ResetConnection(w)
			}
		})
		c := h.connector(h.config(d.srv.URL))
		id, raw := h.subcase("cs-rst", nil)
		h.Publish("cs-rst", raw)
		h.Start(c.Run)
		h.waitRetried(d, "one delivery", func() bool { n, _ := h.counts(); return n == 1 })

		if keys := d.keys(); !slices.Equal(keys, []string{id, id}) {
			t.Errorf("Idempotency-Keys = %q, want %q twice", keys, id)
		}
		deliveries, _, _ := h.snapshot()
		if deliveries[0].Attempts != 2 {
			t.Errorf("Attempts = %d, want 2", deliveries[0].Attempts)
		}
		s := c.Stats()
		if !strings.HasPrefix(s.LastErrorMessage, "connection reset") && !strings.HasPrefix(s.LastErrorMessage, "connection closed (EOF)") {
			t.Errorf("LastErrorMessage = %q, want a connection reset", s.LastErrorMessage)
		}
	})
}

func TestATimeoutIsRetried(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(n int, _ http.ResponseWriter, r *http.Request) {
			if n == 1 {
				<-r.Context().Done() // answers only once the connector has given up on it
			}
		})
		cfg := h.config(d.srv.URL)
		cfg.Timeout = 100 * time.Millisecond
		c := h.connector(cfg)
		id, raw := h.subcase("cs-slow", nil)
		h.Publish("cs-slow", raw)
		h.Start(c.Run)
		h.waitRetried(d, "one delivery", func() bool { n, _ := h.counts(); return n == 1 })

		reqs := d.requests()
		if len(reqs) != 2 || reqs[0].header.Get("Idempotency-Key") != id || reqs[1].header.Get("Idempotency-Key") != id {
			t.Fatalf("department saw %d requests (keys %q), want 2 with key %q", len(reqs), d.keys(), id)
		}
		if s := c.Stats(); !strings.HasPrefix(s.LastErrorMessage, "timeout: ") {
			t.Errorf("LastErrorMessage = %q, want a timeout", s.LastErrorMessage)
		}
	})
}

var breakerChange = regexp.MustCompile(`breaker state changed".* from=(\S+) to=(\S+)`)

func TestBreakerOpensOnServerErrorsAndClosesThroughHalfOpen(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		// Three failures open the breaker; the first half-open probe fails
		// too, the second succeeds.
		const failing = 4
		d := newDepartment(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= failing {
				w.WriteHeader(http.StatusBadGateway)
			}
		})
		cfg := h.config(d.srv.URL)
		cfg.Retry = delivery.RetryConfig{InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
		cfg.Breaker = restpush.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: 200 * time.Millisecond, HalfOpenRequests: 1}
		c := h.connector(cfg)
		id, raw := h.subcase("cs-down", nil)
		h.Publish("cs-down", raw)
		h.Start(c.Run)

		h.waitRetried(d, "the breaker to open", func() bool { return c.Stats().BreakerState == "open" })
		opened := time.Now()
		if n := d.count(); n != 3 {
			t.Errorf("breaker opened after %d requests, want 3", n)
		}
		h.WaitWithin(connectortest.RetryWithin, "one delivery", func() bool { n, _ := h.counts(); return n == 1 })
		closed := time.Now()
		if s := c.Stats().BreakerState; s != "closed" {
			t.Errorf("breaker %s after the delivery, want closed", s)
		}

		reqs := d.requests()
		if len(reqs) != failing+1 {
			t.Fatalf("department saw %d requests, want %d", len(reqs), failing+1)
		}
		for i, r := range reqs {
			if k := r.header.Get("Idempotency-Key"); k != id {
				t.Errorf("request %d: Idempotency-Key %q, want %q", i+1, k, id)
			}
		}
		// While open, nothing reaches the department.
		for _, i := range []int{3, 4} {
			if gap := reqs[i].at.Sub(reqs[i-1].at); gap < cfg.Breaker.OpenTimeout {
				t.Errorf("request %d came %v after request %d, within the %v the breaker stays open",
					i+1, gap, i, cfg.Breaker.OpenTimeout)
			}
		}
		var changes []string
		for _, m := range breakerChange.FindAllStringSubmatch(h.Logs.String(), -1) {
			changes = append(changes, m[1]+"→"+m[2])
		}
		want := []string{"closed→open", "open→half-open", "half-open→open", "open→half-open", "half-open→closed"}
		if !slices.Equal(changes, want) {
			t.Errorf("breaker went %q, want %q", changes, want)
		}
		deliveries, _, _ := h.snapshot()
		if deliveries[0].Attempts != failing+1 {
			t.Errorf("Attempts = %d, want %d", deliveries[0].Attempts, failing+1)
		}
		t.Logf("breaker opened %v after the first request; closed %v after opening (%v after the last failure)",
			opened.Sub(reqs[0].at).Round(time.Millisecond), closed.Sub(opened).Round(time.Millisecond),
			reqs[failing].at.Sub(reqs[failing-1].at).Round(time.Millisecond))
	})
}

func TestAPoisonMessageIsRecordedAndDoesNotBlockThePartition(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, nil)
		c := h.connector(h.config(d.srv.URL))
		poison := []byte(`{"specversion":"1.0","id":`)
		noID := []byte(`{"specversion":"1.0","type":"cn.yjshub.subcase.dispatched","data":{}}`)
		id, raw := h.subcase("cs-p", nil)
		h.Publish("cs-p", poison, noID, raw) // one key: one partition, in this order
		h.Start(c.Run)
		h.WaitFor("the message after the poison to be delivered", func() bool { n, _ := h.counts(); return n == 1 })

		_, failures, order := h.snapshot()
		if want := []string{"failed:", "failed:", "delivered:" + id}; !slices.Equal(order, want) {
			t.Errorf("recorded %q, want %q", order, want)
		}
		for i, want := range [][]byte{poison, noID} {
			f := failures[i]
			if f.Reason != "undecodable message" || f.Status != 0 || f.Department != h.Dept ||
				!bytes.Equal(f.Payload, want) || f.Topic != h.Topic || f.At.IsZero() {
				t.Errorf("failure %d = %+v (payload %q)", i, f, f.Payload)
			}
		}
		if keys := d.keys(); !slices.Equal(keys, []string{id}) {
			t.Errorf("department saw keys %q, want only %q", keys, id)
		}
		if s := c.Stats(); s.Failed != 2 || s.Delivered != 1 || s.LastErrorMessage != "undecodable message" {
			t.Errorf("Stats = %+v", s)
		}
		h.WaitFor("all three offsets committed", func() bool { return h.Lag(h.defaultGroup()) == 0 })
	})
}

func TestTheOffsetIsCommittedOnlyAfterTheDeliveryIsRecorded(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, nil)
		c := h.connector(h.config(d.srv.URL))
		id, raw := h.subcase("cs-rec", nil)
		h.Publish("cs-rec", raw)

		errStore := errors.New("store unavailable")
		var calls atomic.Int32
		var lagDuring []int64
		h.onDelivered = func(restpush.Delivery) error {
			// Called on the handler's goroutine, before the commit.
			lagDuring = append(lagDuring, h.Lag(h.defaultGroup()))
			if calls.Add(1) == 1 {
				return errStore
			}
			return nil
		}
		first := h.Start(c.Run)
		err := h.Wait(first)
		if !errors.Is(err, errStore) {
			t.Fatalf("first Run returned %v, want the recorder's error", err)
		}
		if n, _ := h.counts(); n != 0 || c.Stats().Delivered != 0 {
			t.Fatalf("a delivery was counted although recording it failed")
		}
		if lag := h.Lag(h.defaultGroup()); lag != 1 {
			t.Fatalf("after the recorder failed the lag is %d, want 1 (not committed)", lag)
		}

		h.Start(c.Run)
		h.WaitFor("the redelivered message to be recorded", func() bool { n, _ := h.counts(); return n == 1 })
		if keys := d.keys(); !slices.Equal(keys, []string{id, id}) {
			t.Errorf("department saw keys %q, want %q twice (posted again after the redelivery)", keys, id)
		}
		if !slices.Equal(lagDuring, []int64{1, 1}) {
			t.Errorf("lag while recording = %v, want [1 1]: the offset must not be committed before", lagDuring)
		}
		h.WaitFor("the offset committed after recording", func() bool { return h.Lag(h.defaultGroup()) == 0 })
	})
}

func TestMessagesOfOneCaseArriveInOrder(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n%4 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable) // retries must not reorder
			}
		})
		c := h.connector(h.config(d.srv.URL))
		const cases, perCase = 3, 5
		want := make(map[string][]string) // case -> keys in publish order
		caseOf := make(map[string]string) // key -> case
		for i := range perCase {
			for k := range cases {
				caseID := fmt.Sprintf("cs-%d", k)
				id, raw := h.subcase(caseID, map[string]any{"seq": i})
				want[caseID] = append(want[caseID], id)
				caseOf[id] = caseID
				h.Publish(caseID, raw)
			}
		}
		h.Start(c.Run)
		h.waitRetried(d, "every delivery", func() bool { n, _ := h.counts(); return n == cases*perCase })

		posted := make(map[string][]string) // case -> keys in posting order, repeats collapsed
		for _, k := range d.keys() {
			cs := caseOf[k]
			if l := posted[cs]; len(l) == 0 || l[len(l)-1] != k {
				posted[cs] = append(posted[cs], k)
			}
		}
		deliveries, _, _ := h.snapshot()
		recorded := make(map[string][]string)
		for _, dl := range deliveries {
			recorded[dl.CaseID] = append(recorded[dl.CaseID], dl.EventID)
		}
		for cs, keys := range want {
			if !slices.Equal(posted[cs], keys) {
				t.Errorf("case %s posted as %q, want %q (each once, retries in place)", cs, posted[cs], keys)
			}
			if !slices.Equal(recorded[cs], keys) {
				t.Errorf("case %s recorded as %q, want %q", cs, recorded[cs], keys)
			}
		}
		if s := c.Stats(); s.Retries == 0 {
			t.Errorf("no retries happened; the test would not notice reordering by retries")
		}
	})
}

func TestNoSecretOrPersonalDataInLogsOrErrors(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		const (
			password = "pw-S3cr3t"
			token    = "tok-S3cr3t"
			apiKey   = "key-S3cr3t"
			idNumber = "11010519491231002X"
			mobile   = "13812345678"
		)
		var badID, flakyID atomic.Value
		var flakyN atomic.Int32
		d := newDepartment(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("Idempotency-Key") {
			case badID.Load():
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				fmt.Fprintf(w, `{"message":"证件号码 %s 与手机 %s 不符, key %s"}`, idNumber, mobile, apiKey)
			case flakyID.Load():
				// Reset, then an error page echoing the form, then accepted.
				switch flakyN.Add(1) {
				case 1:
					connectortest.ResetConnection(w)
				case 2:
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintf(w, "panic: bad form SFZHM=%s LXDH=%s X-Api-Key=%s", idNumber, mobile, apiKey)
				}
			}
		})
		u := strings.Replace(d.srv.URL, "http://", "http://hub:"+password+"@", 1) + "/intake?token=" + token
		cfg := h.config(u)
		cfg.Headers = map[string]string{"X-Api-Key": apiKey}
		c := h.connector(cfg)

		form := map[string]any{"SQRXM": "张三", "SFZHM": idNumber, "LXDH": mobile}
		bad, rawBad := h.subcase("cs-pii", form)
		flaky, rawFlaky := h.subcase("cs-pii", form)
		badID.Store(bad)
		flakyID.Store(flaky)
		errStore := errors.New("store unavailable")
		var calls atomic.Int32
		h.onDelivered = func(restpush.Delivery) error {
			if calls.Add(1) == 1 {
				return errStore // so that Run returns an error to inspect
			}
			return nil
		}
		h.Publish("cs-pii", rawBad, rawFlaky)
		run := h.Start(c.Run)
		h.waitRetried(d, "the flaky sub-case's delivery to be recorded", func() bool { return calls.Load() > 0 })
		runErr := h.Wait(run)
		if !errors.Is(runErr, errStore) {
			t.Fatalf("Run returned %v, want the recorder's error", runErr)
		}

		// The secrets did travel: a test that never sent them proves nothing.
		reqs := d.requests()
		if len(reqs) < 4 {
			t.Fatalf("department saw %d requests, want at least 4", len(reqs))
		}
		if r := reqs[0]; r.header.Get("X-Api-Key") != apiKey || r.pass != password ||
			!strings.Contains(r.url, token) || !bytes.Contains(r.body, []byte(idNumber)) {
			t.Fatalf("department did not receive the credentials and the form: %+v", r)
		}

		_, failures, _ := h.snapshot()
		if len(failures) != 1 {
			t.Fatalf("failures = %d, want 1", len(failures))
		}
		wantReason := "HTTP 422 Unprocessable Entity: 证件号码 ****************** 与手机 *********** 不符, key xxxxx"
		if failures[0].Reason != wantReason {
			t.Errorf("reason = %q\nwant     %q", failures[0].Reason, wantReason)
		}
		logs := h.Logs.String()
		if !strings.Contains(logs, "attempt failed, will retry") || !strings.Contains(logs, "endpoint="+d.srv.URL+"/intake") {
			t.Fatalf("the logs lack the retries or the redacted endpoint, so they prove nothing:\n%s", logs)
		}
		for _, where := range []struct{ name, text string }{
			{"logs", logs},
			{"Run's error", runErr.Error()},
			{"failure reason", failures[0].Reason},
			{"Stats().LastErrorMessage", c.Stats().LastErrorMessage},
		} {
			for _, s := range []string{password, token, apiKey, idNumber, mobile} {
				if strings.Contains(where.text, s) {
					t.Errorf("%s contain %q:\n%s", where.name, s, where.text)
				}
			}
		}
	})
}

func TestStoppingWhileRetryingLeavesTheMessageUncommitted(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		c := h.connector(h.config(d.srv.URL))
		_, raw := h.subcase("cs-stop", nil)
		h.Publish("cs-stop", raw)
		run := h.Start(c.Run)
		h.waitRetried(d, "two attempts", func() bool { return d.count() >= 2 })
		if err := h.Stop(run); err != nil {
			t.Errorf("Run stopped mid-retry returned %v, want nil", err)
		}
		if n, f := h.counts(); n != 0 || f != 0 {
			t.Errorf("recorded %d deliveries and %d failures, want none", n, f)
		}
		if lag := h.Lag(h.defaultGroup()); lag != 1 {
			t.Errorf("lag = %d after stopping, want 1: the message must stay uncommitted", lag)
		}
		if s := c.Stats(); s.InFlight != 0 {
			t.Errorf("InFlight = %d after Run returned, want 0", s.InFlight)
		}
	})
}

func TestAMessageIsGivenUpAfterMaxAttempts(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		d := newDepartment(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		cfg := h.config(d.srv.URL)
		cfg.Retry.MaxAttempts = 3
		c := h.connector(cfg)
		id, raw := h.subcase("cs-max", nil)
		h.Publish("cs-max", raw)
		h.Start(c.Run)
		h.waitRetried(d, "the message given up", func() bool { _, n := h.counts(); return n == 1 })

		_, failures, _ := h.snapshot()
		f := failures[0]
		if f.EventID != id || f.Attempts != 3 || f.Status != 503 ||
			f.Reason != "gave up after 3 attempts: HTTP 503 Service Unavailable" {
			t.Errorf("failure = %+v", f.Delivery)
			t.Errorf("reason %q", f.Reason)
		}
		if n := d.count(); n != 3 {
			t.Errorf("department saw %d requests, want 3", n)
		}
		h.WaitFor("the offset committed", func() bool { return h.Lag(h.defaultGroup()) == 0 })
	})
}

// BenchmarkPush measures deliveries per second from the embedded broker to a
// local department: one Run, one partition's worth of ordering (a single
// key), a department that answers at once.
func BenchmarkPush(b *testing.B) {
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	bs, err := bus.Open(ctx, bus.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	dept := "bench-" + hubtest.RandomHex(4)
	topic := bus.SubcaseTopic(dept)
	if err := bs.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	var delivered atomic.Int64
	c, err := restpush.New(restpush.Config{Department: dept, Endpoint: srv.URL}, bs,
		restpush.RecorderFuncs{DeliveredFunc: func(context.Context, restpush.Delivery) error {
			delivered.Add(1)
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	msg := func(i int) bus.Message {
		env, _ := event.New(fmt.Sprintf("ev-%d", i), event.TypeSubcaseDispatched, "sc", time.Now(),
			event.SubcaseDispatched{CaseID: "cs-bench", SubcaseID: "sc", Department: dept,
				Form: map[string]any{"SQRMC": "连云港海韵餐饮管理有限公司", "TYSHXYDM": "91350100M000100Y43"}})
		raw, _ := json.Marshal(env)
		return bus.Message{Topic: topic, Key: []byte("cs-bench"), Value: raw}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() { stop(); <-done }()

	waitDelivered := func(n int64) {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for delivered.Load() < n {
			select {
			case err := <-done:
				b.Fatalf("Run returned: %v", err)
			case <-ctx.Done():
				b.Fatalf("%d of %d delivered before the deadline", delivered.Load(), n)
			case <-tick.C:
			}
		}
	}
	// Warm up: join the group before the clock runs.
	if err := bs.Publish(ctx, msg(-1)); err != nil {
		b.Fatal(err)
	}
	waitDelivered(1)

	msgs := make([]bus.Message, b.N)
	for i := range msgs {
		msgs[i] = msg(i)
	}
	b.ResetTimer()
	for i := 0; i < len(msgs); i += 1000 {
		if err := bs.Publish(ctx, msgs[i:min(i+1000, len(msgs))]...); err != nil {
			b.Fatal(err)
		}
	}
	waitDelivered(int64(b.N) + 1)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// With a signing secret every attempt carries a Standard Webhooks signature over the exact
// body, under the envelope id (the same on every retry), that the department verifies; the
// secret never shows in logs, errors or the configuration's problems.
func TestWithASigningSecretEveryAttemptIsSigned(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		secret := signing.NewSecret()
		d := newDepartment(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}
		})
		cfg := h.config(d.srv.URL)
		cfg.SigningSecret = secret
		c := h.connector(cfg)
		id, raw := h.subcase("cs-sig", map[string]any{"SQRMC": "海韵餐饮"})
		h.Publish("cs-sig", raw)
		h.Start(c.Run)
		h.waitRetried(d, "one delivery", func() bool { n, _ := h.counts(); return n == 1 })

		reqs := d.requests()
		if len(reqs) != 2 {
			t.Fatalf("department saw %d requests, want 2 (a 503, then the delivery)", len(reqs))
		}
		for i, r := range reqs {
			if got := r.header.Get("Webhook-Id"); got != id {
				t.Errorf("attempt %d: webhook-id %q, want the envelope id %q", i+1, got, id)
			}
			if err := signing.Verify(secret, r.body, r.header); err != nil {
				t.Errorf("attempt %d: the department cannot verify the signature: %v", i+1, err)
			}
			if err := signing.Verify(signing.NewSecret(), r.body, r.header); err == nil {
				t.Errorf("attempt %d: verified with another secret", i+1)
			}
			if err := signing.Verify(secret, append(slices.Clone(r.body), ' '), r.header); err == nil {
				t.Errorf("attempt %d: verified a changed body", i+1)
			}
		}
		if strings.Contains(h.Logs.String(), secret) {
			t.Error("the signing secret is in the logs")
		}

		bad := h.config(d.srv.URL)
		bad.SigningSecret = "whsec_c2hvcnQ="
		bad.Headers = map[string]string{"Webhook-Signature": "v1,forged"}
		_, err := restpush.New(bad, h.Bus, h.Rec)
		if err == nil || !strings.Contains(err.Error(), "signing_secret: must hold at least 24 bytes") ||
			!strings.Contains(err.Error(), `headers["Webhook-Signature"]: set by the connector`) || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("a short secret and a forged signature header: %v", err)
		}
	})
}
