package restpush

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
)

// Outcome is what one attempt at delivering a message came to.
type Outcome int

// Outcomes of an attempt. The zero value is not an outcome.
const (
	// Delivered: the department has the sub-case (2xx, or 409 because it
	// already had it). The delivery is recorded and the message committed.
	Delivered Outcome = iota + 1
	// Permanent: the department refused it for good (a 4xx other than 408,
	// 409 and 429). It is recorded as failed (dead-lettered) and committed
	// without another attempt. It does not count against the breaker: the
	// department answered, so it is up.
	Permanent
	// Retry: the department did not take it but may later (5xx, 408, 429,
	// a timeout, a connection that failed or was cut). It is tried again
	// after a backoff and counts toward opening the breaker.
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

// Classify decides what an attempt came to: status is the department's HTTP
// status, 0 when there was no answer; err is the transport error, nil when
// there was an answer. This is the one place where retryability is decided
// (connectors/CONTRACT.md, "REST push").
//
// An answer decides by its status alone, even if reading its body failed
// afterwards. Without an answer the outcome is always Retry: only the
// department can refuse a sub-case for good, and a request that did not reach
// it (timeout, refused, reset, EOF, TLS handshake, DNS) says nothing about the
// sub-case. Statuses the contract does not name (1xx, 3xx — redirects are not
// followed — and anything above 599) are Retry too: they are not a refusal,
// and holding the message while the breaker shows the fault loses nothing.
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

// errorKind names the kind of transport failure, for logs and reasons. It
// does not steer anything: Classify treats every transport failure alike.
func errorKind(err error) string {
	var (
		netErr      net.Error
		dnsErr      *net.DNSError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		verifyErr   *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return "TLS handshake"
	case errors.As(err, &dnsErr):
		return "DNS lookup"
	default:
		return "transport error"
	}
}
