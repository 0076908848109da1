package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// `yjshub submit` sends a submission the hub cannot take just now (503, 429) again with the
// same Idempotency-Key — one of its own when none is given — and gives up on other refusals.
func TestSubmitSendsAgainWithTheSameKeyAfter503(t *testing.T) {
	old := retryBase
	retryBase = time.Millisecond
	t.Cleanup(func() { retryBase = old })
	var mu sync.Mutex
	var keys []string
	answers := []int{503, 429, 201}
	hub, _ := formHub(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		status := answers[min(len(keys)-1, len(answers)-1)]
		mu.Unlock()
		if status == 201 {
			created(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"status":503,"code":"unavailable","message":"not now"}}`))
	})
	app := filepath.Join("..", "..", "examples", "open-drink-shop-individual.json")
	code, out, stderr := runCLI(t, "submit", "--hub", hub.URL, app)
	if code != 0 || strings.TrimSpace(out) != "cs_1" {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}
	if k := sent(); len(k) != 3 || k[0] == "" || k[1] != k[0] || k[2] != k[0] {
		t.Fatalf("keys sent: %q; want one key, three times", k)
	}
	if strings.Count(stderr, "sending it again") != 2 {
		t.Errorf("progress: %s", stderr)
	}

	// A refusal of the application itself is final.
	mu.Lock()
	keys, answers = nil, []int{422}
	mu.Unlock()
	if code, _, _ := runCLI(t, "submit", "--hub", hub.URL, "--idempotency-key", "mine", app); code != 1 || len(sent()) != 1 || sent()[0] != "mine" {
		t.Fatalf("exit %d after a 422, keys %q; want 1 after one try with the given key", code, sent())
	}
}
