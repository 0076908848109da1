package restpull_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/restpull"
	"yjshub/hub/api"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/inbox"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// backends returns the embedded broker on SQLite and on PostgreSQL (skipped without
// YJSHUB_TEST_DATABASE_URL), and Apache Kafka on PostgreSQL (or SQLite) when YJSHUB_TEST_KAFKA
// names a broker. With YJSHUB_REQUIRE_REAL set, a missing real service fails the test.
func backends(t *testing.T) []connectortest.Backend {
	t.Helper()
	return connectortest.BackendsWithDatabase(t, "yjshub-restpull-test")
}

// openStore opens the backend's hub store, migrated.
func openStore(t *testing.T, be connectortest.Backend) *store.Store {
	t.Helper()
	if be.Postgres {
		return storetest.Migrated(storetest.OpenPostgres)(t)
	}
	return storetest.Migrated(storetest.OpenSQLite)(t)
}

// onEachBackend runs test once per backend, in parallel subtests.
func onEachBackend(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	connectortest.OnEach(t, backends(t), func(t *testing.T, be connectortest.Backend) {
		st := openStore(t, be)
		test(t, newHarness(connectortest.NewRig(t, be.Open(t), 0), st))
	})
}

// harness is the shared rig with the hub's store, the department's inbox and the API serving
// it.
type harness struct {
	*connectortest.Rig
	st    *store.Store
	inbox *inbox.Inbox
	now   *clock
	api   *httptest.Server
}

func newHarness(r *connectortest.Rig, st *store.Store) *harness {
	h := &harness{Rig: r, st: st, now: &clock{t: time.Now().Truncate(time.Microsecond)}}
	in, err := inbox.New(st, h.Rec, inbox.WithLogger(h.Log), inbox.WithClock(h.now.now))
	if err != nil {
		h.T.Fatalf("NewInbox: %v", err)
	}
	h.inbox = in
	handler, err := api.New(api.Config{Inbox: in, Logger: h.Log})
	if err != nil {
		h.T.Fatal(err)
	}
	h.api = httptest.NewServer(handler)
	h.T.Cleanup(h.api.Close)
	return h
}

func (h *harness) connector(cfg restpull.Config) *restpull.Connector {
	h.T.Helper()
	c, err := restpull.New(cfg, h.Bus, h.inbox, h.Rec, restpull.WithLogger(h.Log))
	if err != nil {
		h.T.Fatalf("New: %v", err)
	}
	return c
}

func (h *harness) lag() int64 {
	h.T.Helper()
	return h.Lag("yjshub-restpull-" + h.Dept)
}

func (h *harness) counts() map[string]int64 {
	h.T.Helper()
	c, err := h.inbox.Counts(h.Ctx, h.Dept)
	if err != nil {
		h.T.Fatalf("Counts: %v", err)
	}
	return c
}

