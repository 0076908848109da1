package casepush

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"yjshub/connectors/restpush"
	"yjshub/connectors/signing"
	"yjshub/format"
)

// Headers the client sets on every request.
const (
	HeaderIdempotency = "Idempotency-Key"
	contentType       = "application/json; charset=utf-8"
	// bodyKeep is how much of an answer is read for its reason; bodyDrain how much more is
	// read and dropped so that the connection can be reused.
	bodyKeep  = 4 << 10
	bodyDrain = 64 << 10
	// maxReason bounds the receiver's own words kept in a reason.
	maxReason = 200
	// DefaultTimeout bounds one attempt when ClientConfig.Timeout is zero.
	DefaultTimeout = 10 * time.Second
)

// ClientConfig says where and how a [Client] posts.
type ClientConfig struct {
	// Endpoint is the http or https URL documents are POSTed to. Required. Credentials in its
	// userinfo or query are sent but never shown (restpush.RedactURL).
	Endpoint string
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration
	// Headers are sent with every request (an API key …); their values are secrets.
	Headers map[string]string
	// Retry paces the attempts at a document the receiver did not take; its MaxAttempts (0:
	// unlimited) turns a document that keeps failing into a refused one.
	Retry restpush.RetryConfig
	// UserAgent names the connector kind to the receiver. Default "yjshub".
	UserAgent string
	// SigningSecret, when set, signs every attempt as Standard Webhooks defines
	// (connectors/signing), under the Idempotency-Key as webhook-id. A secret.
	SigningSecret string
}

// Client POSTs JSON documents with an Idempotency-Key. It is safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	http   *http.Client
	signer *signing.Signer // nil: not signed
	scrub  *strings.Replacer
}

// NewClient returns a client for cfg after validating it; hc, when not nil, supplies the
// transport (it is copied, and never follows redirects: a 3xx is an answer).
func NewClient(cfg ClientConfig, hc *http.Client) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "yjshub"
	}
	errs := []error{}
	if err := ValidateEndpoint(cfg.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", cfg.Timeout))
	}
	errs = append(errs, ValidateHeaders(cfg.Headers), cfg.Retry.Validate(), ValidateSigningSecret(cfg.SigningSecret))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var signer *signing.Signer
	if cfg.SigningSecret != "" {
		signer, _ = signing.New(cfg.SigningSecret) // checked above
	}
	c := &http.Client{}
	if hc != nil {
		copied := *hc
		c = &copied
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{cfg: cfg, http: c, signer: signer, scrub: secretReplacer(cfg.Endpoint, cfg.Headers, cfg.SigningSecret)}, nil
}

// Endpoint returns the endpoint without credentials, for logs and status.
func (c *Client) Endpoint() string { return restpush.RedactURL(c.cfg.Endpoint) }

// Result is what posting a document came to.
type Result struct {
	// Outcome is restpush.Delivered or restpush.Permanent once settled; restpush.Retry only
	// from [Client.Post] (one attempt) or when Stopped.
	Outcome restpush.Outcome
	// Status is the receiver's last HTTP status; 0 when it did not answer.
	Status int
	// Attempts counts the POSTs made.
	Attempts int
	// Reason says why it was not delivered (or why an attempt failed), without secrets or
	// personal data.
	Reason string
	// Stopped: ctx ended before the document was settled.
	Stopped bool
}

// Post makes one attempt at posting body under key.
func (c *Client) Post(ctx context.Context, key string, body []byte) Result {
	return c.post(ctx, key, body, 1)
}

// Deliver posts body under key until the receiver settles it (delivered, or refused with a
// 4xx), Retry.MaxAttempts is used up (then it is refused: "gave up after …"), or ctx ends
// (Stopped). onRetry, when not nil, is told of every attempt that will be retried.
func (c *Client) Deliver(ctx context.Context, key string, body []byte, onRetry func(Result)) Result {
	for attempt := 1; ; attempt++ {
		r := c.post(ctx, key, body, attempt)
		if r.Stopped || r.Outcome != restpush.Retry {
			return r
		}
		if limit := c.cfg.Retry.MaxAttempts; limit > 0 && attempt >= limit {
			r.Outcome = restpush.Permanent
			r.Reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, r.Reason)
			return r
		}
		if onRetry != nil {
			onRetry(r)
		}
		if !wait(ctx, restpush.Backoff(attempt, c.cfg.Retry, rand.Float64())) {
			r.Stopped = true
			return r
		}
	}
}

