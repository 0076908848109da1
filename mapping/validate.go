package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/problem"
)

// schemaURL names the one form's schema inside its own compiler; every OneForm has a compiler of
// its own, so one name serves all.
const schemaURL = "urn:yjshub:one-form"

// Validate checks a submitted one form and returns every problem at once, sorted by path and
// rule; none means the form is valid. Each problem's Path is the JSON Pointer of the field in
// the request ("/form/applicant.id_number"), its Rule the rule broken, and its Message never
// contains the value.
//
// Two checks decide, and are merged so that no problem is reported twice:
//
//   - the JSON Schema (Schema: draft 2020-12, format assertion on, the identifier formats
//     registered) decides the structure: missing required fields ("required"), fields the
//     form does not have ("unknown_field") and JSON types ("type");
//   - the field dictionary's own checks (catalogue.Field.Check) decide the value rules of
//     every field whose type is right: gb11643, gb32100, mobile, min_length, enum, date …
//     They say more than the schema (which character of a USCC is wrong) and are the same
//     checks the catalogue applies to its examples.
//
// A value rule the schema reports on a field where the dictionary found nothing is kept as
// well, so a disagreement between the two shows up rather than letting a value through.
//
// The schema is compiled once into per-field checks (formChecks) that find what the schema
// validator finds without running it. Where they cannot (a schema with a keyword they do not
// compile, a number only the validator reads as it does), the validator itself is asked.
func (f *OneForm) Validate(form Form) []problem.Problem {
	f.prepare()
	if f.checks != nil {
		if problems, ok := f.checks.validate(form); ok {
			return problems
		}
	}
	return f.validateBySchema(form)
}

// validateBySchema is Validate by the schema validator itself: the reference the compiled
// checks follow, and their fallback.
func (f *OneForm) validateBySchema(form Form) []problem.Problem {
	c := &collected{seen: map[[2]string]bool{}}
	sch, err := f.schema()
	if err != nil {
		// Cannot happen for a form built from a loaded catalogue (the tests compile every
		// bundle's schema); refuse every submission rather than accept unchecked data.
		c.add("", RuleSchema, "the one form's schema does not compile; the form cannot be checked")
		return c.problems
	}
	inst := f.readableNumbers(form)

	// Schema first: structure. Value rules are held back until the dictionary has spoken.
	badType := map[string]bool{}
	var schemaValueRules []problem.Problem
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); errors.As(err, &verr) {
		for _, leaf := range leaves(verr, nil) {
			f.schemaProblems(leaf, c, badType, &schemaValueRules)
		}
	} else if err != nil {
		c.add("", RuleSchema, "the form could not be checked against the schema")
	}

	// Then the field dictionary: value rules of fields of the right type.
	checked := map[string]bool{}
	for code, v := range form {
		r := f.rules[code]
		if r == nil || v == nil || badType[code] {
			continue // unknown (or null, or mistyped): the schema reported it
		}
		path := formPointer(code)
		for _, viol := range r.field.CheckIn(v, form) {
			c.add(path, viol.Rule, r.field.Name+": "+viol.Message)
			checked[path] = true
		}
	}
	for _, p := range schemaValueRules {
		if !checked[p.Path] {
			c.add(p.Path, p.Rule, p.Message)
		}
	}

	for i := range c.problems {
		c.problems[i].Field = fieldOf(c.problems[i].Path)
	}
	sort.Slice(c.problems, func(i, j int) bool {
		a, b := c.problems[i], c.problems[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Rule < b.Rule
	})
	return c.problems
}

// readableNumbers returns the form as the validator is given it. The validator reads a number
// as a big.Rat, which refuses an exponent beyond a million (1e1000001); it then takes the
// number for one that is not whole (a type problem where a whole number belongs) but fails
// with a nil dereference where a minimum or maximum must judge it. There, the value is given
// as null, so that it is reported as what it is to the form: not a number it can take. The
// form itself is not modified.
func (f *OneForm) readableNumbers(form Form) map[string]any {
	inst := map[string]any(form)
	if inst == nil {
		return map[string]any{}
	}
	props, _ := f.Schema["properties"].(map[string]any)
	var copied bool
	for code, v := range form {
		n, isNumber := readNumber(v)
		if !isNumber || !n.unreadable {
			continue
		}
		prop, _ := props[code].(map[string]any)
		if prop["minimum"] == nil && prop["maximum"] == nil {
			continue
		}
		if !copied {
			inst, copied = maps.Clone(inst), true
		}
		inst[code] = nil
	}
	return inst
}

// fieldOf returns the canonical field a /form/<code> path names, or "".
func fieldOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/form/")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(rest)
}

// collected gathers problems, each (path, rule) once.
type collected struct {
	problems []problem.Problem
	seen     map[[2]string]bool
}

func (c *collected) add(path, rule, msg string) {
	k := [2]string{path, rule}
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.problems = append(c.problems, problem.Problem{Path: path, Rule: rule, Message: msg})
}

