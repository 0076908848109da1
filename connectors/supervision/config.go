package supervision

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/connectors/delivery"
)

// DefaultGroupID is the connector's consumer group on yjs.case.event.
const DefaultGroupID = "yjshub-supervision"

// Config configures the supervision connector (the connectors file's supervision: section).
// Fields left zero take the defaults stated on each; [New] applies them and validates.
type Config struct {
	// Endpoint is the http or https URL records are POSTed to. Required. Credentials in it
	// are sent but never shown.
	Endpoint string `yaml:"endpoint" json:"endpoint"`

	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// Headers are sent with every request; their values are secrets.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`

	// MaskHolderID masks the holder's resident ID number in records. Default true: set it to
	// false only when the endpoint is authorised to receive ID numbers.
	MaskHolderID *bool `yaml:"mask_holder_id,omitempty" json:"mask_holder_id,omitempty"`

	// Supervising names, per matter code, the department that supervises what was approved
	// (审管衔接), e.g. food-business-licence: market-regulation. Default: the department that
	// approved it.
	Supervising map[string]string `yaml:"supervising,omitempty" json:"supervising,omitempty"`

	// SigningSecret, when set, signs every POST as Standard Webhooks defines (webhook-id,
	// webhook-timestamp, webhook-signature; see connectors/CONTRACT.md). A secret.
	SigningSecret string `yaml:"signing_secret,omitempty" json:"signing_secret,omitempty"`

	// Retry paces the attempts at a record the platform did not take.
	Retry delivery.RetryConfig `yaml:"retry,omitempty" json:"retry,omitempty"`

	// GroupID is the consumer group on yjs.case.event. Default "yjshub-supervision".
	GroupID string `yaml:"group_id,omitempty" json:"group_id,omitempty"`

	// Concurrency is how many case events each hub instance handles at once: records of that
	// many cases pushed at once. One case's records still go one at a time, in order (its
	// events share its key); offsets are committed in batches once pushed and recorded.
	// Default 8; 1 pushes one record at a time.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
}

func (c *Config) setDefaults() {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.Timeout == 0 {
		c.Timeout = delivery.DefaultTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = casepush.DefaultConcurrency
	}
}

// masked reports whether holder ID numbers are masked.
func (c *Config) masked() bool { return c.MaskHolderID == nil || *c.MaskHolderID }

// Validate reports every problem in c at once; zero values with a default are accepted. The
// endpoint appears only redacted, header values never.
func (c *Config) Validate() error {
	var errs []error
	if err := delivery.ValidateEndpoint(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", c.Timeout))
	}
	errs = append(errs, delivery.ValidateHeaders(c.Headers), c.Retry.Validate(), delivery.ValidateSigningSecret(c.SigningSecret))
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
	}
	if c.Concurrency < 0 || c.Concurrency > casepush.MaxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", c.Concurrency, casepush.MaxConcurrency))
	}
	for matter, dept := range c.Supervising {
		if matter == "" || dept == "" {
			errs = append(errs, fmt.Errorf("supervising: %q: %q: both the matter and the department are required", matter, dept))
		}
	}
	return errors.Join(errs...)
}
