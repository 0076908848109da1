package restpull_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/connector"
	"yjshub/connectors/restpull"
	"yjshub/hub/api"
	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// testTimeout bounds every test: tests wait on conditions, never on sleeps, and fail rather
// than hang once it has passed.
const testTimeout = 60 * time.Second

// backend is a broker and a hub store for one test.
type backend struct {
	name      string
	openBus   func(t *testing.T) *bus.Bus
	openStore storetest.Opener
}

func embeddedBus(t *testing.T) *bus.Bus {
	b, err := bus.Open(t.Context(), bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open the embedded broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// backends returns the embedded broker on SQLite and on PostgreSQL (skipped without
// YJSHUB_TEST_DATABASE_URL), and Apache Kafka on PostgreSQL (or SQLite) when YJSHUB_TEST_KAFKA
// names a broker. With YJSHUB_REQUIRE_REAL set, a missing real service fails the test.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{
		{name: "embedded-sqlite", openBus: embeddedBus, openStore: storetest.OpenSQLite},
		{name: "embedded-postgres", openBus: embeddedBus, openStore: storetest.OpenPostgres},
	}
	brokers := bustest.RealBrokers(t)
	if brokers == nil {
		return bs
	}
	openStore := storetest.Opener(storetest.OpenSQLite)
	if os.Getenv(storetest.PostgresURLEnv) != "" {
		openStore = storetest.OpenPostgres
	}
	return append(bs, backend{name: "kafka", openStore: openStore, openBus: func(t *testing.T) *bus.Bus {
		return bustest.OpenReal(t, brokers, "yjshub-restpull-test")
	}})
}

// onEachBackend runs test once per backend, in parallel subtests.
func onEachBackend(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			st := storetest.Migrated(be.openStore)(t)
			b := be.openBus(t)
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			t.Cleanup(cancel)
			test(t, newHarness(t, ctx, b, st))
		})
	}
}

// harness is one test's broker, store, department, inbox, API and logs.
type harness struct {
	t     *testing.T
	ctx   context.Context
	b     *bus.Bus
	st    *store.Store
	dept  string
	topic string
	rec   *recorder
	inbox *restpull.Inbox
	now   *clock
	api   *httptest.Server
	logs  *syncBuffer
	log   *slog.Logger
	runs  []*running
}

func newHarness(t *testing.T, ctx context.Context, b *bus.Bus, st *store.Store) *harness {
	h := &harness{t: t, ctx: ctx, b: b, st: st, dept: "t-" + randomHex(6), rec: &recorder{}, logs: &syncBuffer{},
		now: &clock{t: time.Now().Truncate(time.Microsecond)}}
	h.topic = bus.SubcaseTopic(h.dept)
	h.log = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: h.topic, Partitions: 3}); err != nil {
		t.Fatalf("EnsureTopics(%s): %v", h.topic, err)
	}
	in, err := restpull.NewInbox(st, connector.RecorderFuncs{DeliveredFunc: h.rec.delivered, FailedFunc: h.rec.failed},
		restpull.WithInboxLogger(h.log), restpull.WithClock(h.now.now))
	if err != nil {
		t.Fatalf("NewInbox: %v", err)
	}
	h.inbox = in
	h.api = httptest.NewServer(api.New(api.Config{Inbox: in, Logger: h.log}))
	t.Cleanup(h.api.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) connector(cfg restpull.Config) *restpull.Connector {
	h.t.Helper()
	c, err := restpull.New(cfg, h.b, h.inbox, restpull.WithLogger(h.log))
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	return c
}

// running is one Run call in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // valid once done is closed
	ending bool
}

func (h *harness) start(c *restpull.Connector) *running {
	ctx, cancel := context.WithCancel(h.ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx)
	}()
	h.runs = append(h.runs, r)
	h.t.Cleanup(func() { r.cancel(); <-r.done })
	return r
}

