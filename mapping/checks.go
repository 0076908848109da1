package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/problem"
)

// formChecks is a one form's JSON Schema compiled into per-field checks. The schema stays the
// published contract and the reference: the checks find what the schema validator finds, keyword
// by keyword and in its order, and Validate merges them with the field dictionary exactly as it
// merges the validator's findings (validateBySchema), only without the validator's costs (a
// tree of errors, exact rationals for every number bound). The agreement tests hold the two
// side by side on every example and on values generated to break every keyword.
//
// compileChecks refuses a schema with a keyword it does not know, and Validate then asks the
// validator; a test asserts that every form of the catalogue compiles, so that this never
// happens unseen.
type formChecks struct {
	fields   map[string]*fieldCheck
	required []requiredField // each code once
	// requiredWhen are the fields the root allOf requires while another field has a value.
	requiredWhen []conditionalRequired
}

// conditionalRequired is a field required while a branch's if holds.
type conditionalRequired struct {
	when formatBranch // its if; no format
	requiredField
}

// requiredField is a code of the schema's required list and its problem when missing.
type requiredField struct {
	code, path, message string
}

// fieldCheck is one property of the schema, compiled.
type fieldCheck struct {
	code     string
	path     string // the JSON Pointer of the field in a request
	field    *catalogue.Field
	required bool   // in the required list
	typeMsg  string // the message of a type problem

	// The property's keywords.
	typ         jsonType
	integer     bool // type integer: a whole number
	enum        []string
	format      string
	checkFormat func(string) error
	minLength   *int
	maxLength   *int
	pattern     *regexp.Regexp
	minimum     *bound
	maximum     *bound

	// Keywords the field dictionary's Check is known to enforce as strictly: once Check has
	// passed a value, they pass it too and need no second look.
	enumByDict, formatByDict, minLengthByDict, maxLengthByDict, patternByDict bool

	// choices are the root allOf's if/then branches that give this field a format by the
	// value of another field (an identity number by the document type), in the schema's order.
	choices []formatBranch
}

// formatBranch is one if/then of the root allOf: while the field selector is value (or absent,
// when the branch does not require it), the field has the format and the pattern.
type formatBranch struct {
	selector, value  string
	requiresSelector bool
	format           string
	checkFormat      func(string) error
	pattern          *regexp.Regexp
}

// holds reports whether the branch's if holds for form, as the validator judges it: const
// compares JSON values, so only a string equal to value matches.
func (b *formatBranch) holds(form Form) bool {
	v, given := form[b.selector]
	if !given {
		return !b.requiresSelector
	}
	s, ok := v.(string)
	return ok && s == b.value
}

// jsonType is a JSON type as the validator tells them apart (its typeOf).
type jsonType uint8

const (
	typeInvalid jsonType = iota // no JSON value: a NaN, a Go type JSON has no word for
	typeNull
	typeBoolean
	typeNumber
	typeString
	typeArray
	typeObject
)

// classify returns a value's JSON type and, for a number, how it reads.
func classify(v any) (jsonType, numberValue) {
	switch v.(type) {
	case nil:
		return typeNull, numberValue{}
	case bool:
		return typeBoolean, numberValue{}
	case string:
		return typeString, numberValue{}
	case []any:
		return typeArray, numberValue{}
	case map[string]any:
		return typeObject, numberValue{}
	}
	if n, ok := readNumber(v); ok {
		return typeNumber, n
	}
	return typeInvalid, numberValue{}
}

// Messages of the problems the schema finds (validateBySchema words them the same).
const (
	msgUnknownField = "the one form has no such field for the selected matters"
	msgMinimum      = "is below the minimum"
	msgMaximum      = "is above the maximum"
	msgEnum         = "is not one of the allowed values"
	msgDate         = "must be a date written YYYY-MM-DD"
)

// annotation reports whether a keyword only annotates (title, x-order …) and checks nothing.
func annotation(kw string) bool {
	switch kw {
	case "title", "description", "examples", "$comment":
		return true
	}
	return strings.HasPrefix(kw, "x-")
}

