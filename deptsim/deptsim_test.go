package deptsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/signing"
	"yjshub/deptsim"
	"yjshub/format"
	"yjshub/hub/event"
)

// fakeHub records the events departments post back, per sub-case, in the order it answered
// them 2xx. respond, when set, picks the status of each attempt.
type fakeHub struct {
	srv *httptest.Server
	mux *http.ServeMux // more paths of the hub a test serves

	mu       sync.Mutex
	events   map[string][]event.DepartmentEvent
	arrived  map[string][]time.Time
	attempts map[string]int // by event id
	bad      []string       // what was wrong with requests
	respond  func(ev event.DepartmentEvent, attempt int) (int, string)
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	h := &fakeHub{events: map[string][]event.DepartmentEvent{}, arrived: map[string][]time.Time{}, attempts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/subcases/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		var ev event.DepartmentEvent
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		err := dec.Decode(&ev)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err != nil {
			h.bad = append(h.bad, "undecodable event: "+err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Header.Get(deptsim.HeaderSimulated) != "true" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			h.bad = append(h.bad, "callback headers: "+r.Header.Get(deptsim.HeaderSimulated)+" "+r.Header.Get("Content-Type"))
		}
		h.attempts[ev.EventID]++
		status, body := http.StatusOK, ""
		if h.respond != nil {
			status, body = h.respond(ev, h.attempts[ev.EventID])
		}
		if status < 300 {
			id := r.PathValue("id")
			h.events[id] = append(h.events[id], ev)
			h.arrived[id] = append(h.arrived[id], time.Now())
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	h.mux = mux
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, b := range h.bad {
			t.Errorf("fake hub: %s", b)
		}
	})
	return h
}

func (h *fakeHub) callback(subcase string) string {
	return h.srv.URL + "/api/v1/subcases/" + subcase + "/events"
}

func (h *fakeHub) eventsOf(subcase string) []event.DepartmentEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event.DepartmentEvent(nil), h.events[subcase]...)
}

func (h *fakeHub) typesOf(subcase string) []string {
	var out []string
	for _, ev := range h.eventsOf(subcase) {
		out = append(out, ev.Type)
	}
	return out
}

func (h *fakeHub) attemptsOf(eventID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[eventID]
}

func (h *fakeHub) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.attempts {
		n += a
	}
	return n
}

// discard is a logger for tests that do not look at logs.
var discard = slog.New(slog.DiscardHandler)

func newSim(t *testing.T, cfg deptsim.Config, opts ...deptsim.Option) (*deptsim.Simulator, *httptest.Server) {
	t.Helper()
	sim, err := deptsim.New(cfg, append([]deptsim.Option{deptsim.WithLogger(discard)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		_ = sim.Close()
	})
	return sim, srv
}

// waitIdle waits, with a deadline, until the simulator has no callbacks left to send.
func waitIdle(t *testing.T, sim *deptsim.Simulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Idle(ctx); err != nil {
		t.Fatal(err)
	}
}

type applicantJSON struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	IDType string `json:"id_type"`
}

type sub struct {
	id, subcase, dept, kind, callback string
	applicant                         *applicantJSON
	form                              map[string]any
	noMaterials                       bool
	materials                         []event.MaterialRef // instead of the two of every envelope
}

