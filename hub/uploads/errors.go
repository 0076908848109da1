package uploads

import (
	"encoding/json"
	"net/http"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"yjshub/problem"
)

// Error codes of the answers this package writes itself; they are the API's codes for the same
// statuses (package api cannot be imported here: it will mount this package).
const (
	codeUnauthenticated = "unauthenticated"
	codeForbidden       = "forbidden"
	codeNotFound        = "not_found"
	codeUnprocessable   = "unprocessable"
	codeTooLarge        = "too_large"
	codeBadRequest      = "bad_request"
	codeChecksum        = "checksum_mismatch"
	codeInternal        = "internal"
	codeUnavailable     = "unavailable"
)

// errorBody is the API's one error shape (api.ErrorBody):
// {"error": {"status", "code", "message", "problems"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status   int               `json:"status"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Problems []problem.Problem `json:"problems,omitempty"`
}

func errorJSON(status int, code, message string, problems []problem.Problem) []byte {
	b, err := json.Marshal(errorBody{Error: errorDetail{
		Status: status, Code: code, Message: message,
		Problems: problem.Localise(problems, nil),
	}})
	if err != nil { // a struct of strings always marshals
		panic(err)
	}
	return append(b, '\n')
}

// writeError answers status with the API's error body.
func writeError(w http.ResponseWriter, status int, code, message string, problems ...problem.Problem) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.WriteHeader(status)
	_, _ = w.Write(errorJSON(status, code, message, problems))
}

// tusError is an answer to give from a tusd callback, in the API's error body.
func tusError(status int, code, message string, problems ...problem.Problem) tusd.Error {
	return tusd.Error{
		ErrorCode: code,
		Message:   message,
		HTTPResponse: tusd.HTTPResponse{
			StatusCode: status,
			Body:       string(errorJSON(status, code, message, problems)),
			Header: tusd.HTTPHeader{
				"Content-Type":           "application/json; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
			},
		},
	}
}

func writeJSON(w http.ResponseWriter, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