func (c *Client) post(ctx context.Context, key string, body []byte, attempt int) Result {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		// The endpoint was validated; only a cancelled ctx gets here.
		return Result{Outcome: restpush.Retry, Attempts: attempt, Reason: "request: " + c.text(err.Error()), Stopped: ctx.Err() != nil}
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set(HeaderIdempotency, key)
	if c.signer != nil {
		h, err := c.signer.Sign(key, time.Now(), body)
		if err != nil {
			return Result{Outcome: restpush.Permanent, Attempts: attempt, Reason: err.Error()}
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Result{Outcome: restpush.Retry, Attempts: attempt, Stopped: true, Reason: "stopped"}
		}
		return Result{Outcome: restpush.Classify(0, err), Attempts: attempt, Reason: ErrorKind(err)}
	}
	answer := readBody(resp.Body)
	r := Result{Outcome: restpush.Classify(resp.StatusCode, nil), Status: resp.StatusCode, Attempts: attempt,
		Reason: fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	if r.Outcome != restpush.Delivered {
		if msg := c.text(bodyMessage(answer)); msg != "" {
			r.Reason += ": " + msg
		}
	}
	return r
}

// text scrubs t of the client's secrets and masks personal data.
func (c *Client) text(t string) string {
	return format.MaskDigits(c.scrub.Replace(t))
}

func readBody(body io.ReadCloser) []byte {
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, bodyKeep))
	_, _ = io.CopyN(io.Discard, body, bodyDrain)
	return b
}

// wait waits for d unless ctx ends first; it reports whether it waited the whole time.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrorKind names a transport failure without quoting it: the error text of a request may
// carry the URL with its credentials.
func ErrorKind(err error) string {
	var (
		netErr    net.Error
		dnsErr    *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return "TLS handshake"
	case errors.As(err, &dnsErr):
		return "DNS lookup"
	default:
		return "transport error"
	}
}

// bodyMessage extracts a receiver's explanation from an error answer: the string under
// "message", "error", "error_description" or "msg" (or "error"."message") of a JSON object.
// Anything else is not kept at all: a body may echo the document, with its personal data.
func bodyMessage(body []byte) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	for _, key := range []string{"message", "error", "error_description", "msg"} {
		raw, ok := doc[key]
		if !ok {
			continue
		}
		var msg string
		if json.Unmarshal(raw, &msg) != nil {
			var nested struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(raw, &nested)
			msg = nested.Message
		}
		if msg = strings.Join(strings.Fields(msg), " "); msg != "" {
			return truncate(msg, maxReason)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// secretReplacer hides the endpoint's credentials and the header values.
func secretReplacer(endpoint string, headers map[string]string, signingSecret string) *strings.Replacer {
	var pairs []string
	add := func(secret string) {
		if len(secret) >= 3 {
			pairs = append(pairs, secret, "xxxxx")
		}
	}
	add(endpoint)
	add(signingSecret)
	if u, err := url.Parse(endpoint); err == nil {
		if u.User != nil {
			add(u.User.String())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		add(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, v := range headers {
		add(v)
	}
	return strings.NewReplacer(pairs...)
}

// reservedHeaders are set by the client on every request.
var reservedHeaders = []string{"Content-Type", "Idempotency-Key", "Content-Length", "Host", "Transfer-Encoding", "User-Agent",
	"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}

// ValidateEndpoint checks that s is an absolute http or https URL with a host. Its error shows
// the URL only redacted.
func ValidateEndpoint(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL with a host", restpush.RedactURL(s))
	}
	return nil
}

// ValidateHeaders checks extra request headers: legal names, no line breaks in values, none of
// the headers the client sets itself. Values never appear in its error.
func ValidateHeaders(h map[string]string) error {
	var errs []error
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }):
			errs = append(errs, fmt.Errorf("headers[%q]: not a header name", name))
		case slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, name) }):
			errs = append(errs, fmt.Errorf("headers[%q]: set by the connector", name))
		case strings.ContainsAny(h[name], "\r\n\x00"):
			errs = append(errs, fmt.Errorf("headers[%q]: the value has a line break or NUL", name))
		}
	}
	return errors.Join(errs...)
}

// ValidateSigningSecret checks a signing_secret; "" (no signing) is valid.
func ValidateSigningSecret(secret string) error {
	if secret == "" {
		return nil
	}
	if err := signing.CheckSecret(secret); err != nil {
		return fmt.Errorf("signing_secret: %w", err)
	}
	return nil
}