// wait returns what a Run returned, without cancelling it.
func (h *harness) wait(r *running) error {
	h.t.Helper()
	r.ending = true
	select {
	case <-r.done:
		return r.err
	case <-h.ctx.Done():
		h.t.Fatalf("Run did not return before the deadline")
		return nil
	}
}

// waitFor waits until cond holds, failing the test at the deadline or when a Run returns that
// was not expected to.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for _, r := range h.runs {
			select {
			case <-r.done:
				if !r.ending {
					h.t.Fatalf("waiting for %s: Run returned early: %v", what, r.err)
				}
			default:
			}
		}
		select {
		case <-h.ctx.Done():
			h.t.Fatalf("waiting for %s: not before the deadline", what)
		case <-tick.C:
		}
	}
}

func (h *harness) publish(key string, values ...[]byte) {
	h.t.Helper()
	msgs := make([]bus.Message, len(values))
	for i, v := range values {
		msgs[i] = bus.Message{Topic: h.topic, Key: []byte(key), Value: v}
	}
	if err := h.b.Publish(h.ctx, msgs...); err != nil {
		h.t.Fatalf("Publish: %v", err)
	}
}

func (h *harness) lag() int64 {
	h.t.Helper()
	l, err := h.b.Lag(h.ctx, "yjshub-restpull-"+h.dept, h.topic)
	if err != nil {
		h.t.Fatalf("Lag: %v", err)
	}
	return l.Total
}

func (h *harness) counts() map[string]int64 {
	h.t.Helper()
	c, err := h.inbox.Counts(h.ctx, h.dept)
	if err != nil {
		h.t.Fatalf("Counts: %v", err)
	}
	return c
}

