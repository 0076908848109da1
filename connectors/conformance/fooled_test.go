package conformance_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/conformance"
	"yjshub/connectors/signing"
)

// answering serves every request with status and body, whatever it is.
func answering(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// downTarget is the URL of a port nobody listens on.
func downTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr + "/subcases"
}

// The kit cannot be fooled: a target that is down, answers 404 (with a JSON reason, even) or
// 200 to everything fails every check it has not earned — the refusals and signatures, the
// response time, the callbacks and "no further events" among them.
func TestTargetsThatProveNothingFailEveryCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target func(t *testing.T) string
		pass   []string // the only checks that may pass
		reason map[string]string
	}{
		{
			name:   "a target that is down",
			target: downTarget,
			reason: map[string]string{
				conformance.CheckResponseTime: "no request got an answer",
				conformance.CheckCallbackOnce: "nothing to judge",
			},
		},
		{
			name:   "a target that answers 404 to everything",
			target: func(t *testing.T) string { return answering(t, 404, `{"error":{"message":"no route"}}`) },
			pass:   []string{conformance.CheckResponseTime},
			reason: map[string]string{
				conformance.CheckValidDelivery: `404 Not Found in`,
				conformance.CheckMissingKey:    `proves nothing, the well-formed sub-case was refused too (404 Not Found)`,
				conformance.CheckBadSignature:  `("no route")`,
			},
		},
		{
			name:   "a target that answers 400 to everything",
			target: func(t *testing.T) string { return answering(t, 400, `{"message":"bad"}`) },
			pass:   []string{conformance.CheckResponseTime},
			reason: map[string]string{conformance.CheckInvalidBody: "proves nothing"},
		},
		{
			name: "a department that verifies signatures with another secret",
			target: func(t *testing.T) string {
				_, target := simulator(t, "tobacco", signing.NewSecret())
				return target
			},
			pass: []string{conformance.CheckResponseTime},
			reason: map[string]string{
				conformance.CheckValidDelivery: "401 Unauthorized",
				conformance.CheckBadSignature:  "proves nothing",
			},
		},
		{
			name:   "a target that accepts anything",
			target: func(t *testing.T) string { return answering(t, 200, "") },
			pass:   []string{conformance.CheckValidDelivery, conformance.CheckRepeatedKey, conformance.CheckResponseTime},
			reason: map[string]string{
				conformance.CheckMissingKey:      "200 OK in",
				conformance.CheckOldSignature:    "accepted; a recorded delivery could be replayed",
				conformance.CheckCallbackArrives: "no valid event",
				conformance.CheckCallbackOnce:    "nothing to judge",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, conformance.Config{Target: tc.target(t), Department: "tobacco", SigningSecret: signing.NewSecret(),
				Callback: true, CallbackWait: 300 * time.Millisecond, Timeout: 2 * time.Second})
			want := every(conformance.Fail)
			for _, id := range tc.pass {
				want[id] = conformance.Pass
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

// A department that refuses with another 4xx than the contract's fails, naming the status
// the contract asks for, and a 415 without a reason fails for want of one.
func TestARefusalMustBeTheContractsStatusWithAReason(t *testing.T) {
	t.Parallel()
	_, good := simulator(t, "tobacco")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Idempotency-Key") == "":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"message":"key missing"}`)
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents+json"):
			w.WriteHeader(http.StatusUnsupportedMediaType)
		default:
			// Everything else as the simulator answers.
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, good, r.Body)
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
		}
	}))
	t.Cleanup(srv.Close)
	r := run(t, conformance.Config{Target: srv.URL, Department: "tobacco"})
	for id, want := range map[string]string{
		conformance.CheckMissingKey:  `422 Unprocessable Entity in`,
		conformance.CheckContentType: `without a JSON reason`,
	} {
		c, _ := r.Check(id)
		if c.Result != conformance.Fail || !strings.Contains(c.Reason, want) {
			t.Errorf("%s: %s (%s), want a failure saying %q", id, c.Result, c.Reason, want)
		}
	}
	if c, _ := r.Check(conformance.CheckMissingKey); !strings.Contains(c.Reason, "asks for 400 Bad Request") || !strings.Contains(c.Reason, `("key missing")`) {
		t.Errorf("missing key: reason %q names neither the status wanted nor the department's own reason", c.Reason)
	}
	if c, _ := r.Check(conformance.CheckInvalidBody); c.Result != conformance.Pass {
		t.Errorf("invalid body: %s (%s), want a pass through to the simulator", c.Result, c.Reason)
	}
}

// Against the simulator with a department code it does not serve as given, the simulator's
// own reason is in the report, not just its status.
func TestTheTargetsOwnReasonIsShown(t *testing.T) {
	t.Parallel()
	_, target := simulator(t, "tobacco")
	r := run(t, conformance.Config{Target: target, Department: "fire-rescue"})
	c, _ := r.Check(conformance.CheckValidDelivery)
	if c.Result != conformance.Fail || !strings.Contains(c.Reason, "400 Bad Request") || !strings.Contains(c.Reason, "data.department") {
		t.Errorf("valid delivery: %s (%s), want a failure quoting the simulator's reason about data.department", c.Result, c.Reason)
	}
}

func TestADepartmentIsRequired(t *testing.T) {
	t.Parallel()
	_, err := conformance.Run(t.Context(), conformance.Config{Target: "http://127.0.0.1:1/x"})
	if err == nil || !strings.Contains(err.Error(), "department: required for the restpush kind") {
		t.Errorf("Run without a department: %v, want an error saying it is required", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the kit's progress, written from more than one
// goroutine.
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

// Progress shows a line as each check starts and ends and, against a target that takes its
// time, that the kit is still waiting.
func TestProgressShowsEveryCheckAndLongWaits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	var out syncBuffer
	r := run(t, conformance.Config{Target: srv.URL, Department: "tobacco", Timeout: 300 * time.Millisecond, Progress: &out, ProgressEvery: 50 * time.Millisecond})
	text := out.String()
	for _, c := range r.Checks {
		if c.Result != conformance.Skip && !strings.Contains(text, "…    "+c.Title) {
			t.Errorf("progress has no line starting %q:\n%s", c.ID, text)
		}
		if !strings.Contains(text, c.Result+" "+strings.Repeat(" ", 4-len(c.Result))+c.Title+": ") {
			t.Errorf("progress has no line ending %q:\n%s", c.ID, text)
		}
	}
	if !strings.Contains(text, "still waiting for an answer to the valid sub-case") {
		t.Errorf("progress does not show the long wait:\n%s", text)
	}
}
