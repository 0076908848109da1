package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"
	"go.opentelemetry.io/otel/propagation"

	"yjshub/connectors/signing"
	"yjshub/hub/tracing"
)

// Request headers of every delivery (connectors/CONTRACT.md).
const (
	// HeaderIdempotency carries the document's key, the same on every attempt.
	HeaderIdempotency = "Idempotency-Key"
	// DefaultContentType is the Content-Type of a document when ClientConfig.ContentType is "".
	DefaultContentType = "application/json; charset=utf-8"
	// DefaultTimeout bounds one attempt when ClientConfig.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultUserAgent names the hub to the receiver when ClientConfig.UserAgent is "".
	DefaultUserAgent = "yjshub"
)

// ClientConfig says where and how a [Client] posts.
type ClientConfig struct {
	// Endpoint is the http or https URL documents are POSTed to. Required. Credentials in its
	// userinfo or query are sent but never shown (RedactEndpoint).
	Endpoint string
	// Timeout bounds one attempt: connecting, sending the document and reading the answer.
	// Default 10s.
	Timeout time.Duration
	// Headers are sent with every request (an API key …); their values are secrets. None of
	// the ReservedHeaders.
	Headers map[string]string
	// Retry paces [Client.Deliver]'s attempts at a document the receiver did not take; its
	// MaxAttempts (0: unlimited) turns a document that keeps failing into a refused one.
	Retry RetryConfig
	// ContentType is the documents' media type. Default "application/json; charset=utf-8".
	ContentType string
	// UserAgent names the sender to the receiver. Default "yjshub".
	UserAgent string
	// SigningSecret, when set, signs every attempt as Standard Webhooks defines
	// (connectors/signing), under the Idempotency-Key as webhook-id. A secret.
	SigningSecret string
}

// Validate reports every problem of c at once; zero fields mean their defaults. The endpoint
// appears in its messages only redacted, header values and the secret never.
func (c ClientConfig) Validate() error {
	var errs []error
	if err := ValidateEndpoint(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", c.Timeout))
	}
	errs = append(errs, ValidateHeaders(c.Headers), c.Retry.Validate(), ValidateSigningSecret(c.SigningSecret))
	return errors.Join(errs...)
}

// Client POSTs documents under an Idempotency-Key, classifies each answer with [Classify] and
// says why a document was not taken without secrets or personal data. It is safe for
// concurrent use.
type Client struct {
	cfg    ClientConfig
	http   *resty.Client
	signer *signing.Signer // nil: not signed
	scrub  Scrubber
}

// NewClient returns a client for cfg after applying its defaults and validating it; the error
// lists every problem at once. hc, when not nil, supplies the transport (its Transport, TLS
// settings, proxy …); it is copied, and the copy never follows redirects: a 3xx is an answer.
func NewClient(cfg ClientConfig, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ContentType == "" {
		cfg.ContentType = DefaultContentType
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	cfg.Retry.SetDefaults()
	c := &http.Client{}
	if hc != nil {
		copied := *hc
		c = &copied
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var signer *signing.Signer
	if cfg.SigningSecret != "" {
		signer, _ = signing.New(cfg.SigningSecret) // checked by Validate
	}
	rc := resty.NewWithClient(c).
		SetLogger(discardLogger{}). // resty's own lines could quote the URL
		SetRetryCount(0).           // the retry loop is the caller's or Deliver's: it consults ctx (and a breaker)
		SetHeaders(cfg.Headers).
		SetHeader("User-Agent", cfg.UserAgent).
		SetHeader("Accept", "application/json")
	return &Client{cfg: cfg, http: rc, signer: signer,
		scrub: NewScrubber(cfg.Endpoint, cfg.SigningSecret, cfg.Headers)}, nil
}

// Endpoint returns the endpoint without credentials, for logs and status.
func (c *Client) Endpoint() string { return RedactEndpoint(c.cfg.Endpoint) }

// Scrubber returns the scrubber of the client's secrets, for text its user writes about it.
func (c *Client) Scrubber() Scrubber { return c.scrub }

// Result is what posting a document came to.
type Result struct {
	// Outcome is Delivered or Permanent once settled; Retry only from [Client.Post] (one
	// attempt) or when Stopped.
	Outcome Outcome
	// Status is the receiver's last HTTP status; 0 when it did not answer.
	Status int
	// Attempts counts the POSTs made.
	Attempts int
	// Reason says why it was not delivered (or why an attempt failed), without secrets or
	// personal data: "HTTP 422 Unprocessable Entity: <the receiver's message>", or the kind
	// of transport failure and its scrubbed detail.
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
// (Stopped). It waits [Backoff] after each retryable failure. onRetry, when not nil, is told
// of every attempt that will be retried.
func (c *Client) Deliver(ctx context.Context, key string, body []byte, onRetry func(Result)) Result {
	for attempt := 1; ; attempt++ {
		r := c.post(ctx, key, body, attempt)
		if r.Stopped || r.Outcome != Retry {
			return r
		}
		if GiveUp(&r, c.cfg.Retry.MaxAttempts) {
			return r
		}
		if onRetry != nil {
			onRetry(r)
		}
		if !Wait(ctx, Backoff(attempt, c.cfg.Retry, rand.Float64())) {
			r.Stopped = true
			return r
		}
	}
}

// GiveUp turns a retryable result into a refused one when its attempts reached maxAttempts (0:
// unlimited), saying so in its reason; it reports whether it did.
func GiveUp(r *Result, maxAttempts int) bool {
	if maxAttempts <= 0 || r.Attempts < maxAttempts {
		return false
	}
	r.Outcome = Permanent
	r.Reason = fmt.Sprintf("gave up after %d attempts: %s", r.Attempts, r.Reason)
	return true
}

func (c *Client) post(ctx context.Context, key string, body []byte, attempt int) Result {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req := c.http.R()
	if c.signer != nil {
		h, err := c.signer.Sign(key, time.Now(), body)
		if err != nil {
			return Result{Outcome: Permanent, Attempts: attempt, Reason: c.scrub.Text(err.Error())}
		}
		req.SetHeaders(h)
	}
	// The attempt's span, when the caller made one, travels as the W3C traceparent header, for
	// the receiver to continue the trace.
	tracing.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := req.
		SetContext(actx).
		SetHeader("Content-Type", c.cfg.ContentType).
		SetHeader(HeaderIdempotency, key).
		SetBody(body).
		SetDoNotParseResponse(true). // the body is read here, capped
		Post(c.cfg.Endpoint)

	var status int
	var answer []byte
	if resp != nil && resp.RawResponse != nil {
		status = resp.StatusCode()
		answer = ReadBody(resp.RawResponse.Body)
	}
	if status == 0 && ctx.Err() != nil {
		return Result{Outcome: Retry, Attempts: attempt, Stopped: true, Reason: "stopped"}
	}
	r := Result{Outcome: Classify(status, err), Status: status, Attempts: attempt}
	if status == 0 {
		r.Reason = ErrorKind(err) + ": " + c.scrub.Error(err)
		return r
	}
	r.Reason = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if msg := c.scrub.Text(ReceiverMessage(answer)); msg != "" && r.Outcome != Delivered {
		r.Reason += ": " + msg
	}
	return r
}

// discardLogger silences resty.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
