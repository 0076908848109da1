package restpush

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"yjshub/connectors/signing"
	"yjshub/hub/bus"
)

// Config configures one REST push connector: which department's sub-cases it
// consumes and where it POSTs them. Fields left zero take the defaults stated
// on each; [New] applies them and then validates.
type Config struct {
	// Department is the department's code; the connector consumes
	// bus.SubcaseTopic(Department). Required.
	Department string `yaml:"department" json:"department"`

	// Endpoint is the http or https URL of the department's back office that
	// receives the sub-cases. Required. It may carry credentials in its
	// userinfo or query: they are sent, but never shown in logs or errors
	// (see [RedactURL]).
	Endpoint string `yaml:"endpoint" json:"endpoint"`

	// Timeout bounds one attempt: connecting, sending the envelope and
	// reading the answer. Default 10s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// Retry paces the attempts at a message the department did not take.
	Retry RetryConfig `yaml:"retry,omitempty" json:"retry,omitempty"`

	// Breaker stops attempts at a department that keeps failing.
	Breaker BreakerConfig `yaml:"breaker,omitempty" json:"breaker,omitempty"`

	// Headers are extra headers sent with every request, e.g. an API key.
	// Their values are treated as secrets: never logged nor put in errors.
	// Content-Type, Idempotency-Key, Content-Length, Host and
	// Transfer-Encoding are set by the connector and may not appear here.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`

	// SigningSecret, when set, signs every request as Standard Webhooks
	// defines (connectors/signing): webhook-id (the envelope id),
	// webhook-timestamp and webhook-signature, an HMAC-SHA256 over
	// "id.timestamp.body" with this shared secret ("whsec_" and base64 of at
	// least 24 bytes), so the department can check the sender and refuse a
	// replay. Treated as a secret: never logged nor put in errors.
	SigningSecret string `yaml:"signing_secret,omitempty" json:"signing_secret,omitempty"`

	// GroupID is the Kafka consumer group. Hub instances with the same
	// GroupID share the department's partitions. Default
	// "yjshub-restpush-<department>".
	GroupID string `yaml:"group_id,omitempty" json:"group_id,omitempty"`
}

// RetryConfig configures the capped exponential backoff between attempts at one
// message. The wait after the n-th failed attempt is
// InitialInterval·Multiplierⁿ⁻¹, capped at MaxInterval, spread by ±Jitter and
// never above MaxInterval; see [Backoff].
//
// There is no limit in time, only in attempts: a message that cannot be
// delivered holds its partition (later sub-cases of the same case must not
// overtake it), and the breaker keeps the load on a failing department low
// meanwhile. MaxAttempts trades that order for progress.
type RetryConfig struct {
	// InitialInterval is the wait after the first failed attempt.
	// Default 200ms.
	InitialInterval time.Duration `yaml:"initial_interval,omitempty" json:"initial_interval,omitempty"`
	// MaxInterval caps every wait. Default 30s.
	MaxInterval time.Duration `yaml:"max_interval,omitempty" json:"max_interval,omitempty"`
	// Multiplier grows the wait from one attempt to the next; at least 1.
	// Default 2.
	Multiplier float64 `yaml:"multiplier,omitempty" json:"multiplier,omitempty"`
	// Jitter spreads each wait uniformly by ± this fraction of it, so that
	// hub instances do not retry in step; in (0, 1). Default 0.2. Zero means
	// the default: jitter cannot be switched off, only made small.
	Jitter float64 `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// MaxAttempts is how many POSTs of one message are made before it is
	// given up and recorded as failed (dead-lettered), so that the
	// partition moves on. Default 0: unlimited, the message is retried for
	// as long as the connector runs.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
}

// BreakerConfig configures the circuit breaker in front of the endpoint. Attempts
// that fail in a retryable way (5xx, timeout, connection error) count toward
// it; answers that settle a message (2xx, 409, other 4xx) count as success.
type BreakerConfig struct {
	// ConsecutiveFailures is how many retryable failures in a row open the
	// breaker. Default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures,omitempty" json:"consecutive_failures,omitempty"`
	// OpenTimeout is how long the breaker stays open, letting no request
	// through, before it lets HalfOpenRequests probe the department.
	// Default 30s.
	OpenTimeout time.Duration `yaml:"open_timeout,omitempty" json:"open_timeout,omitempty"`
	// HalfOpenRequests is how many probes may be in flight while half-open,
	// and how many must succeed in a row to close the breaker. Default 1.
	HalfOpenRequests int `yaml:"half_open_requests,omitempty" json:"half_open_requests,omitempty"`
}

const (
	defaultTimeout             = 10 * time.Second
	defaultInitialInterval     = 200 * time.Millisecond
	defaultMaxInterval         = 30 * time.Second
	defaultMultiplier          = 2
	defaultJitter              = 0.2
	defaultConsecutiveFailures = 5
	defaultOpenTimeout         = 30 * time.Second
	defaultHalfOpenRequests    = 1
	groupIDPrefix              = "yjshub-restpush-"
)

// reservedHeaders are set by the connector on every request (the signature
// headers when a signing secret is set).
var reservedHeaders = []string{"Content-Type", "Idempotency-Key", "Content-Length", "Host", "Transfer-Encoding",
	"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	c.Retry.setDefaults()
	c.Breaker.setDefaults()
	if c.GroupID == "" && c.Department != "" {
		c.GroupID = groupIDPrefix + c.Department
	}
}

