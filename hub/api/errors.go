package api

import (
	"encoding/json"
	"net/http"

	"yjshub/problem"
)

// ErrorBody is the one shape of every error the API returns:
//
//	{"error": {"status": 422, "code": "unprocessable", "message": "…",
//	  "problems": [{"path": "…", "rule": "…", "message": "…", "message_zh": "…"}]}}
//
// Every problem carries message_zh, the message in Chinese for the applicant (problem.Localise),
// naming the field, material or matter by the catalogue's name.
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

// writeError answers status with the one error shape. Problems are listed with their Chinese
// message, named by the labeller the server's labelProblems middleware put on w (generic words
// without one).
func writeError(w http.ResponseWriter, status int, code, message string, problems ...problem.Problem) {
	d := ErrorDetail{Status: status, Code: code, Message: message}
	if len(problems) > MaxProblems {
		problems, d.ProblemsOmitted = problems[:MaxProblems], len(problems)-MaxProblems
	}
	d.Problems = problem.Localise(problems, labellerOf(w))
	writeJSON(w, status, ErrorBody{Error: d})
}

// labelledWriter carries, to the one place problems are written, the labeller that names the
// catalogue's fields, materials and matters in their Chinese messages: writeError is called
// from every route and from middleware that have only the ResponseWriter.
type labelledWriter struct {
	http.ResponseWriter
	labels problem.Labeller
}

// Unwrap lets http.ResponseController, and labellerOf through other wrappers, reach the writer.
func (l *labelledWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// labelProblems puts the catalogue on every answer's writer as the labeller of its problems.
// Without a catalogue problems are worded without the catalogue's names.
func (s *Server) labelProblems(next http.Handler) http.Handler {
	if s.cfg.Catalogue == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&labelledWriter{ResponseWriter: w, labels: s.cfg.Catalogue}, r)
	})
}

// labellerOf finds the labeller on w or on a writer it wraps; nil when there is none.
func labellerOf(w http.ResponseWriter) problem.Labeller {
	for {
		switch x := w.(type) {
		case *labelledWriter:
			return x.labels
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
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