// schemaProblems turns one leaf error of the schema into problems. Messages are written here,
// never taken from the validator, whose texts quote the value.
func (f *OneForm) schemaProblems(e *jsonschema.ValidationError, c *collected, badType map[string]bool, valueRules *[]problem.Problem) {
	loc := e.InstanceLocation
	code := ""
	if len(loc) > 0 {
		code = loc[0]
	}
	path := "/form"
	for _, tok := range loc {
		path += "/" + pointerEscaper.Replace(tok)
	}
	r := f.rules[code]
	name := code
	if r != nil {
		name = r.field.Name
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, missing := range k.Missing {
			msg := "this field is required"
			if mr := f.rules[missing]; mr != nil {
				msg = fmt.Sprintf("%s is required (by %s)", mr.field.Name, strings.Join(mr.matters, ", "))
			}
			c.add(formPointer(missing), problem.RuleRequired, msg)
		}
	case *kind.AdditionalProperties:
		for _, extra := range k.Properties {
			c.add(formPointer(extra), problem.RuleUnknownField, msgUnknownField)
		}
	case *kind.Type, *kind.InvalidJsonValue:
		badType[code] = true
		msg := "has the wrong type"
		if r != nil {
			msg = name + " must be " + typeWords(r.field)
		}
		c.add(path, problem.RuleType, msg)
	default:
		rule, what := valueRule(e.ErrorKind)
		*valueRules = append(*valueRules, problem.Problem{Path: path, Rule: rule, Message: name + ": " + what})
	}
}

// valueRule names a schema value rule the way the field dictionary names it.
func valueRule(k jsonschema.ErrorKind) (rule, what string) {
	switch k := k.(type) {
	case *kind.Format:
		if k.Want == "date" {
			return "date", msgDate
		}
		return k.Want, "is not a valid " + k.Want + " value"
	case *kind.MinLength:
		return "min_length", fmt.Sprintf("must be at least %d characters", k.Want)
	case *kind.MaxLength:
		return "max_length", fmt.Sprintf("must be at most %d characters", k.Want)
	case *kind.Pattern:
		return "pattern", "must match the pattern " + k.Want
	case *kind.Minimum:
		return "minimum", msgMinimum
	case *kind.Maximum:
		return "maximum", msgMaximum
	case *kind.Enum:
		return "enum", msgEnum
	}
	return "schema", "breaks the schema rule " + strings.Join(k.KeywordPath(), "/")
}

// typeWords says what JSON type a field takes.
func typeWords(f *catalogue.Field) string {
	switch f.Type {
	case catalogue.TypeInteger:
		return "a whole number"
	case catalogue.TypeNumber:
		return "a number"
	case catalogue.TypeBoolean:
		return "true or false"
	case catalogue.TypeDate:
		return "a date string (YYYY-MM-DD)"
	}
	return "a string"
}

// leaves flattens a validation error tree to the errors that have no causes.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// prepare compiles the form's schema once, for the validator and into the per-field checks.
func (f *OneForm) prepare() {
	f.once.Do(func() {
		doc, err := decodeSchema(f.Schema)
		if err != nil {
			f.compileErr = err
			return
		}
		if f.compiled, f.compileErr = compileDecoded(doc); f.compileErr != nil {
			return
		}
		f.checks, f.checksErr = compileChecks(doc, f.rules)
	})
}

// schema returns the form's schema compiled for the validator.
func (f *OneForm) schema() (*jsonschema.Schema, error) {
	f.prepare()
	return f.compiled, f.compileErr
}

// CompileSchema compiles a schema the one form gives (Schema or ApplicationSchema) as the hub
// checks it: draft 2020-12, with the identifier formats (gb11643, gb32100, mobile …) registered
// and asserted. A platform written in Go checks an application before sending it with it.
func CompileSchema(doc map[string]any) (*jsonschema.Schema, error) {
	v, err := decodeSchema(doc)
	if err != nil {
		return nil, err
	}
	return compileDecoded(v)
}

// decodeSchema turns a schema built in Go into the JSON value the validator takes ([]any, not
// []string; numbers as json.Number): a round trip through JSON.
func decodeSchema(doc map[string]any) (any, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the one-form schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decoding the one-form schema: %w", err)
	}
	return v, nil
}

// compileDecoded compiles a one-form schema with the identifier formats registered and format
// assertion on (draft 2020-12 only annotates formats unless told to assert them).
func compileDecoded(v any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, name := range format.Names() {
		c.RegisterFormat(&jsonschema.Format{Name: name, Validate: formatValidator(name)})
	}
	if err := c.AddResource(schemaURL, v); err != nil {
		return nil, fmt.Errorf("adding the one-form schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compiling the one-form schema: %w", err)
	}
	return sch, nil
}

// formatValidator adapts a checker of package format to the schema compiler. Values of other
// types pass: the type keyword judges those.
func formatValidator(name string) func(any) error {
	return func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		return format.Check(name, s)
	}
}
