package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/auth"
	"yjshub/problem"
)

// guardedServer is the API with connectors admin routes (POST /connectors/reload calls
// reload), operators and a platform, and the given limits.
func guardedServer(t *testing.T, lim Limits, reload func() error) (*httptest.Server, map[string]string) {
	t.Helper()
	cs := auth.New()
	keys := map[string]string{}
	for _, c := range []auth.Client{
		{Name: "ops-a", Role: auth.RoleOperator},
		{Name: "ops-b", Role: auth.RoleOperator},
		{Name: "ops-fast", Role: auth.RoleOperator, RatePerSecond: 1000, Burst: 1000},
		{Name: "window", Role: auth.RolePlatform},
	} {
		key, hash := auth.NewKey()
		cs.Add(c, hash)
		keys[c.Name] = key
	}
	if reload == nil {
		reload = func() error { return nil }
	}
	s := newServer(t, Config{Connectors: fakeAdmin{}, Reload: reload, Clients: cs, Limits: lim})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, keys
}

// rawRequest writes head (request line and headers, without the blank line) and then body on
// a fresh connection, and returns the answer and whether the server then closed the connection:
// whether a second request on it, a health probe, goes unanswered.
func rawRequest(t *testing.T, addr, head, body string) (*http.Response, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails instead of blocking
	if _, err := io.WriteString(conn, head+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n"); err != nil {
		return res, true
	}
	next, err := http.ReadResponse(br, nil)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return res, false // held open, answering nothing
	}
	if err != nil {
		return res, true
	}
	next.Body.Close()
	return res, false
}

// A request with an unknown key is refused before a byte of its body is read, and its
// connection closed: a client that sends its body one byte at a time cannot hold it.
func TestAnUnknownKeyIsRefusedBeforeTheBodyIsRead(t *testing.T) {
	srv, keys := guardedServer(t, Limits{}, nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	head := "POST /api/v1/connectors/reload HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nAuthorization: Bearer yjk_not-a-key"
	res, closed := rawRequest(t, addr, head, "{")
	if res.StatusCode != http.StatusUnauthorized || !closed {
		t.Errorf("unknown key with 1 of 100000 body bytes sent: %d, closed %v; want 401 at once and the connection closed", res.StatusCode, closed)
	}
	// The same for a key of another role, and for no key: refused by the route, body unread.
	for _, h := range []string{"Authorization: Bearer " + keys["window"], "X-None: 1"} {
		res, closed = rawRequest(t, addr, strings.Replace(head, "Authorization: Bearer yjk_not-a-key", h, 1), "{")
		if res.StatusCode < 400 || !closed {
			t.Errorf("%s: %d, closed %v; want refused and closed", h, res.StatusCode, closed)
		}
	}
	// A body larger than any route takes is refused by its length alone.
	res, closed = rawRequest(t, addr, "POST /api/v1/connectors/reload HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer "+keys["ops-a"]+"\r\nContent-Length: "+strconv.Itoa(maxRequestBody+1), "")
	if res.StatusCode != http.StatusRequestEntityTooLarge || !closed {
		t.Errorf("a body over %d bytes: %d, closed %v; want 413 and closed", maxRequestBody, res.StatusCode, closed)
	}
	// A refused request whose body was sent whole keeps its connection.
	res, closed = rawRequest(t, addr, "GET /api/v1/connectors HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer yjk_not-a-key", "")
	if res.StatusCode != http.StatusUnauthorized || closed {
		t.Errorf("unknown key without a body: %d, closed %v; want 401 and the connection kept", res.StatusCode, closed)
	}
}

func TestEachClientHasItsOwnRateAndAnonymousCallersAnother(t *testing.T) {
	srv, keys := guardedServer(t, Limits{RatePerSecond: 0.001, Burst: 2, AnonymousRatePerSecond: 0.001, AnonymousBurst: 3}, nil)
	get := func(key string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/connectors", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for i := 0; i < 2; i++ {
		if res := get(keys["ops-a"]); res.StatusCode != http.StatusOK {
			t.Fatalf("ops-a request %d within its burst: %d", i+1, res.StatusCode)
		}
	}
	res := get(keys["ops-a"])
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("ops-a's third request with a burst of 2: %d, want 429", res.StatusCode)
	}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("429 Retry-After %q, want whole seconds ≥ 1", res.Header.Get("Retry-After"))
	}
	if res := get(keys["ops-b"]); res.StatusCode != http.StatusOK {
		t.Errorf("ops-b after ops-a ran out: %d, want 200 (a bucket each)", res.StatusCode)
	}
	for i := 0; i < 5; i++ {
		if res := get(keys["ops-fast"]); res.StatusCode != http.StatusOK {
			t.Errorf("ops-fast (its own rate in the clients file) request %d: %d", i+1, res.StatusCode)
		}
	}
	// Anonymous callers share their address's bucket: three 401s, then 429.
	for i := 0; i < 3; i++ {
		if res := get(""); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous request %d: %d, want 401", i+1, res.StatusCode)
		}
	}
	if res := get(""); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("fourth anonymous request: %d, want 429", res.StatusCode)
	}
	// Health probes are never limited.
	for i := 0; i < 10; i++ {
		if res, err := http.Get(srv.URL + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("/healthz while rate limited: %v %v", res, err)
		}
	}
}

