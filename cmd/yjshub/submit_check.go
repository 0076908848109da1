package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"yjshub/hub/cases"
	"yjshub/mapping"
)

// fileProblem is one thing wrong with a local application file, found before anything is sent.
// Line and Column (1-based, in characters) are set for JSON syntax and type errors; Path (a
// JSON Pointer) for what the form's schema refuses. Neither ever holds a value of the file.
type fileProblem struct {
	Line, Column int
	Path         string
	Message      string
}

func (p fileProblem) String(file string) string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", file, p.Line, p.Column, p.Message)
	case p.Path != "":
		return fmt.Sprintf("%s: %s: %s", file, p.Path, p.Message)
	}
	return fmt.Sprintf("%s: %s", file, p.Message)
}

// decodeApplication reads an application file's JSON: a syntax error, or a value of the
// wrong JSON type where the application has a known shape, is reported with its line and
// column, which the hub (seeing only a request body) cannot give.
func decodeApplication(b []byte) (cases.Application, []fileProblem) {
	var app cases.Application
	if len(bytes.TrimSpace(b)) == 0 {
		return app, []fileProblem{{Line: 1, Column: 1, Message: "the file is empty; an application is a JSON object (see examples/)"}}
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return app, []fileProblem{jsonProblem(b, err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(b, dec.InputOffset())
		return app, []fileProblem{{Line: line, Column: col, Message: "JSON syntax: more after the application's closing brace"}}
	}
	if _, ok := raw.(map[string]any); !ok {
		return app, []fileProblem{{Line: 1, Column: 1, Message: "an application is a JSON object (see examples/)"}}
	}
	if err := json.Unmarshal(b, &app); err != nil {
		return app, []fileProblem{jsonProblem(b, err)}
	}
	if len(app.Bundle) == 0 || string(app.Bundle) == "null" || string(app.Bundle) == `""` {
		// Without it there is no form to check against, and nothing the hub can take.
		return app, []fileProblem{{Path: "/bundle", Message: "required, missing: the bundle's code or 序号 (yjshub catalogue list)"}}
	}
	return app, nil
}

// jsonProblem places a JSON decoding error in the file.
func jsonProblem(b []byte, err error) fileProblem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := position(b, max(syn.Offset-1, 0))
		return fileProblem{Line: line, Column: col, Message: "JSON syntax: " + syn.Error()}
	case errors.As(err, &typ):
		// Offset is just past the value; the value starts where the field's value begins,
		// but the end of it is the nearest place the decoder knows.
		line, col := position(b, typ.Offset)
		return fileProblem{Line: line, Column: col, Message: fmt.Sprintf("%s: a JSON %s where the application has %s", typ.Field, typ.Value, jsonTypeWords(typ.Type.Kind().String()))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(b, int64(len(b)))
		return fileProblem{Line: line, Column: col, Message: "JSON syntax: the file ends in the middle of a value"}
	}
	return fileProblem{Message: "JSON: " + err.Error()}
}

func jsonTypeWords(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a " + goKind
}

// position turns a byte offset into a 1-based line and column, the column counted in
// characters as editors count them.
func position(b []byte, offset int64) (line, col int) {
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	before := b[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// formOf asks the hub for the one form of the application's bundle, applicant type and
// matters: the hub's own catalogue decides, whichever catalogue it runs.
func formOf(ctx context.Context, hub string, app cases.Application) (*mapping.OneForm, int, error) {
	bundle := strings.Trim(string(app.Bundle), `"`)
	q := url.Values{}
	if app.ApplicantType != "" {
		q.Set("applicant_type", app.ApplicantType)
	}
	if app.Matters != nil {
		q.Set("matters", strings.Join(app.Matters, ","))
	}
	u := hub + "/api/v1/bundles/" + url.PathEscape(bundle) + "/form"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var f mapping.OneForm
	status, err := call(ctx, http.MethodGet, u, nil, nil, &f)
	if err != nil {
		return nil, status, err
	}
	return &f, status, nil
}

// schemaProblems checks the application file against the application schema of its one form,
// and names every problem by its JSON Pointer and the rule it breaks, never by its value.
func schemaProblems(f *mapping.OneForm, b []byte) ([]fileProblem, error) {
	sch, err := mapping.CompileSchema(f.ApplicationSchema)
	if err != nil {
		return nil, fmt.Errorf("the hub's application schema does not compile: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); !errors.As(err, &verr) {
		return nil, err
	}
	seen := map[string]bool{}
	var out []fileProblem
	for _, leaf := range validationLeaves(verr, nil) {
		p := describe(leaf)
		if k := p.Path + "\x00" + p.Message; !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return out, nil
}

// validationLeaves lists the violations that say what is wrong. A list that lacks an item
// (contains) is one violation, not one per item that is not it.
func validationLeaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.Contains, *kind.MinContains, *kind.MaxContains:
		return append(out, e)
	}
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = validationLeaves(c, out)
	}
	return out
}

// describe words one schema violation without the value it is about (a form holds personal
// data, and what is printed may end in a CI log).
func describe(e *jsonschema.ValidationError) fileProblem {
	path := "/" + strings.Join(escapePointer(e.InstanceLocation), "/")
	msg := ""
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		msg = "missing " + quoteAll(k.Missing)
		if len(k.Missing) == 1 {
			path = strings.TrimSuffix(path, "/") + "/" + escapePointer(k.Missing)[0]
			msg = "required, missing"
		}
	case *kind.AdditionalProperties:
		msg = "not in the form: " + quoteAll(k.Properties)
	case *kind.Type:
		msg = fmt.Sprintf("a JSON %s where the form wants %s", k.Got, strings.Join(k.Want, " or "))
	case *kind.Format:
		msg = fmt.Sprintf("not a valid %s", k.Want)
	case *kind.Enum, *kind.Const:
		msg = "not one of the values the form allows"
	case *kind.Pattern:
		msg = "does not have the form's pattern"
	case *kind.MinLength:
		msg = fmt.Sprintf("shorter than %d characters", k.Want)
	case *kind.MaxLength:
		msg = fmt.Sprintf("longer than %d characters", k.Want)
	case *kind.MinItems:
		msg = fmt.Sprintf("fewer than %d items", k.Want)
	case *kind.MaxItems:
		msg = fmt.Sprintf("more than %d items", k.Want)
	case *kind.Contains:
		msg = "lacks an item " + wanted(e)
	case *kind.MinContains:
		msg = fmt.Sprintf("has %d item(s) %s, fewer than %d", len(k.Got), wanted(e), k.Want)
	case *kind.MaxContains:
		msg = fmt.Sprintf("has %d items %s, more than %d", len(k.Got), wanted(e), k.Want)
	case *kind.FalseSchema:
		msg = "not allowed here"
	default:
		msg = "breaks the form's rule " + strings.Join(e.ErrorKind.KeywordPath(), "/")
	}
	return fileProblem{Path: path, Message: msg}
}

// wanted words what a contains rule looks for, from the constant its items fail to match
// (a material's type, a matter's code): a value of the schema, not of the file.
func wanted(e *jsonschema.ValidationError) string {
	for _, leaf := range leavesOf(e, nil) {
		if c, ok := leaf.ErrorKind.(*kind.Const); ok {
			field := ""
			if n := len(leaf.InstanceLocation); n > len(e.InstanceLocation)+1 {
				field = leaf.InstanceLocation[n-1] + " "
			}
			return fmt.Sprintf("with %s%q", field, fmt.Sprint(c.Want))
		}
	}
	return "the rule asks for"
}

func leavesOf(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leavesOf(c, out)
	}
	return out
}

func escapePointer(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// unreachable reports whether err says nothing answered at the hub's address (as opposed to
// a hub that answered with an error).
func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// unreachableHint is what to do when no hub answers at hub.
func unreachableHint(hub string, err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err // "connection refused", not the whole request again
	}
	return fmt.Sprintf("no hub answers at %s (%v).\n"+
		"Start one with `make run` (or `yjshub serve --simulate`), or point --hub (or YJSHUB_URL) at the hub, e.g. --hub 127.0.0.1:8080.", hub, err)
}

// hubBaseURL reads --hub: a URL, or host:port without a scheme, taken as http:// — or
// https:// when secure (--ca or --cert given), since those only mean something over TLS.
func hubBaseURL(s string, secure bool) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		scheme := "http://"
		if secure {
			scheme = "https://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--hub %q: want http://host:port, https://host:port or host:port", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
