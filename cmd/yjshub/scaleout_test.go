package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/bus/bustest"
	"yjshub/hub/cases"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// balancer is a test load balancer: each request goes to the first backend that answers.
type balancer struct {
	mu       sync.Mutex
	backends []string // host:port
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	backends := append([]string(nil), b.backends...)
	b.mu.Unlock()
	for _, be := range backends {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+be+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			continue // that instance is gone: the next one
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
		return
	}
	http.Error(w, "no backend", http.StatusBadGateway)
}

// Two hub instances share PostgreSQL and Kafka behind one public URL. A case submitted to the
// first is dispatched with a callback URL at the public address; the first instance then
// stops, and the department's callback still lands, on the second. A third instance with
// another public URL, or none, is refused at start.
func TestACallbackLandsAfterTheInstanceThatDispatchedItIsGone(t *testing.T) {
	db, kafka := os.Getenv("YJSHUB_TEST_DATABASE_URL"), os.Getenv("YJSHUB_TEST_KAFKA")
	if db == "" || kafka == "" {
		if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
			t.Fatal("YJSHUB_REQUIRE_REAL is set but YJSHUB_TEST_DATABASE_URL or YJSHUB_TEST_KAFKA is not")
		}
		t.Skip("several instances share PostgreSQL and Kafka: YJSHUB_TEST_DATABASE_URL and YJSHUB_TEST_KAFKA are unset")
	}
	// The tobacco office's back office: takes each push and keeps its callback URL.
	var mu sync.Mutex
	callbacks := map[string]string{} // sub-case → callback URL
	dept := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct {
				SubcaseID string `json:"subcase_id"`
				Callback  string `json:"callback"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		callbacks[env.Data.SubcaseID] = env.Data.Callback
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(dept.Close)
	lb := &balancer{}
	public := httptest.NewServer(lb)
	t.Cleanup(public.Close)

	ns := bustest.Namespace()
	bustest.TidyNamespace(t, splitList(kafka), ns)
	base := serveOptions{databaseURL: storetest.PostgresSchemaURL(t), brokers: splitList(kafka), namespace: ns, publicURL: public.URL}
	base.connectorsFile = filepath.Join(t.TempDir(), "connectors.yaml")
	writeConnectors(t, base.connectorsFile, dept.URL)
	base.limits.Unlimited = true

	a, b := base, base
	a.dataDir, b.dataDir = t.TempDir(), t.TempDir()
	addrA, stopA := startServe(t, a)
	addrB, stopB := startServe(t, b)
	t.Cleanup(func() { _ = stopB() })
	lb.mu.Lock()
	lb.backends = []string{addrA, addrB}
	lb.mu.Unlock()

	// Another public URL, or none, is refused while these two run.
	for _, publicURL := range []string{"http://hub-elsewhere.example", ""} {
		c := base
		c.dataDir, c.publicURL, c.addr = t.TempDir(), publicURL, "127.0.0.1:0"
		// Refused at start; one that started would serve until this context ends.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := serve(ctx, c, slog.New(slog.DiscardHandler))
		cancel()
		var conflict *store.PublicURLConflict
		if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "--public-url") || len(conflict.Others) != 2 {
			t.Errorf("a third instance with public URL %q: %v; want refused, naming the two running", publicURL, err)
		}
	}

	var v cases.CaseView
	if code := postJSON(t, "http://"+addrA+"/api/v1/cases", readExample(t, "open-bar-enterprise"), &v); code != 201 {
		t.Fatalf("submit to the first instance: %d", code)
	}
	var tobacco string
	for _, sc := range v.Subcases {
		if sc.Department.Code == "tobacco" {
			tobacco = sc.ID
		}
	}
	var callback string
	eventually(t, "the tobacco office to get the sub-case", func() bool {
		mu.Lock()
		defer mu.Unlock()
		callback = callbacks[tobacco]
		return callback != ""
	})
	if u, err := url.Parse(callback); err != nil || "http://"+u.Host != public.URL {
		t.Fatalf("callback URL %q is not at the public URL %s", callback, public.URL)
	}
	if err := stopA(); err != nil {
		t.Fatalf("stopping the first instance: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), bustest.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, callback, strings.NewReader(`{"event_id":"tob-1","type":"received"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("the callback after the first instance stopped: %d %s", res.StatusCode, body)
	}
	var after cases.CaseView
	if code := getJSON(t, "http://"+addrB+"/api/v1/cases/"+v.ID, &after); code != 200 {
		t.Fatalf("GET the case from the second instance: %d", code)
	}
	for _, sc := range after.Subcases {
		if sc.ID == tobacco && sc.State != cases.StateReceived {
			t.Errorf("tobacco sub-case is %s after its callback; want received", sc.State)
		}
	}
}