// envelope builds a dispatched sub-case the way the hub does.
func envelope(t *testing.T, s sub) []byte {
	t.Helper()
	result := event.ResultRef{Kind: "licence", Name: "食品经营许可证", LicenceTypeCode: "LOCAL-320707-016"}
	if s.kind != "" && s.kind != "licence" {
		result = event.ResultRef{Kind: s.kind, Name: "食品经营备案"}
	}
	form := s.form
	if form == nil {
		form = map[string]any{"SQRMC": "连云港海韵餐饮管理有限公司", "TYSHXYDM": "91350100M000100Y43"}
	}
	materials := []event.MaterialRef{
		{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf", SHA256: strings.Repeat("ab", 32), Size: 182044, URI: "https://files.example/yyzz.pdf"},
		{Type: "floor-plan", Name: "经营场所平面图", Filename: "pm.pdf", SHA256: strings.Repeat("cd", 32), Size: 1000, URI: "https://files.example/pm.pdf"},
	}
	if s.noMaterials {
		materials = nil
	}
	if s.materials != nil {
		materials = s.materials
	}
	data := struct {
		event.SubcaseDispatched
		Applicant *applicantJSON `json:"applicant,omitempty"`
	}{
		SubcaseDispatched: event.SubcaseDispatched{
			CaseID:        "cs_" + s.subcase,
			SubcaseID:     s.subcase,
			Bundle:        event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
			Matter:        event.MatterRef{Code: "food-business-licence", Name: "食品经营许可（新设）", Result: result},
			Department:    s.dept,
			ApplicantType: "enterprise",
			Form:          form,
			Materials:     materials,
			Deadlines:     event.Deadlines{Promised: "2026-12-11", Statutory: "2026-12-25"},
			SubmittedAt:   time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC),
			Callback:      s.callback,
		},
		Applicant: s.applicant,
	}
	env, err := event.New(s.id, event.TypeSubcaseDispatched, s.subcase, time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC), data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errorBody(t *testing.T) (code string, paths []string) {
	t.Helper()
	var b struct {
		Error struct {
			Status   int    `json:"status"`
			Code     string `json:"code"`
			Message  string `json:"message"`
			Problems []struct {
				Path string `json:"path"`
				Rule string `json:"rule"`
			} `json:"problems"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error.Status != a.status || b.Error.Message == "" {
		t.Fatalf("error body %s (%v) is not {\"error\": {status %d, code, message}}", a.body, err, a.status)
	}
	for _, p := range b.Error.Problems {
		paths = append(paths, p.Path)
	}
	return b.Error.Code, paths
}

func do(t *testing.T, method, url string, header map[string]string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get(deptsim.HeaderSimulated) != "true" {
		t.Errorf("%s %s: response not labelled %s: true", method, url, deptsim.HeaderSimulated)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, url, ct)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// push posts an envelope the way the hub does, with key as its Idempotency-Key.
func push(t *testing.T, sim *httptest.Server, dept, key string, body []byte) answer {
	t.Helper()
	h := map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return do(t, http.MethodPost, sim.URL+"/departments/"+dept+"/subcases", h, body)
}

func TestApprovalOfALicenceMatterIssuesALicenceAfterReceivedAndAccepted(t *testing.T) {
	hub := newFakeHub(t)
	// 17:00 UTC on 30 November is 1 December in China: the licence is dated in China.
	clock := func() time.Time { return time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC) }
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithClock(clock),
		deptsim.WithDepartmentNames(map[string]string{"admin-approval": "连云港市赣榆区行政审批局"}))

	body := envelope(t, sub{id: "ev-1", subcase: "sc_1", dept: "admin-approval", callback: hub.callback("sc_1"),
		applicant: &applicantJSON{Name: "连云港海韵餐饮管理有限公司", ID: "91350100M000100Y43", IDType: "uscc"}})
	a := push(t, srv, "admin-approval", "ev-1", body)
	if a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s, want 202", a.status, a.body)
	}
	var accepted map[string]string
	if err := json.Unmarshal(a.body, &accepted); err != nil || accepted["status"] != "accepted" || accepted["subcase_id"] != "sc_1" {
		t.Fatalf("202 body %s", a.body)
	}
	waitIdle(t, sim)

	evs := hub.eventsOf("sc_1")
	if got := hub.typesOf("sc_1"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v, want received, accepted, approved", got)
	}
	for _, ev := range evs {
		if want := "sim-sc_1-" + ev.Type; ev.EventID != want {
			t.Errorf("event id %q, want %q (deterministic per sub-case and step)", ev.EventID, want)
		}
		if !ev.Time.Equal(clock()) {
			t.Errorf("%s: time %v, want the clock's %v", ev.Type, ev.Time, clock())
		}
	}
	approved := evs[2]
	if len(approved.Licences) != 1 {
		t.Fatalf("licences %+v, want one", approved.Licences)
	}
	l := approved.Licences[0]
	if len(l.File.SHA256) != 64 {
		t.Errorf("licence file sha256 %q", l.File.SHA256)
	}
	// The number is the department's initials and a serial derived from the sub-case; the
	// decision number carries the same serial.
	number := regexp.MustCompile(`^SIMAA([0-9A-F]{16})$`).FindStringSubmatch(l.Number)
	if number == nil {
		t.Fatalf("licence number %q, want SIMAA and 16 hex digits", l.Number)
	}
	if want := "模拟AA〔" + number[1] + "〕号"; approved.DecisionNumber != want {
		t.Errorf("decision number %q, want %q", approved.DecisionNumber, want)
	}
	l.File.SHA256 = ""
	// The issuer's credit code is made up, but well-formed: the hub builds the licence's
	// identifier of it.
	if err := format.CheckUSCC(l.IssuerCode); err != nil || !strings.HasPrefix(l.IssuerCode, "11320707") {
		t.Errorf("issuer code %q: %v", l.IssuerCode, err)
	}
	want := event.Licence{
		Type: "食品经营许可证", TypeCode: "LOCAL-320707-016", Number: l.Number,
		Holder: "连云港海韵餐饮管理有限公司", HolderID: "91350100M000100Y43", HolderIDType: "uscc",
		Issuer: "连云港市赣榆区行政审批局", IssuerCode: l.IssuerCode, IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
		File:  event.LicenceFile{URI: "sim://licences/" + l.Number + ".ofd", Format: "ofd"},
		Items: map[string]string{"许可事项": "食品经营许可（新设）"},
		Seal:  &event.Seal{Name: "连云港市赣榆区行政审批局电子印章（模拟）", Algorithm: "SM2"},
	}
	if ref := evs[1].DepartmentRef; ref != "模拟AA受字"+number[1] {
		t.Errorf("the acceptance carries department_ref %q, want 模拟AA受字%s", ref, number[1])
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("licence\n got %+v\nwant %+v", l, want)
	}

	st := sim.Stats()
	if d := st.Departments["admin-approval"]; d != (deptsim.DeptStats{Received: 1, CallbacksSent: 3}) {
		t.Errorf("department stats %+v", d)
	}
	if sc := st.Subcases["sc_1"]; sc.Department != "admin-approval" || sc.Deliveries != 1 || len(sc.EventsSent) != 3 {
		t.Errorf("sub-case stats %+v", sc)
	}
}

func TestApprovalOfAFilingMatterIssuesNoLicence(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	body := envelope(t, sub{id: "ev-f", subcase: "sc_f", dept: "market-regulation", kind: "filing", callback: hub.callback("sc_f")})
	if a := push(t, srv, "market-regulation", "ev-f", body); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	waitIdle(t, sim)
	evs := hub.eventsOf("sc_f")
	if got := hub.typesOf("sc_f"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v", got)
	}
	if evs[2].Licences != nil || evs[2].DecisionNumber == "" {
		t.Errorf("approved %+v: want a decision number and no licence", evs[2])
	}
}

func TestLicenceWithoutApplicantNamesAGenericHolderAndTheCodeAsIssuer(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	for i, sc := range []string{"sc_g1", "sc_g2"} {
		body := envelope(t, sub{id: "ev-" + sc, subcase: sc, dept: "admin-approval", callback: hub.callback(sc)})
		if a := push(t, srv, "admin-approval", "ev-"+sc, body); a.status != http.StatusAccepted {
			t.Fatalf("push %d: %d %s", i, a.status, a.body)
		}
		waitIdle(t, sim)
	}
	l1 := hub.eventsOf("sc_g1")[2].Licences[0]
	l2 := hub.eventsOf("sc_g2")[2].Licences[0]
	if l1.Holder != "申请人" || l1.HolderID != "" || l1.HolderIDType != "uscc" || l1.Issuer != "admin-approval" {
		t.Errorf("licence without applicant: %+v", l1)
	}
	if l1.Number == l2.Number || l1.File.SHA256 == l2.File.SHA256 {
		t.Errorf("numbers %q, %q and files %q, %q: want distinct numbers and files", l1.Number, l2.Number, l1.File.SHA256, l2.File.SHA256)
	}
}

func TestARepeatedIdempotencyKeyIsAnsweredAgainWithoutASecondEffect(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	body := envelope(t, sub{id: "ev-2", subcase: "sc_2", dept: "health", callback: hub.callback("sc_2")})

	first := push(t, srv, "health", "ev-2", body)
	second := push(t, srv, "health", "ev-2", body)
	if first.status != http.StatusAccepted || second.status != http.StatusOK {
		t.Fatalf("statuses %d, %d; want 202 then 200", first.status, second.status)
	}
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("bodies differ: %s vs %s", first.body, second.body)
	}
	// A new message for the same sub-case is no new sub-case either.
	other := envelope(t, sub{id: "ev-2b", subcase: "sc_2", dept: "health", callback: hub.callback("sc_2")})
	if a := push(t, srv, "health", "ev-2b", other); a.status != http.StatusOK {
		t.Errorf("new key for an accepted sub-case: %d, want 200", a.status)
	}
	waitIdle(t, sim)

	if got := hub.typesOf("sc_2"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v: want exactly one set", got)
	}
	if n := hub.total(); n != 3 {
		t.Errorf("hub got %d callback attempts, want 3", n)
	}
	st := sim.Stats()
	if d := st.Departments["health"]; d.Received != 3 || d.Duplicates != 2 || d.CallbacksSent != 3 {
		t.Errorf("department stats %+v: want received 3, duplicates 2, callbacks_sent 3", d)
	}
	if sc := st.Subcases["sc_2"]; sc.Deliveries != 3 {
		t.Errorf("deliveries %d, want 3", sc.Deliveries)
	}
}

func TestAKeyReusedForAnotherSubcaseIsUnprocessable(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	if a := push(t, srv, "health", "ev-r", envelope(t, sub{id: "ev-r", subcase: "sc_r1", dept: "health", callback: hub.callback("sc_r1")})); a.status != http.StatusAccepted {
		t.Fatalf("first push: %d", a.status)
	}
	a := push(t, srv, "health", "ev-r", envelope(t, sub{id: "ev-r", subcase: "sc_r2", dept: "health", callback: hub.callback("sc_r2")}))
	if code, _ := a.errorBody(t); a.status != http.StatusUnprocessableEntity || code != "idempotency_key_reused" {
		t.Errorf("reused key: %d %s", a.status, a.body)
	}
	waitIdle(t, sim)
	if got := hub.typesOf("sc_r2"); len(got) != 0 {
		t.Errorf("callbacks for the refused sub-case: %v", got)
	}
}

func TestMalformedPushesAreRefusedWithEveryProblemAndNoEffect(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	good := func() []byte {
		return envelope(t, sub{id: "ev-b", subcase: "sc_b", dept: "health", callback: hub.callback("sc_b")})
	}
	edit := func(f func(env, data map[string]any)) []byte {
		var env map[string]any
		if err := json.Unmarshal(good(), &env); err != nil {
			t.Fatal(err)
		}
		f(env, env["data"].(map[string]any))
		b, _ := json.Marshal(env)
		return b
	}
	cases := []struct {
		name        string
		dept, key   string
		contentType string
		body        []byte
		status      int
		paths       []string
	}{
		{name: "a push without Idempotency-Key is a bad request", dept: "health", body: good(),
			status: 400, paths: []string{"header:Idempotency-Key"}},
		{name: "a push for another department is a bad request", dept: "housing", key: "ev-b", body: good(),
			status: 400, paths: []string{"data.department"}},
		{name: "an envelope of another type is a bad request", dept: "health", key: "ev-b",
			body:   edit(func(env, _ map[string]any) { env["type"] = event.TypeCaseUpdated }),
			status: 400, paths: []string{"type"}},
		{name: "an undecodable body is a bad request", dept: "health", key: "ev-b", body: []byte(`{"specversion":`),
			status: 400, paths: []string{""}},
		{name: "a key other than the envelope id is a bad request", dept: "health", key: "something-else", body: good(),
			status: 400, paths: []string{"header:Idempotency-Key"}},
		{name: "every problem is reported at once", dept: "housing",
			body: edit(func(env, data map[string]any) {
				env["specversion"] = "0.3"
				delete(data, "subcase_id")
				data["callback"] = "/relative"
			}),
			status: 400, paths: []string{"data.callback", "data.department", "data.subcase_id", "header:Idempotency-Key", "specversion"}},
		{name: "a push that is not CloudEvents JSON is an unsupported media type", dept: "health", key: "ev-b",
			contentType: "application/json", body: good(), status: 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}
			if c.contentType != "" {
				h["Content-Type"] = c.contentType
			}
			if c.key != "" {
				h["Idempotency-Key"] = c.key
			}
			a := do(t, http.MethodPost, srv.URL+"/departments/"+c.dept+"/subcases", h, c.body)
			if a.status != c.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, c.status)
			}
			_, paths := a.errorBody(t)
			sort.Strings(paths)
			if c.paths != nil && !reflect.DeepEqual(paths, c.paths) {
				t.Errorf("problem paths %q, want %q", paths, c.paths)
			}
		})
	}
	waitIdle(t, sim)
	if n := hub.total(); n != 0 {
		t.Errorf("%d callbacks after refused pushes", n)
	}
	if st := sim.Stats(); len(st.Subcases) != 0 || len(st.Departments) != 0 {
		t.Errorf("refused pushes counted: %+v", st)
	}
}

func TestInjectedFailuresAreAnsweredWithTheFailureStatusAndNoCallbacks(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{Departments: map[string]deptsim.DeptConfig{
		"tobacco": {FailureRate: 1, FailureStatus: http.StatusServiceUnavailable},
	}})
	a := push(t, srv, "tobacco", "ev-3", envelope(t, sub{id: "ev-3", subcase: "sc_3", dept: "tobacco", callback: hub.callback("sc_3")}))
	if code, _ := a.errorBody(t); a.status != http.StatusServiceUnavailable || code != "simulated_failure" {
		t.Fatalf("push: %d %s, want 503 simulated_failure", a.status, a.body)
	}
	// Departments not listed follow Default, which never fails.
	if a := push(t, srv, "health", "ev-3h", envelope(t, sub{id: "ev-3h", subcase: "sc_3h", dept: "health", callback: hub.callback("sc_3h")})); a.status != http.StatusAccepted {
		t.Fatalf("unlisted department: %d, want 202", a.status)
	}
	waitIdle(t, sim)
	if got := hub.typesOf("sc_3"); len(got) != 0 {
		t.Errorf("callbacks after an injected failure: %v", got)
	}
	st := sim.Stats()
	if d := st.Departments["tobacco"]; d != (deptsim.DeptStats{FailuresInjected: 1}) {
		t.Errorf("stats %+v: want only failures_injected 1", d)
	}
	if sc := st.Subcases["sc_3"]; sc.Deliveries != 1 || len(sc.EventsSent) != 0 {
		t.Errorf("sub-case stats %+v", sc)
	}
}

func TestTheSameSeedInjectsTheSameFailures(t *testing.T) {
	hub := newFakeHub(t)
	cfg := deptsim.Config{Default: deptsim.DeptConfig{FailureRate: 0.5, FailureStatus: 502, Seed: 42}}
	pattern := func() string {
		sim, srv := newSim(t, cfg)
		var b strings.Builder
		for i := range 40 {
			id := "sc_s" + string(rune('A'+i))
			a := push(t, srv, "transport", "ev-"+id, envelope(t, sub{id: "ev-" + id, subcase: id, dept: "transport", callback: hub.callback(id)}))
			switch a.status {
			case http.StatusAccepted:
				b.WriteByte('+')
			case http.StatusBadGateway:
				b.WriteByte('-')
			default:
				t.Fatalf("status %d", a.status)
			}
		}
		waitIdle(t, sim)
		return b.String()
	}
	p1, p2 := pattern(), pattern()
	if p1 != p2 {
		t.Errorf("seed 42 gave %s, then %s", p1, p2)
	}
	if !strings.Contains(p1, "+") || !strings.Contains(p1, "-") {
		t.Errorf("rate 0.5 over 40 pushes gave %s", p1)
	}
}

func TestRejectionSendsAReason(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{Default: deptsim.DeptConfig{Decision: deptsim.DecisionReject}})
	push(t, srv, "fire-rescue", "ev-4", envelope(t, sub{id: "ev-4", subcase: "sc_4", dept: "fire-rescue", callback: hub.callback("sc_4")}))
	waitIdle(t, sim)
	evs := hub.eventsOf("sc_4")
	if got := hub.typesOf("sc_4"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Rejected}) {
		t.Fatalf("events %v", got)
	}
	if r := evs[2]; r.Reason == "" || r.Licences != nil {
		t.Errorf("rejected %+v: want a reason and no licence", r)
	}
}

func TestSupplementRequestNamesAMaterialAndStops(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{Departments: map[string]deptsim.DeptConfig{"housing": {Decision: deptsim.DecisionSupplement}}})
	push(t, srv, "housing", "ev-5", envelope(t, sub{id: "ev-5", subcase: "sc_5", dept: "housing", callback: hub.callback("sc_5")}))
	push(t, srv, "housing", "ev-5n", envelope(t, sub{id: "ev-5n", subcase: "sc_5n", dept: "housing", callback: hub.callback("sc_5n"),
		noMaterials: true, form: map[string]any{"XMMC": "x", "DZ": "y"}}))
	waitIdle(t, sim)
	evs := hub.eventsOf("sc_5")
	if got := hub.typesOf("sc_5"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.SupplementRequested}) {
		t.Fatalf("events %v", got)
	}
	if m := evs[2].Missing; len(m) != 1 || m[0].Material != "business-licence" || m[0].Note == "" {
		t.Errorf("missing %+v: want the first material with a note", m)
	}
	if m := hub.eventsOf("sc_5n")[2].Missing; len(m) != 1 || m[0].Field != "DZ" {
		t.Errorf("missing %+v for a sub-case without materials: want the first form field", m)
	}
}

func TestACallbackAnswered5xxIsRetriedAndArrivesOnce(t *testing.T) {
	hub := newFakeHub(t)
	hub.respond = func(ev event.DepartmentEvent, attempt int) (int, string) {
		if ev.Type == event.Received && attempt <= 2 {
			return http.StatusInternalServerError, `{"error":{"status":500,"code":"internal","message":"boom"}}`
		}
		return http.StatusOK, `{}`
	}
	sim, srv := newSim(t, deptsim.Config{})
	push(t, srv, "hrss", "ev-6", envelope(t, sub{id: "ev-6", subcase: "sc_6", dept: "hrss", kind: "record", callback: hub.callback("sc_6")}))
	waitIdle(t, sim)
	if got := hub.typesOf("sc_6"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v", got)
	}
	if n := hub.attemptsOf("sim-sc_6-received"); n != 3 {
		t.Errorf("received was attempted %d times, want 3 (two 500s, then 200)", n)
	}
	if d := sim.Stats().Departments["hrss"]; d.CallbacksSent != 3 || d.CallbacksFailed != 0 {
		t.Errorf("stats %+v", d)
	}
}

// licenceOf pushes sub-case sc of department dept to a simulator of its own (a simulator
// started afresh, as after a restart) and returns the number of the licence it issues.
func licenceOf(t *testing.T, hub *fakeHub, dept, sc string) string {
	t.Helper()
	sim, srv := newSim(t, deptsim.Config{})
	if a := push(t, srv, dept, "ev-"+sc, envelope(t, sub{id: "ev-" + sc, subcase: sc, dept: dept, callback: hub.callback(sc)})); a.status != http.StatusAccepted {
		t.Fatalf("push %s: %d %s", sc, a.status, a.body)
	}
	waitIdle(t, sim)
	for _, ev := range hub.eventsOf(sc) {
		if ev.Type == event.Approved && len(ev.Licences) == 1 {
			return ev.Licences[0].Number
		}
	}
	t.Fatalf("no licence issued for %s: %v", sc, hub.typesOf(sc))
	return ""
}

func TestLicenceNumbersStayUniqueAcrossRestartsAndRepeatForARedeliveredSubcase(t *testing.T) {
	hub := newFakeHub(t)
	// Each sub-case goes to a simulator of its own: a counter in memory would number every
	// one of them 1.
	seen := map[string]string{}
	for _, sc := range []string{"sc_r1", "sc_r2", "sc_r3", "sc_r4"} {
		n := licenceOf(t, hub, "admin-approval", sc)
		if other, dup := seen[n]; dup {
			t.Errorf("licence number %s issued for %s and again for %s after a restart", n, other, sc)
		}
		seen[n] = sc
	}
	// The hub delivering a sub-case again, to a restarted simulator, gets the same number,
	// which it takes as a repeat rather than a second licence.
	hub2 := newFakeHub(t)
	for n, sc := range seen {
		if again := licenceOf(t, hub2, "admin-approval", sc); again != n {
			t.Errorf("%s redelivered: licence %s, first %s", sc, again, n)
		}
	}
}

func TestACallbackIsRetriedWhileTheHubIsDownBeyondTenAttempts(t *testing.T) {
	hub := newFakeHub(t)
	const down = 25 // attempts answered 503, as while the hub restarts
	hub.respond = func(ev event.DepartmentEvent, attempt int) (int, string) {
		if ev.Type == event.Received && attempt <= down {
			return http.StatusServiceUnavailable, `{}`
		}
		return http.StatusOK, `{}`
	}
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithCallbackBackoff(time.Millisecond, 4*time.Millisecond))
	push(t, srv, "hrss", "ev-d", envelope(t, sub{id: "ev-d", subcase: "sc_d", dept: "hrss", callback: hub.callback("sc_d")}))
	waitIdle(t, sim)
	if got := hub.typesOf("sc_d"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v, want received, accepted, approved", got)
	}
	if n := hub.attemptsOf("sim-sc_d-received"); n != down+1 {
		t.Errorf("received attempted %d times, want %d", n, down+1)
	}
	if d := sim.Stats().Departments["hrss"]; d.CallbacksFailed != 0 {
		t.Errorf("stats %+v", d)
	}
}

func TestACallbackIsRetriedWhileNothingAnswersAtTheHubsAddress(t *testing.T) {
	hub := newFakeHub(t)
	// The first attempts find the connection dropped, as while the hub restarts.
	var mu sync.Mutex
	dropped := 0
	const drops = 15
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := dropped < drops
		if drop {
			dropped++
		}
		mu.Unlock()
		if drop {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		hub.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithCallbackBackoff(time.Millisecond, 4*time.Millisecond))
	push(t, srv, "hrss", "ev-n", envelope(t, sub{id: "ev-n", subcase: "sc_n", dept: "hrss", callback: front.URL + "/api/v1/subcases/sc_n/events"}))
	waitIdle(t, sim)
	mu.Lock()
	defer mu.Unlock()
	if got := hub.typesOf("sc_n"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v after %d dropped connections, want received, accepted, approved", got, dropped)
	}
	if dropped != drops {
		t.Errorf("%d connections dropped, want %d", dropped, drops)
	}
}

func TestACallbackIsGivenUpOnceItsRetryTimeHasPassed(t *testing.T) {
	hub := newFakeHub(t)
	hub.respond = func(event.DepartmentEvent, int) (int, string) { return http.StatusBadGateway, `{}` }
	const budget = 300 * time.Millisecond
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithCallbackRetry(budget), deptsim.WithCallbackBackoff(time.Millisecond, 50*time.Millisecond))
	start := time.Now()
	push(t, srv, "hrss", "ev-g", envelope(t, sub{id: "ev-g", subcase: "sc_g", dept: "hrss", callback: hub.callback("sc_g")}))
	waitIdle(t, sim)
	took := time.Since(start)
	if took > budget+2*time.Second {
		t.Errorf("gave up after %v, want about %v", took, budget)
	}
	if n := hub.attemptsOf("sim-sc_g-received"); n < 5 {
		t.Errorf("received attempted %d times within %v, want several", n, budget)
	}
	if n := hub.attemptsOf("sim-sc_g-accepted"); n != 0 {
		t.Errorf("accepted attempted %d times after received was given up, want 0", n)
	}
	if d := sim.Stats().Departments["hrss"]; d.CallbacksFailed != 1 || d.CallbacksSent != 0 {
		t.Errorf("stats %+v", d)
	}
}

func TestACallbackAnswered409StopsTheSequence(t *testing.T) {
	hub := newFakeHub(t)
	hub.respond = func(ev event.DepartmentEvent, _ int) (int, string) {
		if ev.Type == event.Accepted {
			return http.StatusConflict, `{"error":{"status":409,"code":"illegal_transition","message":"x"}}`
		}
		return http.StatusOK, `{}`
	}
	sim, srv := newSim(t, deptsim.Config{})
	push(t, srv, "agriculture", "ev-7", envelope(t, sub{id: "ev-7", subcase: "sc_7", dept: "agriculture", callback: hub.callback("sc_7")}))
	waitIdle(t, sim)
	if got := hub.typesOf("sc_7"); !reflect.DeepEqual(got, []string{event.Received}) {
		t.Fatalf("events %v, want only received", got)
	}
	if n := hub.attemptsOf("sim-sc_7-accepted"); n != 1 {
		t.Errorf("accepted attempted %d times, want 1 (409 is not retried)", n)
	}
	if n := hub.attemptsOf("sim-sc_7-approved"); n != 0 {
		t.Errorf("approved attempted %d times after a 409, want 0", n)
	}
	st := sim.Stats()
	if d := st.Departments["agriculture"]; d.CallbacksSent != 1 || d.CallbacksFailed != 1 {
		t.Errorf("stats %+v", d)
	}
	if sc := st.Subcases["sc_7"]; !reflect.DeepEqual(sc.EventsSent, []string{event.Received}) {
		t.Errorf("events_sent %v", sc.EventsSent)
	}
}

func TestACallbackAnsweredAnother4xxIsGivenUpAndTheSequenceGoesOn(t *testing.T) {
	hub := newFakeHub(t)
	hub.respond = func(ev event.DepartmentEvent, _ int) (int, string) {
		if ev.Type == event.Received {
			return http.StatusUnprocessableEntity, `{}`
		}
		return http.StatusOK, `{}`
	}
	sim, srv := newSim(t, deptsim.Config{})
	push(t, srv, "agriculture", "ev-8", envelope(t, sub{id: "ev-8", subcase: "sc_8", dept: "agriculture", callback: hub.callback("sc_8")}))
	waitIdle(t, sim)
	if got := hub.typesOf("sc_8"); !reflect.DeepEqual(got, []string{event.Accepted, event.Approved}) {
		t.Fatalf("events %v, want accepted, approved", got)
	}
	if n := hub.attemptsOf("sim-sc_8-received"); n != 1 {
		t.Errorf("received attempted %d times, want 1", n)
	}
}

func TestDelaySpacesTheCallbacks(t *testing.T) {
	hub := newFakeHub(t)
	const delay = 30 * time.Millisecond
	sim, srv := newSim(t, deptsim.Config{Default: deptsim.DeptConfig{Delay: delay}})
	start := time.Now()
	push(t, srv, "health", "ev-9", envelope(t, sub{id: "ev-9", subcase: "sc_9", dept: "health", callback: hub.callback("sc_9")}))
	waitIdle(t, sim)
	hub.mu.Lock()
	at := append([]time.Time(nil), hub.arrived["sc_9"]...)
	hub.mu.Unlock()
	if len(at) != 3 {
		t.Fatalf("%d callbacks, want 3", len(at))
	}
	prev := start
	for i, t1 := range at {
		if gap := t1.Sub(prev); gap < delay {
			t.Errorf("callback %d came %v after the previous step, want at least %v", i, gap, delay)
		}
		prev = t1
	}
}

func TestCloseAbandonsCallbacksAndRefusesPushes(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{Default: deptsim.DeptConfig{Delay: time.Hour}})
	if a := push(t, srv, "health", "ev-10", envelope(t, sub{id: "ev-10", subcase: "sc_10", dept: "health", callback: hub.callback("sc_10")})); a.status != http.StatusAccepted {
		t.Fatalf("push: %d", a.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := sim.Idle(ctx); err == nil {
		t.Fatal("Idle returned nil with a callback an hour away")
	}
	closed := make(chan error, 1)
	go func() { closed <- sim.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if n := hub.total(); n != 0 {
		t.Errorf("%d callbacks after Close", n)
	}
	a := push(t, srv, "health", "ev-11", envelope(t, sub{id: "ev-11", subcase: "sc_11", dept: "health", callback: hub.callback("sc_11")}))
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("push after Close: %d, want 503", a.status)
	}
}

func TestStatsServesOneObjectPerDepartmentAndSubcase(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	body := envelope(t, sub{id: "ev-12", subcase: "sc_12", dept: "urban-management", callback: hub.callback("sc_12")})
	push(t, srv, "urban-management", "ev-12", body)
	push(t, srv, "urban-management", "ev-12", body)
	waitIdle(t, sim)

	a := do(t, http.MethodGet, srv.URL+"/stats", nil, nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET /stats: %d", a.status)
	}
	var raw struct {
		Departments map[string]map[string]any `json:"departments"`
		Subcases    map[string]map[string]any `json:"subcases"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if got := keys(raw.Departments["urban-management"]); !reflect.DeepEqual(got,
		[]string{"callbacks_failed", "callbacks_sent", "duplicates", "failures_injected", "received"}) {
		t.Errorf("department keys %v", got)
	}
	sc := raw.Subcases["sc_12"]
	if got := keys(sc); !reflect.DeepEqual(got, []string{"deliveries", "department", "events_sent"}) {
		t.Errorf("sub-case keys %v", got)
	}
	if sc["deliveries"] != float64(2) || !reflect.DeepEqual(sc["events_sent"], []any{"received", "accepted", "approved"}) {
		t.Errorf("sub-case %v", sc)
	}
	var typed deptsim.Stats
	if err := json.Unmarshal(a.body, &typed); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(typed, sim.Stats()) {
		t.Errorf("GET /stats %+v differs from Stats() %+v", typed, sim.Stats())
	}
}

func TestUnknownPathsAndMethodsAreAnsweredInJSON(t *testing.T) {
	_, srv := newSim(t, deptsim.Config{})
	cases := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"an unknown path is not found", http.MethodGet, "/nope", 404, "not_found", ""},
		{"GET on a push endpoint is not allowed", http.MethodGet, "/departments/health/subcases", 405, "method_not_allowed", "POST"},
		{"POST on stats is not allowed", http.MethodPost, "/stats", 405, "method_not_allowed", "GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, c.method, srv.URL+c.path, nil, nil)
			if code, _ := a.errorBody(t); a.status != c.status || code != c.code {
				t.Errorf("%d %s, want %d %s", a.status, code, c.status, c.code)
			}
			if got := a.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}
	if a := do(t, http.MethodGet, srv.URL+"/healthz", nil, nil); a.status != http.StatusOK {
		t.Errorf("healthz: %d", a.status)
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsNeverCarryPersonalData(t *testing.T) {
	const (
		residentID = "320707199001011234"
		holderName = "样例个体经营户"
	)
	var logs syncBuffer
	hub := newFakeHub(t)
	hub.respond = func(ev event.DepartmentEvent, attempt int) (int, string) {
		switch {
		case ev.Type == event.Received && attempt == 1:
			return http.StatusBadGateway, "upstream " + residentID
		case ev.Type == event.Approved:
			// A hub error quoting the value must not carry it into the log.
			return http.StatusUnprocessableEntity, `{"error":{"status":422,"code":"invalid","message":"holder_id ` + residentID +
				` is wrong","problems":[{"path":"licences[0].holder_id","rule":"format","message":"` + residentID + `"}]}}`
		}
		return http.StatusOK, `{}`
	}
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithLogger(logger))

	s := sub{id: "ev-13", subcase: "sc_13", dept: "admin-approval", callback: hub.callback("sc_13"),
		applicant: &applicantJSON{Name: holderName, ID: residentID, IDType: "resident_id"},
		form:      map[string]any{"SFZHM": residentID, "XM": holderName}}
	if a := push(t, srv, "admin-approval", "ev-13", envelope(t, s)); a.status != http.StatusAccepted {
		t.Fatalf("push: %d", a.status)
	}
	// A refused push of the same data: neither the log nor the answer may quote it.
	if a := push(t, srv, "housing", "ev-13", envelope(t, s)); a.status != http.StatusBadRequest || bytes.Contains(a.body, []byte(residentID)) {
		t.Errorf("refused push: %d %s", a.status, a.body)
	}
	waitIdle(t, sim)

	if l := hub.eventsOf("sc_13"); len(l) != 2 {
		t.Fatalf("events %v: want received and accepted before the approval was refused", hub.typesOf("sc_13"))
	}
	if n := hub.attemptsOf("sim-sc_13-approved"); n != 1 {
		t.Fatalf("approved attempted %d times, want 1", n)
	}
	out := logs.String()
	if strings.Count(out, "\n") < 4 {
		t.Fatalf("too few log lines to judge:\n%s", out)
	}
	for _, secret := range []string{residentID, holderName} {
		if strings.Contains(out, secret) {
			t.Errorf("personal data %q in the logs:\n%s", secret, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["simulated"] != true {
			t.Errorf("log line without simulated=true: %s", line)
		}
	}
}

// A department with a signing secret takes only pushes signed with it (401 otherwise, with no
// effect), and calls the hub back with its API key.
func TestASigningDepartmentRefusesUnsignedPushesAndCallsBackWithItsKey(t *testing.T) {
	hub := newFakeHub(t)
	var auth []string
	hub.respond = func(ev event.DepartmentEvent, _ int) (int, string) { return http.StatusOK, "" }
	seen := hub.srv.Config.Handler
	hub.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		hub.mu.Unlock()
		seen.ServeHTTP(w, r)
	})
	secret := signing.NewSecret()
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithSigningSecrets(map[string]string{"tobacco": secret}),
		deptsim.WithHubKeys(map[string]string{"tobacco": "yjk_tobacco"}))
	body := envelope(t, sub{id: "ev-s", subcase: "sc_s", dept: "tobacco", callback: hub.callback("sc_s")})

	if a := push(t, srv, "tobacco", "ev-s", body); a.status != http.StatusUnauthorized {
		t.Fatalf("unsigned push: %d %s, want 401", a.status, a.body)
	}
	signer, err := signing.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := signing.New(signing.NewSecret())
	for name, s := range map[string]*signing.Signer{"another secret": forged} {
		h, _ := s.Sign("ev-s", time.Now(), body)
		h["Content-Type"], h["Idempotency-Key"] = "application/cloudevents+json", "ev-s"
		if a := do(t, http.MethodPost, srv.URL+"/departments/tobacco/subcases", h, body); a.status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s, want 401", name, a.status, a.body)
		}
	}
	if st := sim.Stats(); st.Departments["tobacco"].SignaturesRefused != 2 || len(st.Subcases) != 0 {
		t.Fatalf("refused pushes had an effect: %+v", st)
	}
	h, _ := signer.Sign("ev-s", time.Now(), body)
	h["Content-Type"], h["Idempotency-Key"] = "application/cloudevents+json", "ev-s"
	if a := do(t, http.MethodPost, srv.URL+"/departments/tobacco/subcases", h, body); a.status != http.StatusAccepted {
		t.Fatalf("signed push: %d %s, want 202", a.status, a.body)
	}
	waitIdle(t, sim)
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if len(auth) != 3 {
		t.Fatalf("callbacks %d, want 3", len(auth))
	}
	for _, a := range auth {
		if a != "Bearer yjk_tobacco" {
			t.Errorf("callback Authorization %q, want the department's key", a)
		}
	}
}

func TestOnlyTheRetainedNumberOfSettledSubcasesIsRemembered(t *testing.T) {
	hub := newFakeHub(t)
	const retain, pushed = 50, 200
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithRetention(retain))
	for i := range pushed {
		sc, key := fmt.Sprintf("sc_ret%d", i), fmt.Sprintf("ev-ret%d", i)
		if a := push(t, srv, "health", key, envelope(t, sub{id: key, subcase: sc, dept: "health", callback: hub.callback(sc)})); a.status != http.StatusAccepted {
			t.Fatalf("push %d: %d %s", i, a.status, a.body)
		}
	}
	waitIdle(t, sim)
	st := sim.Stats()
	if len(st.Subcases) != retain {
		t.Fatalf("%d sub-cases remembered after %d completed, want the retention, %d", len(st.Subcases), pushed, retain)
	}
	if d := st.Departments["health"]; d.Received != pushed || d.CallbacksSent != 3*pushed {
		t.Errorf("department stats %+v: the counts cover every sub-case, forgotten or not", d)
	}
	// A remembered sub-case's key is still a duplicate; a forgotten one's is taken as new.
	var kept, gone int = -1, -1
	for i := range pushed {
		if _, ok := st.Subcases[fmt.Sprintf("sc_ret%d", i)]; ok {
			kept = i
		} else {
			gone = i
		}
	}
	again := func(i int) int {
		sc, key := fmt.Sprintf("sc_ret%d", i), fmt.Sprintf("ev-ret%d", i)
		return push(t, srv, "health", key, envelope(t, sub{id: key, subcase: sc, dept: "health", callback: hub.callback(sc)})).status
	}
	if s := again(kept); s != http.StatusOK {
		t.Errorf("a remembered sub-case pushed again: %d, want 200", s)
	}
	if s := again(gone); s != http.StatusAccepted {
		t.Errorf("a forgotten sub-case pushed again: %d, want 202", s)
	}
	waitIdle(t, sim)
	if n := len(sim.Stats().Subcases); n != retain {
		t.Errorf("%d sub-cases remembered, want %d", n, retain)
	}
}

func TestSubcasesWhoseCallbacksRunAreNeverForgotten(t *testing.T) {
	arrived, release := make(chan string, 8), make(chan struct{})
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(gate.Close)
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithRetention(1))
	for i := range 3 {
		sc, key := fmt.Sprintf("sc_run%d", i), fmt.Sprintf("ev-run%d", i)
		push(t, srv, "health", key, envelope(t, sub{id: key, subcase: sc, dept: "health", callback: gate.URL + "/cb/" + sc}))
	}
	deadline := time.After(10 * time.Second)
	for range 3 {
		select {
		case <-arrived:
		case <-deadline:
			t.Fatal("the three first callbacks did not arrive within 10s")
		}
	}
	if n := len(sim.Stats().Subcases); n != 3 {
		t.Errorf("%d sub-cases remembered while the callbacks of 3 run, retention 1: want all 3", n)
	}
	close(release)
	waitIdle(t, sim)
	if n := len(sim.Stats().Subcases); n != 1 {
		t.Errorf("%d sub-cases remembered once every callback ended, want the retention, 1", n)
	}
}

func TestASupplementAfterTheDecisionIsAnsweredAlreadyDecided(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newSim(t, deptsim.Config{})
	push(t, srv, "health", "ev-dec", envelope(t, sub{id: "ev-dec", subcase: "sc_dec", dept: "health", callback: hub.callback("sc_dec")}))
	waitIdle(t, sim)
	env, err := event.New("ev-dec-re", event.TypeSubcaseResubmitted, "sc_dec", time.Now(), event.SubcaseResubmitted{
		CaseID: "cs_sc_dec", SubcaseID: "sc_dec", SupplementID: "sp_1", Department: "health"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	a := push(t, srv, "health", "ev-dec-re", body)
	if code, _ := a.errorBody(t); a.status != http.StatusConflict || code != "already_decided" {
		t.Fatalf("supplement after approval: %d %s, want 409 already_decided", a.status, a.body)
	}
	waitIdle(t, sim)
	if n := hub.total(); n != 3 {
		t.Errorf("hub got %d callback attempts, want the 3 of the first decision only", n)
	}
}