func TestBeyondTheRequestsInFlightTheHubAnswers503AndStillItsProbes(t *testing.T) {
	entered, hold := make(chan struct{}), make(chan struct{})
	srv, keys := guardedServer(t, Limits{MaxInFlight: 1, Unlimited: true}, func() error {
		close(entered)
		<-hold
		return nil
	})
	post := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/connectors/reload", nil)
		req.Header.Set("Authorization", "Bearer "+keys["ops-a"])
		return http.DefaultClient.Do(req)
	}
	first := make(chan error, 1)
	go func() {
		res, err := post()
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("the held reload answered %d", res.StatusCode)
			}
		}
		first <- err
	}()
	select {
	case <-entered:
	case err := <-first:
		t.Fatalf("the reload to hold the only slot ended: %v", err)
	}
	res, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("while one request holds the only slot: %d, want 503", res.StatusCode)
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r, err := http.Get(srv.URL + p); err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("%s while saturated: %v %v", p, r, err)
		}
	}
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if r, err := http.Get(srv.URL + "/api/v1/openapi.json"); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("after the held request: %v %v, want 200", r, err)
	}
}

func TestAQueryWithAControlCharacterIsRefusedByName(t *testing.T) {
	srv, keys := guardedServer(t, Limits{Unlimited: true}, nil)
	for _, q := range []string{"?holder=a%00b", "?x=1&na%01me=2", "?state=%C2%85"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/connectors"+q, nil)
		req.Header.Set("Authorization", "Bearer "+keys["ops-a"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&eb)
		res.Body.Close()
		if res.StatusCode != http.StatusUnprocessableEntity || len(eb.Error.Problems) != 1 || !strings.HasPrefix(eb.Error.Problems[0].Path, "query.") {
			t.Errorf("%s: %d %+v, want 422 naming the parameter", q, res.StatusCode, eb.Error)
		}
	}
}

func TestAnAnswerListsAtMostMaxProblemsAndCountsTheRest(t *testing.T) {
	ps := make([]problem.Problem, 340)
	for i := range ps {
		ps[i] = problem.Problem{Path: "/materials/" + strconv.Itoa(i) + "/uri", Rule: problem.RuleRequired, Message: "give the uri"}
	}
	rec := httptest.NewRecorder()
	writeProblems(rec, problem.New(ps...))
	var eb ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
		t.Fatal(err)
	}
	if len(eb.Error.Problems) != MaxProblems || eb.Error.ProblemsOmitted != 240 || eb.Error.Problems[0].Path != ps[0].Path || eb.Error.Problems[0].MessageZH == "" {
		t.Errorf("%d problems listed, %d omitted; want %d and 240", len(eb.Error.Problems), eb.Error.ProblemsOmitted, MaxProblems)
	}
	if !strings.Contains(eb.Error.Message, "340 problems (the first 100 are listed)") {
		t.Errorf("message %q", eb.Error.Message)
	}
	rec = httptest.NewRecorder()
	writeProblems(rec, problem.New(ps[:3]...))
	if strings.Contains(rec.Body.String(), "problems_omitted") {
		t.Errorf("a short list says something was omitted: %s", rec.Body)
	}
}

