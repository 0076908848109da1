package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/inbox"
	"yjshub/problem"
)

// Inbox is what the inbox routes need: the queue that departments which cannot receive calls
// poll (connectors/hub/inbox.Inbox). Both methods are safe for concurrent use, also from several
// hub instances sharing one store.
//
// Lease leases up to max of dept's waiting items for visibility (0: the department's
// default) and returns them oldest first; an item leased by one call is returned by no other
// until its lease runs out. Ack acknowledges dept's item id under lease; acknowledging an
// acknowledged item succeeds again. Their errors are inbox.ErrUnknownDepartment and
// inbox.ErrNotFound (404), inbox.ErrStaleLease (409) and *inbox.InvalidError (422).
type Inbox interface {
	Lease(ctx context.Context, dept string, max int, visibility time.Duration) ([]inbox.Item, error)
	Ack(ctx context.Context, dept, id, lease string) error
}

// defaultLease is how many items a poll that does not say leases.
const defaultLease = 10

// maxAckBody bounds the body of an ack.
const maxAckBody = 4 << 10

// inboxError maps the inbox's errors to statuses.
func (s *Server) inboxError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inbox.InvalidError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "bad query",
			problem.Problem{Path: ie.Param, Rule: problem.RuleRange, Message: ie.Message})
	case errors.Is(err, inbox.ErrUnknownDepartment), errors.Is(err, inbox.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
	case errors.Is(err, inbox.ErrStaleLease):
		writeError(w, http.StatusConflict, CodeConflict, err.Error())
	default:
		s.writeCaseError(w, r, err)
	}
}

// leaseInbox answers GET /api/v1/departments/{dept}/inbox?max=N&visibility=30s. visibility is
// a duration (30s, 2m) or a number of seconds.
func (s *Server) leaseInbox(w http.ResponseWriter, r *http.Request) {
	if !s.ownDepartment(w, r, chi.URLParam(r, "dept"), "the inbox of "+chi.URLParam(r, "dept")) {
		return
	}
	q := r.URL.Query()
	var problems []problem.Problem
	max := defaultLease
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inbox.MaxLease {
			problems = append(problems, problem.Problem{Path: "max", Rule: problem.RuleRange,
				Message: "must be a whole number from 1 to " + strconv.Itoa(inbox.MaxLease)})
		}
		max = n
	}
	var visibility time.Duration
	if v := q.Get("visibility"); v != "" {
		d, err := parseVisibility(v)
		if err != nil || d <= 0 {
			problems = append(problems, problem.Problem{Path: "visibility", Rule: problem.RuleDuration,
				Message: "must be a positive duration such as 30s or 2m, or a number of seconds"})
		}
		visibility = d
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "bad query", problems...)
		return
	}
	items, err := s.cfg.Inbox.Lease(r.Context(), chi.URLParam(r, "dept"), max, visibility)
	if err != nil {
		s.inboxError(w, r, err)
		return
	}
	if items == nil {
		items = []inbox.Item{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, items)
}

func parseVisibility(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n > 1<<31 {
			return 0, errors.New("too long")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// ackInbox answers POST /api/v1/departments/{dept}/inbox/{id}/ack with {"lease": "…"}.
func (s *Server) ackInbox(w http.ResponseWriter, r *http.Request) {
	if !s.ownDepartment(w, r, chi.URLParam(r, "dept"), "the inbox of "+chi.URLParam(r, "dept")) {
		return
	}
	var ack struct {
		Lease string `json:"lease"`
	}
	if !decodeBody(w, r, maxAckBody, &ack) {
		return
	}
	if ack.Lease == "" {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the ack names no lease",
			problem.Problem{Path: "/lease", Rule: problem.RuleRequired, Message: "give the lease the item was received under"})
		return
	}
	id := chi.URLParam(r, "id")
	if err := s.cfg.Inbox.Ack(r.Context(), chi.URLParam(r, "dept"), id, ack.Lease); err != nil {
		s.inboxError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "state": "acked"})
}
