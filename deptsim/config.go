package deptsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors/signing"
)

// Decisions a simulated department takes on every sub-case it accepts.
const (
	// DecisionApprove sends received, accepted, approved (with an e-licence when the matter's
	// result is a licence).
	DecisionApprove = "approve"
	// DecisionReject sends received, accepted, rejected with a reason.
	DecisionReject = "reject"
	// DecisionSupplement sends received, accepted, supplement_requested naming one material
	// of the sub-case, and stops: whoever drives the demonstration continues from there.
	DecisionSupplement = "supplement"
)

// Config configures a [Simulator]. The zero value simulates every department with the
// defaults of [DeptConfig]: approve everything at once, never fail.
type Config struct {
	// Departments configures departments by code. Default: none listed.
	Departments map[string]DeptConfig `yaml:"departments" json:"departments"`

	// Default configures every department not listed in Departments.
	Default DeptConfig `yaml:"default" json:"default"`
}

// DeptConfig is how one simulated department behaves.
//
// In YAML, Delay is a Go duration string ("0s", "500ms"). In JSON it is the same string, or a
// number of nanoseconds.
type DeptConfig struct {
	// Decision is what the department decides on every sub-case: "approve", "reject" or
	// "supplement". Default "approve".
	Decision string `yaml:"decision" json:"decision,omitempty"`

	// Delay is waited before each callback (the first included). Default 0: callbacks follow
	// each other at once, as tests want; set e.g. 1s to watch a case progress.
	Delay time.Duration `yaml:"delay" json:"delay,omitempty"`

	// FailureRate is the fraction (0 to 1) of incoming pushes answered with FailureStatus
	// instead of being accepted. Default 0.
	FailureRate float64 `yaml:"failure_rate" json:"failure_rate,omitempty"`

	// FailureStatus is the HTTP status of an injected failure, 400–599 but not 409 (which the
	// contract defines as "already have it", a success). Default 503.
	FailureStatus int `yaml:"failure_status" json:"failure_status,omitempty"`

	// SigningSecret, when set, makes the department refuse (401) a push that is not signed
	// with it as Standard Webhooks defines (the hub's restpush signing_secret), or whose
	// signature is more than five minutes old.
	SigningSecret string `yaml:"signing_secret" json:"-"`

	// Seed seeds the random source that decides which pushes fail, so a run can be
	// reproduced. Default 0: seeded from the time.
	Seed int64 `yaml:"seed" json:"seed,omitempty"`
}

// Defaults applied by setDefaults.
const (
	defaultDecision      = DecisionApprove
	defaultFailureStatus = http.StatusServiceUnavailable
)

func (c *Config) setDefaults() {
	c.Default.setDefaults()
	for code, d := range c.Departments {
		d.setDefaults()
		c.Departments[code] = d
	}
}

func (d *DeptConfig) setDefaults() {
	if d.Decision == "" {
		d.Decision = defaultDecision
	}
	if d.FailureStatus == 0 {
		d.FailureStatus = defaultFailureStatus
	}
}

// Validate reports every problem in c at once, each prefixed with its path (default.decision,
// departments.<code>.failure_rate …). Zero values are accepted: they mean the default.
func (c *Config) Validate() error {
	errs := c.Default.validate("default")
	codes := make([]string, 0, len(c.Departments))
	for code := range c.Departments {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		if strings.TrimSpace(code) == "" || strings.ContainsAny(code, "/ \t") {
			errs = append(errs, fmt.Errorf("departments.%q: not a department code (empty, or contains '/' or blanks)", code))
		}
		d := c.Departments[code]
		errs = append(errs, d.validate("departments."+code)...)
	}
	return errors.Join(errs...)
}

func (d *DeptConfig) validate(path string) []error {
	var errs []error
	switch d.Decision {
	case "", DecisionApprove, DecisionReject, DecisionSupplement:
	default:
		errs = append(errs, fmt.Errorf("%s.decision: %q is not one of %s, %s, %s",
			path, d.Decision, DecisionApprove, DecisionReject, DecisionSupplement))
	}
	if d.Delay < 0 {
		errs = append(errs, fmt.Errorf("%s.delay: %v is negative", path, d.Delay))
	}
	if d.SigningSecret != "" {
		if err := signing.CheckSecret(d.SigningSecret); err != nil {
			errs = append(errs, fmt.Errorf("%s.signing_secret: %w", path, err))
		}
	}
	if math.IsNaN(d.FailureRate) || d.FailureRate < 0 || d.FailureRate > 1 {
		errs = append(errs, fmt.Errorf("%s.failure_rate: %v is not between 0 and 1", path, d.FailureRate))
	}
	switch s := d.FailureStatus; {
	case s == 0:
	case s == http.StatusConflict:
		errs = append(errs, fmt.Errorf("%s.failure_status: 409 means \"already have it\" to the hub, not a failure", path))
	case s < 400 || s > 599:
		errs = append(errs, fmt.Errorf("%s.failure_status: %d is not an HTTP error status (400-599)", path, s))
	}
	return errs
}

// ParseConfig decodes a YAML (or JSON) configuration strictly — an unknown key is an error —
// and validates it. An empty document is the zero Config.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("deptsim config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("deptsim config: %w", err)
	}
	return c, nil
}

// deptConfigJSON is DeptConfig with Delay left raw, so JSON can say "500ms".
type deptConfigJSON struct {
	Decision      string          `json:"decision,omitempty"`
	Delay         json.RawMessage `json:"delay,omitempty"`
	FailureRate   float64         `json:"failure_rate,omitempty"`
	FailureStatus int             `json:"failure_status,omitempty"`
	Seed          int64           `json:"seed,omitempty"`
}

// MarshalJSON writes Delay as a duration string ("500ms").
func (d DeptConfig) MarshalJSON() ([]byte, error) {
	v := deptConfigJSON{Decision: d.Decision, FailureRate: d.FailureRate, FailureStatus: d.FailureStatus, Seed: d.Seed}
	if d.Delay != 0 {
		v.Delay, _ = json.Marshal(d.Delay.String())
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads Delay as a duration string or a number of nanoseconds, and rejects
// unknown keys.
func (d *DeptConfig) UnmarshalJSON(b []byte) error {
	var v deptConfigJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	out := DeptConfig{Decision: v.Decision, FailureRate: v.FailureRate, FailureStatus: v.FailureStatus, Seed: v.Seed}
	if len(v.Delay) > 0 && string(v.Delay) != "null" {
		var s string
		var n int64
		switch {
		case json.Unmarshal(v.Delay, &s) == nil:
			dur, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("delay: %q is not a duration (e.g. \"500ms\")", s)
			}
			out.Delay = dur
		case json.Unmarshal(v.Delay, &n) == nil:
			out.Delay = time.Duration(n)
		default:
			return errors.New("delay: neither a duration string nor a number of nanoseconds")
		}
	}
	*d = out
	return nil
}