// call makes a request to the hub's API and decodes a JSON answer into out (if not nil).
func (h *harness) call(method, path string, body string, out any) int {
	h.T.Helper()
	req, err := http.NewRequestWithContext(h.Ctx, method, h.api.URL+path, strings.NewReader(body))
	if err != nil {
		h.T.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.T.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) poll(query string) []inbox.Item {
	h.T.Helper()
	var items []inbox.Item
	if code := h.call(http.MethodGet, "/api/v1/departments/"+h.Dept+"/inbox"+query, "", &items); code != http.StatusOK {
		h.T.Fatalf("poll: HTTP %d", code)
	}
	return items
}

func (h *harness) ack(id, lease string) int {
	h.T.Helper()
	return h.call(http.MethodPost, "/api/v1/departments/"+h.Dept+"/inbox/"+id+"/ack", `{"lease":"`+lease+`"}`, nil)
}

func TestTheDepartmentLeasesAndAcknowledgesEachSubcaseOnceThroughTheAPI(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.Dept})
		id1, sc1, raw1 := h.Dispatched("cs-1", map[string]any{"SQRMC": "连云港海韵餐饮管理有限公司"})
		id2, sc2, raw2 := h.Dispatched("cs-1", nil)
		id3, sc3, raw3 := h.Dispatched("cs-2", nil)
		h.Publish("cs-1", raw1, raw2, raw1) // the repeat of raw1 is a redelivery
		h.Publish("cs-2", raw3)
		h.Start(c.Run)
		h.WaitFor("every message stored and committed", func() bool {
			return h.counts()["pending"] == 3 && h.lag() == 0
		})

		// The first poll hands out the head of each case; cs-1's second sub-case waits for the
		// first one's ack.
		items := h.poll("?max=10&visibility=30s")
		want := map[string][]byte{id1: raw1, id2: raw2, id3: raw3}
		var heads []string
		for _, it := range items {
			heads = append(heads, it.ID)
		}
		if slices.Sort(heads); !slices.Equal(heads, slices.Sorted(slices.Values([]string{id1, id3}))) {
			t.Fatalf("first poll returned %q, want %s and %s", heads, id1, id3)
		}
		if again := h.poll(""); len(again) != 0 {
			t.Errorf("a poll while the heads are leased got %d items, want none", len(again))
		}
		if s := c.Status(); s.Detail["leased"] != int64(2) || s.Detail["pending"] != int64(1) || s.Delivered != 0 {
			t.Errorf("status while leased = %+v", s)
		}
		lease1 := items[slices.IndexFunc(items, func(it inbox.Item) bool { return it.ID == id1 })].Lease
		if code := h.ack(id1, lease1); code != http.StatusOK {
			t.Fatalf("ack %s: HTTP %d, want 200", id1, code)
		}
		next := h.poll("?max=10&visibility=30s")
		if len(next) != 1 || next[0].ID != id2 {
			t.Fatalf("after the ack of %s the poll returned %+v, want %s", id1, next, id2)
		}
		items = append(items, next...)
		for _, it := range items {
			if !bytes.Equal(it.Message, want[it.ID]) {
				t.Errorf("item %s message =\n%s\nwant the envelope as published\n%s", it.ID, it.Message, want[it.ID])
			}
			if it.Attempts != 1 || it.Lease == "" || it.LeaseUntil.Sub(h.now.now()) != 30*time.Second {
				t.Errorf("item %s: attempts %d, lease %q until %v; want attempt 1 for 30s", it.ID, it.Attempts, it.Lease, it.LeaseUntil)
			}
		}
		for _, it := range items {
			if it.ID == id1 {
				continue
			}
			if code := h.ack(it.ID, it.Lease); code != http.StatusOK {
				t.Errorf("ack %s: HTTP %d, want 200", it.ID, code)
			}
		}
		if code := h.ack(id1, lease1); code != http.StatusOK {
			t.Errorf("repeated ack: HTTP %d, want 200", code)
		}
		deliveries := h.Rec.Deliveries()
		got := map[string]connector.Delivery{}
		for _, d := range deliveries {
			got[d.EventID] = d
		}
		for id, sc := range map[string]string{id1: sc1, id2: sc2, id3: sc3} {
			d, ok := got[id]
			if !ok || d.SubcaseID != sc || d.Department != h.Dept || d.Connector != "restpull:"+h.Dept || d.Attempts != 1 {
				t.Errorf("delivery of %s = %+v (recorded: %v)", id, d, ok)
			}
		}
		s := c.Status()
		if s.Name != "restpull:"+h.Dept || s.Kind != "restpull" || s.Delivered != 3 || s.Detail["acked"] != int64(3) ||
			s.Detail["pending"] != int64(0) || s.Detail["leased"] != int64(0) || s.Topic != h.Topic || s.LastSuccess == nil {
			t.Errorf("status after the acks = %+v", s)
		}
	})
}

func TestTheInboxAPIAnswersMistakesWithTheirStatus(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.Dept, MaxVisibility: time.Minute})
		_, _, raw := h.Dispatched("cs-e", nil)
		h.Publish("cs-e", raw)
		h.Start(c.Run)
		h.WaitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		it := h.poll("?max=1&visibility=45")[0]
		if d := it.LeaseUntil.Sub(h.now.now()); d != 45*time.Second {
			t.Errorf("visibility=45 leased for %v, want 45 seconds", d)
		}
		base := "/api/v1/departments/" + h.Dept + "/inbox"

		var body api.ErrorBody
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			problem                  string
		}{
			{"a department without a restpull connector", http.MethodGet, "/api/v1/departments/nobody/inbox", "", 404, ""},
			{"max that is not a number", http.MethodGet, base + "?max=ten", "", 422, "max"},
			{"max above the limit", http.MethodGet, base + "?max=101", "", 422, "max"},
			{"a visibility that is not a duration", http.MethodGet, base + "?visibility=soon", "", 422, "visibility"},
			{"a visibility above the department's maximum", http.MethodGet, base + "?visibility=2m", "", 422, "visibility"},
			{"an ack of an unknown item", http.MethodPost, base + "/ev-unknown/ack", `{"lease":"` + it.Lease + `"}`, 404, ""},
			{"an ack under another lease", http.MethodPost, base + "/" + it.ID + "/ack", `{"lease":"ls_other"}`, 409, ""},
			{"an ack without a lease", http.MethodPost, base + "/" + it.ID + "/ack", `{}`, 422, "/lease"},
			{"an ack with an unknown field", http.MethodPost, base + "/" + it.ID + "/ack", `{"lease":"x","extra":1}`, 422, ""},
			{"an ack for a department without a restpull connector", http.MethodPost, "/api/v1/departments/nobody/inbox/" + it.ID + "/ack", `{"lease":"x"}`, 404, ""},
		} {
			body = api.ErrorBody{}
			if code := h.call(tc.method, tc.path, tc.body, &body); code != tc.status || body.Error.Status != tc.status {
				t.Errorf("%s: HTTP %d (body status %d), want %d", tc.name, code, body.Error.Status, tc.status)
			}
			if tc.problem != "" && (len(body.Error.Problems) != 1 || body.Error.Problems[0].Path != tc.problem) {
				t.Errorf("%s: problems %+v, want one at %s", tc.name, body.Error.Problems, tc.problem)
			}
		}
		if code := h.ack(it.ID, it.Lease); code != http.StatusOK {
			t.Errorf("the ack under the right lease after the mistakes: HTTP %d", code)
		}
	})
}

