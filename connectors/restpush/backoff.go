package restpush

import (
	"context"
	"math"
	"time"
)

// Backoff returns how long to wait after the attempt-th failed attempt
// (1-based) at one message: r.InitialInterval·r.Multiplierᵃᵗᵗᵉᵐᵖᵗ⁻¹ capped at
// r.MaxInterval, then spread by ±r.Jitter according to rnd, a uniform number
// in [0, 1) (0.5 means no spread), and capped at r.MaxInterval again so that
// no wait exceeds it. Fields of r left zero take their defaults. It is a pure
// function so that the schedule can be tested without a clock.
func Backoff(attempt int, r RetryConfig, rnd float64) time.Duration {
	r.setDefaults()
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

// wait waits for d unless ctx ends first; it reports whether it waited the
// whole time.
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
