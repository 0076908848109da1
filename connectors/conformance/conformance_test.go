package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/connectors/conformance"
	"yjshub/connectors/signing"
	"yjshub/deptsim"
	"yjshub/hub/event"
	"yjshub/schemas"
)

// testTimeout bounds every run of the kit in these tests.
const testTimeout = 30 * time.Second

func run(t *testing.T, cfg conformance.Config) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	r, err := conformance.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// simulator serves deptsim and returns the endpoint of the department dept, which checks
// signatures with secret when one is given.
func simulator(t *testing.T, dept string, secret ...string) (*deptsim.Simulator, string) {
	t.Helper()
	secrets := map[string]string{}
	if len(secret) > 0 {
		secrets[dept] = secret[0]
	}
	sim, err := deptsim.New(deptsim.Config{}, deptsim.WithLogger(slog.New(slog.DiscardHandler)), deptsim.WithSigningSecrets(secrets))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		_ = sim.Close()
		srv.Close()
	})
	return sim, srv.URL + "/departments/" + dept + "/subcases"
}

// results returns each check's result by id.
func results(r *conformance.Report) map[string]string {
	out := map[string]string{}
	for _, c := range r.Checks {
		out[c.ID] = c.Result
	}
	return out
}

func wantResults(t *testing.T, r *conformance.Report, want map[string]string) {
	t.Helper()
	got := results(r)
	for id, w := range want {
		if got[id] != w {
			c, _ := r.Check(id)
			t.Errorf("%s: %s (%s), want %s", id, got[id], c.Reason, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the report has checks %v, want %v", got, want)
	}
}

var allChecks = []string{
	conformance.CheckValidDelivery, conformance.CheckRepeatedKey, conformance.CheckMissingKey, conformance.CheckInvalidBody,
	conformance.CheckContentType, conformance.CheckResponseTime,
	conformance.CheckCallbackArrives, conformance.CheckCallbackValid, conformance.CheckCallbackOrder, conformance.CheckCallbackOnce,
	conformance.CheckBadSignature, conformance.CheckOldSignature,
}

var (
	callbackIDs  = []string{conformance.CheckCallbackArrives, conformance.CheckCallbackValid, conformance.CheckCallbackOrder, conformance.CheckCallbackOnce}
	signatureIDs = []string{conformance.CheckBadSignature, conformance.CheckOldSignature}
)

// each gives every check of ids the same result.
func each(ids []string, result string) map[string]string {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[id] = result
	}
	return m
}

func every(result string) map[string]string { return each(allChecks, result) }

func TestTheDepartmentSimulatorPassesEveryCheck(t *testing.T) {
	t.Parallel()
	secret := signing.NewSecret()
	sim, target := simulator(t, "tobacco", secret)
	r := run(t, conformance.Config{Target: target, Department: "tobacco", Callback: true, CallbackWait: 10 * time.Second, SigningSecret: secret})
	wantResults(t, r, every(conformance.Pass))
	if !r.Passed {
		t.Errorf("Passed = false, want true")
	}
	// The simulator saw the sub-case twice and acted once; it refused the others.
	st := sim.Stats()
	if d := st.Departments["tobacco"]; d.Received != 2 || d.Duplicates != 1 || d.CallbacksSent != 3 || d.SignaturesRefused != 2 {
		t.Errorf("simulator stats %+v: want the valid sub-case received twice, once as a duplicate, and three events sent", d)
	}
	for id := range st.Subcases {
		if !strings.HasPrefix(id, conformance.IDPrefix) {
			t.Errorf("sub-case id %q is not marked as test data (prefix %q)", id, conformance.IDPrefix)
		}
	}
	if c, _ := r.Check(conformance.CheckCallbackOrder); c.Reason != "dispatched → received → accepted → approved" {
		t.Errorf("callback order reason %q", c.Reason)
	}
}

func TestWithoutCallbackTheCallbackChecksAreSkipped(t *testing.T) {
	t.Parallel()
	_, target := simulator(t, "fire-rescue")
	r := run(t, conformance.Config{Target: target, Department: "fire-rescue"})
	want := every(conformance.Pass)
	for _, id := range append(callbackIDs, signatureIDs...) {
		want[id] = conformance.Skip
	}
	wantResults(t, r, want)
	if !r.Passed {
		t.Errorf("Passed = false with only the callback checks skipped")
	}
}

// brokenDepartment accepts everything it can, errs on what it cannot read and on repeats, and
// calls back carelessly: a valid received, an event the schema refuses, an illegal transition
// — for every delivery it accepts, the refused and repeated ones included.
func brokenDepartment(t *testing.T) string {
	var mu sync.Mutex
	seen := map[string]bool{}
	n := 0
	client := &http.Client{Timeout: 5 * time.Second}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env event.Envelope
		if json.Unmarshal(body, &env) != nil {
			http.Error(w, "java.lang.NullPointerException", http.StatusInternalServerError)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		repeat := key != "" && seen[key]
		seen[key] = true
		n++
		mu.Unlock()
		if repeat {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"message":"duplicate key value violates unique constraint"}`)
			return
		}
		var data event.SubcaseDispatched
		_ = json.Unmarshal(env.Data, &data)
		for _, ev := range []string{
			fmt.Sprintf(`{"event_id":"b-%d-1","type":"received"}`, n),
			fmt.Sprintf(`{"event_id":"b-%d-2","type":"accepted","handler":"王科员"}`, n),
			fmt.Sprintf(`{"event_id":"b-%d-3","type":"resumed"}`, n),
		} {
			resp, err := client.Post(data.Callback, "application/json", strings.NewReader(ev))
			if err != nil {
				t.Errorf("broken department: callback: %v", err)
				break
			}
			resp.Body.Close()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestABrokenDepartmentFailsTheRightChecks(t *testing.T) {
	t.Parallel()
	r := run(t, conformance.Config{Target: brokenDepartment(t), Department: "tobacco", Callback: true, CallbackWait: time.Second})
	wantResults(t, r, map[string]string{
		conformance.CheckValidDelivery:   conformance.Pass,
		conformance.CheckRepeatedKey:     conformance.Fail,
		conformance.CheckMissingKey:      conformance.Fail,
		conformance.CheckInvalidBody:     conformance.Fail,
		conformance.CheckContentType:     conformance.Fail,
		conformance.CheckResponseTime:    conformance.Pass,
		conformance.CheckCallbackArrives: conformance.Pass,
		conformance.CheckCallbackValid:   conformance.Fail,
		conformance.CheckCallbackOrder:   conformance.Fail,
		conformance.CheckCallbackOnce:    conformance.Fail,
		conformance.CheckBadSignature:    conformance.Skip,
		conformance.CheckOldSignature:    conformance.Skip,
	})
	if r.Passed {
		t.Errorf("Passed = true for a broken department")
	}
	for id, want := range map[string]string{
		conformance.CheckRepeatedKey:   "500 Internal Server Error",
		conformance.CheckMissingKey:    "200 OK",
		conformance.CheckInvalidBody:   "retries a 5xx",
		conformance.CheckContentType:   "application/cloudevents+json",
		conformance.CheckCallbackValid: "additional properties",
		conformance.CheckCallbackOrder: "resumed cannot follow received",
		conformance.CheckCallbackOnce:  "refused",
	} {
		if c, _ := r.Check(id); !strings.Contains(c.Reason, want) {
			t.Errorf("%s: reason %q does not say %q", id, c.Reason, want)
		}
	}
}

// A department that does not check signatures takes the forged and the stale sub-case: both
// signature checks fail, and say why it matters.
func TestADepartmentThatIgnoresSignaturesFailsTheSignatureChecks(t *testing.T) {
	t.Parallel()
	_, target := simulator(t, "health")
	r := run(t, conformance.Config{Target: target, Department: "health", SigningSecret: signing.NewSecret()})
	want := every(conformance.Pass)
	for _, id := range callbackIDs {
		want[id] = conformance.Skip
	}
	for _, id := range signatureIDs {
		want[id] = conformance.Fail
	}
	wantResults(t, r, want)
	if c, _ := r.Check(conformance.CheckBadSignature); !strings.Contains(c.Reason, "accepted; anyone who can reach the endpoint") {
		t.Errorf("bad-signature reason %q", c.Reason)
	}
	if r.Passed {
		t.Error("Passed = true for a department that takes forged sub-cases")
	}
}

func TestADepartmentThatNeverCallsBackFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents+json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"message":"bad request"}}`)
			return
		}
		if !json.Valid(mustRead(r.Body)) {
			w.WriteHeader(http.StatusBadRequest) // no reason given
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	r := run(t, conformance.Config{Target: srv.URL, Department: "tobacco", Callback: true, CallbackWait: 200 * time.Millisecond})
	want := every(conformance.Pass)
	want[conformance.CheckInvalidBody] = conformance.Fail // 400 without a reason
	want[conformance.CheckContentType] = conformance.Fail // 400, not 415
	for _, id := range callbackIDs {
		want[id] = conformance.Fail
	}
	for _, id := range signatureIDs {
		want[id] = conformance.Skip
	}
	wantResults(t, r, want)
	if r.Passed {
		t.Errorf("Passed = true although no callback came")
	}
}

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}