// compileChecks compiles a one form's schema, decoded from JSON as the validator takes it
// (numbers as json.Number), with the form's rules. The error names every keyword the checks do
// not compile.
func compileChecks(doc any, rules map[string]*fieldRule) (*formChecks, error) {
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("the schema is not an object")
	}
	var errs []error
	fail := func(at, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(msg, args...)))
	}
	fc := &formChecks{}
	closed := false
	for _, kw := range sortedKeys(keySet(root)) {
		v := root[kw]
		switch kw {
		case "$schema":
			if v != SchemaDraft {
				fail(kw, "the checks follow %s only", SchemaDraft)
			}
		case "type":
			if v != "object" {
				fail(kw, "the one form is an object")
			}
		case "additionalProperties":
			closed = v == false
			if !closed {
				fail(kw, "only false is compiled")
			}
		case "properties", "required", "allOf":
		default:
			if !annotation(kw) {
				fail(kw, "keyword not compiled")
			}
		}
	}
	if !closed {
		if _, given := root["additionalProperties"]; !given {
			fail("additionalProperties", "an open form is not compiled")
		}
	}

	props, ok := root["properties"].(map[string]any)
	if !ok && root["properties"] != nil {
		fail("properties", "not an object")
	}
	fc.fields = make(map[string]*fieldCheck, len(props))
	for _, code := range sortedKeys(keySet(props)) {
		c, err := compileField(code, props[code], rules[code])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fc.fields[code] = c
	}

	if all, given := root["allOf"]; given {
		list, ok := all.([]any)
		if !ok {
			fail("allOf", "not an array")
		}
		for i, item := range list {
			code, b, err := compileFormatBranch(item)
			if err != nil {
				fail(fmt.Sprintf("allOf/%d", i), "%v", err)
				continue
			}
			if b.checkFormat == nil { // then: required
				msg := "this field is required"
				if r := rules[code]; r != nil {
					msg = fmt.Sprintf("%s is required (by %s)", r.field.Name, strings.Join(r.matters, ", "))
				}
				fc.requiredWhen = append(fc.requiredWhen, conditionalRequired{when: b, requiredField: requiredField{code: code, path: formPointer(code), message: msg}})
				continue
			}
			c := fc.fields[code]
			if c == nil {
				fail(fmt.Sprintf("allOf/%d", i), "the form has no field %s", code)
				continue
			}
			if c.checkFormat != nil || c.pattern != nil {
				fail(fmt.Sprintf("allOf/%d", i), "field %s has a format or pattern of its own besides a chosen one", code)
				continue
			}
			c.choices = append(c.choices, b)
		}
	}

	if req, given := root["required"]; given {
		list, ok := req.([]any)
		if !ok {
			fail("required", "not an array")
		}
		seen := map[string]bool{}
		for _, x := range list {
			code, ok := x.(string)
			if !ok {
				fail("required", "not a list of names")
				continue
			}
			if seen[code] {
				continue
			}
			seen[code] = true
			msg := "this field is required"
			if r := rules[code]; r != nil {
				msg = fmt.Sprintf("%s is required (by %s)", r.field.Name, strings.Join(r.matters, ", "))
			}
			fc.required = append(fc.required, requiredField{code: code, path: formPointer(code), message: msg})
			if c := fc.fields[code]; c != nil {
				c.required = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return fc, nil
}

// compileFormatBranch compiles an item of the root allOf of the two shapes the one form writes
// (formatChoices): {"if": {"properties": {SEL: {"const": VALUE}}, ["required": [SEL]]},
// "then": {"properties": {CODE: {"type": "string", "format": NAME, ["pattern": P]}}}}, or the
// same if with "then": {"required": [CODE], "properties": {CODE: true}} (the branch has no
// format then). Anything else is refused, and Validate then asks the validator.
func compileFormatBranch(item any) (string, formatBranch, error) {
	var b formatBranch
	bad := errors.New("only an if/then that gives a field a format by another field's value is compiled")
	obj, ok := item.(map[string]any)
	if !ok || len(obj) != 2 {
		return "", b, bad
	}
	cond, ok1 := obj["if"].(map[string]any)
	then, ok2 := obj["then"].(map[string]any)
	if !ok1 || !ok2 || len(then) == 0 {
		return "", b, bad
	}
	condProps, ok := cond["properties"].(map[string]any)
	if !ok || len(condProps) != 1 || len(cond) > 2 {
		return "", b, bad
	}
	for sel, v := range condProps {
		c, ok := v.(map[string]any)
		value, isString := c["const"].(string)
		if !ok || len(c) != 1 || !isString {
			return "", b, bad
		}
		b.selector, b.value = sel, value
	}
	if req, given := cond["required"]; given {
		list, ok := req.([]any)
		if !ok || len(list) != 1 || list[0] != b.selector {
			return "", b, bad
		}
		b.requiresSelector = true
	} else if len(cond) != 1 {
		return "", b, bad
	}
	if req, given := then["required"]; given {
		list, ok := req.([]any)
		props, okP := then["properties"].(map[string]any)
		if !ok || !okP || len(list) != 1 || len(then) != 2 || len(props) != 1 {
			return "", b, bad
		}
		code, _ := list[0].(string)
		if props[code] != true {
			return "", b, bad
		}
		return code, b, nil
	}
	thenProps, ok := then["properties"].(map[string]any)
	if !ok || len(thenProps) != 1 || len(then) != 1 {
		return "", b, bad
	}
	var code string
	for k, v := range thenProps {
		code = k
		p, ok := v.(map[string]any)
		if !ok || p["type"] != "string" {
			return "", b, bad
		}
		for kw, x := range p {
			switch kw {
			case "type":
			case "format":
				name, _ := x.(string)
				check, known := format.Lookup(name)
				if !known {
					return "", b, fmt.Errorf("format %q is not compiled", name)
				}
				b.format, b.checkFormat = name, check
			case "pattern":
				src, _ := x.(string)
				re, err := regexp.Compile(src)
				if err != nil {
					return "", b, errors.New("the pattern does not compile")
				}
				b.pattern = re
			default:
				return "", b, bad
			}
		}
	}
	if b.checkFormat == nil {
		return "", b, bad
	}
	return code, b, nil
}

// compileField compiles one property.
func compileField(code string, prop any, r *fieldRule) (*fieldCheck, error) {
	at := "properties/" + code
	obj, ok := prop.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: only an object schema is compiled", at)
	}
	if r == nil {
		return nil, fmt.Errorf("%s: the form has no field of that code", at)
	}
	f := r.field
	c := &fieldCheck{code: code, path: formPointer(code), field: f, typeMsg: f.Name + " must be " + typeWords(f)}
	var errs []error
	fail := func(kw, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("%s/%s: %s", at, kw, fmt.Sprintf(msg, args...)))
	}
	for _, kw := range sortedKeys(keySet(obj)) {
		v := obj[kw]
		switch kw {
		case "type":
			switch v {
			case "string":
				c.typ = typeString
			case "boolean":
				c.typ = typeBoolean
			case "number":
				c.typ = typeNumber
			case "integer":
				c.typ, c.integer = typeNumber, true
			default:
				fail(kw, "only one of string, boolean, number and integer is compiled")
			}
		case "enum":
			list, ok := v.([]any)
			if !ok {
				fail(kw, "not an array")
				break
			}
			c.enum = make([]string, 0, len(list))
			for _, x := range list {
				s, ok := x.(string)
				if !ok {
					fail(kw, "only string values are compiled")
					break
				}
				c.enum = append(c.enum, s)
			}
			c.enumByDict = f.Type == catalogue.TypeEnum && subset(f.Values, c.enum)
		case "format":
			name, _ := v.(string)
			switch check, known := format.Lookup(name); {
			case known:
				c.format, c.checkFormat = name, check
			case name == "date":
				// The validator's own date format (the catalogue registers no "date").
				c.format, c.checkFormat = name, func(s string) error { _, err := time.Parse("2006-01-02", s); return err }
			default:
				fail(kw, "format %q is not compiled", name)
			}
			c.formatByDict = f.Format == name || (name == "date" && f.Type == catalogue.TypeDate)
		case "pattern":
			src, _ := v.(string)
			re, err := regexp.Compile(src) // the validator's engine (regexp) and its flags
			if err != nil {
				fail(kw, "does not compile")
				break
			}
			c.pattern = re
			// The format's own pattern is implied by the format: a value the dictionary's
			// format check has passed matches it (format's tests hold every format to that).
			fp, hasFP := format.Pattern(f.Format)
			c.patternByDict = f.Pattern == src || f.Pattern == "" && hasFP && fp == src
		case "minLength", "maxLength":
			n, ok := count(v)
			if !ok {
				fail(kw, "not a count")
				break
			}
			if kw == "minLength" {
				c.minLength = &n
				c.minLengthByDict = f.MinLength != nil && *f.MinLength >= n
			} else {
				c.maxLength = &n
				c.maxLengthByDict = f.MaxLength != nil && *f.MaxLength <= n
			}
		case "minimum", "maximum":
			b, err := newBound(v)
			if err != nil {
				fail(kw, "%v", err)
				break
			}
			if kw == "minimum" {
				c.minimum = b
			} else {
				c.maximum = b
			}
		default:
			if !annotation(kw) {
				fail(kw, "keyword not compiled")
			}
		}
	}
	if c.typ == typeInvalid {
		fail("type", "a property without a type is not compiled")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// count reads a minLength or maxLength.
func count(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < 0 || int64(int(i)) != i {
		return 0, false
	}
	return int(i), true
}

// subset reports whether every one of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

func keySet(m map[string]any) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// validate checks a form. ok is false when a value is a number the checks cannot compare with a
// bound as the validator does (see numberValue.exact): Validate then asks the validator.
func (fc *formChecks) validate(form Form) (problems []problem.Problem, ok bool) {
	present := 0
	for code, v := range form {
		c := fc.fields[code]
		if c == nil {
			problems = append(problems, problem.Problem{Path: formPointer(code), Rule: problem.RuleUnknownField, Message: msgUnknownField, Field: code})
			continue
		}
		if c.required {
			present++
		}
		if problems, ok = c.check(v, form, problems); !ok {
			return nil, false
		}
	}
	problems = fc.missing(form, present, problems)
	sortProblems(problems)
	return problems, true
}

// missing adds a problem for each required field the form does not have; present is how many
// it has.
func (fc *formChecks) missing(form Form, present int, problems []problem.Problem) []problem.Problem {
	for i := range fc.requiredWhen {
		r := &fc.requiredWhen[i]
		if _, ok := form[r.code]; !ok && r.when.holds(form) && !hasProblem(problems, r.path, problem.RuleRequired) {
			problems = append(problems, problem.Problem{Path: r.path, Rule: problem.RuleRequired, Message: r.message, Field: r.code})
		}
	}
	if present == len(fc.required) {
		return problems
	}
	for _, r := range fc.required {
		if _, ok := form[r.code]; !ok {
			problems = append(problems, problem.Problem{Path: r.path, Rule: problem.RuleRequired, Message: r.message, Field: r.code})
		}
	}
	return problems
}

// check adds the problems of one field's value, as validateBySchema finds them: the schema's
// type first (a value of the wrong type is that problem alone); then the field dictionary,
// whose findings say more; and only when the dictionary finds nothing, the schema's value
// keywords, less those the dictionary has just enforced.
func (c *fieldCheck) check(v any, form Form, problems []problem.Problem) ([]problem.Problem, bool) {
	t, n := classify(v)
	if !c.typeOK(t, n) {
		return append(problems, c.problem(problem.RuleType, c.typeMsg)), true
	}
	if viols := c.field.CheckIn(v, form); len(viols) > 0 {
		from := len(problems)
		for _, viol := range viols {
			if !hasRule(problems[from:], viol.Rule) {
				problems = append(problems, c.problem(viol.Rule, c.field.Name+": "+viol.Message))
			}
		}
		return problems, true
	}
	problems, ok := c.schemaValue(v, t, n, true, problems)
	if !ok {
		return nil, false
	}
	return c.chosenFormats(v, form, true, problems), true
}

// chosenFormats adds what the branches of the root allOf that hold for form find in the value,
// each as the validator judges its then: the format, and the pattern only when the format
// passes. With byDict set, a branch whose format is the one the dictionary has just checked
// (the field's FormatIn) is skipped with its pattern, which the format implies.
func (c *fieldCheck) chosenFormats(v any, form Form, byDict bool, problems []problem.Problem) []problem.Problem {
	if len(c.choices) == 0 {
		return problems
	}
	s, isString := v.(string)
	if !isString {
		return problems
	}
	dictFormat := c.field.FormatIn(form)
	for i := range c.choices {
		b := &c.choices[i]
		if !b.holds(form) || byDict && b.format == dictFormat {
			continue
		}
		if b.checkFormat(s) != nil {
			problems = append(problems, c.valueProblem(b.format, "is not a valid "+b.format+" value"))
			continue
		}
		if b.pattern != nil && !b.pattern.MatchString(s) {
			problems = append(problems, c.valueProblem(problem.RulePattern, "must match the pattern "+b.pattern.String()))
		}
	}
	return problems
}

// typeOK is the type keyword. A number the validator cannot read where a bound must judge it
// counts as the wrong type, as validateBySchema reports it.
func (c *fieldCheck) typeOK(t jsonType, n numberValue) bool {
	if t == typeNumber && n.unreadable && (c.minimum != nil || c.maximum != nil) {
		return false
	}
	if c.integer {
		return t == typeNumber && n.whole
	}
	return t == c.typ
}

// schemaValue adds what the schema's value keywords find in a value of the right type, in the
// validator's order: enum, then format (either failing, nothing more is looked at), then
// minLength, maxLength and pattern, or minimum and maximum. With byDict set, the keywords the
// dictionary enforces are skipped (it has just passed the value).
func (c *fieldCheck) schemaValue(v any, t jsonType, n numberValue, byDict bool, problems []problem.Problem) ([]problem.Problem, bool) {
	s, _ := v.(string)
	if c.enum != nil && !(byDict && c.enumByDict) && (t != typeString || !slices.Contains(c.enum, s)) {
		return append(problems, c.valueProblem(problem.RuleEnum, msgEnum)), true
	}
	if c.checkFormat != nil && t == typeString && !(byDict && c.formatByDict) && c.checkFormat(s) != nil {
		if c.format == "date" {
			return append(problems, c.valueProblem("date", msgDate)), true
		}
		return append(problems, c.valueProblem(c.format, "is not a valid "+c.format+" value")), true
	}
	switch t {
	case typeString:
		minL := c.minLength != nil && !(byDict && c.minLengthByDict)
		maxL := c.maxLength != nil && !(byDict && c.maxLengthByDict)
		if minL || maxL {
			runes := utf8.RuneCountInString(s)
			if minL && runes < *c.minLength {
				problems = append(problems, c.valueProblem(problem.RuleMinLength, fmt.Sprintf("must be at least %d characters", *c.minLength)))
			}
			if maxL && runes > *c.maxLength {
				problems = append(problems, c.valueProblem(problem.RuleMaxLength, fmt.Sprintf("must be at most %d characters", *c.maxLength)))
			}
		}
		if c.pattern != nil && !(byDict && c.patternByDict) && !c.pattern.MatchString(s) {
			problems = append(problems, c.valueProblem(problem.RulePattern, "must match the pattern "+c.pattern.String()))
		}
	case typeNumber:
		if c.minimum != nil {
			cmp, ok := c.minimum.cmp(v, n)
			if !ok {
				return nil, false
			}
			if cmp < 0 {
				problems = append(problems, c.valueProblem(problem.RuleMinimum, msgMinimum))
			}
		}
		if c.maximum != nil {
			cmp, ok := c.maximum.cmp(v, n)
			if !ok {
				return nil, false
			}
			if cmp > 0 {
				problems = append(problems, c.valueProblem(problem.RuleMaximum, msgMaximum))
			}
		}
	}
	return problems, true
}

func (c *fieldCheck) problem(rule, msg string) problem.Problem {
	return problem.Problem{Path: c.path, Rule: rule, Message: msg, Field: c.code}
}

// valueProblem is a schema value rule's problem, worded as validateBySchema words it.
func (c *fieldCheck) valueProblem(rule, what string) problem.Problem {
	return c.problem(rule, c.field.Name+": "+what)
}

// hasProblem reports whether problems has one of rule at path.
func hasProblem(problems []problem.Problem, path, rule string) bool {
	for _, p := range problems {
		if p.Path == path && p.Rule == rule {
			return true
		}
	}
	return false
}

func hasRule(problems []problem.Problem, rule string) bool {
	for _, p := range problems {
		if p.Rule == rule {
			return true
		}
	}
	return false
}

// sortProblems puts problems in Validate's order: by path, then rule.
func sortProblems(problems []problem.Problem) {
	sort.Slice(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Rule < b.Rule
	})
}

// schemaFindings runs the compiled schema alone, every keyword, without the field dictionary:
// what the validator finds, as (path, rule) problems. The agreement tests hold it against the
// validator; ok is false where Validate would ask the validator.
func (fc *formChecks) schemaFindings(form Form) (problems []problem.Problem, ok bool) {
	present := 0
	for code, v := range form {
		c := fc.fields[code]
		if c == nil {
			problems = append(problems, problem.Problem{Path: formPointer(code), Rule: problem.RuleUnknownField, Message: msgUnknownField, Field: code})
			continue
		}
		if c.required {
			present++
		}
		t, n := classify(v)
		if !c.typeOK(t, n) {
			problems = append(problems, c.problem(problem.RuleType, c.typeMsg))
			continue
		}
		if problems, ok = c.schemaValue(v, t, n, false, problems); !ok {
			return nil, false
		}
		problems = c.chosenFormats(v, form, false, problems)
	}
	problems = fc.missing(form, present, problems)
	sortProblems(problems)
	return problems, true
}
