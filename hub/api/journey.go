package api

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/problem"
)

// The applicant's journey on a platform after intake: its cases found by its own number, their
// steps followed through the change feed, supplements (补正) sent back and withdrawals (撤件).

// listCases answers GET /api/v1/cases?bundle=&state=&department=&from=&to=&holder=&external_ref=
// &number=&cursor=&limit=: a platform's own cases, an operator's every case, in the order submitted, a
// page at a time (cursor is the next of the page before; after is its older name). Searching by
// holder is for operators granted personal data alone, and each such search is audited.
func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := cases.CaseQuery{ExternalRef: qs.Get("external_ref"), Number: qs.Get("number"), State: qs.Get("state"), Bundle: qs.Get("bundle"),
		Department: qs.Get("department"), From: qs.Get("from"), To: qs.Get("to"), Holder: qs.Get("holder"), After: qs.Get("cursor")}
	var problems []problem.Problem
	if q.After == "" {
		q.After = qs.Get("after") // the older name; cursor wins when both are given
	}
	for _, name := range []string{"from", "to"} {
		if qs.Has(name) && qs.Get(name) == "" {
			problems = append(problems, problem.Problem{Path: name, Rule: problem.RuleDate, Message: "must be a date written YYYY-MM-DD"})
		}
	}
	q.Limit, problems = intParam(r, "limit", problems)
	c, authed := auth.FromContext(r.Context())
	if q.Holder != "" && authed && !(c.Role == auth.RoleOperator && c.PersonalData && s.cfg.Audit != nil && s.cfg.Pseudonyms != nil) {
		writeError(w, http.StatusForbidden, CodeForbidden, "searching by holder needs an operator client granted personal data (personal_data: true)")
		return
	}
	q.Owner, q.AllOwners = s.scope(r)
	if len(problems) > 0 {
		// With the service's own problems of the query, so that every one is named at once.
		if _, err := s.cfg.Cases.List(r.Context(), cases.CaseQuery{Bundle: q.Bundle, Department: q.Department, From: q.From,
			To: q.To, State: q.State, Number: q.Number, Limit: max(q.Limit, 1), Owner: q.Owner, AllOwners: q.AllOwners}); err != nil {
			var pe *problem.Error
			if errors.As(err, &pe) {
				problems = append(problems, pe.Problems...)
			}
		}
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	if q.Holder != "" && authed {
		_, err := s.cfg.Audit.AppendAlone(r.Context(), audit.Entry{Kind: AuditCaseSearch, Outcome: audit.Granted,
			Subject: s.cfg.Pseudonyms.Of(q.Holder), Detail: map[string]any{"client": c.Name}})
		if err != nil {
			s.writeCaseError(w, r, err) // nothing shown that was not audited
			return
		}
	}
	list, err := s.cfg.Cases.List(r.Context(), q)
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// AuditCaseSearch is the audit kind of an operator's search of cases by holder.
const AuditCaseSearch = "case_search"

// events answers GET /api/v1/events?after=CURSOR&limit=&wait=30: the applicant-facing steps of
// a platform's cases (an operator's: of every case) after a cursor, waiting up to wait for the
// next when there is none yet (long poll).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := cases.FeedQuery{After: qs.Get("after")}
	var problems []problem.Problem
	q.Limit, problems = intParam(r, "limit", problems)
	if v := qs.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 60 {
			problems = append(problems, problem.Problem{Path: "wait", Rule: problem.RuleRange, Message: "must be a whole number of seconds from 0 to 60"})
		}
		q.Wait = time.Duration(n) * time.Second
	}
	limit := s.cfg.FeedMaxWait
	if limit <= 0 {
		limit = DefaultFeedMaxWait
	}
	q.Wait = min(q.Wait, limit)
	q.Owner, q.AllOwners = s.scope(r)
	switch qs.Get("steps") {
	case "", "applicant":
	case "all":
		// The delivery steps are how the hub's messages travelled: operators' business.
		if !q.AllOwners {
			problems = append(problems, problem.Problem{Path: "steps", Rule: problem.RuleEnum, Message: "all is for operators; a platform's feed holds the steps its applicants are shown"})
		}
		q.AllSteps = true
	default:
		problems = append(problems, problem.Problem{Path: "steps", Rule: problem.RuleEnum, Message: "must be applicant or all"})
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	feed, err := s.cfg.Cases.Events(r.Context(), q)
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, feed)
}

// supplement answers POST /api/v1/cases/{id}/supplements: the applicant's answer to the case's
// supplement requests. Only the platform that submitted the case may send it.
func (s *Server) supplement(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, cases.MaxSupplement)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	if !s.ownCase(w, r, id) {
		return
	}
	sup, hash, err := cases.DecodeSupplement(bytes.NewReader(body))
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	v, replayed, err := s.cfg.Cases.Supplement(r.Context(), owner(r), id, sup, hash, key)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	markReplayed(w, replayed)
	v.ForApplicant()
	writeJSON(w, http.StatusOK, v)
}

// withdraw answers POST /api/v1/cases/{id}/withdrawal: the applicant withdraws the case, or
// some of its optional matters, before their decision.
func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) {
	var wd cases.Withdrawal
	if !decodeBody(w, r, maxEventBody, &wd) {
		return
	}
	id := chi.URLParam(r, "id")
	if !s.ownCase(w, r, id) {
		return
	}
	v, replayed, err := s.cfg.Cases.Withdraw(r.Context(), id, wd)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	markReplayed(w, replayed)
	v.ForApplicant()
	writeJSON(w, http.StatusOK, v)
}

// ownCase answers 404 (as for a case that does not exist) unless the case is the requesting
// client's; true when it is, or when the API does not authenticate.
func (s *Server) ownCase(w http.ResponseWriter, r *http.Request, id string) bool {
	c, authed := auth.FromContext(r.Context())
	if !authed {
		return true
	}
	caseOwner, err := s.cfg.Cases.Owner(r.Context(), id)
	if err == nil && caseOwner != c.Name {
		err = cases.NotFound("case")
	}
	if err != nil {
		s.writeCaseError(w, r, err)
		return false
	}
	return true
}

// scope is whose cases a request sees: its own client's, or every client's for an operator and
// when the API does not authenticate.
func (s *Server) scope(r *http.Request) (owner string, all bool) {
	c, authed := auth.FromContext(r.Context())
	if !authed || c.Role == auth.RoleOperator {
		return "", true
	}
	return c.Name, false
}

// writeQueryError answers a query's problems with the query's own message.
func (s *Server) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	if pe, ok := err.(*problem.Error); ok {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", pe.Problems...)
		return
	}
	s.writeCaseError(w, r, err)
}

// intParam reads an optional whole-number query parameter; 0 when absent.
func intParam(r *http.Request, name string, problems []problem.Problem) (int, []problem.Problem) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, problems
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, append(problems, problem.Problem{Path: name, Rule: problem.RuleInteger, Message: "must be a whole number, at least 1"})
	}
	return n, problems
}
