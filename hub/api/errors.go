package api

import (
	"encoding/json"
	"net/http"
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
	Status   int       `json:"status"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing wrong with a request's input.
type Problem struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
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

func writeError(w http.ResponseWriter, status int, code, message string, problems ...Problem) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Status: status, Code: code, Message: message, Problems: problems}})
}