func (r *RetryConfig) setDefaults() {
	if r.InitialInterval == 0 {
		r.InitialInterval = defaultInitialInterval
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = defaultMaxInterval
	}
	if r.Multiplier == 0 {
		r.Multiplier = defaultMultiplier
	}
	if r.Jitter == 0 {
		r.Jitter = defaultJitter
	}
}

func (b *BreakerConfig) setDefaults() {
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = defaultConsecutiveFailures
	}
	if b.OpenTimeout == 0 {
		b.OpenTimeout = defaultOpenTimeout
	}
	if b.HalfOpenRequests == 0 {
		b.HalfOpenRequests = defaultHalfOpenRequests
	}
}

// Validate reports every problem in c at once. It does not apply defaults:
// zero values are accepted because they mean "use the default". The endpoint
// appears in its messages only redacted, header values never.
func (c *Config) Validate() error {
	var errs []error
	if c.Department == "" {
		errs = append(errs, errors.New("department: required"))
	} else if err := bus.ValidateTopic(bus.SubcaseTopic(c.Department)); err != nil {
		errs = append(errs, fmt.Errorf("department: %q does not make a topic name: %w", c.Department, err))
	}
	if err := validateEndpoint(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", c.Timeout))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Breaker.validate(); err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		if err := validateHeader(name, c.Headers[name]); err != nil {
			errs = append(errs, fmt.Errorf("headers[%q]: %w", name, err))
		}
	}
	if c.SigningSecret != "" {
		if err := signing.CheckSecret(c.SigningSecret); err != nil {
			errs = append(errs, fmt.Errorf("signing_secret: %w", err))
		}
	}
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
	}
	return errors.Join(errs...)
}

// Validate reports every problem of a retry configuration at once; zero fields mean their
// defaults. The other pushing connectors (casepush) check theirs with it too.
func (r RetryConfig) Validate() error {
	var errs []error
	if r.InitialInterval < 0 {
		errs = append(errs, fmt.Errorf("retry.initial_interval: %v is negative", r.InitialInterval))
	}
	if r.MaxInterval < 0 {
		errs = append(errs, fmt.Errorf("retry.max_interval: %v is negative", r.MaxInterval))
	}
	if r.InitialInterval > 0 && r.MaxInterval > 0 && r.InitialInterval > r.MaxInterval {
		errs = append(errs, fmt.Errorf("retry.initial_interval: %v is longer than retry.max_interval %v", r.InitialInterval, r.MaxInterval))
	}
	if math.IsNaN(r.Multiplier) || math.IsInf(r.Multiplier, 0) || (r.Multiplier != 0 && r.Multiplier < 1) {
		errs = append(errs, fmt.Errorf("retry.multiplier: %v is not a finite number of at least 1", r.Multiplier))
	}
	if math.IsNaN(r.Jitter) || r.Jitter < 0 || r.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("retry.jitter: %v is not a fraction in [0, 1)", r.Jitter))
	}
	if r.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("retry.max_attempts: %d is negative", r.MaxAttempts))
	}
	return errors.Join(errs...)
}

func (b *BreakerConfig) validate() error {
	var errs []error
	if b.ConsecutiveFailures < 0 {
		errs = append(errs, fmt.Errorf("breaker.consecutive_failures: %d is negative", b.ConsecutiveFailures))
	}
	if b.OpenTimeout < 0 {
		errs = append(errs, fmt.Errorf("breaker.open_timeout: %v is negative", b.OpenTimeout))
	}
	if b.HalfOpenRequests < 0 || int64(b.HalfOpenRequests) > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("breaker.half_open_requests: %d is out of range", b.HalfOpenRequests))
	}
	return errors.Join(errs...)
}

// validateEndpoint checks that raw is an absolute http or https URL. Its
// errors show the URL only through RedactURL, and never wrap url.Parse's
// error, which quotes the whole raw URL.
func validateEndpoint(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", RedactURL(raw))
	}
	var errs []error
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		errs = append(errs, fmt.Errorf("%q: scheme %q is not http or https", RedactURL(raw), u.Scheme))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("%q: no host", RedactURL(raw)))
	}
	return errors.Join(errs...)
}

// validateHeader checks a header's name and value without ever quoting the
// value.
func validateHeader(name, value string) error {
	var errs []error
	switch {
	case name == "":
		errs = append(errs, errors.New("empty header name"))
	case !isToken(name):
		errs = append(errs, errors.New("not a valid header name"))
	case slices.Contains(reservedHeaders, http.CanonicalHeaderKey(name)):
		errs = append(errs, errors.New("set by the connector; it may not be configured"))
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		errs = append(errs, errors.New("value contains a line break or NUL"))
	}
	return errors.Join(errs...)
}

// isToken reports whether s is an RFC 9110 token, the syntax of header names.
func isToken(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return s != ""
}

// LogValue shows the configuration without its secrets: the endpoint
// redacted and the extra headers by name only.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("department", c.Department),
		slog.String("endpoint", RedactURL(c.Endpoint)),
		slog.Duration("timeout", c.Timeout),
		slog.String("group_id", c.GroupID),
		slog.Any("headers", slices.Sorted(maps.Keys(c.Headers))),
	)
}
