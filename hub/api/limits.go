package api

import (
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"yjshub/hub/auth"
	"yjshub/jsonstrict"
	"yjshub/problem"
)

// Error codes of a request the server will not take now.
const (
	CodeRateLimited = "rate_limited" // 429: the client called faster than its limit
)

// Limits bound what one client, and all clients together, may ask of the server at once.
// The zero value takes every default.
type Limits struct {
	// MaxInFlight bounds the requests handled at once; beyond it a request is answered 503 with
	// Retry-After at once. Health probes (/healthz, /readyz) are never counted nor refused.
	// Default 256.
	MaxInFlight int
	// RatePerSecond and Burst bound each authenticated client (a token bucket per client:
	// Burst at once, refilled at RatePerSecond). A client's entry in the clients file may set
	// its own. Beyond: 429 with Retry-After. Default 100/s, burst 200.
	RatePerSecond float64
	Burst         int
	// AnonymousRatePerSecond and AnonymousBurst bound requests without a known key, per remote
	// address. Default 20/s, burst 40. When the API does not authenticate at all, each address
	// is held to the per-client rate instead.
	AnonymousRatePerSecond float64
	AnonymousBurst         int
	// Unlimited turns the rate limits off (not MaxInFlight): for load tests on loopback.
	Unlimited bool
	// TrustForwarded takes a request's remote address from the last hop of X-Forwarded-For:
	// set it only when a proxy in front of the hub sets that header (serve --behind-proxy).
	TrustForwarded bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 256
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 100
	}
	if l.Burst <= 0 {
		l.Burst = 200
	}
	if l.AnonymousRatePerSecond <= 0 {
		l.AnonymousRatePerSecond = 20
	}
	if l.AnonymousBurst <= 0 {
		l.AnonymousBurst = 40
	}
	return l
}

// isProbe reports whether r is a health probe, which no limit applies to: an orchestrator must
// see a saturated hub as alive.
func isProbe(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
}

