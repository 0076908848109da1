package deptsim

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"yjshub/connectors/signing"
	"yjshub/hub/event"
)

// HeaderSimulated labels every response and callback request of the simulator.
const HeaderSimulated = "X-Yjshub-Simulated"

// maxPushBytes bounds the body of a push; envelopes carry references to materials, not
// the materials, so they are small.
const maxPushBytes = 4 << 20

// Simulator simulates the back offices of departments behind the REST push binding. It is an
// [http.Handler]; create it with [New] and stop it with [Simulator.Close]. Its methods are
// safe for concurrent use.
type Simulator struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	now     func() time.Time
	names   map[string]string
	hubKeys map[string]string // department → API key for callbacks
	secrets map[string]string // department → signing secret pushes must carry
	mux     *http.ServeMux

	ctx    context.Context // ends callbacks in flight when Close cancels it
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	depts    map[string]*deptState
	subcases map[string]*subcaseState
	keys     map[string]string // accepted Idempotency-Key → sub-case id
	inflight int               // callback sequences running
	idle     chan struct{}     // closed while inflight == 0
	// settled lists the ids of the sub-cases with no callback sequence running, least
	// recently touched first; beyond retain of them the first are forgotten, so that a
	// simulator under constant load keeps a bounded memory.
	settled *list.List
	retain  int
	// callbackRetry is how long a callback is retried while the hub does not answer, waiting
	// callbackBackoff at first, doubled each time, at most callbackMaxBackoff.
	callbackRetry      time.Duration
	callbackBackoff    time.Duration
	callbackMaxBackoff time.Duration
	// fetches are the materials fetched through their links, the last maxFetches of them.
	fetches []Fetch
}

type deptState struct {
	cfg   DeptConfig
	rng   *rand.Rand
	stats DeptStats
}

type subcaseState struct {
	department string
	deliveries int
	eventsSent []string
	accepted   bool
	// data is the sub-case as dispatched, for the decision after a supplement; it is
	// dropped once a decision has been called back, when nothing can need it again.
	data      dispatched
	decided   bool // approved or rejected has been called back
	withdrawn bool // the applicant withdrew it: no more callbacks
	followUps map[string]bool
	keys      []string      // the Idempotency-Keys in Simulator.keys that name it
	running   int           // callback sequences running for it
	settled   *list.Element // its place in Simulator.settled; nil while running
}

// DefaultRetention is how many settled sub-cases (no callback sequence running) a
// [Simulator] remembers unless [WithRetention] says otherwise: enough to answer every
// retry of the hub as a duplicate, about 5 MB at most.
const DefaultRetention = 10000

// Option configures a [Simulator].
type Option func(*Simulator)

// WithLogger sets the logger; every line gets simulated=true. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Simulator) {
		if l != nil {
			s.log = l
		}
	}
}

// WithHTTPClient sets the client that calls the hub back. Default: a client with a 10s
// timeout per request.
func WithHTTPClient(c *http.Client) Option {
	return func(s *Simulator) {
		if c != nil {
			s.client = c
		}
	}
}

// WithCallbackRetry sets how long a callback is retried while the hub answers with a network
// error or 5xx, with a backoff growing to 2s. Default: [DefaultCallbackRetry], longer than a
// hub restart.
func WithCallbackRetry(d time.Duration) Option {
	return func(s *Simulator) {
		if d > 0 {
			s.callbackRetry = d
		}
	}
}

// WithClock sets the source of event times and licence dates. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Simulator) {
		if now != nil {
			s.now = now
		}
	}
}

// WithDepartmentNames gives the names departments issue licences under, by code (e.g.
// admin-approval → 连云港市赣榆区行政审批局). Default: the licence issuer is the code.
func WithDepartmentNames(names map[string]string) Option {
	return func(s *Simulator) {
		s.names = make(map[string]string, len(names))
		for k, v := range names {
			s.names[k] = v
		}
	}
}

// WithHubKeys gives the API key each department presents to the hub when it calls back
// ("Authorization: Bearer <key>"), by department code. A department without one calls back
// without a key, which a hub that authenticates refuses (401).
func WithHubKeys(keys map[string]string) Option {
	return func(s *Simulator) {
		s.hubKeys = make(map[string]string, len(keys))
		for k, v := range keys {
			s.hubKeys[k] = v
		}
	}
}

// WithSigningSecrets makes each department (by code) refuse pushes not signed with its secret,
// as DeptConfig.SigningSecret does; it takes precedence over the configuration.
func WithSigningSecrets(secrets map[string]string) Option {
	return func(s *Simulator) {
		s.secrets = make(map[string]string, len(secrets))
		for k, v := range secrets {
			s.secrets[k] = v
		}
	}
}

