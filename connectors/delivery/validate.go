package delivery

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"yjshub/connectors/signing"
)

// ReservedHeaders are set by the [Client] on every request (the signature headers when a
// signing secret is set, the trace context when the attempt has one); a configuration may not
// set them.
var ReservedHeaders = []string{"Content-Type", "Idempotency-Key", "Content-Length", "Host", "Transfer-Encoding",
	"User-Agent", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Traceparent", "Tracestate"}

// ValidateEndpoint checks that raw is an absolute http or https URL with a host. Its errors
// show the URL only through RedactEndpoint, and never wrap url.Parse's error, which quotes the
// whole raw URL.
func ValidateEndpoint(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", RedactEndpoint(raw))
	}
	var errs []error
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		errs = append(errs, fmt.Errorf("%q: scheme %q is not http or https", RedactEndpoint(raw), u.Scheme))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("%q: no host", RedactEndpoint(raw)))
	}
	return errors.Join(errs...)
}

// ValidateHeaders checks extra request headers, every problem at once as `headers["Name"]: …`:
// RFC 9110 token names, none of the [ReservedHeaders], no line break or NUL in a value. Values
// never appear in its error: they are secrets.
func ValidateHeaders(h map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if err := validateHeader(name, h[name]); err != nil {
			errs = append(errs, fmt.Errorf("headers[%q]: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func validateHeader(name, value string) error {
	var errs []error
	switch {
	case name == "":
		errs = append(errs, errors.New("empty header name"))
	case !isToken(name):
		errs = append(errs, errors.New("not a valid header name"))
	case slices.Contains(ReservedHeaders, http.CanonicalHeaderKey(name)):
		errs = append(errs, errors.New("set by the connector; it may not be configured"))
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		errs = append(errs, errors.New("value contains a line break or NUL"))
	}
	return errors.Join(errs...)
}

// isToken reports whether s is an RFC 9110 token, the syntax of header names.
func isToken(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return s != ""
}

// ValidateSigningSecret checks a signing_secret; "" (no signing) is valid. The secret never
// appears in its error.
func ValidateSigningSecret(secret string) error {
	if secret == "" {
		return nil
	}
	if err := signing.CheckSecret(secret); err != nil {
		return fmt.Errorf("signing_secret: %w", err)
	}
	return nil
}
