// Package leaktest tells whether a log, an error or an answer gives personal data away: verbatim,
// escaped, or masked so little that it still shows. Every layer's tests share it.
package leaktest

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// AssertNoLeak fails t for every secret that haystack — a log, an error message, a dead
// letter's reason, a status — gives away. A secret leaks when it appears verbatim (ignoring the
// case of an ID number's X), URL- or JSON-escaped, or in a masked form that still shows too much:
//
//   - a resident ID number (18 characters, or 15 digits) masked with '*', '#', '•' or 'x' leaks
//     if more than 10 of its characters show, or all 8 digits of the birth date; spaces and
//     hyphens inside it do not hide it ("110105 19491231 002X");
//   - a mobile number (11 digits from 1, with or without +86) leaks if more than 7 digits show
//     ("139****5678" is the usual display and passes; "1391234****" does not);
//   - any other secret of 8 or more characters — an address — leaks if any run of half its
//     characters (at least 6) appears: "…青口镇黄海路88号" gives the street away, "江苏省连云港市"
//     does not.
//
// Secrets that are empty are ignored.
func AssertNoLeak(t testing.TB, haystack string, secrets ...string) {
	t.Helper()
	for _, l := range Leaks(haystack, secrets...) {
		t.Errorf("personal data leaks: %s", l)
	}
}

var (
	residentID = regexp.MustCompile(`^(\d{17}[\dXx]|\d{15})$`)
	mobileNum  = regexp.MustCompile(`^(\+?86)?(1\d{10})$`)
)

// Leaks describes every way haystack gives a secret away.
func Leaks(haystack string, secrets ...string) []string {
	var out []string
	lower := strings.ToLower(haystack)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if i := strings.Index(lower, strings.ToLower(s)); i >= 0 {
			out = append(out, strconv.Quote(s)+" verbatim: "+around(haystack, i, len(s)))
			continue
		}
		if enc, i := encoded(haystack, s); i >= 0 {
			out = append(out, strconv.Quote(s)+" escaped as "+strconv.Quote(enc))
			continue
		}
		switch {
		case residentID.MatchString(s):
			if shown, ok := maskedLeak(haystack, s, func(revealed int, at []bool) bool {
				return revealed > 10 || (len(s) == 18 && all(at[6:14]))
			}); ok {
				out = append(out, "resident ID number "+strconv.Quote(s)+" masked too little: "+strconv.Quote(shown))
			}
		case mobileNum.MatchString(s):
			digits := mobileNum.FindStringSubmatch(s)[2]
			if shown, ok := maskedLeak(haystack, digits, func(revealed int, _ []bool) bool { return revealed > 7 }); ok {
				out = append(out, "mobile number "+strconv.Quote(s)+" masked too little: "+strconv.Quote(shown))
			}
		case utf8.RuneCountInString(s) >= 8:
			if part, i := partOf(haystack, s); i >= 0 {
				out = append(out, strconv.Quote(s)+" in part, "+strconv.Quote(part)+": "+around(haystack, i, len(part)))
			}
		}
	}
	return out
}

// encoded finds s URL- or JSON-escaped in haystack.
func encoded(haystack, s string) (string, int) {
	q := strconv.QuoteToASCII(s)
	for _, enc := range []string{url.QueryEscape(s), url.PathEscape(s), q[1 : len(q)-1]} {
		if enc == s {
			continue
		}
		if i := strings.Index(strings.ToLower(haystack), strings.ToLower(enc)); i >= 0 {
			return enc, i
		}
	}
	return "", -1
}

func isMask(r rune) bool {
	return r == '*' || r == '＊' || r == '#' || r == '•' || r == '●' || r == 'x' || r == 'X'
}

func isDigitish(r rune) bool { return r >= '0' && r <= '9' || isMask(r) }

// maskedLeak looks for secret (digits, perhaps ending in X) in haystack with some characters
// masked, separators inside it ignored; tooMuch judges what shows. It returns the first form
// found that shows too much.
func maskedLeak(haystack, secret string, tooMuch func(revealed int, at []bool) bool) (string, bool) {
	want := []rune(strings.ToUpper(secret))
	for _, tok := range digitRuns(haystack) {
		for i := 0; i+len(want) <= len(tok); i++ {
			at := make([]bool, len(want))
			revealed, fits := 0, true
			for j, w := range want {
				c := tok[i+j]
				switch {
				case c == 'x' && w == 'X', c == w:
					at[j] = true
					revealed++
				case isMask(c):
				default:
					fits = false
				}
				if !fits {
					break
				}
			}
			if fits && tooMuch(revealed, at) {
				return string(tok[i : i+len(want)]), true
			}
		}
	}
	return "", false
}

// digitRuns splits haystack into runs of digits and mask characters, joining runs separated by
// a single space or hyphen.
func digitRuns(haystack string) [][]rune {
	var runs [][]rune
	var cur []rune
	rs := []rune(haystack)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case isDigitish(r):
			cur = append(cur, r)
		case (r == ' ' || r == '-') && len(cur) > 0 && i+1 < len(rs) && isDigitish(rs[i+1]):
		default:
			if len(cur) > 0 {
				runs = append(runs, cur)
				cur = nil
			}
		}
	}
	if len(cur) > 0 {
		runs = append(runs, cur)
	}
	return runs
}

// partOf finds a run of half of s's characters (at least 6) in haystack.
func partOf(haystack, s string) (string, int) {
	rs := []rune(s)
	w := max(6, (len(rs)+1)/2)
	for i := 0; i+w <= len(rs); i++ {
		part := string(rs[i : i+w])
		if j := strings.Index(haystack, part); j >= 0 {
			return part, j
		}
	}
	return "", -1
}

func all(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// around quotes the text around haystack[i:i+n], to show where a leak is.
func around(haystack string, i, n int) string {
	from, to := max(0, i-40), min(len(haystack), i+n+40)
	for from > 0 && !utf8.RuneStart(haystack[from]) {
		from--
	}
	for to < len(haystack) && !utf8.RuneStart(haystack[to]) {
		to++
	}
	return strconv.Quote(haystack[from:to])
}