// WithRetention bounds the settled sub-cases remembered — those whose callbacks have ended,
// or were never scheduled — to n, forgetting the least recently pushed first. A forgotten
// sub-case is gone from [Simulator.Stats], its Idempotency-Keys are no longer recognised (a
// push of it again is taken as new), and a supplement or withdrawal for it is answered 422.
// Sub-cases whose callbacks are running are always remembered. Default
// [DefaultRetention]; n < 1 keeps the default.
func WithRetention(n int) Option {
	return func(s *Simulator) {
		if n >= 1 {
			s.retain = n
		}
	}
}

// New returns a simulator for cfg, or every problem of cfg.
func New(cfg Config, opts ...Option) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("deptsim: %w", err)
	}
	// Copy the map: setDefaults writes to it and the caller keeps theirs.
	depts := make(map[string]DeptConfig, len(cfg.Departments))
	for k, v := range cfg.Departments {
		depts[k] = v
	}
	cfg.Departments = depts
	cfg.setDefaults()

	idle := make(chan struct{})
	close(idle)
	s := &Simulator{
		cfg:                cfg,
		log:                slog.Default(),
		client:             &http.Client{Timeout: 10 * time.Second},
		now:                time.Now,
		depts:              map[string]*deptState{},
		subcases:           map[string]*subcaseState{},
		keys:               map[string]string{},
		idle:               idle,
		settled:            list.New(),
		retain:             DefaultRetention,
		callbackRetry:      DefaultCallbackRetry,
		callbackBackoff:    callbackBackoff,
		callbackMaxBackoff: callbackMaxBackoff,
	}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("simulated", true)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.mux = http.NewServeMux()
	s.mux.Handle("/departments/{dept}/subcases", allow(s.push, http.MethodPost))
	s.mux.Handle("/stats", allow(s.serveStats, http.MethodGet))
	s.mux.Handle("/healthz", allow(s.healthz, http.MethodGet))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such path: "+r.URL.Path)
	})
	return s, nil
}

// ServeHTTP serves the endpoints listed in the package documentation.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderSimulated, "true")
	s.mux.ServeHTTP(w, r)
}

// Close stops the simulator: pushes are answered 503 from now on, callbacks in flight are
// abandoned, and Close returns once their goroutines have ended. It is safe to call more
// than once.
func (s *Simulator) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	return s.Idle(context.Background())
}

// Idle waits until no callback sequence is running — every accepted sub-case has been called
// back as far as it goes — or ctx ends.
func (s *Simulator) Idle(ctx context.Context) error {
	for {
		s.mu.Lock()
		idle, done := s.idle, s.inflight == 0
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("deptsim: callbacks still running: %w", ctx.Err())
		}
	}
}

// signingSecret is the secret department code's pushes must be signed with; "" for none.
func (s *Simulator) signingSecret(code string) string {
	if secret, ok := s.secrets[code]; ok {
		return secret
	}
	if cfg, ok := s.cfg.Departments[code]; ok {
		return cfg.SigningSecret
	}
	return s.cfg.Default.SigningSecret
}

