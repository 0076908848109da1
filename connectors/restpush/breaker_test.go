package restpush

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
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

// Each transition of the breaker is one log line with the connector's name and department:
// opening (again) at WARN, half-opening and closing at INFO; the endpoint, which may carry
// credentials, is not in them.
func TestBreakerTransitionsAreLogged(t *testing.T) {
	cfg := Config{Department: "tobacco", Endpoint: "https://user:secret@yc.example/in",
		Breaker: BreakerConfig{ConsecutiveFailures: 2, OpenTimeout: 20 * time.Millisecond, HalfOpenRequests: 1}}
	cfg.setDefaults()
	var logs bytes.Buffer
	// As New builds the connector's logger.
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("connector", "restpush", "department", cfg.Department)
	var answer result
	b := newBreaker(cfg, log)
	send := b.wrap(func(context.Context, *message) result { return answer })
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

	answer = result{Result: delivery.Result{Outcome: delivery.Retry, Status: 503}}
	send(ctx, m)
	send(ctx, m)
	untilState("half-open")
	send(ctx, m) // the probe fails
	untilState("half-open")
	answer = result{Result: delivery.Result{Outcome: delivery.Delivered, Status: 200}}
	send(ctx, m) // the probe gets through
	if s := b.state(); s != "closed" {
		t.Fatalf("breaker %s after a successful probe, want closed", s)
	}

	type line struct{ Level, From, To, Name, Department, Connector string }
	var got []line
	for l := range strings.Lines(logs.String()) {
		var rec line
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, rec)
	}
	want := []line{
		{Level: "WARN", From: "closed", To: "open"},
		{Level: "INFO", From: "open", To: "half-open"},
		{Level: "WARN", From: "half-open", To: "open"},
		{Level: "INFO", From: "open", To: "half-open"},
		{Level: "INFO", From: "half-open", To: "closed"},
	}
	for i := range want {
		want[i].Name, want[i].Department, want[i].Connector = "restpush:tobacco", "tobacco", "restpush"
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged transitions:\n%+v\nwant\n%+v", got, want)
	}
	if strings.Contains(logs.String(), "secret") || strings.Contains(logs.String(), "yc.example") {
		t.Errorf("the endpoint is in the log: %s", logs.String())
	}
}
