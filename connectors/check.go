package connectors

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"
)

// Rules of a [Problem]: what kind of mistake it is, so that a tool can tell a typing slip
// (unknown_key, unknown_department, unknown_kind) from a setting out of range.
const (
	RuleSyntax            = "syntax"             // not YAML
	RuleUnknownKey        = "unknown_key"        // a key the file does not have
	RuleDuplicateKey      = "duplicate_key"      // a key given twice in one mapping
	RuleType              = "type"               // a value of the wrong type (a word where a number goes)
	RuleUnknownDepartment = "unknown_department" // a department the catalogue does not have
	RuleUnknownKind       = "unknown_kind"       // a kind of connector that does not exist
	RuleRequired          = "required"           // a setting that must be given
	RuleInvalid           = "invalid"            // a setting its connector refuses
)

// Problem is one thing wrong with a connectors file, in the file's own terms: where it is
// (Line and Column, 1-based; 0 when the file has no place for it, such as a setting left
// out of an empty file), the YAML keys that lead to it (Path:
// departments.tobacco.restpush.timeout), the Rule broken and what is wrong. A Message never
// holds a secret of the file (a header value, a password).
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// String is the problem as `LINE:COLUMN: PATH: MESSAGE`.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// CheckError is every problem of a connectors file, in the order of the file.
type CheckError struct {
	// File names the file, as the problems are reported (FILE:LINE:COLUMN: …).
	File     string
	Problems []Problem
}

// Error lists the problems one a line, each as FILE:LINE:COLUMN: PATH: MESSAGE.
func (e *CheckError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ":" + p.String()
	}
	return strings.Join(lines, "\n")
}

// Check is Parse with the catalogue's department codes, so that a department the catalogue
// does not have is answered with the nearest one it has. Its error is a *CheckError.
func Check(b []byte, name string, departments []string) (*File, error) {
	known := make(map[string]bool, len(departments))
	for _, d := range departments {
		known[d] = true
	}
	return parse(b, name, func(d string) bool { return known[d] }, departments)
}

// LoadChecked is Load with the catalogue's department codes (see Check).
func LoadChecked(path string, departments []string) (*File, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Check(b, path, departments)
}

// parse decodes and checks a connectors file, reporting every problem at once with where it
// is: first the file's shape (unknown keys, types), found by walking the YAML nodes against
// the configuration types, then what each connector's Validate and the file-wide rules
// refuse. suggest lists the departments a mistyped one may have meant; nil suggests none.
func parse(b []byte, name string, known func(string) bool, suggest []string) (*File, error) {
	c := &checker{}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		c.syntax(err)
		return nil, c.err(name)
	}
	var f File
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if root.Kind == 0 || isNull(doc) { // an empty file: no connectors
		return &f, nil
	}
	c.root = doc
	c.shape(doc, reflect.TypeFor[File](), nil)
	// Decoded leniently: a value of the wrong type is left zero and was reported above.
	_ = doc.Decode(&f)
	c.typed = len(c.problems) > 0
	if err := c.fallbackStrict(b); err != nil {
		c.problems = append(c.problems, Problem{Line: 1, Column: 1, Rule: RuleInvalid, Message: err.Error()})
	}
	c.departments(&f, known, suggest)
	c.fromErrs(checkPlatforms(&f))
	if len(c.problems) > 0 {
		return nil, c.err(name)
	}
	return &f, nil
}

// checker collects the problems of one file.
type checker struct {
	root     *yaml.Node
	problems []Problem
	// typed: the shape walk found problems; the strict decoder is then not asked again.
	typed bool
	// steps counts the nodes walked, aliases expanded.
	steps int
	// badPaths are paths with a shape problem: what Validate says of their (zero) values
	// repeats it.
	badPaths []string
}

