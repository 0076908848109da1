package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// tcpProxy forwards connections to target until it is cut: then it closes every connection it
// carries and each new one at once, as a database behind a failed network looks.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// A submission the database cannot take is 503 with Retry-After — nothing was stored — and
// the same request sent again once the database answers is taken, once.
func TestASubmissionTheDatabaseCannotTakeIs503AndMaySimplyBeSentAgain(t *testing.T) {
	u, err := url.Parse(storetest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	ctx := context.Background()
	st, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, withServices(hs, Config{Logger: slog.New(slog.DiscardHandler), Limits: Limits{Unlimited: true}})))
	t.Cleanup(srv.Close)
	body := mustJSON(t, exampleApp(t, "open-drink-shop-individual"))
	submit := func() *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/cases", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-outage")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	proxy.cut()
	resp := submit()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"code":"unavailable"`) {
		t.Fatalf("a submission while the database is cut off: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}

	proxy.restore()
	resp = submit()
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the same submission once the database answers: %d, replayed %q", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
	}
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM cases`); err != nil || n != 1 {
		t.Fatalf("%d cases stored (%v), want the one", n, err)
	}
}
