package api

import (
	"encoding/json"
	"net/http"

	"yjshub/problem"
)

// ErrorBody is the one shape of every error the API returns:
//
//	{"error": {"status": 404, "code": "not_found", "message": "…", "problems": [{"path": "…", "rule": "…", "message": "…"}]}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error. Code is a stable machine-readable word; Problems lists every
// problem with a request's input, each with the path of the offending value.
type ErrorDetail struct {
	Status   int               `json:"status"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Problems []problem.Problem `json:"problems,omitempty"`
	// ProblemsOmitted is how many problems beyond the first MaxProblems the answer leaves out.
	ProblemsOmitted int `json:"problems_omitted,omitempty"`
}

// MaxProblems bounds the problems an answer lists, so that no answer grows faster than its
// request; the rest are counted in problems_omitted.
const MaxProblems = 100

// Stable error codes.
const (
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadRequest       = "bad_request"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string, problems ...problem.Problem) {
	d := ErrorDetail{Status: status, Code: code, Message: message, Problems: problems}
	if len(problems) > MaxProblems {
		d.Problems, d.ProblemsOmitted = problems[:MaxProblems], len(problems)-MaxProblems
	}
	writeJSON(w, status, ErrorBody{Error: d})
}

// writeProblems answers 422 with every problem of a request that changed nothing.
func writeProblems(w http.ResponseWriter, pe *problem.Error) {
	writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable,
		"the request has "+plural(len(pe.Problems), "problem")+listed(len(pe.Problems))+"; nothing was stored", pe.Problems...)
}

// listed says how many of n problems an answer lists, when it cannot list them all.
func listed(n int) string {
	if n <= MaxProblems {
		return ""
	}
	return " (the first " + itoa(MaxProblems) + " are listed)"
}
