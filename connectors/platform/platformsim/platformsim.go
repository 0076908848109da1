// Package platformsim simulates a platform (江苏政务服务网 "一件事", 连云港市政务服务一体化平台)
// speaking the contract of connectors/platform (its README.md), for tests and demonstrations:
// it offers submitted applications in its own format through the cursor-based pull endpoint
// and the e-licences it holds through the same kind of endpoint, and keeps every document the
// hub pushes back, answering as told.
//
//	GET  /applications?cursor=…&limit=…   {"items": [{"app_id", "submitted_at", "body"}], "next_cursor"}
//	GET  /licences?cursor=…&limit=…       {"items": [{"licence_id", "body"}], "next_cursor"}
//	POST /progress                        progress, results, e-licences, rejections, supplements, withdrawals, revocations (Idempotency-Key)
//	GET  /pushes                          every push received, as JSON
//
// With a signing secret ([Sim.VerifySignatures]) the platform refuses a push whose Standard
// Webhooks signature does not verify (401), as a platform that checks signatures must.
// [Sim.OnTaken] lets a caller act on each document the platform takes (the platformsim
// command answers 补正 by supplementing the case in the hub).
//
// [Format] describes a platform's own application layout as data, and [Format.Encode] writes
// a hub application in it, so that a test can offer the repository's examples as a platform
// would send them. [Jiangsu] and [Lianyungang] are two such layouts. [LicenceFormat] does the
// same for e-licences: [JiangsuLicence] and [LianyungangLicence]. [RevocationFormat] reads the
// revocations (撤销) the hub pushes, in [JiangsuRevocation] and [LianyungangRevocation], and
// [Sim.Revocations] lists those the platform took.
package platformsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"yjshub/connectors/signing"
)

// Sim is a simulated platform; it is an http.Handler and safe for concurrent use.
type Sim struct {
	mu         sync.Mutex
	items      []Item
	licences   []LicenceItem
	pushes     []Push
	pulls      int
	licPulls   int
	respond    func(n int, p Push) int
	pullErr    func(n int) int
	licPullErr func(n int) int
	secret     string
	onTaken    func(Push)
}

// Item is an application the platform offers.
type Item struct {
	AppID       string          `json:"app_id"`
	SubmittedAt string          `json:"submitted_at"`
	Body        json.RawMessage `json:"body"`
}

// LicenceItem is an e-licence the platform offers.
type LicenceItem struct {
	LicenceID string          `json:"licence_id"`
	Body      json.RawMessage `json:"body"`
}

// Push is a document the hub pushed.
type Push struct {
	// Key is its Idempotency-Key.
	Key    string
	Header http.Header
	// Doc is the document decoded; Raw as received.
	Doc map[string]any
	Raw []byte
	// Status is what the simulator answered.
	Status int
	At     time.Time
	// Problem says why the push was refused by the simulator itself (no Idempotency-Key, a
	// signature that does not verify); empty otherwise.
	Problem string
}

// New returns a platform offering nothing yet that takes every push.
func New() *Sim { return &Sim{} }

// Offer adds an application to the end of the platform's list.
func (s *Sim) Offer(appID string, submittedAt time.Time, body json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, Item{AppID: appID, SubmittedAt: submittedAt.Format(time.RFC3339), Body: body})
}

// OfferLicence adds an e-licence, in the platform's own format, to the end of the platform's
// list of licences.
func (s *Sim) OfferLicence(licenceID string, body json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.licences = append(s.licences, LicenceItem{LicenceID: licenceID, Body: body})
}

// RespondToPush makes the platform answer the n-th push (from 1) with the status f returns; 0
// means 200. nil restores the default.
func (s *Sim) RespondToPush(f func(n int, p Push) int) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

// RespondToPull makes the platform answer the n-th pull (from 1) with the status f returns
// instead of a page; 0 means the page.
func (s *Sim) RespondToPull(f func(n int) int) {
	s.mu.Lock()
	s.pullErr = f
	s.mu.Unlock()
}

// RespondToLicencePull makes the platform answer the n-th pull of licences (from 1) with the
// status f returns instead of a page; 0 means the page.
func (s *Sim) RespondToLicencePull(f func(n int) int) {
	s.mu.Lock()
	s.licPullErr = f
	s.mu.Unlock()
}

// VerifySignatures makes the platform check every push's Standard Webhooks signature under
// secret (the connector's signing_secret) and refuse with 401 one that does not verify; ""
// stops checking.
func (s *Sim) VerifySignatures(secret string) {
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
}

