package delivery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// RetryConfig configures the capped exponential backoff between attempts at one document. The
// wait after the n-th failed attempt is InitialInterval·Multiplierⁿ⁻¹, capped at MaxInterval,
// spread by ±Jitter and never above MaxInterval; see [Backoff].
//
// There is no limit in time, only in attempts: a document that cannot be delivered holds its
// partition (later documents of the same case must not overtake it), and a breaker keeps the
// load on a failing receiver low meanwhile. MaxAttempts trades that order for progress.
type RetryConfig struct {
	// InitialInterval is the wait after the first failed attempt. Default 200ms.
	InitialInterval time.Duration `yaml:"initial_interval,omitempty" json:"initial_interval,omitempty"`
	// MaxInterval caps every wait. Default 30s.
	MaxInterval time.Duration `yaml:"max_interval,omitempty" json:"max_interval,omitempty"`
	// Multiplier grows the wait from one attempt to the next; at least 1. Default 2.
	Multiplier float64 `yaml:"multiplier,omitempty" json:"multiplier,omitempty"`
	// Jitter spreads each wait uniformly by ± this fraction of it, so that hub instances do
	// not retry in step; in (0, 1). Default 0.2. Zero means the default: jitter cannot be
	// switched off, only made small.
	Jitter float64 `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// MaxAttempts is how many POSTs of one document are made before it is given up and
	// recorded as failed (dead-lettered), so that the partition moves on. Default 0:
	// unlimited, the document is retried for as long as the connector runs.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
}

// Defaults of [RetryConfig].
const (
	DefaultInitialInterval = 200 * time.Millisecond
	DefaultMaxInterval     = 30 * time.Second
	DefaultMultiplier      = 2
	DefaultJitter          = 0.2
)

// SetDefaults fills the zero fields with their defaults (MaxAttempts stays unlimited).
func (r *RetryConfig) SetDefaults() {
	if r.InitialInterval == 0 {
		r.InitialInterval = DefaultInitialInterval
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = DefaultMaxInterval
	}
	if r.Multiplier == 0 {
		r.Multiplier = DefaultMultiplier
	}
	if r.Jitter == 0 {
		r.Jitter = DefaultJitter
	}
}

// Validate reports every problem of a retry configuration at once; zero fields mean their
// defaults.
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

// Backoff returns how long to wait after the attempt-th failed attempt (1-based) at one
// document: r.InitialInterval·r.Multiplierᵃᵗᵗᵉᵐᵖᵗ⁻¹ capped at r.MaxInterval, then spread by
// ±r.Jitter according to rnd, a uniform number in [0, 1) (0.5 means no spread), and capped at
// r.MaxInterval again so that no wait exceeds it. Fields of r left zero take their defaults.
// It is a pure function so that the schedule can be tested without a clock.
func Backoff(attempt int, r RetryConfig, rnd float64) time.Duration {
	r.SetDefaults()
	attempt = max(attempt, 1)
	rnd = min(max(rnd, 0), 1)
	limit := float64(r.MaxInterval)
	d := float64(r.InitialInterval) * math.Pow(r.Multiplier, float64(attempt-1))
	if math.IsNaN(d) || d > limit {
		d = limit
	}
	d *= 1 + r.Jitter*(2*rnd-1)
	return time.Duration(min(max(d, 0), limit))
}

// Wait waits for d unless ctx ends first; it reports whether it waited the whole time. A d of
// zero or less does not wait, and reports whether ctx is still live.
func Wait(ctx context.Context, d time.Duration) bool {
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