func (c *checker) err(name string) error {
	sort.SliceStable(c.problems, func(i, j int) bool {
		a, b := c.problems[i], c.problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &CheckError{File: name, Problems: c.problems}
}

func (c *checker) add(n *yaml.Node, path []string, rule, msg string) {
	p := Problem{Path: joinPath(path), Rule: rule, Message: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.problems = append(c.problems, p)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax reports a YAML syntax error at its line; yaml.v3 gives no column.
func (c *checker) syntax(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		c.problems = append(c.problems, Problem{Line: line, Column: 1, Rule: RuleSyntax, Message: "YAML syntax: " + m[2]})
		return
	}
	c.problems = append(c.problems, Problem{Rule: RuleSyntax, Message: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")})
}

// fallbackStrict decodes the file as yaml.v3 does with unknown keys refused, in case it
// refuses something the shape walk let through; it cannot, but a file taken that the
// decoder refuses would be worse than one message in Go's terms.
func (c *checker) fallbackStrict(b []byte) error {
	if c.typed {
		return nil
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return err
	}
	return nil
}

// shape walks node n against the type t it decodes into, reporting unknown and duplicate
// keys and values of the wrong type, each where it is.
func (c *checker) shape(n *yaml.Node, t reflect.Type, path []string) {
	if c.steps++; c.steps == maxShapeSteps {
		c.add(n, path, RuleInvalid, "too many nodes once aliases are expanded; the file is refused")
	}
	if c.steps >= maxShapeSteps {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return // the zero value
	}
	switch t.Kind() {
	case reflect.Interface:
		return // any value
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			break
		}
		if n.Kind != yaml.MappingNode {
			c.wrongType(n, path, t)
			return
		}
		fields := settingKeys(t)
		seen := map[string]bool{}
		defer dropDuplicates(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if k.ShortTag() == "!!merge" { // <<: *defaults brings the keys of another mapping
				c.merge(v, t, path)
				continue
			}
			at := append(append([]string(nil), path...), key)
			if seen[key] {
				c.add(k, at, RuleDuplicateKey, "given twice; the first is kept")
				continue
			}
			seen[key] = true
			ft, ok := fields[key]
			if !ok {
				c.add(k, at, RuleUnknownKey, unknownKey(key, fields, path))
				continue
			}
			c.shape(v, ft, at)
		}
		return
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.wrongType(n, path, t)
			return
		}
		seen := map[string]bool{}
		defer dropDuplicates(n)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			at := append(append([]string(nil), path...), k.Value)
			if seen[k.Value] {
				c.add(k, at, RuleDuplicateKey, "given twice; the first is kept")
				continue
			}
			seen[k.Value] = true
			c.shape(v, t.Elem(), at)
		}
		return
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.wrongType(n, path, t)
			return
		}
		for i, e := range n.Content {
			at := append([]string(nil), path...)
			if len(at) > 0 {
				at[len(at)-1] += "[" + strconv.Itoa(i) + "]"
			}
			c.shape(e, t.Elem(), at)
		}
		return
	}
	if n.Kind != yaml.ScalarNode {
		c.wrongType(n, path, t)
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		c.wrongType(n, path, t)
	}
}

// maxShapeSteps bounds the walk of a file whose aliases expand into very many nodes (a
// "billion laughs"): the decoder refuses such a file too.
const maxShapeSteps = 1 << 20

// merge walks the mappings a merge key (<<) brings into a mapping of type t.
func (c *checker) merge(v *yaml.Node, t reflect.Type, path []string) {
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			c.shape(e, t, path)
		}
		return
	}
	c.shape(v, t, path)
}

// dropDuplicates removes the second and later pairs of a key from mapping n once they are
// reported: the decoder would refuse the whole file on them, and the rest of the file still
// has its own problems to tell.
func dropDuplicates(n *yaml.Node) {
	seen := map[string]bool{}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !seen[k] {
			seen[k] = true
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = kept
}

func (c *checker) wrongType(n *yaml.Node, path []string, t reflect.Type) {
	c.badPaths = append(c.badPaths, joinPath(path))
	c.add(n, path, RuleType, fmt.Sprintf("want %s, got %s", typeWords(t), nodeWords(n)))
}

// typeWords names what a Go type takes in the file's terms.
func typeWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 500ms, 10s or 1m30s"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map:
		return "a mapping (key: value)"
	case t.Kind() == reflect.Struct:
		keys := sortedKeys(settingKeys(t))
		if len(keys) > 6 {
			keys = append(keys[:6], "…")
		}
		return "a mapping of " + strings.Join(keys, ", ")
	}
	return "a " + t.Kind().String()
}

// nodeWords says what a node is without saying its value, which may be a secret.
func nodeWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!str":
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && looksLikeNumberWithoutUnit(n.Value) {
			return "a number without a unit"
		}
		return "a string"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func looksLikeNumberWithoutUnit(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// settingKeys maps the YAML keys of a struct type to their field types.
func settingKeys(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unknownKey words an unknown key: the nearest key the mapping has, else the keys it has.
func unknownKey(key string, fields map[string]reflect.Type, path []string) string {
	keys := sortedKeys(fields)
	where := "here"
	if len(path) == 0 {
		where = "at the top of the file"
	}
	if near := nearest(key, keys); near != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, near)
	}
	return fmt.Sprintf("unknown key %q; the keys %s are %s", key, where, strings.Join(keys, ", "))
}

// nearest is the candidate closest to s by edit distance, when close enough to be what was
// meant: a difference of case only, or at most one edit in three characters, or two (a
// transposition, retyr for retry) in a word of four or more; "" when none is.
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if c == s {
			return "" // s is right; nothing to suggest
		}
		d := levenshtein.ComputeDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	n := utf8.RuneCountInString(s)
	switch {
	case bestD < 0:
		return ""
	case bestD == 0, bestD*3 <= n, bestD <= 2 && n >= 4:
		return best
	}
	return ""
}