func TestAPoisonMessageIsDeadLetteredAndDoesNotBlockThePartition(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.Dept})
		poison := []byte(`{"specversion":"1.0","id":`)
		noID := []byte(`{"specversion":"1.0","type":"cn.yjshub.subcase.dispatched","data":{}}`)
		id, _, raw := h.Dispatched("cs-p", nil)
		h.Publish("cs-p", poison, noID, raw)
		h.Start(c.Run)
		h.WaitFor("the message after the poison stored and all committed", func() bool {
			return h.counts()["pending"] == 1 && h.lag() == 0
		})
		failures := h.Rec.Failures()
		if len(failures) != 2 {
			t.Fatalf("recorded %d failures, want 2", len(failures))
		}
		for i, want := range [][]byte{poison, noID} {
			f := failures[i]
			if f.Reason != "undecodable message" || f.Connector != "restpull:"+h.Dept || !bytes.Equal(f.Payload, want) ||
				f.Topic != h.Topic || string(f.Key) != "cs-p" || f.At.IsZero() {
				t.Errorf("failure %d = %+v (payload %q)", i, f.Delivery, f.Payload)
			}
		}
		if items := h.poll(""); len(items) != 1 || items[0].ID != id {
			t.Errorf("poll = %+v, want only %s", items, id)
		}
		if s := c.Status(); s.Failed != 2 || s.LastErrorMessage != "undecodable message" {
			t.Errorf("status = %+v", s)
		}
	})
}

func TestTheOffsetIsCommittedOnlyAfterTheItemIsStored(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.Dept})
		id, _, raw := h.Dispatched("cs-s", nil)
		exec := func(q string) {
			if _, err := h.st.DB().ExecContext(h.Ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("ALTER TABLE restpull_inbox RENAME TO restpull_inbox_away")
		h.Publish("cs-s", raw)
		first := h.Start(c.Run)
		if err := h.Wait(first); err == nil || !strings.Contains(err.Error(), "store event "+id+" in the inbox") {
			t.Fatalf("Run with the inbox table gone returned %v, want the store's error", err)
		}
		if lag := h.lag(); lag != 1 {
			t.Fatalf("lag after the failed store = %d, want 1 (not committed)", lag)
		}
		exec("ALTER TABLE restpull_inbox_away RENAME TO restpull_inbox")
		h.Start(c.Run)
		h.WaitFor("the message stored and committed", func() bool { return h.counts()["pending"] == 1 && h.lag() == 0 })
		if items := h.poll(""); len(items) != 1 || items[0].ID != id {
			t.Errorf("poll = %+v, want %s once", items, id)
		}
	})
}

