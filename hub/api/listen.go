package api

import (
	"container/list"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ServerLimits bound the HTTP server: how many connections it holds and how long each part of
// a request may take. The zero value takes every default.
type ServerLimits struct {
	// MaxConns bounds the connections served at once. Default 1024.
	MaxConns int
	// MaxOverflow bounds the connections beyond MaxConns held at once to be told 503 (or, for a
	// health probe, answered); a connection beyond both is closed at once. Default MaxConns.
	MaxOverflow int
	// ReadHeaderTimeout bounds the reading of a request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, body included. Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end of its answer.
	// Default 60s.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its next request. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers. Default 64 KiB.
	MaxHeaderBytes int
}

func (l ServerLimits) withDefaults() ServerLimits {
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	if l.MaxOverflow <= 0 {
		l.MaxOverflow = l.MaxConns
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = 30 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 60 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	return l
}

// NewHTTPServer returns the server for handler with every timeout of lim set.
func NewHTTPServer(handler http.Handler, lim ServerLimits, logger *slog.Logger) *http.Server {
	lim = lim.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// Listener bounds the connections a server holds. Up to MaxConns it hands connections to the
// server. Beyond, up to MaxOverflow more go to a small server of its own that reads each request
// for at most a second: a health probe (/healthz, /readyz) is answered by the real handler, so
// that an orchestrator still sees the hub alive and ready, and anything else is told 503 with
// Retry-After and the connection closed. When the overflow is full too, its oldest connection
// is closed to make room for the newest: a flood of silent connections then only ever holds
// each for moments, and a probe, which speaks at once, is still read. Every descriptor and
// goroutine the listener lets in is therefore bounded, whatever a flood of connections does.
type Listener struct {
	net.Listener
	lim      ServerLimits
	active   atomic.Int64
	overflow atomic.Int64
	refused  atomic.Int64
	flooded  atomic.Bool // the connections held reached MaxConns since memory was last returned
	over     *chanListener
	overSrv  *http.Server
	wg       sync.WaitGroup
	mu       sync.Mutex
	queue    list.List // the overflow's connections, oldest first
}

// ListenerStats are what a Listener counts.
type ListenerStats struct {
	Active   int64 // connections the server holds now
	Overflow int64 // connections being told 503 now
	Refused  int64 // overflow connections closed to make room for newer ones, since the start
}

// LimitListener bounds the connections srv serves from ln. srv's handler answers health probes
// beyond the bound, with srv's TLS configuration when it has one (set it before this call).
func LimitListener(ln net.Listener, srv *http.Server, lim ServerLimits) *Listener {
	lim = lim.withDefaults()
	l := &Listener{Listener: ln, lim: lim, over: newChanListener(ln.Addr())}
	probes := srv.Handler
	l.overSrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isProbe(r) {
				probes.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the hub holds as many connections as it takes; try again shortly")
		}),
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       time.Second,
		WriteTimeout:      5 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          srv.ErrorLog,
	}
	l.overSrv.SetKeepAlivesEnabled(false)
	var over net.Listener = l.over
	if srv.TLSConfig != nil {
		over = tls.NewListener(over, srv.TLSConfig.Clone())
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = l.overSrv.Serve(over)
	}()
	return l
}

// Accept returns the next connection within MaxConns, passing those beyond to the overflow
// server or closing them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) <= int64(l.lim.MaxConns) {
			l.afterFlood()
			return &countedConn{Conn: c, n: &l.active, closed: l.afterFlood}, nil
		}
		l.active.Add(-1)
		if l.overflow.Add(1) > int64(l.lim.MaxOverflow) {
			l.evictOldest()
		}
		l.afterFlood()
		oc := &countedConn{Conn: c, n: &l.overflow, closed: l.afterFlood}
		l.track(oc)
		if !l.over.put(oc) {
			_ = oc.Close()
			return nil, net.ErrClosed
		}
	}
}

// track keeps oc in the overflow's queue, oldest first, until it is closed.
func (l *Listener) track(oc *countedConn) {
	oc.onClose = func() {
		l.mu.Lock()
		if oc.elem != nil {
			l.queue.Remove(oc.elem)
			oc.elem = nil
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	oc.elem = l.queue.PushBack(oc)
	l.mu.Unlock()
}

// evictOldest closes the overflow's oldest connection.
func (l *Listener) evictOldest() {
	l.mu.Lock()
	front := l.queue.Front()
	l.mu.Unlock()
	if front != nil {
		l.refused.Add(1)
		_ = front.Value.(*countedConn).Close()
	}
}

// Close stops accepting, and stops the overflow server.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	l.over.Close()
	_ = l.overSrv.Close()
	l.wg.Wait()
	return err
}

// Stats returns what the listener counts.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{Active: l.active.Load(), Overflow: l.overflow.Load(), Refused: l.refused.Load()}
}

// afterFlood returns the memory a flood of connections made the process take to the operating
// system once it has passed: when the connections held fall back under an eighth of MaxConns
// after they reached it. The runtime would keep it for a while, and a hub that has weathered a
// flood should not look, to its operators and to the kernel, as if it were still under one.
func (l *Listener) afterFlood() {
	held := l.active.Load() + l.overflow.Load()
	if held >= int64(l.lim.MaxConns) {
		l.flooded.Store(true)
		return
	}
	if held <= int64(l.lim.MaxConns/8) && l.flooded.CompareAndSwap(true, false) {
		go debug.FreeOSMemory()
	}
}

// countedConn gives its place back when closed, once.
type countedConn struct {
	net.Conn
	n       *atomic.Int64
	once    sync.Once
	onClose func()
	closed  func()        // the listener's count changed
	elem    *list.Element // in the overflow's queue; guarded by Listener.mu
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.n.Add(-1)
		if c.onClose != nil {
			c.onClose()
		}
		if c.closed != nil {
			c.closed()
		}
	})
	return c.Conn.Close()
}

// chanListener is a listener whose connections are handed to it.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// put hands c to the listener's server; false when it is closed.
func (l *chanListener) put(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