// departments checks each department: its code, its kind and the kind's settings.
func (c *checker) departments(f *File, known func(string) bool, suggest []string) {
	codes := make([]string, 0, len(f.Departments))
	for code := range f.Departments {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		d := f.Departments[code]
		at := []string{"departments", code}
		if known != nil && !known(code) {
			msg := fmt.Sprintf("%q is not a department of the catalogue", code)
			if near := nearest(code, suggest); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			c.add(c.keyNode(at), at, RuleUnknownDepartment, msg)
		}
		for _, k := range departmentKinds {
			// With no kind, or one that does not exist, the kind's problem says it all.
			if kindNamed(d.Kind) != nil && k.name() != d.Kind && k.present(&d) {
				kat := append(at[:2:2], k.name())
				c.add(c.keyNode(kat), kat, RuleInvalid, fmt.Sprintf("settings for another kind than %q", d.Kind))
			}
		}
		kindAt := append(at[:2:2], "kind")
		switch k := kindNamed(d.Kind); {
		case k != nil:
			kat := append(at[:2:2], k.name())
			if err := k.check(&d, code); err != nil {
				var missing *missingSettings
				if errors.As(err, &missing) {
					c.add(c.keyNode(at), kat, RuleRequired, missing.Error())
				} else {
					c.fromErr(kat, err)
				}
			}
		case d.Kind == "":
			if !c.bad(joinPath(kindAt)) {
				c.add(c.keyNode(at), kindAt, RuleRequired, fmt.Sprintf("required (one of %s)", strings.Join(kindNames(), ", ")))
			}
		default:
			msg := fmt.Sprintf("%q is not a kind of connector (one of %s)", d.Kind, strings.Join(kindNames(), ", "))
			if near := nearest(d.Kind, kindNames()); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			c.add(c.valueNode(kindAt), kindAt, RuleUnknownKind, msg)
		}
		f.Departments[code] = d
	}
}

// bad reports whether path, or a path above it, has a shape problem.
func (c *checker) bad(path string) bool {
	for _, b := range c.badPaths {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// fromErrs adds the problems of the file-wide checks (platforms, supervision, the shared
// kafka results consumer), each an error under a path.
func (c *checker) fromErrs(errs []pathError) {
	for _, e := range errs {
		c.fromErr(e.path, e.err)
	}
}

// pathError is a problem found by a check that knows where in the file it is.
type pathError struct {
	path []string
	err  error
}

// settingPath is how a connector's Validate names a setting at the start of a message:
// breaker.open_timeout, inbound[0].bundle, headers.
var settingPath = regexp.MustCompile(`^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z][a-z0-9_]*(?:\[\d+\])?)*): (.*)$`)

// fromErr adds one problem per message of err (a Validate error joins several), placing each
// at the setting it names when the message starts with one.
func (c *checker) fromErr(base []string, err error) {
	for _, msg := range flatten(err) {
		path, text := base, msg
		if m := settingPath.FindStringSubmatch(msg); m != nil {
			path = append(append([]string(nil), base...), strings.Split(m[1], ".")...)
			text = m[2]
		}
		if c.bad(joinPath(path)) {
			continue // its wrong type was reported; its zero value says nothing more
		}
		c.add(c.nearestNode(path), path, RuleInvalid, text)
	}
}

// flatten lists the messages of an error and of every error it joins.
func flatten(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// lookup follows path from the root and returns the key and value nodes of its last step
// that exists, and whether every step did.
func (c *checker) lookup(path []string) (key, value *yaml.Node, all bool) {
	n := c.root
	for _, step := range path {
		name, idx := step, -1
		if i := strings.IndexByte(step, '['); i > 0 && strings.HasSuffix(step, "]") {
			name = step[:i]
			idx, _ = strconv.Atoi(step[i+1 : len(step)-1])
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return key, value, false
		}
		var found bool
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				key, value, found = n.Content[i], n.Content[i+1], true
				break
			}
		}
		if !found {
			return key, value, false
		}
		n = value
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return key, value, false
			}
			value = n.Content[idx]
			key, n = value, value
		}
	}
	return key, value, true
}

// keyNode is the key of path, or of the nearest step of it the file has.
func (c *checker) keyNode(path []string) *yaml.Node {
	k, _, _ := c.lookup(path)
	return k
}

// valueNode is the value of path, or the key of the nearest step of it the file has.
func (c *checker) valueNode(path []string) *yaml.Node {
	k, v, all := c.lookup(path)
	if all && v != nil {
		return v
	}
	return k
}

// nearestNode places a problem about path: its value when the file has it, else the
// mapping it is missing from.
func (c *checker) nearestNode(path []string) *yaml.Node {
	return c.valueNode(path)
}

func joinPath(path []string) string { return strings.Join(path, ".") }

// missingSettings is a department whose kind needs settings it does not have.
type missingSettings struct {
	kind, why string
}

func (m *missingSettings) Error() string {
	msg := "required for kind " + m.kind
	if m.why != "" {
		msg += " (" + m.why + ")"
	}
	return msg
}
