package restpush

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"yjshub/connectors/delivery"
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
	// (see delivery.RedactEndpoint).
	Endpoint string `yaml:"endpoint" json:"endpoint"`

	// Timeout bounds one attempt: connecting, sending the envelope and
	// reading the answer. Default 10s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// Retry paces the attempts at a message the department did not take.
	Retry delivery.RetryConfig `yaml:"retry,omitempty" json:"retry,omitempty"`

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

	// Concurrency is how many sub-cases are pushed to the department at once, by each hub
	// instance. One case's sub-cases still go one at a time, in order (they share its key);
	// offsets are committed in batches once pushed and recorded. Default 8; 1 pushes one
	// sub-case at a time, as a department that cannot take more needs.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
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
	defaultTimeout             = delivery.DefaultTimeout
	defaultConsecutiveFailures = 5
	defaultOpenTimeout         = 30 * time.Second
	defaultHalfOpenRequests    = 1
	groupIDPrefix              = "yjshub-restpush-"
	defaultConcurrency         = 8
	maxConcurrency             = 64
)

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	c.Retry.SetDefaults()
	c.Breaker.setDefaults()
	if c.GroupID == "" && c.Department != "" {
		c.GroupID = groupIDPrefix + c.Department
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency
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
	if err := delivery.ValidateEndpoint(c.Endpoint); err != nil {
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
	if err := delivery.ValidateHeaders(c.Headers); err != nil {
		errs = append(errs, err)
	}
	if err := delivery.ValidateSigningSecret(c.SigningSecret); err != nil {
		errs = append(errs, err)
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", c.Concurrency, maxConcurrency))
	}
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
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

// LogValue shows the configuration without its secrets: the endpoint
// redacted and the extra headers by name only.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("department", c.Department),
		slog.String("endpoint", delivery.RedactEndpoint(c.Endpoint)),
		slog.Duration("timeout", c.Timeout),
		slog.String("group_id", c.GroupID),
		slog.Any("headers", slices.Sorted(maps.Keys(c.Headers))),
	)
}
