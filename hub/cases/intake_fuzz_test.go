package cases_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"yjshub/hub/cases"
	"yjshub/problem"
)

// problemsOf returns the problems of a validation error, and whether err is one.
func problemsOf(err error) ([]problem.Problem, bool) {
	var ve *problem.Error
	if !errors.As(err, &ve) {
		return nil, false
	}
	return ve.Problems, true
}

// FuzzDecodeApplication checks what DecodeApplication promises for any body: it never panics;
// malformed JSON is refused; a refusal is a list of problems, each with a rule and a JSON
// Pointer naming where in the body it is, and none repeating a value of the body (it may be
// personal data); an accepted body comes with its SHA-256, and the application encodes to
// JSON that decodes to the same application.
func FuzzDecodeApplication(f *testing.F) {
	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(examples) == 0 {
		f.Fatalf("no examples: %v", err)
	}
	for _, p := range examples {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`,
		`null`,
		`[]`,
		`"open-bar"`,
		``,
		`{"bundle": 34, "applicant_type": "individual", "matters": []}`,
		`{"bundle": "open-bar", "matters": null, "form": null, "materials": null}`,
		`{"bundle": {"code": "open-bar"}, "applicant_type": 1, "matters": "food-business-licence"}`,
		`{"bundle": "open-bar", "form": {"applicant.id_number": "11010519491231002X", "contact.mobile": 13912345678}}`,
		`{"bundle": "open-bar", "form": ["11010519491231002X"]}`,
		`{"materials": [{"type": "id-card", "sha256": 12, "size": "大"}]}`,
		`{"materials": [{"type": "id-card", "licence": {"type": "营业执照", "number": "91350100M000100Y43", "holder": "张明"}}]}`,
		`{"materials": [{"type": "id-card", "owner": "11010519491231002X"}]}`,
		`{"申请人": "张明", "a/b": 1, "m~n": 2, "": 3}`,
		`{"bundle": "open-bar"} {"bundle": "open-drink-shop"}`,
		`{"bundle": "open-bar"}]`,
		`{"bundle": "open-bar", "bundle": 35}`,
		`{"form": {"x": 1e400}}`,
		"{\"form\": {\"x\": \"\xff\xfe\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		app, hash, err := cases.DecodeApplication(bytes.NewReader(body))
		if err != nil {
			checkRefusal(t, body, hash, err)
			return
		}
		if !json.Valid(body) {
			t.Fatalf("malformed JSON was accepted: %q", body)
		}
		if sum := sha256.Sum256(body); hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("hash %q is not the body's SHA-256", hash)
		}
		re, err := json.Marshal(app)
		if err != nil {
			t.Fatalf("an accepted application does not encode: %v", err)
		}
		again, _, err := cases.DecodeApplication(bytes.NewReader(re))
		if err != nil {
			t.Fatalf("the application's own encoding %s is refused: %v", re, err)
		}
		if a, b := comparable(t, app), comparable(t, again); !reflect.DeepEqual(a, b) {
			t.Fatalf("encoded and decoded again, the application changed:\nfirst  %#v\nagain  %#v\nvia %s", a, b, re)
		}
	})
}

func checkRefusal(t *testing.T, body []byte, hash string, err error) {
	t.Helper()
	problems, ok := problemsOf(err)
	if !ok || len(problems) == 0 {
		t.Fatalf("refused with %v: want a validation error listing problems", err)
	}
	if hash != "" {
		t.Fatalf("a refused body has a hash")
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		doc = nil
	}
	keys, values := map[string]bool{}, map[string]bool{}
	collect(doc, keys, values)
	for _, p := range problems {
		if p.Rule == "" {
			t.Errorf("a problem without a rule: %+v", p)
		}
		if !resolves(doc, p.Path) {
			t.Errorf("path %q of %+v is not a JSON Pointer to a member of the body", p.Path, p)
		}
		for v := range values {
			if !keys[v] && strings.Contains(p.Message, v) {
				t.Errorf("problem %+v repeats the body's value %q", p, v)
			}
		}
	}
}

// collect gathers the object keys and, of the string and number values, those that could be
// personal data: at least four characters, with a digit or a non-ASCII letter.
func collect(v any, keys, values map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, el := range v {
			keys[k] = true
			collect(el, keys, values)
		}
	case []any:
		for _, el := range v {
			collect(el, keys, values)
		}
	case string:
		if len([]rune(v)) >= 4 && strings.IndexFunc(v, func(r rune) bool { return unicode.IsDigit(r) || r > unicode.MaxASCII }) >= 0 {
			values[v] = true
		}
	case json.Number:
		if len(v) >= 4 {
			values[v.String()] = true
		}
	}
}

// resolves reports whether ptr is "" (the whole body) or an RFC 6901 JSON Pointer to a member
// of doc.
func resolves(doc any, ptr string) bool {
	if ptr == "" {
		return true
	}
	if !strings.HasPrefix(ptr, "/") {
		return false
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		for i := 0; i < len(tok); i++ {
			if tok[i] == '~' && (i+1 == len(tok) || tok[i+1] != '0' && tok[i+1] != '1') {
				return false // a ~ is written ~0
			}
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch d := doc.(type) {
		case map[string]any:
			el, ok := d[tok]
			if !ok {
				return false
			}
			doc = el
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return false
			}
			doc = d[i]
		default:
			return false
		}
	}
	return true
}

// comparable is app with its bundle in one spelling: compact JSON, and a missing bundle as
// null, which DecodeApplication treats alike.
func comparable(t *testing.T, app cases.Application) cases.Application {
	t.Helper()
	var b bytes.Buffer
	if len(app.Bundle) == 0 {
		b.WriteString("null")
	} else if err := json.Compact(&b, app.Bundle); err != nil {
		t.Fatalf("the bundle %q is not JSON: %v", app.Bundle, err)
	}
	app.Bundle = b.Bytes()
	return app
}
