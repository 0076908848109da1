package restpull

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/inbox"
)

// Config configures the REST pull connector of one department. Fields left zero take the
// defaults stated on each; [New] applies them and then validates.
type Config struct {
	// Department is the department's code; the connector consumes bus.SubcaseTopic(Department)
	// and the department polls /api/v1/departments/{Department}/inbox. Required.
	Department string `yaml:"department" json:"department"`

	// MaxAttempts is how many times an item may be leased without being acknowledged: the
	// next poll after the last lease ran out records it as failed (a dead letter, with its
	// payload, which operators can replay) and removes it from the inbox. Default 10.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`

	// DefaultVisibility is how long a lease lasts when the poll does not say. Default 30s.
	DefaultVisibility time.Duration `yaml:"default_visibility,omitempty" json:"default_visibility,omitempty"`

	// MaxVisibility bounds the visibility a poll may ask for; a longer one is refused (422).
	// Default 5m.
	MaxVisibility time.Duration `yaml:"max_visibility,omitempty" json:"max_visibility,omitempty"`

	// AckedRetention is how long an acknowledged item's row is kept (without its payload,
	// which the ack clears) so that a repeated ack, or the same sub-case consumed again, is
	// recognised; older rows are deleted. Default 168h (7 days); at least 1m.
	AckedRetention time.Duration `yaml:"acked_retention,omitempty" json:"acked_retention,omitempty"`

	// GroupID is the Kafka consumer group. Hub instances with the same GroupID share the
	// department's partitions. Default "yjshub-restpull-<department>".
	GroupID string `yaml:"group_id,omitempty" json:"group_id,omitempty"`

	// Concurrency is how many sub-cases each hub instance stores in the inbox at once. One
	// case's sub-cases are still stored one at a time, in order (they share its key); offsets
	// are committed in batches once stored. Default 8; 1 stores one sub-case at a time.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
}

const (
	defaultMaxAttempts       = 10
	defaultDefaultVisibility = 30 * time.Second
	defaultMaxVisibility     = 5 * time.Minute
	defaultAckedRetention    = 7 * 24 * time.Hour
	groupIDPrefix            = "yjshub-restpull-"
	defaultConcurrency       = 8
	maxConcurrency           = 64
)

func (c *Config) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.DefaultVisibility == 0 {
		c.DefaultVisibility = defaultDefaultVisibility
	}
	if c.MaxVisibility == 0 {
		c.MaxVisibility = defaultMaxVisibility
	}
	if c.AckedRetention == 0 {
		c.AckedRetention = defaultAckedRetention
	}
	if c.GroupID == "" && c.Department != "" {
		c.GroupID = groupIDPrefix + c.Department
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency
	}
}

// Validate reports every problem in c at once. It does not apply defaults: zero values are
// accepted because they mean "use the default".
func (c *Config) Validate() error {
	var errs []error
	if c.Department == "" {
		errs = append(errs, errors.New("department: required"))
	} else if err := bus.ValidateTopic(bus.SubcaseTopic(c.Department)); err != nil {
		errs = append(errs, fmt.Errorf("department: %q does not make a topic name: %w", c.Department, err))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max_attempts: %d is negative", c.MaxAttempts))
	}
	if c.DefaultVisibility < 0 {
		errs = append(errs, fmt.Errorf("default_visibility: %v is negative", c.DefaultVisibility))
	} else if c.DefaultVisibility > 0 && c.DefaultVisibility < time.Second {
		errs = append(errs, fmt.Errorf("default_visibility: %v is shorter than 1s", c.DefaultVisibility))
	}
	if c.MaxVisibility < 0 {
		errs = append(errs, fmt.Errorf("max_visibility: %v is negative", c.MaxVisibility))
	} else if c.MaxVisibility > 0 && c.MaxVisibility < time.Second {
		errs = append(errs, fmt.Errorf("max_visibility: %v is shorter than 1s", c.MaxVisibility))
	}
	if c.DefaultVisibility > 0 && c.MaxVisibility > 0 && c.DefaultVisibility > c.MaxVisibility {
		errs = append(errs, fmt.Errorf("default_visibility: %v is longer than max_visibility %v", c.DefaultVisibility, c.MaxVisibility))
	}
	if c.AckedRetention < 0 {
		errs = append(errs, fmt.Errorf("acked_retention: %v is negative", c.AckedRetention))
	} else if c.AckedRetention > 0 && c.AckedRetention < time.Minute {
		errs = append(errs, fmt.Errorf("acked_retention: %v is shorter than 1m", c.AckedRetention))
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency: %d is not from 1 to %d", c.Concurrency, maxConcurrency))
	}
	if c.GroupID != "" && strings.TrimSpace(c.GroupID) != c.GroupID {
		errs = append(errs, fmt.Errorf("group_id: %q has leading or trailing space", c.GroupID))
	}
	return errors.Join(errs...)
}

// inboxSettings are how the hub's inbox serves the department under c (defaults applied).
func (c Config) inboxSettings() inbox.Settings {
	return inbox.Settings{Department: c.Department, Connector: connectorName(c.Department), MaxAttempts: c.MaxAttempts,
		DefaultVisibility: c.DefaultVisibility, MaxVisibility: c.MaxVisibility, AckedRetention: c.AckedRetention}
}
