package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/problem"
)

// ConnectorAdmin is what the connector routes need: the connector manager.
type ConnectorAdmin interface {
	Statuses(ctx context.Context) []connector.Status
	Status(ctx context.Context, name string) (connector.Status, error)
	Pause(name string) (connector.Status, error)
	Resume(name string) (connector.Status, error)
}

// DeadLetters is what the dead-letter routes need.
type DeadLetters interface {
	List(ctx context.Context, f deadletter.Filter) ([]deadletter.Letter, error)
	Get(ctx context.Context, id string) (deadletter.Letter, error)
	Replay(ctx context.Context, id string) (deadletter.Letter, error)
}

// connectorError answers an unknown connector with 404.
func (s *Server) connectorError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, connector.ErrUnknown) {
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
		return
	}
	s.writeCaseError(w, r, err)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	st := s.cfg.Connectors.Statuses(r.Context())
	if st == nil {
		st = []connector.Status{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(st), "connectors": st})
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Connectors.Status(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.connectorError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// connectorAction answers POST /connectors/{name}/pause and /resume.
func (s *Server) connectorAction(act func(name string) (connector.Status, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := act(chi.URLParam(r, "name"))
		if err != nil {
			s.connectorError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}
}

func (s *Server) reloadConnectors(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reload == nil {
		writeError(w, http.StatusConflict, CodeConflict, "the hub runs without a connectors file: nothing to reload")
		return
	}
	if err := s.cfg.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the connectors file was not applied; the running connectors are unchanged",
			problem.Problem{Path: "connectors", Rule: problem.RuleInvalid, Message: err.Error()})
		return
	}
	s.listConnectors(w, r)
}

// DeadLetterView is a dead letter with its payload decoded for reading.
type DeadLetterView struct {
	deadletter.Letter
	Payload json.RawMessage `json:"payload,omitempty"`
	// PayloadWithheld says the payload (personal data: an application, a department's answer)
	// was left out for an operator whose client entry does not grant personal data.
	PayloadWithheld bool `json:"payload_withheld,omitempty"`
}

// AuditDeadLetterRead is the audit kind of an operator's read of a dead letter's payload.
const AuditDeadLetterRead = "dead_letter_read"

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := deadletter.Filter{Connector: q.Get("connector"), State: q.Get("state")}
	var problems []problem.Problem
	if f.State != "" && f.State != deadletter.StateDead && f.State != deadletter.StateReplayed {
		// A misspelt state would otherwise list nothing, as if there were no such letters.
		problems = append(problems, problem.Problem{Path: "state", Rule: problem.RuleEnum, Message: "must be dead or replayed"})
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			problems = append(problems, problem.Problem{Path: "limit", Rule: problem.RuleRange, Message: "must be a whole number from 1 to 1000"})
		}
		f.Limit = n
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "bad query", problems...)
		return
	}
	letters, err := s.cfg.DeadLetters.List(r.Context(), f)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	if letters == nil {
		letters = []deadletter.Letter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(letters), "dead_letters": letters})
}

func (s *Server) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	l, err := s.cfg.DeadLetters.Get(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, deadletter.ErrNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no dead letter "+quote(chi.URLParam(r, "id")))
		return
	}
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	v := DeadLetterView{Letter: l}
	p := l.PayloadBytes()
	if !json.Valid(p) {
		writeJSON(w, http.StatusOK, v)
		return
	}
	c, authed := auth.FromContext(r.Context())
	switch {
	case !authed: // the API does not authenticate
	case !c.PersonalData || s.cfg.Audit == nil:
		v.PayloadWithheld = true
		writeJSON(w, http.StatusOK, v)
		return
	default:
		if _, err := s.cfg.Audit.AppendAlone(r.Context(), audit.Entry{Kind: AuditDeadLetterRead, Outcome: audit.Granted,
			Detail: map[string]any{"dead_letter": l.ID, "case": l.CaseID, "client": c.Name}}); err != nil {
			s.writeCaseError(w, r, err) // nothing shown that was not audited
			return
		}
	}
	v.Payload = p
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	l, err := s.cfg.DeadLetters.Replay(r.Context(), chi.URLParam(r, "id"))
	if errors.Is(err, deadletter.ErrNotFound) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no dead letter "+quote(chi.URLParam(r, "id")))
		return
	}
	if errors.Is(err, deadletter.ErrNotReplayable) {
		writeError(w, http.StatusConflict, CodeConflict, err.Error())
		return
	}
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}
