package mapping

import "strings"

// Rules of the problems this package reports, besides problem.RuleRequired, problem.RuleUnknownField
// and problem.RuleType and the value rules of the field dictionary (gb11643, gb32100, mobile, gb2260,
// email, postcode, phone, min_length, max_length, minimum, maximum, pattern, enum, date), which
// keep the names catalogue.Field.Check gives them.
const (
	RuleExpression = "expression" // a required mapping expression could not be evaluated
	RuleSchema     = "schema"     // the one form's schema could not check the form

	RuleUnknownBundle        = "unknown_bundle"         // no bundle with that code or seq
	RuleUnknownApplicantType = "unknown_applicant_type" // neither enterprise nor individual
	RuleUnknownMatter        = "unknown_matter"         // no matter with that code
	RuleNotInBundle          = "not_in_bundle"          // the matter is not one of the bundle's
	RuleNotOpen              = "not_open"               // the matter is not open to the applicant type
	RuleNoMatters            = "no_matters"             // nothing left to apply for
)

// pointerEscaper escapes a reference token of a JSON Pointer (RFC 6901, section 3).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// formPointer is the JSON Pointer of a canonical field in a submitted one-form request
// ({"form": {...}}).
func formPointer(code string) string {
	return "/form/" + pointerEscaper.Replace(code)
}
