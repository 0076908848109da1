package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"yjshub/jsonstrict"
	"yjshub/problem"
)

// CodeTooLarge is the error code of a body larger than its route takes (413), on every route.
const CodeTooLarge = "too_large"

// maxRequestBody bounds every request body, whatever the route: the largest any route takes
// (an application). Routes bound their own bodies tighter.
const maxRequestBody = 1 << 20

// readBody reads the request's body, at most max bytes. A larger body (by its Content-Length,
// before a byte is read, or once more than max bytes arrive) is 413; a body that cannot be read
// (the client went away, the read timed out) is 400.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	if r.ContentLength > max {
		tooLarge(w, max)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(body)) > max:
		tooLarge(w, max)
		return nil, false
	case err != nil:
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body could not be read")
		return nil, false
	}
	return body, true
}

func tooLarge(w http.ResponseWriter, max int64) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge,
		"the body is larger than this route takes ("+strconv.FormatInt(max, 10)+" bytes); nothing was stored")
}

// decodeBody reads one JSON object of at most max bytes into v, strictly: the body passes
// jsonstrict (UTF-8, no duplicate key, no control character, nothing after the value) and has
// no key v does not know. Otherwise it answers 413 or 422 naming every problem and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	body, ok := readBody(w, r, max)
	if !ok {
		return false
	}
	if ps := jsonstrict.Check(body, jsonstrict.Limits{}); len(ps) > 0 {
		writeProblems(w, problem.New(ps...))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeUnprocessable, "the body is not valid JSON of the expected shape; nothing was stored",
			problem.Problem{Path: "", Rule: problem.RuleJSON, Message: jsonProblem(err)})
		return false
	}
	return true
}

// decodeStrict is decodeBody for the sharing routes' bodies.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, maxSharingBody, v)
}
