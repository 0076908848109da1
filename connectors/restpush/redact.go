package restpush

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
	"yjshub/format"
)

// RedactURL returns raw without its userinfo, query and fragment, the parts
// of an endpoint that carry credentials. A URL that does not parse is cut by
// pattern instead, erring towards hiding too much.
func RedactURL(raw string) string {
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

// maxReason bounds the department's own words kept in a failure reason.
const maxReason = 200

// bodyMessage extracts a department's explanation from an error answer: the
// string under "message" or "error" (or "error"."message") of a JSON object.
// Anything else — HTML error pages, echoes of the request, plain text — is
// not kept at all, because a department's body may repeat the applicant's
// form. The result is masked, on one line and at most maxReason bytes.
func bodyMessage(body []byte) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	var msg string
	for _, key := range []string{"message", "error", "error_description", "msg"} {
		raw, ok := doc[key]
		if !ok {
			continue
		}
		if json.Unmarshal(raw, &msg) == nil && msg != "" {
			break
		}
		var nested struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &nested) == nil && nested.Message != "" {
			msg = nested.Message
			break
		}
		msg = ""
	}
	return truncate(oneLine(format.MaskDigits(msg)), maxReason)
}

// oneLine collapses control characters and runs of space into one space.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// scrubber removes a connector's secrets — the endpoint's userinfo and query,
// the values of the configured headers — from text that might quote them,
// and masks personal data. Everything the connector logs, records or returns
// that did not originate in its own code passes through it.
type scrubber struct {
	r *strings.Replacer
}

const redactMask = "xxxxx"

func newScrubber(cfg Config) scrubber {
	var pairs []string
	add := func(secret string) {
		if len(secret) >= 3 { // shorter strings would mask innocent text
			pairs = append(pairs, secret, redactMask)
		}
	}
	add(cfg.Endpoint) // before its parts: the longest match should win
	add(cfg.SigningSecret)
	if u, err := url.Parse(cfg.Endpoint); err == nil {
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
	for _, v := range cfg.Headers {
		add(v)
	}
	return scrubber{r: strings.NewReplacer(pairs...)}
}

// text scrubs s.
func (s scrubber) text(t string) string {
	return format.MaskDigits(s.r.Replace(t))
}

// error describes err without secrets: a *url.Error, which quotes the whole
// request URL, is rebuilt around the redacted URL.
func (s scrubber) error(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return s.text(err.Error())
}