// subcase builds a dispatched sub-case envelope for the department.
func (h *harness) subcase(caseID string, form map[string]any) (id, subcaseID string, raw []byte) {
	h.t.Helper()
	id = "ev-" + randomHex(8)
	subcaseID = "sc-" + randomHex(6)
	env, err := event.New(id, event.TypeSubcaseDispatched, subcaseID, time.Now(), event.SubcaseDispatched{
		CaseID: caseID, SubcaseID: subcaseID, Department: h.dept, ApplicantType: "individual",
		Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
		Matter: event.MatterRef{Code: "food-business-licence", Name: "食品经营许可（新设）"},
		Form:   form, SubmittedAt: time.Now().UTC(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	raw, err = json.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	return id, subcaseID, raw
}

// call makes a request to the hub's API and decodes a JSON answer into out (if not nil).
func (h *harness) call(method, path string, body string, out any) int {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.ctx, method, h.api.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) poll(query string) []restpull.Item {
	h.t.Helper()
	var items []restpull.Item
	if code := h.call(http.MethodGet, "/api/v1/departments/"+h.dept+"/inbox"+query, "", &items); code != http.StatusOK {
		h.t.Fatalf("poll: HTTP %d", code)
	}
	return items
}

func (h *harness) ack(id, lease string) int {
	h.t.Helper()
	return h.call(http.MethodPost, "/api/v1/departments/"+h.dept+"/inbox/"+id+"/ack", `{"lease":"`+lease+`"}`, nil)
}

func TestTheDepartmentLeasesAndAcknowledgesEachSubcaseOnceThroughTheAPI(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.dept})
		id1, sc1, raw1 := h.subcase("cs-1", map[string]any{"SQRMC": "连云港海韵餐饮管理有限公司"})
		id2, sc2, raw2 := h.subcase("cs-1", nil)
		id3, sc3, raw3 := h.subcase("cs-2", nil)
		h.publish("cs-1", raw1, raw2, raw1) // the repeat of raw1 is a redelivery
		h.publish("cs-2", raw3)
		h.start(c)
		h.waitFor("every message stored and committed", func() bool {
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
		lease1 := items[slices.IndexFunc(items, func(it restpull.Item) bool { return it.ID == id1 })].Lease
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
		deliveries, _ := h.rec.snapshot()
		got := map[string]connector.Delivery{}
		for _, d := range deliveries {
			got[d.EventID] = d
		}
		for id, sc := range map[string]string{id1: sc1, id2: sc2, id3: sc3} {
			d, ok := got[id]
			if !ok || d.SubcaseID != sc || d.Department != h.dept || d.Connector != "restpull:"+h.dept || d.Attempts != 1 {
				t.Errorf("delivery of %s = %+v (recorded: %v)", id, d, ok)
			}
		}
		s := c.Status()
		if s.Name != "restpull:"+h.dept || s.Kind != "restpull" || s.Delivered != 3 || s.Detail["acked"] != int64(3) ||
			s.Detail["pending"] != int64(0) || s.Detail["leased"] != int64(0) || s.Topic != h.topic || s.LastSuccess == nil {
			t.Errorf("status after the acks = %+v", s)
		}
	})
}

func TestTheInboxAPIAnswersMistakesWithTheirStatus(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.dept, MaxVisibility: time.Minute})
		_, _, raw := h.subcase("cs-e", nil)
		h.publish("cs-e", raw)
		h.start(c)
		h.waitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		it := h.poll("?max=1&visibility=45")[0]
		if d := it.LeaseUntil.Sub(h.now.now()); d != 45*time.Second {
			t.Errorf("visibility=45 leased for %v, want 45 seconds", d)
		}
		base := "/api/v1/departments/" + h.dept + "/inbox"

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
		c := h.connector(restpull.Config{Department: h.dept})
		poison := []byte(`{"specversion":"1.0","id":`)
		noID := []byte(`{"specversion":"1.0","type":"cn.yjshub.subcase.dispatched","data":{}}`)
		id, _, raw := h.subcase("cs-p", nil)
		h.publish("cs-p", poison, noID, raw)
		h.start(c)
		h.waitFor("the message after the poison stored and all committed", func() bool {
			return h.counts()["pending"] == 1 && h.lag() == 0
		})
		_, failures := h.rec.snapshot()
		if len(failures) != 2 {
			t.Fatalf("recorded %d failures, want 2", len(failures))
		}
		for i, want := range [][]byte{poison, noID} {
			f := failures[i]
			if f.Reason != "undecodable message" || f.Connector != "restpull:"+h.dept || !bytes.Equal(f.Payload, want) ||
				f.Topic != h.topic || string(f.Key) != "cs-p" || f.At.IsZero() {
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
		c := h.connector(restpull.Config{Department: h.dept})
		id, _, raw := h.subcase("cs-s", nil)
		exec := func(q string) {
			if _, err := h.st.DB().ExecContext(h.ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("ALTER TABLE restpull_inbox RENAME TO restpull_inbox_away")
		h.publish("cs-s", raw)
		first := h.start(c)
		if err := h.wait(first); err == nil || !strings.Contains(err.Error(), "store event "+id+" in the inbox") {
			t.Fatalf("Run with the inbox table gone returned %v, want the store's error", err)
		}
		if lag := h.lag(); lag != 1 {
			t.Fatalf("lag after the failed store = %d, want 1 (not committed)", lag)
		}
		exec("ALTER TABLE restpull_inbox_away RENAME TO restpull_inbox")
		h.start(c)
		h.waitFor("the message stored and committed", func() bool { return h.counts()["pending"] == 1 && h.lag() == 0 })
		if items := h.poll(""); len(items) != 1 || items[0].ID != id {
			t.Errorf("poll = %+v, want %s once", items, id)
		}
	})
}

func TestUnacknowledgedItemsBecomeDeadLettersWithTheirPayload(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(restpull.Config{Department: h.dept, MaxAttempts: 2})
		id, sc, raw := h.subcase("cs-d", nil)
		h.publish("cs-d", raw)
		h.start(c)
		h.waitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		for range 2 {
			if items := h.poll("?visibility=1s"); len(items) != 1 {
				t.Fatalf("poll got %d items, want 1", len(items))
			}
			h.now.advance(time.Second)
		}
		if items := h.poll(""); len(items) != 0 {
			t.Fatalf("the item was leased a third time: %+v", items)
		}
		_, failures := h.rec.snapshot()
		if len(failures) != 1 {
			t.Fatalf("recorded %d failures, want 1", len(failures))
		}
		f := failures[0]
		if f.EventID != id || f.SubcaseID != sc || f.CaseID != "cs-d" || f.Attempts != 2 || !bytes.Equal(f.Payload, raw) ||
			f.Topic != h.topic || string(f.Key) != "cs-d" || f.Reason != "not acknowledged after 2 leases" {
			t.Errorf("failure = %+v, reason %q, payload equal %v", f.Delivery, f.Reason, bytes.Equal(f.Payload, raw))
		}
		if s := c.Status(); s.Failed != 1 || s.Detail["pending"] != int64(0) || s.Detail["leased"] != int64(0) {
			t.Errorf("status = %+v", s)
		}

		// A replay publishes the dead letter again: it becomes a fresh item.
		if err := h.b.Publish(h.ctx, bus.Message{Topic: f.Topic, Key: f.Key, Value: f.Payload}); err != nil {
			t.Fatal(err)
		}
		h.waitFor("the replayed message stored", func() bool { return h.counts()["pending"] == 1 })
		if items := h.poll(""); len(items) != 1 || items[0].ID != id || items[0].Attempts != 1 {
			t.Errorf("after the replay the poll got %+v, want %s at attempt 1", items, id)
		}
	})
}

