package delivery_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/connectors/delivery"
	"yjshub/connectors/signing"
)

// receiver answers each POST with respond(n) (n from 1) and keeps the keys it saw.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []string
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, req *http.Request)) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		r.mu.Lock()
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		n := len(r.keys)
		r.mu.Unlock()
		respond(n, w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keys...)
}

// retryWithin bounds a Deliver that retries: with the waits of these clients (at most 5ms
// apart, attempts of at most 300ms) it settles in well under a second, and a broken retry loop
// fails the test in seconds instead of holding it until the test binary's timeout.
const retryWithin = 10 * time.Second

// deliverCtx is the context of a Deliver call that may retry.
func deliverCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), retryWithin)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, endpoint string, maxAttempts int) *delivery.Client {
	t.Helper()
	c, err := delivery.NewClient(delivery.ClientConfig{Endpoint: endpoint, Timeout: 300 * time.Millisecond,
		Headers: map[string]string{"X-Api-Key": "key-S3cr3t"},
		Retry:   delivery.RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxAttempts: maxAttempts}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeliverClassifiesEachAnswerAsTheContractSays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		max      int
		statuses []int
		outcome  delivery.Outcome
		attempts int
		reason   string
	}{
		{"2xx is delivered", 0, []int{201}, delivery.Delivered, 1, ""},
		{"409 is delivered: the receiver has it already", 0, []int{409}, delivery.Delivered, 1, ""},
		{"5xx, 408 and 429 are retried with the same key", 0, []int{503, 500, 408, 429, 200}, delivery.Delivered, 5, ""},
		{"another 4xx is refused at once", 0, []int{422}, delivery.Permanent, 1, "HTTP 422 Unprocessable Entity: 证件号码 ****************** 不符"},
		{"a body that is not JSON is not quoted", 0, []int{400}, delivery.Permanent, 1, "HTTP 400 Bad Request"},
		{"MaxAttempts gives up", 3, []int{502, 502, 502, 200}, delivery.Permanent, 3, "gave up after 3 attempts: HTTP 502 Bad Gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				status := tc.statuses[min(n, len(tc.statuses))-1]
				w.WriteHeader(status)
				switch status {
				case 422:
					_, _ = io.WriteString(w, `{"message":"证件号码 11010519491231002X 不符"}`)
				case 400:
					_, _ = io.WriteString(w, `<html>applicant 11010519491231002X</html>`)
				}
			})
			retried := 0
			res := client(t, r.srv.URL, tc.max).Deliver(deliverCtx(t), "k-1", []byte(`{}`), func(delivery.Result) { retried++ })
			if res.Outcome != tc.outcome || res.Attempts != tc.attempts || res.Reason != tc.reason && tc.reason != "" {
				t.Errorf("Deliver = %+v, want %v after %d attempts, reason %q", res, tc.outcome, tc.attempts, tc.reason)
			}
			if retried != max(tc.attempts-1, 0) && tc.outcome == delivery.Delivered {
				t.Errorf("onRetry called %d times, want %d", retried, tc.attempts-1)
			}
			for _, k := range r.seen() {
				if k != "k-1" {
					t.Errorf("Idempotency-Key %q, want k-1 on every attempt", k)
				}
			}
		})
	}
}

func TestTransportFailuresAreRetriedAndNamedWithoutSecrets(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c := client(t, "http://hub:pw-S3cr3t@"+addr+"/x?token=tok-S3cr3t", 2)
	res := c.Deliver(deliverCtx(t), "k", []byte(`{}`), nil)
	if res.Outcome != delivery.Permanent || res.Attempts != 2 || !strings.HasPrefix(res.Reason, "gave up after 2 attempts: connection refused: ") {
		t.Errorf("Deliver = %+v", res)
	}
	if strings.Contains(res.Reason, "S3cr3t") || !strings.Contains(res.Reason, `"http://`+addr+`/x"`) {
		t.Errorf("reason %q: want the endpoint redacted, no secret", res.Reason)
	}
	if strings.Contains(c.Endpoint(), "S3cr3t") {
		t.Errorf("Endpoint() = %s shows a secret", c.Endpoint())
	}

	slow := newReceiver(t, func(_ int, _ http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
	res = client(t, slow.srv.URL, 1).Post(t.Context(), "k", []byte(`{}`))
	if res.Outcome != delivery.Retry || !strings.HasPrefix(res.Reason, "timeout: ") {
		t.Errorf("Post to a receiver slower than the timeout = %+v", res)
	}
}

func TestDeliverStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	ctx, cancel := context.WithCancel(t.Context())
	res := client(t, r.srv.URL, 0).Deliver(ctx, "k", []byte(`{}`), func(delivery.Result) { cancel() })
	if !res.Stopped {
		t.Errorf("Deliver = %+v, want Stopped", res)
	}
}

func TestClientConfigProblemsAreReportedAtOnce(t *testing.T) {
	t.Parallel()
	_, err := delivery.NewClient(delivery.ClientConfig{Endpoint: "ftp://u:pw-S3cr3t@x/", Timeout: -1,
		Headers: map[string]string{"Idempotency-Key": "x", "X-A": "line\nbreak"}, Retry: delivery.RetryConfig{Jitter: 1}}, nil)
	if err == nil {
		t.Fatal("NewClient: nil error")
	}
	for _, want := range []string{"endpoint:", "timeout:", `headers["Idempotency-Key"]`, `headers["X-A"]`, "retry.jitter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pw-S3cr3t") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// With a signing secret each attempt is signed over its exact body under the Idempotency-Key,
// so the receiver can verify it; a bad secret is a configuration problem that does not show it.
func TestWithASigningSecretEveryAttemptIsSigned(t *testing.T) {
	t.Parallel()
	secret := signing.NewSecret()
	var mu sync.Mutex
	var verified []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		verified = append(verified, signing.Verify(secret, body, req.Header))
		n := len(verified)
		mu.Unlock()
		if req.Header.Get("Webhook-Id") != "key-1" {
			w.WriteHeader(400)
			return
		}
		if n == 1 {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := delivery.NewClient(delivery.ClientConfig{Endpoint: srv.URL, SigningSecret: secret,
		Retry: delivery.RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := c.Deliver(deliverCtx(t), "key-1", []byte(`{"record":1}`), nil); res.Outcome != delivery.Delivered || res.Attempts != 2 {
		t.Fatalf("Deliver = %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, err := range verified {
		if err != nil {
			t.Errorf("attempt %d: the receiver cannot verify it: %v", i+1, err)
		}
	}
	_, err = delivery.NewClient(delivery.ClientConfig{Endpoint: srv.URL, SigningSecret: "s3cr3t-value",
		Headers: map[string]string{"Webhook-Signature": "v1,forged"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `signing_secret: must start with "whsec_"`) ||
		!strings.Contains(err.Error(), `headers["Webhook-Signature"]: set by the connector`) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a bad secret and a forged header: %v", err)
	}
}