// dept returns the state of department code, creating it on first use. s.mu is held.
func (s *Simulator) dept(code string) *deptState {
	d, ok := s.depts[code]
	if ok {
		return d
	}
	cfg, ok := s.cfg.Departments[code]
	if !ok {
		cfg = s.cfg.Default
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	d = &deptState{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.depts[code] = d
	return d
}

// failNow draws whether this push gets an injected failure. s.mu is held.
func (d *deptState) failNow() bool {
	switch r := d.cfg.FailureRate; {
	case r <= 0:
		return false
	case r >= 1:
		return true
	default:
		return d.rng.Float64() < r
	}
}

// applicant is data.applicant, which the hub adds so that licences can name their holder. It
// is decoded here rather than from hub/event so the simulator works with and without it.
type applicant struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	IDType string `json:"id_type"`
}

// dispatched is the data of a push.
type dispatched struct {
	event.SubcaseDispatched
	Applicant *applicant `json:"applicant,omitempty"`
}

// acceptBody is the body of 202 and of every 200 that repeats it.
type acceptBody struct {
	Status    string `json:"status"`
	SubcaseID string `json:"subcase_id"`
}

func (s *Simulator) push(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("dept")
	if ct := r.Header.Get("Content-Type"); !isCloudEventsJSON(ct) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type must be application/cloudevents+json (structured mode)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPushBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds %d bytes", maxPushBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_request", "body could not be read")
		return
	}
	if secret := s.signingSecret(code); secret != "" {
		if err := signing.Verify(secret, body, r.Header); err != nil {
			s.mu.Lock()
			s.dept(code).stats.SignaturesRefused++
			s.mu.Unlock()
			s.log.Warn("push refused: bad signature", "department", code, "status", http.StatusUnauthorized, "reason", err.Error())
			writeError(w, http.StatusUnauthorized, "bad_signature", err.Error())
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &head)
	data, problems := decodePush(code, key, body)
	if len(problems) > 0 {
		s.log.Warn("push refused", "department", code, "status", http.StatusBadRequest, "problems", len(problems), "first", problems[0].Path)
		writeError(w, http.StatusBadRequest, "bad_request", "not a valid sub-case push", problems...)
		return
	}
	sc := data.SubcaseID
	if head.Type == event.TypeSubcaseResubmitted || head.Type == event.TypeSubcaseWithdrawn {
		s.followUp(w, code, key, head.Type, sc)
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "closed", "the simulator is shutting down")
		return
	}
	d := s.dept(code)
	st := s.subcases[sc]
	if st == nil {
		st = &subcaseState{department: code, eventsSent: []string{}}
		s.subcases[sc] = st
	}
	st.deliveries++
	s.touch(sc, st)

	if d.failNow() {
		d.stats.FailuresInjected++
		status := d.cfg.FailureStatus
		s.mu.Unlock()
		s.log.Info("push answered with an injected failure", "department", code, "subcase_id", sc, "idempotency_key", key, "status", status)
		writeError(w, status, "simulated_failure", fmt.Sprintf("simulated failure (failure_rate %v)", d.cfg.FailureRate))
		return
	}

	if prev, seen := s.keys[key]; seen && prev != sc {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was accepted for another sub-case")
		return
	}
	resp := acceptBody{Status: "accepted", SubcaseID: sc}
	if _, seen := s.keys[key]; seen || st.accepted {
		s.remember(key, sc, st)
		d.stats.Received++
		d.stats.Duplicates++
		s.mu.Unlock()
		s.log.Info("push is a duplicate: answered as before, nothing scheduled", "department", code, "subcase_id", sc, "idempotency_key", key)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	s.remember(key, sc, st)
	st.accepted = true
	st.data = data
	d.stats.Received++
	seq := s.plan(code, d, data)
	s.started(sc, st)
	s.mu.Unlock()

	s.log.Info("push accepted", "department", code, "case_id", data.CaseID, "subcase_id", sc,
		"matter", data.Matter.Code, "idempotency_key", key, "decision", seq.decision)
	go s.run(seq)
	writeJSON(w, http.StatusAccepted, resp)
}

// decodePush checks a push against the contract and returns its data, or every problem found.
// Problems name paths and rules, never values: the body carries personal data.
func decodePush(dept, key string, body []byte) (dispatched, []problem) {
	var ps []problem
	add := func(path, rule, msg string) { ps = append(ps, problem{Path: path, Rule: rule, Message: msg}) }
	if key == "" {
		add("header:Idempotency-Key", "required", "the Idempotency-Key header is required (the envelope id)")
	}
	var env event.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		add("", "json", "body is not a CloudEvents JSON envelope: "+describeJSONError(err))
		return dispatched{}, ps
	}
	if env.SpecVersion != event.SpecVersion {
		add("specversion", "const", "specversion must be "+event.SpecVersion)
	}
	if env.ID == "" {
		add("id", "required", "the envelope id is required")
	} else if key != "" && key != env.ID {
		add("header:Idempotency-Key", "equals_id", "the Idempotency-Key must be the envelope id")
	}
	switch env.Type {
	case event.TypeSubcaseDispatched, event.TypeSubcaseResubmitted, event.TypeSubcaseWithdrawn:
	default:
		add("type", "enum", "type must be "+event.TypeSubcaseDispatched+", "+event.TypeSubcaseResubmitted+" or "+event.TypeSubcaseWithdrawn)
	}
	var data dispatched
	if len(env.Data) == 0 || string(env.Data) == "null" {
		add("data", "required", "data is required")
		return data, ps
	}
	if err := json.Unmarshal(env.Data, &data); err != nil {
		add("data", "json", "data is not a dispatched sub-case: "+describeJSONError(err))
		return data, ps
	}
	if data.SubcaseID == "" {
		add("data.subcase_id", "required", "data.subcase_id is required")
	}
	switch data.Department {
	case "":
		add("data.department", "required", "data.department is required")
	case dept:
	default:
		add("data.department", "equals_path", fmt.Sprintf("data.department %q differs from the department of the path, %q", data.Department, dept))
	}
	if env.Type != event.TypeSubcaseDispatched {
		return data, ps // a supplement or a withdrawal: the callback came with the dispatch
	}
	if u, err := url.Parse(data.Callback); data.Callback == "" {
		add("data.callback", "required", "data.callback is required: the simulator reports events there")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("data.callback", "url", "data.callback must be an absolute http(s) URL")
	}
	return data, ps
}

func isCloudEventsJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/cloudevents+json"
}

// describeJSONError says what is wrong with a JSON document without quoting any of it.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tim *time.ParseError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s: a JSON %s cannot be a %s", typ.Field, typ.Value, typ.Type)
		}
		return fmt.Sprintf("a JSON %s cannot be a %s", typ.Value, typ.Type)
	case errors.As(err, &tim):
		return "a time is not RFC 3339"
	default:
		return "undecodable JSON"
	}
}

func (s *Simulator) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Simulator) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "simulated": true})
}

// allow answers a JSON 405 to methods other than the given ones.
func allow(h http.HandlerFunc, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(methods, ", "))
	})
}

// errorBody has the shape of every error of the hub's own API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status   int       `json:"status"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []problem `json:"problems,omitempty"`
}

type problem struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string, problems ...problem) {
	writeJSON(w, status, errorBody{Error: errorDetail{Status: status, Code: code, Message: message, Problems: problems}})
}

// followUp takes a message about a sub-case already dispatched: the applicant's supplement,
// after which the department approves, or the applicant's withdrawal, after which it sends
// nothing more.
func (s *Simulator) followUp(w http.ResponseWriter, code, key, typ, sc string) {
	s.mu.Lock()
	d := s.dept(code)
	st := s.subcases[sc]
	if st == nil || !st.accepted {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "unknown_subcase", "no sub-case of that id was dispatched to this department")
		return
	}
	if typ == event.TypeSubcaseResubmitted && st.decided {
		// Its form is gone with the decision; 409 tells the hub that the department has it.
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "already_decided", "the department has already decided this sub-case")
		return
	}
	d.stats.Received++
	if st.followUps[key] {
		d.stats.Duplicates++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, acceptBody{Status: "accepted", SubcaseID: sc})
		return
	}
	if st.followUps == nil {
		st.followUps = map[string]bool{}
	}
	st.followUps[key] = true
	s.touch(sc, st)
	if typ == event.TypeSubcaseWithdrawn {
		st.withdrawn = true
		d.stats.Withdrawals++
		s.mu.Unlock()
		s.log.Info("sub-case withdrawn by the applicant", "department", code, "subcase_id", sc)
		writeJSON(w, http.StatusAccepted, acceptBody{Status: "accepted", SubcaseID: sc})
		return
	}
	d.stats.Supplements++
	seq := sequence{dept: code, decision: DecisionApprove, delay: d.cfg.Delay, data: st.data, afterSupplement: true}
	s.started(sc, st)
	s.mu.Unlock()
	s.log.Info("supplement received: approving", "department", code, "subcase_id", sc)
	go s.run(seq)
	writeJSON(w, http.StatusAccepted, acceptBody{Status: "accepted", SubcaseID: sc})
}

// withdrawn reports whether the applicant withdrew a sub-case.
func (s *Simulator) withdrawn(sc string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.subcases[sc]
	return st != nil && st.withdrawn
}

// remember records that key was accepted for sub-case sc. s.mu is held.
func (s *Simulator) remember(key, sc string, st *subcaseState) {
	if _, ok := s.keys[key]; !ok {
		st.keys = append(st.keys, key)
	}
	s.keys[key] = sc
}

// touch moves a sub-case with no sequence running to the end of the settled list, the last to
// be forgotten, and forgets the oldest beyond the retention. s.mu is held.
func (s *Simulator) touch(sc string, st *subcaseState) {
	if st.running > 0 {
		return
	}
	if st.settled != nil {
		s.settled.MoveToBack(st.settled)
		return
	}
	st.settled = s.settled.PushBack(sc)
	for s.settled.Len() > s.retain {
		s.forget(s.settled.Front())
	}
}

// forget drops a settled sub-case and the Idempotency-Keys that name it. s.mu is held.
func (s *Simulator) forget(e *list.Element) {
	sc := s.settled.Remove(e).(string)
	if st := s.subcases[sc]; st != nil {
		for _, k := range st.keys {
			delete(s.keys, k)
		}
		delete(s.subcases, sc)
	}
}

// started counts a callback sequence for sub-case sc about to run: while one runs the
// sub-case is not forgotten. s.mu is held.
func (s *Simulator) started(sc string, st *subcaseState) {
	st.running++
	if st.settled != nil {
		s.settled.Remove(st.settled)
		st.settled = nil
	}
	s.inflight++
	if s.inflight == 1 {
		s.idle = make(chan struct{})
	}
}