func TestNoPersonalDataInLogsErrorsOrStatus(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		const idNumber, mobile = "11010519491231002X", "13812345678"
		c := h.connector(restpull.Config{Department: h.dept, MaxAttempts: 1})
		form := map[string]any{"SQRXM": "张三", "SFZHM": idNumber, "LXDH": mobile}
		_, _, raw := h.subcase("cs-pii", form)
		poison := []byte(`{"id":"x","data":{"SFZHM":"` + idNumber + `"`)
		h.publish("cs-pii", poison, raw)
		h.start(c)
		h.waitFor("the message stored", func() bool { return h.counts()["pending"] == 1 })
		items := h.poll("?visibility=1s")
		if len(items) != 1 || !bytes.Contains(items[0].Message, []byte(idNumber)) {
			t.Fatalf("the department did not receive the form: %+v", items)
		}
		h.now.advance(time.Second)
		h.poll("") // dead-letters it
		_, failures := h.rec.snapshot()
		if len(failures) != 2 {
			t.Fatalf("recorded %d failures, want 2", len(failures))
		}
		status, _ := json.Marshal(c.Status())
		logs := h.logs.String()
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
	err := (&restpull.Config{Department: "人社局", MaxAttempts: -1, DefaultVisibility: 10 * time.Minute,
		MaxVisibility: time.Minute, GroupID: " g "}).Validate()
	for _, want := range []string{`department: "人社局"`, "max_attempts: -1 is negative",
		"default_visibility: 10m0s is longer than max_visibility 1m0s", `group_id: " g "`} {
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
	_, err = restpull.New(restpull.Config{}, nil, nil)
	for _, want := range []string{"department: required", "bus: required", "inbox: required"} {
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

// recorder keeps what the inbox and the connector recorded.
type recorder struct {
	mu         sync.Mutex
	deliveries []connector.Delivery
	failures   []connector.Failure
}

func (r *recorder) delivered(_ context.Context, d connector.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	return nil
}

func (r *recorder) failed(_ context.Context, f connector.Failure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
	return nil
}

func (r *recorder) snapshot() ([]connector.Delivery, []connector.Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries), slices.Clone(r.failures)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
