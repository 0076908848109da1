package mapping

import (
	"strings"
)

// Problem is one thing wrong with a form or a selection. Path locates it (a JSON Pointer into
// the submitted document, or the name of a request parameter), Rule names the rule broken, and
// Message says what is wrong in words that never repeat the value the applicant gave.
type Problem struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Rules of the problems this package reports, besides the value rules of the field dictionary
// (gb11643, gb32100, mobile, gb2260, email, postcode, phone, min_length, max_length, minimum,
// maximum, pattern, enum, date), which keep the names catalogue.Field.Check gives them.
const (
	RuleRequired     = "required"      // a required value is missing
	RuleUnknownField = "unknown_field" // the one form has no such field
	RuleType         = "type"          // the value has the wrong JSON type
	RuleExpression   = "expression"    // a required mapping expression could not be evaluated

	RuleUnknownBundle        = "unknown_bundle"         // no bundle with that code or seq
	RuleUnknownApplicantType = "unknown_applicant_type" // neither enterprise nor individual
	RuleUnknownMatter        = "unknown_matter"         // no matter with that code
	RuleNotInBundle          = "not_in_bundle"          // the matter is not one of the bundle's
	RuleNotOpen              = "not_open"               // the matter is not open to the applicant type
	RuleNoMatters            = "no_matters"             // nothing left to apply for
)

// SelectionError is returned when a one-form request names matters, a bundle or an applicant
// type that cannot be combined. It lists every problem at once.
type SelectionError struct {
	Problems []Problem
}

func (e *SelectionError) Error() string {
	var b strings.Builder
	b.WriteString("invalid one-form selection: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// pointerEscaper escapes a reference token of a JSON Pointer (RFC 6901, section 3).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// formPointer is the JSON Pointer of a canonical field in a submitted one-form request
// ({"form": {...}}).
func formPointer(code string) string {
	return "/form/" + pointerEscaper.Replace(code)
}
