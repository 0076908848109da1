package delivery

import (
	"encoding/json"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"yjshub/format"
)

const (
	// bodyKeep is how much of an answer's body is read for its reason; bodyDrain how much more
	// is read and dropped so that the connection can be reused.
	bodyKeep  = 4 << 10
	bodyDrain = 64 << 10
	// MaxReason bounds the receiver's own words kept in a reason, in bytes.
	MaxReason = 200
)

// ReadBody reads the start of an answer's body (4 KiB) and drains a little more (64 KiB), so
// that the connection can be reused, then closes it.
func ReadBody(body io.ReadCloser) []byte {
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, bodyKeep))
	_, _ = io.CopyN(io.Discard, body, bodyDrain)
	return b
}

// messageKeys are where receivers put their explanation in a JSON error answer, in order of
// preference; each may hold a string or an object with a "message".
var messageKeys = []string{"message", "error", "error_description", "msg"}

// ReceiverMessage extracts a receiver's explanation from an error answer: the string under
// "message", "error", "error_description" or "msg" (or their "message", when an object) of a
// JSON object. Anything else — HTML error pages, echoes of the request, plain text — is not
// kept at all, because a receiver's body may repeat the applicant's form. The result has its
// personal data masked (format.MaskDigits), is on one line and at most MaxReason bytes.
func ReceiverMessage(body []byte) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	for _, key := range messageKeys {
		raw, ok := doc[key]
		if !ok {
			continue
		}
		var msg string
		if json.Unmarshal(raw, &msg) != nil {
			var nested struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(raw, &nested)
			msg = nested.Message
		}
		if msg = OneLine(format.MaskDigits(msg)); msg != "" {
			return Truncate(msg, MaxReason)
		}
	}
	return ""
}

// OneLine collapses control characters and runs of space into one space.
func OneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// Truncate cuts s to at most n bytes on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
