package delivery

import (
	"fmt"
	"net/http"
)

// Outcome is what one attempt at delivering a document came to.
type Outcome int

// Outcomes of an attempt. The zero value is not an outcome.
const (
	// Delivered: the receiver has the document (2xx, or 409 because it already had it).
	Delivered Outcome = iota + 1
	// Permanent: the receiver refused it for good (a 4xx other than 408, 409 and 429). It is
	// not attempted again and does not count against a breaker: the receiver answered, so it
	// is up.
	Permanent
	// Retry: the receiver did not take it but may later (5xx, 408, 429, a timeout, a
	// connection that failed or was cut). It is tried again after a backoff and counts toward
	// opening a breaker.
	Retry
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Permanent:
		return "permanent"
	case Retry:
		return "retry"
	default:
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
}

// Classify decides what an attempt came to: status is the receiver's HTTP status, 0 when
// there was no answer; err is the transport error, nil when there was an answer. This is the
// one place where retryability is decided (connectors/CONTRACT.md, "REST push").
//
// An answer decides by its status alone, even if reading its body failed afterwards. Without
// an answer the outcome is always Retry: only the receiver can refuse a document for good, and
// a request that did not reach it (timeout, refused, reset, EOF, TLS handshake, DNS) says
// nothing about the document. Statuses the contract does not name (1xx, 3xx — redirects are
// not followed — and anything above 599) are Retry too: they are not a refusal, and holding
// the document while a breaker shows the fault loses nothing.
func Classify(status int, err error) Outcome {
	switch {
	case status == 0:
		return Retry
	case status >= 200 && status <= 299, status == http.StatusConflict:
		return Delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return Retry
	case status >= 400 && status <= 499:
		return Permanent
	default: // 5xx and statuses outside the contract
		return Retry
	}
}
