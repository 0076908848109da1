package restpush

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"yjshub/connectors/delivery"
)

func TestBreaker(t *testing.T) {
	cfg := Config{Endpoint: "http://rsj.example/in",
		Breaker: BreakerConfig{ConsecutiveFailures: 2, OpenTimeout: 20 * time.Millisecond, HalfOpenRequests: 1}}
	cfg.setDefaults()

	// answer is what the fake department answers next; calls counts the
	// attempts that got through.
	var answer result
	calls := 0
	b := newBreaker(cfg, slog.New(slog.DiscardHandler))
	send := b.wrap(func(context.Context, *message) result { calls++; return answer })
	ctx := t.Context()
	m := &message{id: "ev-1"}

	untilState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for b.state() != want {
			if time.Now().After(deadline) {
				t.Fatalf("breaker still %s, want %s", b.state(), want)
			}
			delivery.Wait(ctx, time.Millisecond)
		}
	}

	t.Run("refusals do not count against it", func(t *testing.T) {
		answer = result{Result: delivery.Result{Outcome: delivery.Permanent, Status: 400}}
		for range 5 {
			if r := send(ctx, m); r.rejected || r.Status != 400 {
				t.Fatalf("send = %+v, want the 400 passed through", r)
			}
		}
		if s := b.state(); s != "closed" {
			t.Errorf("breaker %s after five 4xx, want closed", s)
		}
	})
	t.Run("a stopped attempt does not count against it", func(t *testing.T) {
		answer = result{Result: delivery.Result{Stopped: true}}
		for range 5 {
			send(ctx, m)
		}
		if s := b.state(); s != "closed" {
			t.Errorf("breaker %s after five stopped attempts, want closed", s)
		}
	})
	t.Run("consecutive retryable failures open it and it then sends nothing", func(t *testing.T) {
		answer = result{Result: delivery.Result{Outcome: delivery.Retry, Status: 503}}
		before := time.Now()
		send(ctx, m)
		send(ctx, m)
		if s := b.state(); s != "open" {
			t.Fatalf("breaker %s after two 503, want open", s)
		}
		if at := b.reopensAt(); at.Before(before.Add(cfg.Breaker.OpenTimeout)) {
			t.Errorf("reopensAt %v is earlier than the open timeout after the trip", at)
		}
		calls = 0
		if r := send(ctx, m); !r.rejected || calls != 0 {
			t.Errorf("send while open = %+v with %d calls, want rejected without a call", r, calls)
		}
	})
	t.Run("a failed probe opens it again", func(t *testing.T) {
		untilState("half-open")
		send(ctx, m) // still 503
		if s := b.state(); s != "open" {
			t.Errorf("breaker %s after a failed probe, want open", s)
		}
	})
	t.Run("a successful probe closes it", func(t *testing.T) {
		untilState("half-open")
		answer = result{Result: delivery.Result{Outcome: delivery.Delivered, Status: 200}}
		if r := send(ctx, m); r.rejected || r.Outcome != delivery.Delivered {
			t.Fatalf("probe = %+v, want delivered", r)
		}
		if s := b.state(); s != "closed" {
			t.Errorf("breaker %s after a successful probe, want closed", s)
		}
	})
}