// The listener serves MaxConns connections; beyond, it answers health probes and tells the rest
// 503; with that full too, it closes the oldest waiting connection for the newest.
func TestTheListenerBoundsConnectionsAndStillAnswersProbes(t *testing.T) {
	s := newServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := ServerLimits{MaxConns: 2, MaxOverflow: 1}
	srv := NewHTTPServer(s, lim, nil)
	lln := LimitListener(ln, srv, lim)
	go func() { _ = srv.Serve(lln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		_ = lln.Close()
	})
	addr := ln.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	waitFor := func(what string, ok func(ListenerStats) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(lln.Stats()); {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %+v", what, lln.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	held := []net.Conn{dial(), dial()} // two idle connections take both places
	waitFor("two active connections", func(st ListenerStats) bool { return st.Active == 2 })

	res, _ := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: hub", "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("/healthz beyond MaxConns: %d, want 200", res.StatusCode)
	}
	res, closed := rawRequest(t, addr, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: hub", "")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !closed {
		t.Errorf("another route beyond MaxConns: %d Retry-After %q closed %v; want 503 with Retry-After, closed", res.StatusCode, res.Header.Get("Retry-After"), closed)
	}
	waitFor("the overflow place free again", func(st ListenerStats) bool { return st.Overflow == 0 })
	quiet := dial() // takes the one overflow place, sending nothing
	waitFor("one overflow connection", func(st ListenerStats) bool { return st.Overflow == 1 })
	// A newer connection takes the place of the oldest: the silent one is closed, the probe read.
	res, _ = rawRequest(t, addr, "GET /readyz HTTP/1.1\r\nHost: hub", "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("/readyz with the overflow full: %d, want 200", res.StatusCode)
	}
	_ = quiet.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := quiet.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("the oldest overflow connection was not closed for the newer one: read %d, %v", n, err)
	}
	if st := lln.Stats(); st.Refused != 1 {
		t.Errorf("refused %d, want 1", st.Refused)
	}
	quiet.Close()
	for _, c := range held {
		c.Close()
	}
	waitFor("every place free", func(st ListenerStats) bool { return st.Active == 0 && st.Overflow == 0 })
	res, _ = rawRequest(t, addr, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: hub", "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("after the connections went: %d, want 200", res.StatusCode)
	}
}

// Behind a proxy the anonymous bucket is the address the proxy appended to X-Forwarded-For;
// otherwise the header is the client's to write and is ignored.
func TestAnonymousRatesFollowTheProxysForwardedAddressOnlyWhenTrusted(t *testing.T) {
	for _, trust := range []bool{false, true} {
		srv, _ := guardedServer(t, Limits{AnonymousRatePerSecond: 0.001, AnonymousBurst: 1, TrustForwarded: trust}, nil)
		status := func(forwarded string) int {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/openapi.json", nil)
			req.Header.Set("X-Forwarded-For", forwarded)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		first, second := status("203.0.113.7, 198.51.100.1"), status("203.0.113.7, 198.51.100.2")
		if trust && (first != http.StatusOK || second != http.StatusOK) {
			t.Errorf("trusted: two forwarded addresses answered %d and %d; want a bucket each (200, 200)", first, second)
		}
		if !trust && (first != http.StatusOK || second != http.StatusTooManyRequests) {
			t.Errorf("not trusted: %d and %d; want one bucket for the connection's address (200, 429)", first, second)
		}
	}
}
