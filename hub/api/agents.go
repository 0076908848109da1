package api

import "net/http"

// agentReport answers GET /api/v1/reports/agents?from=&to=: per month, the cases submitted
// with an agent (帮办代办), by kind.
func (s *Server) agentReport(w http.ResponseWriter, r *http.Request) {
	if ps := emptyDates(r); len(ps) > 0 {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the query has problems", ps...)
		return
	}
	rep, err := s.cfg.Cases.AgentReport(r.Context(), r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		s.writeQueryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
