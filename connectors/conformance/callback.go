package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"yjshub/hub/event"
	"yjshub/schemas"
)

// transitions is the contract's state machine of a sub-case (connectors/CONTRACT.md, "Events
// back"): per event type, the states it may follow and the state it leads to.
var transitions = map[string]struct {
	from []string
	to   string
}{
	event.Received:            {[]string{"dispatched"}, "received"},
	event.Accepted:            {[]string{"dispatched", "received", "resubmitted"}, "accepted"},
	event.SupplementRequested: {[]string{"received", "accepted", "resubmitted"}, "supplement_requested"},
	event.Resubmitted:         {[]string{"supplement_requested"}, "resubmitted"},
	event.Suspended:           {[]string{"accepted", "resubmitted"}, "suspended"},
	event.Resumed:             {[]string{"suspended"}, "accepted"},
	event.Approved:            {[]string{"received", "accepted", "resubmitted"}, "approved"},
	event.Rejected:            {[]string{"dispatched", "received", "accepted", "resubmitted", "supplement_requested"}, "rejected"},
}

// settled are the states after which a department has nothing more to say without the
// applicant.
var settled = []string{"approved", "rejected", "supplement_requested"}

// maxEventBody bounds a callback's body, as the hub does.
const maxEventBody = 1 << 20

// quiet is how long the events endpoint must hear nothing, once the sub-case is settled,
// before the callbacks are judged: a second, duplicate sequence would arrive within it.
const quiet = 500 * time.Millisecond

// hub plays the hub's events endpoint, POST /api/v1/subcases/{id}/events, answering as the
// hub does: 200 (and the first answer again for a repeated event_id), 404 for a sub-case it
// did not send, 409 for a transition the contract does not allow, 415 and 422 for what is not
// a department event.
type hub struct {
	url    string
	srv    *http.Server
	done   chan struct{}
	schema *jsonschema.Schema

	mu       sync.Mutex
	subcases map[string]*subcaseLog
	calls    []call
	last     time.Time
}

// subcaseLog is what the department reported about one sub-case the kit sent.
type subcaseLog struct {
	role    string // which delivery it came with
	state   string
	events  []event.DepartmentEvent // applied, in order
	answers map[string]int          // event_id → the status first answered
}

// call is one request to the events endpoint.
type call struct {
	subcase string
	status  int
	problem string // why it was not taken; empty when it was
}

// startHub starts the events endpoint; routes, when given, adds more of the hub's API to it
// (the restpull inbox).
func startHub(cfg Config, routes ...func(*http.ServeMux)) (*hub, error) {
	h, err := newHub()
	if err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.CallbackAddr); err != nil {
			return nil, fmt.Errorf("conformance: the events endpoint cannot listen on %s: %w", cfg.CallbackAddr, err)
		}
	}
	h.url = strings.TrimSuffix(cfg.CallbackURL, "/")
	if h.url == "" {
		h.url = "http://" + ln.Addr().String()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/subcases/{id}/events", h.serveEvent)
	for _, add := range routes {
		add(mux)
	}
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		_ = h.srv.Serve(ln)
	}()
	return h, nil
}

// newHub returns a hub that judges department events without serving them: the kinds whose
// events come another way (result rows, Kafka records) apply them itself.
func newHub() (*hub, error) {
	schema, err := schemas.Compile("events/department-event.schema.json")
	if err != nil {
		return nil, fmt.Errorf("conformance: the department event schema: %w", err)
	}
	return &hub{schema: schema, subcases: map[string]*subcaseLog{}}, nil
}

func (h *hub) close() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if h.srv.Shutdown(ctx) != nil {
		_ = h.srv.Close()
	}
	<-h.done
}

// callback is the events URL of a sub-case.
func (h *hub) callback(subcaseID string) string {
	return h.url + "/api/v1/subcases/" + subcaseID + "/events"
}

// expect registers a sub-case the kit sends.
func (h *hub) expect(subcaseID, role string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subcases[subcaseID] = &subcaseLog{role: role, state: "dispatched", answers: map[string]int{}}
}

func (h *hub) serveEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	status, problem := h.take(id, r)
	h.mu.Lock()
	h.calls = append(h.calls, call{subcase: id, status: status, problem: problem})
	h.last = time.Now()
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if problem == "" {
		_, _ = fmt.Fprintf(w, `{"subcase":{"id":%q}}`, id)
		return
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"status": status, "message": problem}})
	_, _ = w.Write(b)
}

// take judges one callback; it returns the status to answer and, unless it was taken, why not.
func (h *hub) take(id string, r *http.Request) (int, string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEventBody+1))
	if err != nil || len(body) > maxEventBody {
		return http.StatusRequestEntityTooLarge, "the body is too large or could not be read"
	}
	return h.apply(id, body)
}

// apply judges one department event about sub-case id, as the hub's events endpoint does
// once the request is read: it returns the status the hub would answer and, unless the event
// was taken, why not.
func (h *hub) apply(id string, body []byte) (int, string) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return http.StatusUnprocessableEntity, "the body is not JSON"
	}
	if err := h.schema.Validate(doc); err != nil {
		return http.StatusUnprocessableEntity, "not a valid department event: " + schemaProblems(err)
	}
	var ev event.DepartmentEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return http.StatusUnprocessableEntity, "not a valid department event"
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	sc, ok := h.subcases[id]
	if !ok {
		return http.StatusNotFound, fmt.Sprintf("sub-case %q was never sent", id)
	}
	if status, seen := sc.answers[ev.EventID]; seen {
		return status, "" // the same event again: the first answer again
	}
	t := transitions[ev.Type]
	if !slices.Contains(t.from, sc.state) {
		sc.answers[ev.EventID] = http.StatusConflict
		return http.StatusConflict, fmt.Sprintf("%s cannot follow %s", ev.Type, sc.state)
	}
	sc.state = t.to
	sc.events = append(sc.events, ev)
	sc.answers[ev.EventID] = http.StatusOK
	return http.StatusOK, ""
}

// record notes a call judged outside the events endpoint (a result row of the front-end
// database, a Kafka result record), for the callback checks.
func (h *hub) record(subcase string, status int, problem string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{subcase: subcase, status: status, problem: problem})
	h.last = time.Now()
}

// settledQuiet tells whether the sub-case is settled and nothing has come for a moment.
func (h *hub) settledQuiet(subcaseID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	sc := h.subcases[subcaseID]
	return sc != nil && slices.Contains(settled, sc.state) && time.Since(h.last) >= quiet
}

var english = message.NewPrinter(language.English)

// schemaProblems lists where and how a document breaks the schema, briefly.
func schemaProblems(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "does not match the schema"
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(english))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return strings.Join(out, "; ")
}

// wait waits until the sub-case is settled and the endpoint has been quiet for a moment, or
// until ctx ends.
func (h *hub) wait(ctx context.Context, subcaseID string) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		h.mu.Lock()
		done := slices.Contains(settled, h.subcases[subcaseID].state) && time.Since(h.last) >= quiet
		h.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// snapshot returns copies of what the endpoint saw.
func (h *hub) snapshot() (map[string]subcaseLog, []call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	logs := make(map[string]subcaseLog, len(h.subcases))
	for id, sc := range h.subcases {
		logs[id] = subcaseLog{role: sc.role, state: sc.state, events: slices.Clone(sc.events)}
	}
	return logs, slices.Clone(h.calls)
}
