// Package problem owns the one way the hub reports what is wrong with a request or a document:
// every problem at once, each with the path of the offending value, the rule it breaks and a
// message. The case flow, the one form and its mapping, the e-licence library, the sharing
// service and the HTTP API all report through it, so that a client reads one shape
// ({"path", "rule", "message"}) whatever it called. Localise (zh.go) adds the message in
// Chinese for the applicant, worded by the rule and naming the catalogue's field, material or
// matter.
//
// Messages never repeat a submitted value: values are applicants' personal data.
package problem

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a request. Path locates it (a JSON Pointer into the submitted
// document, or the name of a query parameter), Rule names the rule broken, and Message says
// what is wrong in words that never repeat the value given. Material or Field names the
// catalogue material or canonical field the problem is about, where there is one, so that a
// platform can point the applicant at it without parsing the path; MessageZH says it in Chinese
// for the applicant (keyed by Rule, see zh.go).
type Problem struct {
	Path      string `json:"path"`
	Rule      string `json:"rule"`
	Message   string `json:"message"`
	Material  string `json:"material,omitempty"`
	Field     string `json:"field,omitempty"`
	MessageZH string `json:"message_zh,omitempty"`
}

// Error lists every problem with a request; nothing was changed because of it.
type Error struct {
	Problems []Problem
}

// Error lists the problems by path and rule (never by message: a caller may log it).
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Rule
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// New returns an *Error of problems.
func New(problems ...Problem) *Error {
	return &Error{Problems: problems}
}

// One returns an *Error of one problem.
func One(path, rule, msg string, args ...any) *Error {
	return New(Problem{Path: path, Rule: rule, Message: fmt.Sprintf(msg, args...)})
}

// List collects problems while a request is checked; the zero value is ready.
type List []Problem

// Add notes a problem at path breaking rule; msg is formatted with args.
func (l *List) Add(path, rule, msg string, args ...any) {
	*l = append(*l, Problem{Path: path, Rule: rule, Message: fmt.Sprintf(msg, args...)})
}

// Err returns the problems as an *Error, or nil when there are none.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return New(l...)
}

// Rules that more than one part of the hub reports. Rules that belong to one domain (a consent
// that does not cover a use, a material the chosen matters do not ask for …) are declared by
// the package that checks them.
const (
	RuleRequired     = "required"      // a required value is missing
	RuleType         = "type"          // the value has the wrong JSON type
	RuleJSON         = "json"          // the body is not JSON of the expected shape
	RuleUnknownField = "unknown_field" // the document has no such field
	RuleEnum         = "enum"          // the value is not one of those allowed
	RuleDuplicate    = "duplicate"     // the value is given twice
	RuleOneOf        = "one_of"        // two ways of giving a value were used at once
	RuleNotAllowed   = "not_allowed"   // the value may not be given here
	RuleConflict     = "conflict"      // the value conflicts with what the hub holds
	RuleInvalid      = "invalid"       // the document as a whole is not acceptable

	RuleMinimum   = "minimum"    // a number below the minimum
	RuleMaximum   = "maximum"    // a number above the maximum
	RuleRange     = "range"      // a value outside its range
	RuleMinLength = "min_length" // text shorter than allowed
	RuleMaxLength = "max_length" // text longer than allowed
	RuleMaxSize   = "max_size"   // a body larger than allowed
	RulePattern   = "pattern"    // text that does not match its pattern
	RuleOrder     = "order"      // two values in the wrong order (an end before its start)

	RuleDate     = "date"     // not a date written YYYY-MM-DD
	RuleInteger  = "integer"  // not a whole number
	RuleBoolean  = "boolean"  // not true or false
	RuleDuration = "duration" // not a duration such as 30s
	RuleSHA256   = "sha256"   // not a SHA-256 as 64 lower-case hex digits
	RuleURI      = "uri"      // not an absolute URI
	RuleFilename = "filename" // not a file name
)
