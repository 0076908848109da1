package delivery

import (
	"errors"
	"net/url"
	"strings"

	"yjshub/format"
)

// RedactEndpoint returns raw without its userinfo, query and fragment, the parts of an endpoint
// that carry credentials. A URL that does not parse is cut by pattern instead, erring towards
// hiding too much. (hub/store.RedactDatabaseURL is another rule for another kind of URL: it
// keeps the user and masks only the password.)
func RedactEndpoint(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		if at := strings.LastIndex(u.Opaque, "@"); at >= 0 { // "user:password@host" parses as scheme:opaque
			u.Opaque = u.Opaque[at+1:]
		}
		u.RawQuery, u.ForceQuery = "", false
		u.Fragment, u.RawFragment = "", ""
		return u.String()
	}
	s, _, _ := strings.Cut(raw, "?")
	s, _, _ = strings.Cut(s, "#")
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		s = scheme + "://" + rest
	} else if at := strings.LastIndex(s, "@"); at >= 0 {
		s = s[at+1:]
	}
	return s
}

// redactMask replaces a secret in text.
const redactMask = "xxxxx"

// Scrubber removes a delivery's secrets — the endpoint's userinfo and query, the signing
// secret, the values of the configured headers — from text that might quote them, and masks
// personal data. Everything a connector logs, records or returns that did not originate in its
// own code passes through it. The zero value masks personal data only.
type Scrubber struct {
	r *strings.Replacer
}

// NewScrubber returns a scrubber of the secrets of a delivery to endpoint with headers, signed
// with signingSecret ("" when not signed).
func NewScrubber(endpoint, signingSecret string, headers map[string]string) Scrubber {
	var pairs []string
	add := func(secret string) {
		if len(secret) >= 3 { // shorter strings would mask innocent text
			pairs = append(pairs, secret, redactMask)
		}
	}
	add(endpoint) // before its parts: the longest match should win
	add(signingSecret)
	if u, err := url.Parse(endpoint); err == nil {
		if u.User != nil {
			add(u.User.String())
			if p, ok := u.User.Password(); ok {
				add(p)
				add(url.QueryEscape(p))
			}
		}
		add(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, v := range headers {
		add(v)
	}
	return Scrubber{r: strings.NewReplacer(pairs...)}
}

// Text scrubs t.
func (s Scrubber) Text(t string) string {
	if s.r != nil {
		t = s.r.Replace(t)
	}
	return format.MaskDigits(t)
}

// Error describes err without secrets: a *url.Error, which quotes the whole request URL, is
// rebuilt around the redacted URL.
func (s Scrubber) Error(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: RedactEndpoint(ue.URL), Err: ue.Err}
	}
	return s.Text(err.Error())
}
