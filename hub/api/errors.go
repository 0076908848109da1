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
}

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
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Status: status, Code: code, Message: message, Problems: problems}})
}

// writeProblems answers 422 with every problem of a request that changed nothing.
func writeProblems(w http.ResponseWriter, pe *problem.Error) {
	writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable,
		"the request has "+plural(len(pe.Problems), "problem")+"; nothing was stored", pe.Problems...)
}