func TestASlowDepartmentFailsTheResponseTime(t *testing.T) {
	t.Parallel()
	_, target := simulator(t, "tobacco")
	r := run(t, conformance.Config{Target: target, Department: "tobacco", MaxResponseTime: time.Nanosecond})
	if c, _ := r.Check(conformance.CheckResponseTime); c.Result != conformance.Fail || !strings.Contains(c.Reason, "took") {
		t.Errorf("response time: %s (%s), want a failure saying how long the slowest answer took", c.Result, c.Reason)
	}
	if r.Passed {
		t.Errorf("Passed = true although answers were too slow")
	}
}

func TestAnUnreachableDepartmentFailsWithoutAnError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r := run(t, conformance.Config{Target: "http://hub:s3cret@" + addr + "/yjs?token=t0ken", Department: "tobacco"})
	if c, _ := r.Check(conformance.CheckValidDelivery); c.Result != conformance.Fail || c.Reason != "no answer: connection refused" {
		t.Errorf("valid delivery: %s (%s), want a failure: connection refused", c.Result, c.Reason)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if out := text.String(); strings.Contains(out, "s3cret") || strings.Contains(out, "t0ken") || !strings.Contains(out, "http://"+addr+"/yjs") {
		t.Errorf("the report shows the target's credentials, or not the target:\n%s", out)
	}
}

