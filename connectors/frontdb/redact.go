package frontdb

import (
	"net/url"
	"regexp"
	"strings"

	"yjshub/format"
	"yjshub/hub/store"
)

const redactMask = "xxxxx"

// keywordPassword finds the password of a key=value DSN ("host=… password=s3cret …"), quoted
// or not.
var keywordPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// RedactDSN returns dsn without its password, for logs and the status: a URL through
// store.RedactDatabaseURL, a key=value string with its password value masked.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		return store.RedactDatabaseURL(dsn)
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}"+redactMask)
}

// scrubber removes the DSN's secrets from text that might quote them (a driver's error) and
// masks what may be personal data. Everything the connector logs, records or returns that did
// not originate in its own code passes through it.
type scrubber struct {
	r *strings.Replacer
}

func newScrubber(dsn string) scrubber {
	var pairs []string
	add := func(secret string) {
		if len(secret) >= 3 { // shorter strings would mask innocent text
			pairs = append(pairs, secret, redactMask)
		}
	}
	add(dsn) // before its parts: the longest match should win
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	if u, err := url.Parse(dsn); err == nil {
		for _, v := range u.Query()["password"] {
			add(v)
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.Trim(m[2], "'"))
	}
	return scrubber{r: strings.NewReplacer(pairs...)}
}

// text scrubs s.
func (s scrubber) text(t string) string { return format.MaskDigits(s.r.Replace(t)) }

// error describes err without secrets or personal data.
func (s scrubber) error(err error) string {
	if err == nil {
		return ""
	}
	return s.text(err.Error())
}
