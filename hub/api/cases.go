package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// CodeUnprocessable and CodeConflict are the error codes of refused input and of requests that
// conflict with the current state.
const (
	CodeUnprocessable = "unprocessable"
	CodeConflict      = "conflict"
)

// writeCaseError maps the case service's errors to statuses.
func (s *Server) writeCaseError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problem.Error
	var ce *cases.ConflictError
	switch {
	case errors.As(err, &pe):
		writeProblems(w, pe)
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, CodeConflict, ce.Reason)
	case errors.Is(err, cases.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled")
	case store.Unavailable(err):
		s.storeUnavailable(w, r, err)
	default:
		s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// storeUnavailable answers a request the database could not serve just now (store.Unavailable):
// 503 with Retry-After, for nothing of it was committed and it may be sent again as it was
// (with the same Idempotency-Key).
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Warn("the database is unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the hub's database is not answering just now: nothing was stored; send the request again (with the same Idempotency-Key) after Retry-After")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return itoa(n) + " " + word + "s"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// oneForm answers GET /api/v1/bundles/{code}/form?applicant_type=…&matters=a,b.
func (s *Server) oneForm(w http.ResponseWriter, r *http.Request) {
	b, ok := s.cfg.Catalogue.Bundle(chi.URLParam(r, "code"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no bundle with code or seq "+quote(chi.URLParam(r, "code")))
		return
	}
	of, err := s.formSelection(r, b) // the selection check intake makes (notice.go)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the selection has problems", pe.Problems...)
			return
		}
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, of)
}

// submitCase answers POST /api/v1/cases.
func (s *Server) submitCase(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, cases.MaxApplication)
	if !ok {
		return
	}
	app, hash, err := cases.DecodeApplication(bytes.NewReader(body))
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	view, replayed, err := s.cfg.Cases.SubmitAs(r.Context(), owner(r), app, hash, key)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/cases/"+view.ID)
	markReplayed(w, replayed)
	writeJSON(w, http.StatusCreated, view)
}

// idempotencyKey reads the request's Idempotency-Key (empty when none); a key over 200
// characters is answered 400 and ok is false.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (key string, ok bool) {
	key = r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the Idempotency-Key header is longer than 200 characters")
		return "", false
	}
	return key, true
}

// markReplayed says in the answer that it repeats an earlier one (Idempotent-Replayed: true).
func markReplayed(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

// getCase answers GET /api/v1/cases/{id}. A platform reads only the cases it submitted (another
// platform's case is 404, as one that does not exist); an operator reads every case, with its
// holders' ID numbers and names masked unless its client entry grants personal data, and then
// every read is audited.
func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	v, err := s.cfg.Cases.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	c, authed := auth.FromContext(r.Context())
	switch {
	case !authed: // the API does not authenticate
	case c.Role == auth.RoleOperator && c.PersonalData && s.cfg.Audit != nil && s.cfg.Pseudonyms != nil:
		_, err := s.cfg.Audit.AppendAlone(r.Context(), audit.Entry{Kind: AuditCaseRead, Outcome: audit.Granted,
			Subject: s.cfg.Pseudonyms.Of(v.HolderID()), Detail: map[string]any{"case": v.ID, "client": c.Name}})
		if err != nil {
			s.writeCaseError(w, r, err) // nothing shown that was not audited
			return
		}
	case c.Role == auth.RoleOperator:
		maskPersonalData(v)
	case c.Name != v.Owner:
		s.writeCaseError(w, r, cases.NotFound("case"))
		return
	default: // the platform that submitted it: what the applicant is shown
		v.ForApplicant()
	}
	writeJSON(w, http.StatusOK, v)
}

// AuditCaseRead is the audit kind of an operator's read of a case's personal data.
const AuditCaseRead = "case_read"

// maskPersonalData masks the resident ID numbers and the names of individual holders in v,
// and the personal data of the agent acting for the applicant.
func maskPersonalData(v *cases.CaseView) {
	if v.Agent != nil {
		v.Agent.MaskPersonalData()
	}
	for i := range v.Licences {
		l := &v.Licences[i]
		if event.Personal(l.HolderIDType) {
			l.HolderID, l.Holder = maskID(l.HolderID), maskName(l.Holder)
		}
	}
}

// maskID keeps the first three and last two characters of an ID number.
func maskID(id string) string {
	if len(id) <= 5 {
		return strings.Repeat("*", len(id))
	}
	return id[:3] + strings.Repeat("*", len(id)-5) + id[len(id)-2:]
}

// maskName keeps a name's first character.
func maskName(name string) string {
	rs := []rune(name)
	if len(rs) == 0 {
		return name
	}
	return string(rs[0]) + strings.Repeat("*", len(rs)-1)
}

// owner is the name of the client a request comes from, which owns what it submits; empty when
// the API does not authenticate.
func owner(r *http.Request) string {
	c, _ := auth.FromContext(r.Context())
	return c.Name
}

const maxEventBody = 1 << 20

// subcaseEvent answers POST /api/v1/subcases/{id}/events.
func (s *Server) subcaseEvent(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	// A refused event is logged with the sub-case and the rule it broke, never its body: the
	// department sees the refusal, and without this line the hub's operators would not.
	ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor) // unwraps to w: problems keep their labels
	w = ww
	rule := "body: not a department event of the expected shape, or too large"
	defer func() {
		if st := ww.Status(); st >= 400 && st < 500 {
			c, _ := auth.FromContext(r.Context())
			s.cfg.Logger.Warn("department event refused", "subcase", id, "status", st, "rule", rule, "client", c.Name)
		}
	}()
	refusal := func(err error) string {
		var pe *problem.Error
		switch {
		case errors.As(err, &pe):
			return pe.Error() // paths and rules, never the values
		case errors.Is(err, cases.ErrConflict):
			return "conflict: the sub-case's state or an earlier event does not allow it"
		case errors.Is(err, cases.ErrNotFound):
			return "unknown sub-case"
		}
		return ""
	}
	var ev event.DepartmentEvent
	if !decodeBody(w, r, maxEventBody, &ev) {
		return
	}
	if _, ok := auth.FromContext(r.Context()); ok {
		dept, err := s.cfg.Cases.SubcaseDepartment(r.Context(), id)
		if err != nil {
			rule = refusal(err)
			s.writeCaseError(w, r, err)
			return
		}
		if c, _ := auth.FromContext(r.Context()); c.Role == auth.RoleDepartment && c.Department != dept {
			rule = "another department's sub-case"
			s.writeCaseError(w, r, cases.NotFound("sub-case")) // as for one that does not exist
			return
		}
	}
	res, replayed, err := s.cfg.Cases.ApplyEvent(r.Context(), id, ev)
	if err != nil {
		rule = refusal(err)
		s.writeCaseError(w, r, err)
		return
	}
	markReplayed(w, replayed)
	writeJSON(w, http.StatusOK, res)
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		return "field " + ute.Field + " has the wrong type"
	case errors.As(err, &se):
		return "malformed JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}