func TestConfigurationProblemsAreListedTogether(t *testing.T) {
	t.Parallel()
	_, err := conformance.Run(t.Context(), conformance.Config{Kind: "ftp", Target: "ftp://u:s3cret@host/x", Department: "has space",
		Timeout: -time.Second, CallbackURL: "nowhere", Headers: map[string]string{"X-Key": "a\nb"}})
	if err == nil {
		t.Fatal("Run accepted an invalid configuration")
	}
	for _, want := range []string{`kind: "ftp"`, `target: "ftp://host/x"`, "department:", "timeout:", "callback URL:", `header "X-Key"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the target's password", err)
	}
}

// TestWhatTheKitSendsIsMarkedAndValid holds the kit's requests to the contract: well-formed
// envelopes (valid against the envelope schema) marked as test data.
func TestWhatTheKitSendsIsMarkedAndValid(t *testing.T) {
	t.Parallel()
	schema, err := schemas.Compile("events/envelope.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		header, key, contentType string
		body                     []byte
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Header.Get(conformance.HeaderConformance), r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type"), mustRead(r.Body)})
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	run(t, conformance.Config{Target: srv.URL, Department: "tobacco", Headers: map[string]string{"Authorization": "Bearer x"}})

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("the department got %d requests, want 5", len(got))
	}
	for i, s := range got {
		if s.header != "true" {
			t.Errorf("request %d lacks %s: true", i+1, conformance.HeaderConformance)
		}
	}
	valid := got[0]
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(valid.body))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Errorf("the well-formed sub-case breaks the envelope schema: %v", err)
	}
	var env event.Envelope
	var data event.SubcaseDispatched
	_ = json.Unmarshal(valid.body, &env)
	_ = json.Unmarshal(env.Data, &data)
	for _, id := range []string{env.ID, env.Subject, data.CaseID, data.SubcaseID} {
		if !strings.HasPrefix(id, conformance.IDPrefix) {
			t.Errorf("id %q is not marked as test data", id)
		}
	}
	if valid.key != env.ID || valid.contentType != "application/cloudevents+json; charset=utf-8" || data.Department != "tobacco" {
		t.Errorf("the valid delivery has key %q (envelope %q), Content-Type %q, department %q", valid.key, env.ID, valid.contentType, data.Department)
	}
	if got[1].key != env.ID || !bytes.Equal(got[1].body, valid.body) {
		t.Errorf("the second request is not the same delivery again")
	}
	if got[2].key != "" || got[3].key == "" || json.Valid(got[3].body) || !strings.HasPrefix(got[4].contentType, "text/plain") {
		t.Errorf("requests 3-5 are not: without key, with a broken body, with a wrong Content-Type")
	}
}

func TestTheReportReadsAsATableAndAsJSON(t *testing.T) {
	t.Parallel()
	_, target := simulator(t, "tobacco")
	r := run(t, conformance.Config{Target: target, Department: "tobacco"})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"RESULT  CHECK", "PASS    a well-formed sub-case is accepted (2xx)", "SKIP    the department calls back",
		"6 of 6 required checks passed, 6 skipped: the department meets the contract.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back conformance.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || !back.Passed || len(back.Checks) != len(allChecks) || back.Checks[0].ID != conformance.CheckValidDelivery {
		t.Errorf("JSON report does not read back (%v): %s", err, buf.String())
	}
}
