package api

import (
	"net/http"
	"sort"
	"time"

	"yjshub/hub/deadline"
	"yjshub/hub/sharing"
	"yjshub/problem"
)

// periodQuery reads the period of a report from ?from=YYYY-MM-DD&to=YYYY-MM-DD (days in China,
// both optional): the reuse report's and the reform report's, so that both read it alike. The
// problems name every parameter that is not a date.
func periodQuery(r *http.Request) (sharing.Period, []problem.Problem) {
	var period sharing.Period
	var problems []problem.Problem
	for name, dst := range map[string]*time.Time{"from": &period.From, "to": &period.To} {
		if v := r.URL.Query().Get(name); v != "" {
			d, err := time.ParseInLocation(time.DateOnly, v, deadline.China)
			if err != nil {
				problems = append(problems, problem.Problem{Path: name, Rule: problem.RuleDate, Message: "must be a date, YYYY-MM-DD"})
			}
			*dst = d
		}
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
	return period, problems
}

// reformReport answers GET /api/v1/reports/reform?from=&to=: the reform's results (改革成效)
// measured from the cases submitted in the period (hub/reform).
func (s *Server) reformReport(w http.ResponseWriter, r *http.Request) {
	period, problems := periodQuery(r)
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", problems...)
		return
	}
	rep, err := s.cfg.Reform.Report(r.Context(), period)
	if err != nil {
		s.writeCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