func TestUnacknowledgedItemsBecomeDeadLettersWithTheirPayload(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.Dept, MaxAttempts: 2})
		id, sc, raw := h.Dispatched("cs-d", nil)
		h.Publish("cs-d", raw)
		h.Start(c.Run)
		h.WaitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		for range 2 {
			if items := h.poll("?visibility=1s"); len(items) != 1 {
				t.Fatalf("poll got %d items, want 1", len(items))
			}
			h.now.advance(time.Second)
		}
		if items := h.poll(""); len(items) != 0 {
			t.Fatalf("the item was leased a third time: %+v", items)
		}
		failures := h.Rec.Failures()
		if len(failures) != 1 {
			t.Fatalf("recorded %d failures, want 1", len(failures))
		}
		f := failures[0]
		if f.EventID != id || f.SubcaseID != sc || f.CaseID != "cs-d" || f.Attempts != 2 || !bytes.Equal(f.Payload, raw) ||
			f.Topic != h.Topic || string(f.Key) != "cs-d" || f.Reason != "not acknowledged after 2 leases" {
			t.Errorf("failure = %+v, reason %q, payload equal %v", f.Delivery, f.Reason, bytes.Equal(f.Payload, raw))
		}
		if s := c.Status(); s.Failed != 1 || s.Detail["pending"] != int64(0) || s.Detail["leased"] != int64(0) {
			t.Errorf("status = %+v", s)
		}

		// A replay publishes the dead letter again: it becomes a fresh item.
		if err := h.Bus.Publish(h.Ctx, bus.Message{Topic: f.Topic, Key: f.Key, Value: f.Payload}); err != nil {
			t.Fatal(err)
		}
		h.WaitFor("the replayed message stored", func() bool { return h.counts()["pending"] == 1 })
		if items := h.poll(""); len(items) != 1 || items[0].ID != id || items[0].Attempts != 1 {
			t.Errorf("after the replay the poll got %+v, want %s at attempt 1", items, id)
		}
	})
}

func TestNoPersonalDataInLogsErrorsOrStatus(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		const idNumber, mobile = "11010519491231002X", "13812345678"
		c := h.connector(restpull.Config{Department: h.Dept, MaxAttempts: 1})
		form := map[string]any{"SQRXM": "张三", "SFZHM": idNumber, "LXDH": mobile}
		_, _, raw := h.Dispatched("cs-pii", form)
		poison := []byte(`{"id":"x","data":{"SFZHM":"` + idNumber + `"`)
		h.Publish("cs-pii", poison, raw)
		h.Start(c.Run)
		h.WaitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		items := h.poll("?visibility=1s")
		if len(items) != 1 || !bytes.Contains(items[0].Message, []byte(idNumber)) {
			t.Fatalf("the department did not receive the form: %+v", items)
		}
		h.now.advance(time.Second)
		h.poll("") // dead-letters it
		failures := h.Rec.Failures()
		if len(failures) != 2 {
			t.Fatalf("recorded %d failures, want 2", len(failures))
		}
		status, _ := json.Marshal(c.Status())
		logs := h.Logs.String()
		if !strings.Contains(logs, "undecodable message") || !strings.Contains(logs, "recorded as failed") {
			t.Fatalf("the logs lack the failures, so they prove nothing:\n%s", logs)
		}
		texts := map[string]string{"logs": logs, "status": string(status)}
		for i, f := range failures {
			texts[fmt.Sprintf("failure %d reason", i)] = f.Reason
		}
		for where, text := range texts {
			for _, s := range []string{idNumber, mobile, "张三"} {
				if strings.Contains(text, s) {
					t.Errorf("%s contain %q:\n%s", where, s, text)
				}
			}
		}
	})
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	if err := (&restpull.Config{Department: "rsj"}).Validate(); err != nil {
		t.Errorf("a department alone: %v, want valid", err)
	}
	for _, n := range []int{1, 64} {
		if err := (&restpull.Config{Department: "rsj", Concurrency: n}).Validate(); err != nil {
			t.Errorf("concurrency %d: %v, want valid", n, err)
		}
	}
	err := (&restpull.Config{Department: "人社局", MaxAttempts: -1, DefaultVisibility: 10 * time.Minute,
		MaxVisibility: time.Minute, GroupID: " g ", Concurrency: 65}).Validate()
	for _, want := range []string{`department: "人社局"`, "max_attempts: -1 is negative",
		"default_visibility: 10m0s is longer than max_visibility 1m0s", `group_id: " g "`, "concurrency: 65 is not from 1 to 64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	if err := (&restpull.Config{Department: "rsj", DefaultVisibility: time.Millisecond}).Validate(); err == nil {
		t.Errorf("a visibility under a second: valid, want an error")
	}
	for r, want := range map[time.Duration]string{-time.Hour: "acked_retention: -1h0m0s is negative", time.Second: "acked_retention: 1s is shorter than 1m"} {
		if err := (&restpull.Config{Department: "rsj", AckedRetention: r}).Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("acked_retention %v: %v, want %q", r, err, want)
		}
	}
	_, err = restpull.New(restpull.Config{}, nil, nil, nil)
	for _, want := range []string{"department: required", "bus: required", "inbox: required", "recorder: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error %v does not contain %q", err, want)
		}
	}
}