// OnTaken calls f, outside the platform's lock and before the push is answered, with each
// document the platform takes for the first time (2xx, a new Idempotency-Key).
func (s *Sim) OnTaken(f func(Push)) {
	s.mu.Lock()
	s.onTaken = f
	s.mu.Unlock()
}

// Pushes returns every push received, in order, repeats included.
func (s *Sim) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pushes)
}

// Taken returns the pushes the platform took (2xx), the first of each Idempotency-Key.
func (s *Sim) Taken() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Push
	seen := map[string]bool{}
	for _, p := range s.pushes {
		if p.Status/100 == 2 && !seen[p.Key] {
			seen[p.Key] = true
			out = append(out, p)
		}
	}
	return out
}

// Pulls counts the pulls of applications answered.
func (s *Sim) Pulls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pulls
}

// LicencePulls counts the pulls of licences answered.
func (s *Sim) LicencePulls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.licPulls
}

// ServeHTTP implements the platform's side of the contract.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/applications":
		servePage(s, w, r, &s.items, &s.pulls, &s.pullErr)
	case r.Method == http.MethodGet && r.URL.Path == "/licences":
		servePage(s, w, r, &s.licences, &s.licPulls, &s.licPullErr)
	case r.Method == http.MethodPost && r.URL.Path == "/progress":
		s.serveProgress(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/pushes":
		s.servePushes(w)
	default:
		http.NotFound(w, r)
	}
}

// servePage answers a pull of one of the platform's lists: the items from the cursor ("p<n>",
// the index of the next item), at most limit of them. pulls counts the pulls; fail, when set,
// may answer one with a status instead. All three are guarded by s.mu.
func servePage[T any](s *Sim, w http.ResponseWriter, r *http.Request, list *[]T, pulls *int, fail *func(int) int) {
	s.mu.Lock()
	*pulls++
	n, f := *pulls, *fail
	s.mu.Unlock()
	if f != nil {
		if status := f(n); status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	from := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		i, err := strconv.Atoi(strings.TrimPrefix(c, "p"))
		if err != nil || !strings.HasPrefix(c, "p") || i < 0 {
			http.Error(w, `{"message":"bad cursor"}`, http.StatusBadRequest)
			return
		}
		from = i
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 {
		limit = 20
	}
	s.mu.Lock()
	from = min(from, len(*list))
	to := min(from+limit, len(*list))
	page := struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"next_cursor"`
	}{Items: slices.Clone((*list)[from:to]), NextCursor: fmt.Sprintf("p%d", to)}
	s.mu.Unlock()
	if page.Items == nil {
		page.Items = []T{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (s *Sim) serveProgress(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	p := Push{Key: r.Header.Get("Idempotency-Key"), Header: r.Header.Clone(), Raw: raw, At: time.Now()}
	_ = json.Unmarshal(raw, &p.Doc)
	s.mu.Lock()
	n := len(s.pushes) + 1
	respond, secret, onTaken := s.respond, s.secret, s.onTaken
	seen := false
	for _, q := range s.pushes {
		seen = seen || (q.Key == p.Key && q.Status/100 == 2)
	}
	s.mu.Unlock()
	p.Status = http.StatusOK
	if respond != nil {
		if status := respond(n, p); status != 0 {
			p.Status = status
		}
	}
	switch {
	case p.Key == "":
		p.Status, p.Problem = http.StatusBadRequest, "no Idempotency-Key"
	case secret != "":
		if err := signing.Verify(secret, raw, r.Header); err != nil {
			p.Status, p.Problem = http.StatusUnauthorized, err.Error()
		}
	}
	if p.Status/100 == 2 && !seen && onTaken != nil {
		onTaken(p)
	}
	s.mu.Lock()
	s.pushes = append(s.pushes, p)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(p.Status)
	switch {
	case p.Status/100 == 2:
		_, _ = io.WriteString(w, `{"ok":true}`)
	case p.Problem != "":
		msg, _ := json.Marshal(map[string]string{"message": p.Problem})
		_, _ = w.Write(msg)
	default:
		_, _ = fmt.Fprintf(w, `{"message":"simulated %d"}`, p.Status)
	}
}

// pushView is a push as GET /pushes shows it.
type pushView struct {
	Key     string         `json:"key"`
	Status  int            `json:"status"`
	Problem string         `json:"problem,omitempty"`
	At      time.Time      `json:"at"`
	Doc     map[string]any `json:"doc"`
}

func (s *Sim) servePushes(w http.ResponseWriter) {
	out := []pushView{}
	for _, p := range s.Pushes() {
		out = append(out, pushView{Key: p.Key, Status: p.Status, Problem: p.Problem, At: p.At, Doc: p.Doc})
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
