package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	opErr := func(op string, errno syscall.Errno) error {
		return &url.Error{Op: "Post", URL: "http://rsj.example/in",
			Err: &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}}
	}
	tests := []struct {
		name   string
		status int
		err    error
		want   Outcome
	}{
		{"200 OK is delivered", 200, nil, Delivered},
		{"201 Created is delivered", 201, nil, Delivered},
		{"202 Accepted is delivered", 202, nil, Delivered},
		{"204 No Content is delivered", 204, nil, Delivered},
		{"409 Conflict means the department already has it: delivered", 409, nil, Delivered},
		{"400 Bad Request is permanent", 400, nil, Permanent},
		{"401 Unauthorized is permanent", 401, nil, Permanent},
		{"403 Forbidden is permanent", 403, nil, Permanent},
		{"404 Not Found is permanent", 404, nil, Permanent},
		{"410 Gone is permanent", 410, nil, Permanent},
		{"413 Content Too Large is permanent", 413, nil, Permanent},
		{"422 Unprocessable Content is permanent", 422, nil, Permanent},
		{"408 Request Timeout is retried", 408, nil, Retry},
		{"429 Too Many Requests is retried", 429, nil, Retry},
		{"500 Internal Server Error is retried", 500, nil, Retry},
		{"502 Bad Gateway is retried", 502, nil, Retry},
		{"503 Service Unavailable is retried", 503, nil, Retry},
		{"504 Gateway Timeout is retried", 504, nil, Retry},
		{"a redirect, which is not followed, is retried", 302, nil, Retry},
		{"a status outside HTTP's range is retried", 600, nil, Retry},
		{"an answer decides even if reading its body failed: 200", 200, io.ErrUnexpectedEOF, Delivered},
		{"an answer decides even if reading its body failed: 400", 400, io.ErrUnexpectedEOF, Permanent},
		{"a timeout is retried", 0, &url.Error{Op: "Post", URL: "u", Err: context.DeadlineExceeded}, Retry},
		{"connection refused is retried", 0, opErr("dial", syscall.ECONNREFUSED), Retry},
		{"connection reset is retried", 0, opErr("read", syscall.ECONNRESET), Retry},
		{"EOF is retried", 0, &url.Error{Op: "Post", URL: "u", Err: io.EOF}, Retry},
		{"unexpected EOF is retried", 0, io.ErrUnexpectedEOF, Retry},
		{"a TLS record error is retried", 0, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, Retry},
		{"an unknown certificate authority is retried", 0, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, Retry},
		{"a DNS failure is retried", 0, &net.DNSError{Err: "no such host", Name: "rsj.example", IsNotFound: true}, Retry},
		{"no answer and no error is retried", 0, nil, Retry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.status, tc.err); got != tc.want {
				t.Errorf("Classify(%d, %v) = %v, want %v", tc.status, tc.err, got, tc.want)
			}
		})
	}
}

// The error kinds named in logs are those of real transport failures, not
// only of hand-built errors.
func TestErrorKindOfRealTransportFailures(t *testing.T) {
	// A port nobody listens on: bind one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	tlsServer := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsServer.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	tlsServer.StartTLS()
	defer tlsServer.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	}))
	defer reset.Close()
	blocking := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// Only once the body is read does the server watch the connection
		// and cancel the request's context when the client goes away.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer blocking.Close()

	tests := []struct {
		name, url string
		timeout   time.Duration
		want      []string // any of
	}{
		{"connection refused", "http://" + closedAddr + "/", 10 * time.Second, []string{"connection refused"}},
		{"an unknown certificate authority", tlsServer.URL, 10 * time.Second, []string{"TLS handshake"}},
		{"a connection reset by the server", reset.URL, 10 * time.Second, []string{"connection reset", "connection closed (EOF)"}},
		{"a department that does not answer in time", blocking.URL, 50 * time.Millisecond, []string{"timeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tc.url, strings.NewReader("{}"))
			resp, err := (&http.Client{}).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("POST %s: no error", tc.url)
			}
			if Classify(0, err) != Retry {
				t.Errorf("Classify(0, %v) = %v, want retry", err, Classify(0, err))
			}
			got := ErrorKind(err)
			for _, w := range tc.want {
				if got == w {
					return
				}
			}
			t.Errorf("ErrorKind(%v) = %q, want one of %q", err, got, tc.want)
		})
	}
}