// clock is a test clock for the inbox's leases; it moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gatedRecorder records through rec; a failure of the case gated is held until ready says so
// (or ctx ends): holding is closed once it is, and err gets what ready came to.
type gatedRecorder struct {
	rec     connector.Recorder
	gated   string
	ready   func(ctx context.Context) error
	once    sync.Once
	holding chan struct{}
	err     chan error
}

func (g *gatedRecorder) Delivered(ctx context.Context, d connector.Delivery) error {
	return g.rec.Delivered(ctx, d)
}

func (g *gatedRecorder) Failed(ctx context.Context, f connector.Failure) error {
	if string(f.Key) == g.gated {
		g.once.Do(func() { close(g.holding) })
		err := g.ready(ctx)
		select {
		case g.err <- err:
		default:
		}
		if err != nil {
			return err
		}
	}
	return g.rec.Failed(ctx, f)
}

// ticking is a clock that moves a millisecond every time it is read, so that the inbox's
// created_at orders the items as they were stored.
type ticking struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ticking) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func TestSubcasesOfDifferentCasesAreStoredAtOnceAndEachCasesInOrder(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		in, err := inbox.New(h.st, h.Rec, inbox.WithLogger(h.Log), inbox.WithClock((&ticking{t: time.Now()}).now))
		if err != nil {
			t.Fatal(err)
		}
		db := h.st.DB()
		count := func(ctx context.Context, where string, args ...any) (int, error) {
			var n int
			err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM restpull_inbox WHERE department = ? AND `+where),
				append([]any{h.Dept}, args...)...)
			return n, err
		}
		// The first message of cs-a is undecodable: handling it records a failure, which is held
		// until a sub-case of another case, published only once it is held, is in the inbox.
		// Only a connector that handles messages of different cases at once gets there. cs-a's
		// later sub-cases, published with the others, must wait for it.
		var aEarly int
		rec := &gatedRecorder{rec: h.Rec, gated: "cs-a", holding: make(chan struct{}), err: make(chan error, 1),
			ready: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, connectortest.RetryWithin)
				defer cancel()
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				for {
					if n, err := count(ctx, "case_id <> ?", "cs-a"); err == nil && n > 0 {
						aEarly, err = count(ctx, "case_id = ?", "cs-a")
						return err
					}
					select {
					case <-ctx.Done():
						return errors.New("no sub-case of another case was stored while the first message of cs-a was held")
					case <-tick.C:
					}
				}
			}}
		c, err := restpull.New(restpull.Config{Department: h.Dept}, h.Bus, in, rec, restpull.WithLogger(h.Log))
		if err != nil {
			t.Fatal(err)
		}
		h.Start(c.Run)
		h.Publish("cs-a", []byte(`{"specversion":"1.0","id":`))
		h.WaitFor("the first message of cs-a to be held", func() bool {
			select {
			case <-rec.holding:
				return true
			default:
				return false
			}
		})

		// The case ids go to different workers of the default 8 (the bus spreads keys by their
		// FNV-1a hash), so that nothing queues behind cs-a's held message.
		published := map[string][]string{}
		for _, k := range []string{"cs-a", "cs-b", "cs-c", "cs-d", "cs-e"} {
			var raws [][]byte
			for range 3 {
				id, _, raw := h.Dispatched(k, nil)
				published[k] = append(published[k], id)
				raws = append(raws, raw)
			}
			h.Publish(k, raws...)
		}
		const stored = 5 * 3
		h.WaitFor("every sub-case stored and every offset committed", func() bool {
			n, err := count(h.Ctx, "1 = 1")
			return err == nil && n == stored && h.lag() == 0
		})

		if err := <-rec.err; err != nil {
			t.Fatal(err)
		}
		if aEarly != 0 {
			t.Errorf("%d sub-cases of cs-a were stored before its first message was handled", aEarly)
		}
		if f := h.Rec.Failures(); len(f) != 1 || string(f[0].Key) != "cs-a" {
			t.Errorf("failures %+v, want the undecodable message of cs-a once", f)
		}
		if got := c.Status().Detail["stored"]; got != int64(stored) {
			t.Errorf("stored %v, want each of the %d sub-cases once", got, stored)
		}
		var rows []struct {
			ID     string `db:"id"`
			CaseID string `db:"case_id"`
		}
		if err := db.SelectContext(h.Ctx, &rows, db.Rebind(`SELECT id, case_id FROM restpull_inbox WHERE department = ? ORDER BY created_at`), h.Dept); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, r := range rows {
			got[r.CaseID] = append(got[r.CaseID], r.ID)
		}
		for k, want := range published {
			if !slices.Equal(got[k], want) {
				t.Errorf("case %s stored in the order %q, want the publish order %q", k, got[k], want)
			}
		}
	})
}
