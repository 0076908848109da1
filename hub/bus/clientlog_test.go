package bus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/bus"
	"yjshub/hub/bus/bustest"
)

// recordingHandler keeps every record at every level, for a test that reads what was logged
// from the goroutines of kafka-go.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.recs...)
}

// A consumer whose fetches time out — kafka-go's "unknown error reading partition … i/o
// timeout", which flooded an idle hub's log as warnings — is counted under the reader and
// logged at DEBUG, and nothing kafka-go reports reaches WARN. The timeout is forced: with a
// MaxWait of 1ns the reader's read deadline has passed before the broker can answer, so every
// fetch takes that path.
func TestAConsumerWhoseFetchesTimeOutIsCountedNotWarned(t *testing.T) {
	backends := map[string]func(t *testing.T, log *slog.Logger) *bus.Bus{
		"embedded": func(t *testing.T, log *slog.Logger) *bus.Bus {
			b, err := bus.Open(t.Context(), bus.Config{DataDir: t.TempDir(), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
	}
	if brokers := bustest.RealBrokers(t); brokers != nil {
		backends["kafka"] = func(t *testing.T, log *slog.Logger) *bus.Bus {
			b, err := bus.Open(t.Context(), bus.Config{Brokers: brokers, ClientID: "yjshub-test", Namespace: bustest.Namespace(), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			bustest.Tidy(t, b)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			logs := &recordingHandler{}
			b := open(t, slog.New(logs))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var r [6]byte
			_, _ = rand.Read(r[:])
			topic := "yjs.test.timeout." + hex.EncodeToString(r[:])
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- b.Subscribe(sctx, bus.SubscribeConfig{Topic: topic, GroupID: "timeout-" + hex.EncodeToString(r[:]), MaxWait: time.Nanosecond},
					func(context.Context, bus.Received) error { return nil })
			}()

			// Any level: the assertions below, not a wait that runs out, say what went wrong.
			timedOut := func() bool {
				for _, rec := range logs.records() {
					if strings.Contains(rec.Message, "reading partition") && strings.Contains(rec.Message, "i/o timeout") {
						return true
					}
				}
				return false
			}
			for !timedOut() {
				select {
				case <-ctx.Done():
					t.Fatalf("no fetch timed out within the test's time (%d lines logged)", len(logs.records()))
				case err := <-done:
					t.Fatalf("the subscription stopped: %v", err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("Subscribe: %v", err)
			}
			if n := b.ClientErrors()[bus.ComponentReader]; n == 0 {
				t.Error("the reader's timeouts are not counted")
			}
			for _, rec := range logs.records() {
				if rec.Level >= slog.LevelWarn {
					t.Errorf("logged at %v: %s", rec.Level, rec.Message)
				}
			}
		})
	}
}