// guard runs before routing, on every request but the health probes, in the order that spends
// the least on a request the hub will refuse: a body larger than any route takes (by its
// Content-Length) is 413; beyond MaxInFlight 503; a client (or, anonymous or with an unknown
// key, an address) over its rate 429; an unknown key 401; a query with a control character 422; all before a byte of the body is read. A request
// refused while its body is unread closes its connection, so that a slow body cannot hold it.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isProbe(r) {
			next.ServeHTTP(w, r)
			return
		}
		body := &bodyState{ReadCloser: r.Body, pending: r.ContentLength != 0}
		r.Body = body
		w = &closeUnread{ResponseWriter: w, body: body}
		upload := s.isUpload(r) // bounded by the upload service instead (files.go)
		if r.ContentLength > maxRequestBody && !upload {
			tooLarge(w, maxRequestBody)
			return
		}
		select {
		case s.inFlight <- struct{}{}:
			defer func() { <-s.inFlight }()
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the hub is handling as many requests as it takes at once; try again shortly")
			return
		}
		c, known, badKey := s.identify(r)
		if !s.underRate(w, r, c, known) { // a wrong key spends its address's tokens, so guessing is slow
			return
		}
		if badKey {
			w.Header().Set("WWW-Authenticate", `Bearer realm="yjshub", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthenticated, "the API key is not one the hub knows")
			return
		}
		if ps := queryProblems(r); len(ps) > 0 {
			writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has "+plural(len(ps), "problem"), ps...)
			return
		}
		if !upload {
			body.ReadCloser = http.MaxBytesReader(w, body.ReadCloser, maxRequestBody)
		}
		if known {
			r = r.WithContext(auth.WithClient(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

// identify authenticates a request that carries a key; a key the hub does not know (badKey) is
// refused whatever the route. Without Clients, or without a key, the request is anonymous.
func (s *Server) identify(r *http.Request) (c auth.Client, known, badKey bool) {
	if s.cfg.Clients == nil || r.Header.Get("Authorization") == "" {
		return auth.Client{}, false, false
	}
	if key, ok := bearer(r); ok {
		c, known = s.cfg.Clients.Authenticate(key)
	}
	return c, known, !known
}

// underRate takes a token from the request's bucket: the client's, or its address's when
// anonymous. Without one it answers 429 with the seconds until the next token.
func (s *Server) underRate(w http.ResponseWriter, r *http.Request, c auth.Client, known bool) bool {
	lim := s.limits
	if lim.Unlimited {
		return true
	}
	key, perSecond, burst := "a:"+s.remoteHost(r), lim.AnonymousRatePerSecond, lim.AnonymousBurst
	if s.cfg.Clients == nil { // an open API: every address is a client
		perSecond, burst = lim.RatePerSecond, lim.Burst
	}
	if known {
		key, perSecond, burst = "c:"+c.Name, lim.RatePerSecond, lim.Burst
		if c.RatePerSecond > 0 {
			perSecond = c.RatePerSecond
		}
		if c.Burst > 0 {
			burst = c.Burst
		}
	}
	wait, ok := s.buckets.take(key, perSecond, burst)
	if ok {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, CodeRateLimited,
		"too many requests: at most "+strconv.FormatFloat(perSecond, 'f', -1, 64)+" a second, "+strconv.Itoa(burst)+" at once; try again after Retry-After seconds")
	return false
}

// remoteHost is the address a request came from: the connection's peer, or with
// TrustForwarded the last hop the proxy appended to X-Forwarded-For.
func (s *Server) remoteHost(r *http.Request) string {
	if s.limits.TrustForwarded {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if h := strings.TrimSpace(hops[len(hops)-1]); h != "" {
				return h
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// queryProblems lists every query parameter (name or value) that holds a control character.
func queryProblems(r *http.Request) []problem.Problem {
	var ps []problem.Problem
	if jsonstrict.ControlIndex(r.URL.Path) >= 0 {
		ps = append(ps, problem.Problem{Path: "path", Rule: jsonstrict.RuleControl, Message: "the path holds a control character"})
	}
	q, err := urlQuery(r)
	if err != nil {
		return append(ps, problem.Problem{Path: "query", Rule: problem.RuleInvalid, Message: "the query string is not well formed"})
	}
	for name, values := range q {
		bad := jsonstrict.ControlIndex(name) >= 0
		for _, v := range values {
			bad = bad || jsonstrict.ControlIndex(v) >= 0
		}
		if bad {
			ps = append(ps, problem.Problem{Path: "query." + strings.Map(printable, name), Rule: jsonstrict.RuleControl,
				Message: "the query parameter holds a control character"})
		}
	}
	return ps
}

func urlQuery(r *http.Request) (url.Values, error) { return url.ParseQuery(r.URL.RawQuery) }

func printable(r rune) rune {
	if jsonstrict.IsControl(r) {
		return '?'
	}
	return r
}

// buckets are the token buckets of the clients and anonymous addresses seen lately. Buckets
// idle for a while are dropped, so that a stream of new addresses cannot grow the map without
// bound; when it is full anyway, new keys share one bucket.
type buckets struct {
	mu      sync.Mutex
	now     func() time.Time
	byKey   map[string]*bucket
	shared  *rate.Limiter
	swept   time.Time
	maxKeys int
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

const bucketIdle = 10 * time.Minute

func newBuckets(now func() time.Time) *buckets {
	return &buckets{now: now, byKey: map[string]*bucket{}, maxKeys: 100000}
}

// take takes one token from key's bucket; without one it returns how long until there is one.
func (b *buckets) take(key string, perSecond float64, burst int) (time.Duration, bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, ok := b.byKey[key]
	if !ok {
		if len(b.byKey) >= b.maxKeys && now.Sub(b.swept) > time.Second {
			b.sweep(now)
		}
		if len(b.byKey) >= b.maxKeys {
			if b.shared == nil {
				b.shared = rate.NewLimiter(rate.Limit(perSecond), burst)
			}
			bk = &bucket{lim: b.shared}
		} else {
			bk = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
			b.byKey[key] = bk
		}
	}
	bk.used = now
	if bk.lim.Limit() != rate.Limit(perSecond) || bk.lim.Burst() != burst { // the clients file changed
		bk.lim.SetLimitAt(now, rate.Limit(perSecond))
		bk.lim.SetBurstAt(now, burst)
	}
	res := bk.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	if len(b.byKey) > 1024 && now.Sub(b.swept) > bucketIdle {
		b.sweep(now)
	}
	return 0, true
}

func (b *buckets) sweep(now time.Time) {
	b.swept = now
	for k, bk := range b.byKey {
		if now.Sub(bk.used) > bucketIdle {
			delete(b.byKey, k)
		}
	}
}

// bodyState follows a request's body: whether some of it may still be unread.
type bodyState struct {
	io.ReadCloser
	pending bool
}

func (b *bodyState) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.pending = false
	}
	return n, err
}

// closeUnread closes the connection after an error answered while the request's body is still
// unread. Otherwise the server, to take the connection's next request, would first read up to
// 256 KiB more of the body, as slowly as the client sends it: the reading stops at once (its
// deadline is now) and the connection closes once the answer is out.
type closeUnread struct {
	http.ResponseWriter
	body *bodyState
}

func (c *closeUnread) WriteHeader(status int) {
	if status >= 400 && c.body.pending {
		c.Header().Set("Connection", "close")
		_ = http.NewResponseController(c.ResponseWriter).SetReadDeadline(time.Now())
	}
	c.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (c *closeUnread) Unwrap() http.ResponseWriter { return c.ResponseWriter }
