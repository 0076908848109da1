// Package jsonstrict checks a JSON body before anything decodes it, the same way on every route
// and in every connector that takes JSON in: the text is UTF-8, holds one value and nothing
// after it, names no key twice in an object, carries no control character in a string (NUL and
// the other C0 and C1 controls; tab, line feed and carriage return are text), and stays within
// bounds of nesting and array length, so that what a decoder then builds cannot grow faster
// than the request.
//
// encoding/json alone takes the last of two equal keys, replaces invalid UTF-8 with U+FFFD and
// keeps "\u0000" in a string: each of those lets two readers of one document see different
// things, or carries a byte that a database or a department's system cuts a string at.
package jsonstrict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"yjshub/problem"
)

// Rules of the problems Check reports.
const (
	// RuleControl: a string holds a control character.
	RuleControl = "control_character"
	// RuleUTF8: the body is not UTF-8.
	RuleUTF8 = "utf8"
	// RuleTrailing: something follows the JSON value.
	RuleTrailing = "trailing_data"
	// RuleDepth: values nested deeper than allowed.
	RuleDepth = "max_depth"
	// RuleItems: an array longer than allowed.
	RuleItems = "max_items"
)

// Limits bound a document's shape.
type Limits struct {
	// MaxDepth is how deep objects and arrays may nest. Default 32.
	MaxDepth int
	// MaxItems is how many elements an array may hold. Default 1000.
	MaxItems int
	// MaxProblems is how many problems Check collects before it stops looking. Default 1000.
	MaxProblems int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	if l.MaxItems <= 0 {
		l.MaxItems = 1000
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = 1000
	}
	return l
}

// Check reports every way body breaks the rules of the package, each at the JSON Pointer of
// the offending value (a duplicate key at the key's own pointer). Malformed JSON stops the walk
// with one problem at the document's root. Messages never echo the offending text.
func Check(body []byte, lim Limits) []problem.Problem {
	lim = lim.withDefaults()
	if !utf8.Valid(body) {
		return []problem.Problem{{Path: "", Rule: RuleUTF8, Message: "the body is not UTF-8 text"}}
	}
	w := walker{dec: json.NewDecoder(bytes.NewReader(body)), lim: lim}
	w.dec.UseNumber()
	if err := w.value(""); err != nil {
		if errors.Is(err, errEnough) {
			return w.problems
		}
		return append(w.problems, problem.Problem{Path: "", Rule: problem.RuleJSON, Message: syntaxMessage(err)})
	}
	if _, err := w.dec.Token(); err != io.EOF {
		w.add("", RuleTrailing, "the body must be one JSON value with nothing after it")
	}
	return w.problems
}

// CheckError is Check as an error: nil, or a *problem.Error with the problems.
func CheckError(body []byte, lim Limits) error {
	if ps := Check(body, lim); len(ps) > 0 {
		return problem.New(ps...)
	}
	return nil
}

var errEnough = errors.New("enough problems")

type walker struct {
	dec      *json.Decoder
	lim      Limits
	depth    int
	problems []problem.Problem
}

func (w *walker) add(path, rule, msg string) error {
	w.problems = append(w.problems, problem.Problem{Path: path, Rule: rule, Message: msg})
	if len(w.problems) >= w.lim.MaxProblems {
		return errEnough
	}
	return nil
}

// value reads one value at path.
func (w *walker) value(path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		w.depth++
		defer func() { w.depth-- }()
		if w.depth > w.lim.MaxDepth {
			if err := w.add(path, RuleDepth, fmt.Sprintf("values may nest at most %d deep", w.lim.MaxDepth)); err != nil {
				return err
			}
			return w.skip()
		}
		if t == '{' {
			return w.object(path)
		}
		return w.array(path)
	case string:
		return w.text(path, t)
	}
	return nil
}

func (w *walker) object(path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		at := path + "/" + pointerToken.Replace(key)
		if err := w.text(at, key); err != nil {
			return err
		}
		if seen[key] {
			if err := w.add(at, problem.RuleDuplicate, "the key is given twice in one object"); err != nil {
				return err
			}
		}
		seen[key] = true
		if err := w.value(at); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

func (w *walker) array(path string) error {
	n := 0
	for w.dec.More() {
		if n == w.lim.MaxItems {
			if err := w.add(path, RuleItems, fmt.Sprintf("an array may hold at most %d items", w.lim.MaxItems)); err != nil {
				return err
			}
			return w.skip()
		}
		if err := w.value(path + "/" + strconv.Itoa(n)); err != nil {
			return err
		}
		n++
	}
	_, err := w.dec.Token() // ']'
	return err
}

// skip reads to the end of the object or array whose opening delimiter was read.
func (w *walker) skip() error {
	level := 1
	for level > 0 {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				level++
			} else {
				level--
			}
		}
	}
	return nil
}

func (w *walker) text(path, s string) error {
	if i := ControlIndex(s); i >= 0 {
		return w.add(path, RuleControl, fmt.Sprintf("the text holds a control character (U+%04X) at rune %d", []rune(s)[i], i))
	}
	return nil
}

// ControlIndex returns the index, in runes, of the first control character of s (C0 but tab,
// line feed and carriage return; DEL; C1), or -1 when it has none.
func ControlIndex(s string) int {
	i := 0
	for _, r := range s {
		if IsControl(r) {
			return i
		}
		i++
	}
	return -1
}

// IsControl reports whether r is a control character the hub refuses in text.
func IsControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	}
	return false
}

// pointerToken escapes a key as a JSON Pointer reference token (RFC 6901).
var pointerToken = strings.NewReplacer("~", "~0", "/", "~1")

func syntaxMessage(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends before its value does"
	}
	return "malformed JSON"
}
