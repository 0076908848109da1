package api

import (
	"net/http"
	"strconv"

	"yjshub/hub/auth"
	"yjshub/hub/cases"
	"yjshub/problem"
)

// deadlines answers GET /api/v1/deadlines?department=&within=3&all=true: the open sub-cases by
// their standing against the promised and statutory limits. A department client sees its own
// department's (asking for another is 403); operators see any or all.
func (s *Server) deadlines(w http.ResponseWriter, r *http.Request) {
	q := cases.DeadlineQuery{Department: r.URL.Query().Get("department")}
	var problems []problem.Problem
	if v := r.URL.Query().Get("within"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, problem.Problem{Path: "within", Rule: problem.RuleInteger, Message: "must be a number of working days"})
		}
		q.Within = n
		if err == nil && n == 0 {
			problems = append(problems, problem.Problem{Path: "within", Rule: problem.RuleRange, Message: "must be 1 to 60 working days"})
		}
	}
	if v := r.URL.Query().Get("all"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, problem.Problem{Path: "all", Rule: problem.RuleBoolean, Message: "must be true or false"})
		}
		q.All = b
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	if c, ok := auth.FromContext(r.Context()); ok && c.Role == auth.RoleDepartment {
		if q.Department == "" {
			q.Department = c.Department
		}
		if !s.ownDepartment(w, r, q.Department, "the deadlines of "+q.Department) {
			return
		}
	}
	watch, err := s.cfg.Cases.Deadlines(r.Context(), q)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, watch)
}
