package restpush

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"yjshub/connectors/delivery"
)

// Errors an attempt reports to the breaker; only errFailed counts against it.
var (
	errSettled = errors.New("answer settles the message")       // Permanent: the department is up
	errFailed  = errors.New("department did not take it")       // Retry
	errStopped = errors.New("restpush: stopped before the end") // ctx ended; not the department's fault
)

// breaker guards the endpoint: after Breaker.ConsecutiveFailures retryable
// failures in a row it lets nothing through for Breaker.OpenTimeout, then lets
// Breaker.HalfOpenRequests probes through and closes when they succeed.
type breaker struct {
	cb *gobreaker.CircuitBreaker[result]
	// openUntil is when the breaker, open since its last trip, lets a probe
	// through (Unix nanoseconds).
	openUntil atomic.Int64
}

// newBreaker returns the breaker of cfg's endpoint. Its transitions are logged on log, which
// carries the department (New's logger), with the connector's name: opening at WARN, since
// while it is open the department's sub-cases wait; half-opening and closing at INFO.
func newBreaker(cfg Config, log *slog.Logger) *breaker {
	b := &breaker{}
	log = log.With("name", "restpush:"+cfg.Department)
	b.cb = gobreaker.NewCircuitBreaker[result](gobreaker.Settings{
		Name:        delivery.RedactEndpoint(cfg.Endpoint),
		MaxRequests: uint32(cfg.Breaker.HalfOpenRequests),
		Interval:    0, // failures are counted in a row, never reset by time
		Timeout:     cfg.Breaker.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.Breaker.ConsecutiveFailures)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// Called with the breaker's lock held: no calls back into it.
			level, attrs := slog.LevelInfo, []any{"from", from.String(), "to", to.String()}
			if to == gobreaker.StateOpen {
				// gobreaker's own expiry is taken a moment earlier, so at
				// openUntil a probe is surely let through.
				b.openUntil.Store(time.Now().Add(cfg.Breaker.OpenTimeout).UnixNano())
				// The department's sub-cases wait behind the breaker: the one
				// transition an operator has to hear about.
				level = slog.LevelWarn
				attrs = append(attrs, "consecutive_failures", cfg.Breaker.ConsecutiveFailures, "probe_in", cfg.Breaker.OpenTimeout)
			}
			log.Log(context.Background(), level, "restpush: breaker state changed", attrs...)
		},
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, errSettled) },
		IsExcluded:   func(err error) bool { return errors.Is(err, errStopped) },
	})
	return b
}

// wrap sends through the breaker. A request the breaker refuses comes back
// rejected, with nothing sent.
func (b *breaker) wrap(next sendFunc) sendFunc {
	return func(ctx context.Context, m *message) result {
		r, err := b.cb.Execute(func() (result, error) {
			r := next(ctx, m)
			return r, r.breakerError()
		})
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return result{rejected: true}
		}
		return r
	}
}

// reopensAt is when a request the breaker rejected may be tried again.
func (b *breaker) reopensAt() time.Time {
	return time.Unix(0, b.openUntil.Load())
}

// state is the breaker's state: "closed", "open" or "half-open".
func (b *breaker) state() string {
	return b.cb.State().String()
}
