package format

import (
	"sort"
	"strings"
)

// Pattern returns a regular expression that every value the named format accepts matches, as
// strict as a regular expression can say it, for the `pattern` a JSON Schema carries beside the
// format: a generic validator that does not know the format (an unknown format is only an
// annotation in JSON Schema 2020-12) still refuses what has the wrong shape. ok is false for a
// format with no pattern (email: every validator knows it; date is JSON Schema's own).
//
// What a pattern cannot say is left to the format: the check characters (ISO 7064 MOD 11-2 of
// a resident ID, the modulo 31 sum of a USCC), whether a birth date exists and is not in the
// future, and whether a division code is in the current list. The patterns are written so that
// they mean the same in Go's RE2 and in ECMA-262 with the u flag: only ASCII, explicit
// character classes, no \s, \w, \d or \b, no lookaround, no backreferences.
func Pattern(name string) (string, bool) {
	p, ok := patterns[name]
	return p, ok
}

// PatternNames lists the formats that have a pattern, in sorted order.
func PatternNames() []string {
	names := make([]string, 0, len(patterns))
	for n := range patterns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// divisionShape is the structure checkDivision accepts: a province-level code of the list,
// then a prefecture part of 00-70 or 90 (00 only with a county part of 00).
var divisionShape = "(" + provinceAlternation() + ")(0000|(0[1-9]|[1-6][0-9]|70|90)[0-9]{2})"

var patterns = map[string]string{
	Mobile:   `^1[3-9][0-9]{9}$`,
	Postcode: `^[0-9]{6}$`,
	Phone:    phoneRE.String(),
	GB2260:   "^" + divisionShape + "$",
	// A division code, a birth date of the 1900s or 2000s with a month and day that can exist in
	// some year, three digits of sequence, and a check character: a digit or an upper-case X
	// (the hub refuses a lower-case x, so that every stored number has one spelling).
	GB11643: "^" + divisionShape + birthSequenceCheck,
	// A registration authority and an institution category it allocates, a numeric division
	// code, then ten characters of the code's alphabet (the organisation code and the check
	// character).
	GB32100: "^(" + usccCategoryAlternation() + ")[0-9]{6}[" + alphabetClass() + "]{10}$",
	// 810000, 820000 or 830000, then what a resident ID has after its division code.
	ResidencePermitHMT: "^8[123]0000" + birthSequenceCheck,
	// 9, a mainland province, a country code other than 000, then the rest of a resident ID.
	ForeignPermanentResident: "^9(" + mainlandProvinceAlternation() + ")(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})" + birthSequenceCheck,
	Passport:                 `^[A-Z0-9]{5,20}$`,
	// 9 (市场监管) 2 (个体工商户), then what every credit code has after its category.
	IndividualBusinessCode: "^92[0-9]{6}[" + alphabetClass() + "]{10}$",
}

// birthSequenceCheck is the tail of a GB 11643-style number: a birth date of the 1900s or 2000s
// with a month and day that can exist in some year, three digits of sequence and the check
// character.
const birthSequenceCheck = "(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]$"

// mainlandProvinceAlternation is the province-level codes of the mainland (1[1-5]|…|6[1-5]).
func mainlandProvinceAlternation() string {
	byFirst := map[byte][]byte{}
	for code := range provinces {
		if mainlandProvince(code) {
			byFirst[code[0]] = append(byFirst[code[0]], code[1])
		}
	}
	return alternation(byFirst)
}

// provinceAlternation is the province-level codes as an alternation grouped by first digit
// (1[1-5]|2[1-3]|…), shortest for the reader of a schema.
func provinceAlternation() string {
	byFirst := map[byte][]byte{}
	for code := range provinces {
		byFirst[code[0]] = append(byFirst[code[0]], code[1])
	}
	return alternation(byFirst)
}

// alternation writes two-character codes grouped by their first character as 1[1-5]|2[1-3]|….
func alternation(byFirst map[byte][]byte) string {
	firsts := make([]byte, 0, len(byFirst))
	for f := range byFirst {
		firsts = append(firsts, f)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	alts := make([]string, 0, len(firsts))
	for _, f := range firsts {
		alts = append(alts, string(f)+class(byFirst[f]))
	}
	return strings.Join(alts, "|")
}

// usccCategoryAlternation is the allowed (authority, category) pairs: 1[1239]|2[19]|…
func usccCategoryAlternation() string {
	auths := make([]byte, 0, len(usccCategories))
	for a := range usccCategories {
		auths = append(auths, a)
	}
	sort.Slice(auths, func(i, j int) bool { return auths[i] < auths[j] })
	alts := make([]string, 0, len(auths))
	for _, a := range auths {
		alts = append(alts, string(a)+class([]byte(usccCategories[a])))
	}
	return strings.Join(alts, "|")
}

// alphabetClass is the USCC alphabet as ranges: 0-9A-HJ-NP-RTUW-Y.
func alphabetClass() string { return string(ranges([]byte(usccAlphabet))) }

// class writes a set of ASCII characters as a character class with ranges ([1-5], [19]), or
// the character alone.
func class(cs []byte) string {
	if len(cs) == 1 {
		return string(cs)
	}
	return "[" + string(ranges(cs)) + "]"
}

// ranges writes sorted runs of three or more consecutive characters as a-b.
func ranges(cs []byte) []byte {
	s := append([]byte(nil), cs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var out []byte
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			out = append(out, s[i], '-', s[j])
		default:
			out = append(out, s[i:j+1]...)
		}
		i = j + 1
	}
	return out
}