func TestBackoff(t *testing.T) {
	custom := RetryConfig{InitialInterval: time.Second, MaxInterval: 10 * time.Second, Multiplier: 3, Jitter: 0.5}
	tests := []struct {
		name    string
		attempt int
		cfg     RetryConfig
		rnd     float64
		want    time.Duration
	}{
		{"the first wait is the initial interval (defaults)", 1, RetryConfig{}, 0.5, 200 * time.Millisecond},
		{"each wait doubles (defaults)", 2, RetryConfig{}, 0.5, 400 * time.Millisecond},
		{"the fifth wait is 16 times the first (defaults)", 5, RetryConfig{}, 0.5, 3200 * time.Millisecond},
		{"waits stop growing at the cap (defaults)", 9, RetryConfig{}, 0.5, 30 * time.Second},
		{"a huge attempt number does not overflow", 100000, RetryConfig{}, 0.5, 30 * time.Second},
		{"attempt 0 counts as the first", 0, RetryConfig{}, 0.5, 200 * time.Millisecond},
		{"jitter shortens by up to its fraction", 1, RetryConfig{}, 0, 160 * time.Millisecond},
		{"jitter lengthens by up to its fraction", 1, RetryConfig{}, 1, 240 * time.Millisecond},
		{"jitter never lifts a wait above the cap", 30, RetryConfig{}, 1, 30 * time.Second},
		{"jitter shortens a capped wait", 30, RetryConfig{}, 0, 24 * time.Second},
		{"a custom multiplier", 3, custom, 0.5, 9 * time.Second},
		{"a custom cap", 4, custom, 0.5, 10 * time.Second},
		{"a custom jitter", 2, custom, 0, 1500 * time.Millisecond},
		{"a multiplier of 1 keeps the wait constant", 7, RetryConfig{InitialInterval: time.Second, Multiplier: 1}, 0.5, time.Second},
		{"rnd outside [0, 1] is clamped", 1, RetryConfig{}, -3, 160 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Backoff(tc.attempt, tc.cfg, tc.rnd)
			if diff := got - tc.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("Backoff(%d, %+v, %v) = %v, want %v", tc.attempt, tc.cfg, tc.rnd, got, tc.want)
			}
		})
	}
}

// Whatever the attempt and the random draw, a wait lies within ±Jitter of
// the capped exponential and never above the cap.
func TestBackoffStaysWithinItsBounds(t *testing.T) {
	r := RetryConfig{}
	r.SetDefaults()
	for attempt := 1; attempt <= 40; attempt++ {
		nominal := math.Min(float64(r.InitialInterval)*math.Pow(r.Multiplier, float64(attempt-1)), float64(r.MaxInterval))
		for i := range 101 {
			rnd := float64(i) / 100
			got := float64(Backoff(attempt, r, rnd))
			lo, hi := nominal*(1-r.Jitter), math.Min(nominal*(1+r.Jitter), float64(r.MaxInterval))
			if got < lo-1 || got > hi+1 {
				t.Fatalf("Backoff(%d, defaults, %v) = %v, want within [%v, %v]",
					attempt, rnd, time.Duration(got), time.Duration(lo), time.Duration(hi))
			}
		}
	}
}

func TestWaitReturnsAtOnceWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan bool, 1)
	go func() { done <- Wait(ctx, time.Hour) }()
	select {
	case ok := <-done:
		if ok {
			t.Errorf("wait on a cancelled context reported a full wait")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("wait on a cancelled context did not return")
	}
	if !Wait(t.Context(), time.Millisecond) {
		t.Errorf("a 1ms wait on a live context did not complete")
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Delivered: "delivered", Permanent: "permanent", Retry: "retry", 0: "Outcome(0)"} {
		if got := fmt.Sprint(o); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}
