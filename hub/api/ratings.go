package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/problem"
)

// maxRatingBody bounds a rating request's and a response's body: a few departments' ratings
// with their comments, or one response, well under it.
const maxRatingBody = 64 << 10

// rateCase answers POST /api/v1/cases/{id}/ratings: the applicant, through the platform that
// submitted the case, rates its departments once the case is completed (好差评, 一事一评).
func (s *Server) rateCase(w http.ResponseWriter, r *http.Request) {
	var req cases.RatingRequest
	if !decodeBody(w, r, maxRatingBody, &req) {
		return
	}
	out, err := s.cfg.Cases.Rate(r.Context(), owner(r), chi.URLParam(r, "id"), req)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ratings": out})
}

// caseRatings answers GET /api/v1/cases/{id}/ratings: the platform that submitted the case
// reads its ratings (another platform's case is 404), an operator any case's.
func (s *Server) caseRatings(w http.ResponseWriter, r *http.Request) {
	who, _ := s.scope(r)
	out, err := s.cfg.Cases.Ratings(r.Context(), who, chi.URLParam(r, "id"))
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ratings": out})
}

// rectifications answers GET /api/v1/rectifications?state=&department=: the bad ratings (差评)
// to rectify, open ones by default. A department sees its own only; an operator every
// department's, or one's.
func (s *Server) rectifications(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	dept, state := qs.Get("department"), qs.Get("state")
	if !qs.Has("state") {
		state = cases.RectificationOpen
	}
	if c, ok := auth.FromContext(r.Context()); ok && c.Role == auth.RoleDepartment {
		if dept != "" && dept != c.Department {
			writeError(w, http.StatusForbidden, CodeForbidden, "a department client sees its own department's rectifications only")
			return
		}
		dept = c.Department
	}
	out, err := s.cfg.Cases.Rectifications(r.Context(), dept, state)
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ratings": out})
}

// respondToRating answers POST /api/v1/ratings/{id}/response: the rated department records
// its response to a bad rating, which closes the rectification. Another department's rating
// is 404, as one that does not exist.
func (s *Server) respondToRating(w http.ResponseWriter, r *http.Request) {
	var resp cases.RatingResponse
	if !decodeBody(w, r, maxRatingBody, &resp) {
		return
	}
	c, _ := auth.FromContext(r.Context())
	out, err := s.cfg.Cases.Respond(r.Context(), c.Department, c.Name, chi.URLParam(r, "id"), resp)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// ratingReport answers GET /api/v1/reports/ratings?from=&to=&department=: per department,
// the ratings of each level, the satisfaction rate and the open rectifications.
func (s *Server) ratingReport(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if ps := emptyDates(r); len(ps) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", ps...)
		return
	}
	rep, err := s.cfg.Cases.RatingReport(r.Context(), qs.Get("from"), qs.Get("to"), qs.Get("department"))
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// emptyDates names the period parameters given without a value (?from=): the services take
// an empty date for an open end, which a parameter given empty is not meant to be.
func emptyDates(r *http.Request) []problem.Problem {
	var ps []problem.Problem
	for _, name := range []string{"from", "to"} {
		if r.URL.Query().Has(name) && r.URL.Query().Get(name) == "" {
			ps = append(ps, problem.Problem{Path: name, Rule: problem.RuleDate, Message: "must be a date written YYYY-MM-DD"})
		}
	}
	return ps
}
