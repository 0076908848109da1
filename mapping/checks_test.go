package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/problem"
)

// everyOneForm builds the one form of every bundle for every applicant type something is open
// to (no selection: optional matters conditional), and with each matter selected alone.
func everyOneForm(t testing.TB, cat *catalogue.Catalogue) []*OneForm {
	t.Helper()
	var out []*OneForm
	for _, b := range cat.Bundles {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			var open []string
			for _, e := range b.Matters {
				if m, _ := cat.Matter(e.Matter); m.Handles(typ) {
					open = append(open, e.Matter)
				}
			}
			if len(open) == 0 {
				continue
			}
			for _, sel := range append([][]string{nil}, singles(open)...) {
				f, err := BuildOneForm(cat, b, typ, sel)
				if err != nil {
					t.Fatalf("%s %s %v: %v", b.Code, typ, sel, err)
				}
				out = append(out, f)
			}
		}
	}
	return out
}

func singles(codes []string) [][]string {
	out := make([][]string, len(codes))
	for i, c := range codes {
		out[i] = []string{c}
	}
	return out
}

func TestEveryCatalogueFormCompilesIntoChecks(t *testing.T) {
	forms := everyOneForm(t, seedCatalogue(t))
	for _, f := range forms {
		f.prepare()
		if f.checks == nil || f.checksErr != nil {
			t.Errorf("%s (%s, %d matters): the schema does not compile into checks, Validate would ask the validator: %v",
				f.Bundle, f.ApplicantType, len(f.Matters), f.checksErr)
		}
	}
	if len(forms) < 2*len(seedCatalogue(t).Bundles) {
		t.Errorf("only %d forms built", len(forms))
	}
}

func TestChecksRefuseWhatTheyDoNotCompile(t *testing.T) {
	f := openBarForm(t, catalogue.Enterprise, openBarWithoutAds)
	base, err := decodeSchema(f.Schema)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(root, uscc map[string]any)
		want   string
	}{
		{"an if/then at the root", func(root, _ map[string]any) { root["if"] = map[string]any{}; root["then"] = map[string]any{} }, "if: keyword not compiled"},
		{"an open form", func(root, _ map[string]any) { delete(root, "additionalProperties") }, "additionalProperties: an open form"},
		{"a const on a field", func(_, uscc map[string]any) { uscc["const"] = "x" }, "properties/enterprise.uscc/const: keyword not compiled"},
		{"a format no checker knows", func(_, uscc map[string]any) { uscc["format"] = "uri" }, `format "uri" is not compiled`},
		{"a union type", func(_, uscc map[string]any) { uscc["type"] = []any{"string", "null"} }, "properties/enterprise.uscc/type"},
		{"an exclusive bound", func(_, uscc map[string]any) { uscc["exclusiveMinimum"] = json.Number("1") }, "exclusiveMinimum: keyword not compiled"},
		{"another draft", func(root, _ map[string]any) { root["$schema"] = "http://json-schema.org/draft-07/schema#" }, "$schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := decodeSchema(f.Schema)
			root := doc.(map[string]any)
			uscc := root["properties"].(map[string]any)["enterprise.uscc"].(map[string]any)
			tt.change(root, uscc)
			_, err := compileChecks(doc, f.rules)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("compileChecks = %v; want an error naming %q", err, tt.want)
			}
		})
	}
	if _, err := compileChecks(base, f.rules); err != nil {
		t.Errorf("the unchanged schema: %v", err)
	}
}

// TestValidateFallsBackWhenTheChecksCannotSay gives Validate a schema the checks do not
// compile, and a number only the validator reads: in both, the validator's answer is given.
func TestValidateFallsBackWhenTheChecksCannotSay(t *testing.T) {
	f := openBarForm(t, catalogue.Enterprise, nil)
	form := exampleForm(f)
	// Not JSON, but a number to the dictionary (strconv) and to the validator (big.Rat): only the
	// validator can say how it compares with the minimum, as it reads it.
	form["ad.area_m2"] = json.Number("+7.2")
	f.prepare()
	if _, ok := f.checks.validate(form); ok {
		t.Fatal("the checks judged a number they cannot read against a bound")
	}
	if got, want := f.Validate(form), f.validateBySchema(form); !reflect.DeepEqual(got, want) || len(got) != 0 {
		t.Errorf("Validate = %v; the validator gives %v", got, want)
	}

	open := openBarForm(t, catalogue.Enterprise, openBarWithoutAds)
	open.Schema["properties"].(map[string]any)["enterprise.name"].(map[string]any)["const"] = "海韵"
	form = exampleForm(open)
	if open.Validate(form); open.checks != nil || open.checksErr == nil {
		t.Fatal("a schema with const compiled into checks")
	}
	if got := rulesAt(open.Validate(form)); !reflect.DeepEqual(got, map[string][]string{"/form/enterprise.name": {"schema"}}) {
		t.Errorf("the validator's const is not applied: %v", got)
	}
}

// TestANumberTheValidatorCannotReadIsTheWrongType: the validator reads numbers as big.Rat, which
// refuses an exponent beyond a million; against a bound it then fails with a nil dereference.
// Both ways of validating report the wrong type instead.
func TestANumberTheValidatorCannotReadIsTheWrongType(t *testing.T) {
	f := openBarForm(t, catalogue.Enterprise, nil)
	for _, n := range []string{"1e1000001", "-1e1000001", "1e-1000001", "1e99999999999999999999"} {
		form := exampleForm(f)
		form["business.area_m2"] = json.Number(n) // a minimum of 1
		form["fire.capacity"] = json.Number(n)    // integer, bounded
		form["ad.quantity"] = json.Number(n)
		want := map[string][]string{"/form/business.area_m2": {problem.RuleType}, "/form/fire.capacity": {problem.RuleType}, "/form/ad.quantity": {problem.RuleType}}
		if got := rulesAt(f.Validate(form)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Validate = %v; want %v", n, got, want)
		}
		if got := rulesAt(f.validateBySchema(form)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: validateBySchema = %v; want %v", n, got, want)
		}
		if _, ok := form["business.area_m2"].(json.Number); !ok {
			t.Error("the form was modified")
		}
	}
}

// libraryFindings is what the schema validator finds in a form, as (path, rule) problems
// (schemaProblems' mapping of its errors, value rules included).
func libraryFindings(t testing.TB, f *OneForm, form Form) []problem.Problem {
	t.Helper()
	sch, err := f.schema()
	if err != nil {
		t.Fatal(err)
	}
	c := &collected{seen: map[[2]string]bool{}}
	var values []problem.Problem
	var verr *jsonschema.ValidationError
	if err := sch.Validate(f.readableNumbers(form)); errors.As(err, &verr) {
		for _, leaf := range leaves(verr, nil) {
			f.schemaProblems(leaf, c, map[string]bool{}, &values)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return append(c.problems, values...)
}

// pathRules lists problems as sorted "path rule" lines.
func pathRules(problems []problem.Problem) []string {
	out := make([]string, 0, len(problems))
	for _, p := range problems {
		out = append(out, p.Path+" "+p.Rule)
	}
	sort.Strings(out)
	return out
}

// assertAgree checks one form both ways: the compiled Validate against validateBySchema (every
// problem, message and field included), and the compiled schema alone against the validator
// (valid or not, and where and why not). It returns the problems.
func assertAgree(t testing.TB, f *OneForm, form Form, label string) []problem.Problem {
	t.Helper()
	f.prepare()
	if f.checks == nil {
		t.Fatalf("%s: the form did not compile into checks: %v", label, f.checksErr)
	}
	got, want := f.Validate(form), f.validateBySchema(form)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the compiled checks find\n  %v\nthe schema validator and the dictionary\n  %v", label, got, want)
	}
	findings, ok := f.checks.schemaFindings(form)
	if !ok {
		return want
	}
	if g, w := pathRules(findings), pathRules(libraryFindings(t, f, form)); !slices.Equal(g, w) {
		t.Errorf("%s: the compiled schema finds %v; the validator %v", label, g, w)
	}
	return want
}

// decodeForm decodes JSON as intake does (numbers as json.Number) or as encoding/json does by
// default (float64).
func decodeForm(t testing.TB, data []byte, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if useNumber {
		dec.UseNumber()
	}
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestChecksAgreeOnTheExamples validates every example the project has, both ways: the
// applications under examples/, every one form made of its fields' examples, and the forms of
// the mapping cases (on a form of the case's matter alone).
func TestChecksAgreeOnTheExamples(t *testing.T) {
	cat := seedCatalogue(t)
	checked := 0

	apps, err := filepath.Glob(filepath.Join("..", "examples", "*.json"))
	if err != nil || len(apps) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, path := range apps {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, useNumber := range []bool{true, false} {
			app := decodeForm(t, data, useNumber)
			bundle, _ := cat.Bundle(fmt.Sprint(app["bundle"]))
			if bundle == nil {
				t.Fatalf("%s: no bundle %v", path, app["bundle"])
			}
			var matters []string
			if list, ok := app["matters"].([]any); ok {
				for _, m := range list {
					matters = append(matters, m.(string))
				}
			}
			typ, _ := app["applicant_type"].(string)
			f, err := BuildOneForm(cat, bundle, typ, matters)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			form, _ := app["form"].(map[string]any)
			if len(assertAgree(t, f, form, path)) > 0 {
				t.Errorf("%s: the example is not a valid form: %v", path, f.Validate(form))
			}
			checked++
		}
	}

	for _, f := range everyOneForm(t, cat) {
		form := Form{}
		for code, r := range f.rules {
			form[code] = r.field.Example
		}
		data, _ := json.Marshal(form)
		for _, useNumber := range []bool{true, false} {
			if len(assertAgree(t, f, decodeForm(t, data, useNumber), f.Bundle+" examples")) > 0 {
				t.Errorf("%s (%s): the fields' examples are not a valid form", f.Bundle, f.ApplicantType)
			}
			checked++
		}
		assertAgree(t, f, form, f.Bundle+" examples as loaded") // ints and float64s from YAML
	}

	cases, _ := filepath.Glob(filepath.Join("testdata", "*", "input.json"))
	for _, in := range cases {
		code, _, _ := strings.Cut(filepath.Base(filepath.Dir(in)), "@")
		var c mappingCase
		decodeFile(t, in, &c)
		for _, b := range cat.Bundles {
			if !slices.ContainsFunc(b.Matters, func(e catalogue.BundleEntry) bool { return e.Matter == code }) {
				continue
			}
			f, err := BuildOneForm(cat, b, c.ApplicantType, []string{code})
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			assertAgree(t, f, c.Form, in+" in "+b.Code)
			checked++
		}
	}
	t.Logf("%d example forms checked both ways", checked)
}

// TestChecksAgreeOnGeneratedBadValues takes, for every field of the catalogue, a valid form
// that has it, and gives the field each value its schema property calls for (see badValues):
// every JSON type, each side of every bound, strings a rune short and a rune long, near misses
// of every pattern, format and enum; then leaves out each required field, adds unknown ones,
// and breaks every field of a form at once. Both ways of validating must agree on each.
func TestChecksAgreeOnGeneratedBadValues(t *testing.T) {
	cat := seedCatalogue(t)
	forms := everyOneForm(t, cat)
	home := map[string]*OneForm{} // a form for each field
	for _, f := range forms {
		for code := range f.rules {
			if home[code] == nil {
				home[code] = f
			}
		}
	}
	valid := func(f *OneForm) Form {
		data, _ := json.Marshal(exampleForm(f))
		return decodeForm(t, data, true)
	}

	props := map[*OneForm]map[string]any{} // each form's properties, as the validator reads them
	values := func(f *OneForm, code string) []any {
		if props[f] == nil {
			doc, err := decodeSchema(f.Schema)
			if err != nil {
				t.Fatal(err)
			}
			props[f] = doc.(map[string]any)["properties"].(map[string]any)
		}
		return badValues(props[f][code].(map[string]any))
	}

	// -short (make test-short runs with -race) tries every fourth value of a field, a different
	// fourth for each field.
	step, broken := 1, forms[:min(len(forms), 40)]
	if testing.Short() {
		step, broken = 4, forms[:min(len(forms), 8)]
	}
	tried, invalid := 0, 0
	rulesSeen := map[string]bool{}
	for n, code := range sortedKeys(keySet(anyMap(home))) {
		f := home[code]
		base := valid(f)
		for i, v := range values(f, code) {
			if (i+n)%step != 0 {
				continue
			}
			form := cloneForm(base)
			form[code] = v
			problems := assertAgree(t, f, form, fmt.Sprintf("%s value %d (%T)", code, i, v))
			if len(problems) > 0 {
				invalid++
			}
			for _, p := range problems {
				rulesSeen[p.Rule] = true
			}
			tried++
		}
	}

	for _, f := range broken {
		base := valid(f)
		for _, code := range f.Schema["required"].([]string) {
			form := cloneForm(base)
			delete(form, code)
			assertAgree(t, f, form, f.Bundle+" without "+code)
		}
		for _, extra := range []string{"favourite.colour", "a/b~c", "", "enterprise", "x.y.z"} {
			form := cloneForm(base)
			form[extra] = "x"
			assertAgree(t, f, form, f.Bundle+" with "+extra)
		}
		assertAgree(t, f, nil, f.Bundle+" nil")
		assertAgree(t, f, Form{}, f.Bundle+" empty")
		// Every field broken at once, by the k-th value of its list.
		for k := range 30 {
			form := Form{}
			for code := range f.rules {
				vals := values(f, code)
				form[code] = vals[k%len(vals)]
			}
			assertAgree(t, f, form, fmt.Sprintf("%s all broken %d", f.Bundle, k))
		}
	}

	t.Logf("%d generated values on %d fields, %d invalid; rules met: %v", tried, len(home), invalid, sortedKeys(rulesSeen))
	for _, rule := range []string{problem.RuleType, problem.RuleEnum, problem.RuleMinLength, problem.RuleMaxLength, problem.RuleMinimum,
		problem.RuleMaximum, problem.RulePattern, "date", "gb11643", "gb32100", "mobile", "gb2260"} {
		if !rulesSeen[rule] {
			t.Errorf("no generated value breaks rule %s", rule)
		}
	}
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// badValues generates values for a property from its schema: a value of every JSON type (and
// of the Go types a form may hold), the example and near misses of it, and for each keyword
// values on and either side of its limit.
func badValues(prop map[string]any) []any {
	out := []any{
		nil, true, false, "", " ", "x", "字", 0.0, 1.0, -1.0, 1.5, math.MaxFloat64, 1, int64(7),
		json.Number("0"), json.Number("-0"), json.Number("1.5"), json.Number("1.0"), json.Number("1e2"), json.Number("15e-1"),
		json.Number("1e400"), json.Number("-1e400"), json.Number("1e-400"), json.Number("1e1000001"), json.Number("1E+2"),
		[]any{}, []any{"a"}, map[string]any{}, map[string]any{"a": "b"},
	}
	if ex, ok := prop["examples"].([]any); ok && len(ex) > 0 {
		switch x := ex[0].(type) {
		case string:
			out = append(out, stringNearMisses(x)...)
			out = append(out, json.Number("1"+strings.Repeat("0", 20)))
		case json.Number:
			out = append(out, numberNearMisses(string(x))...)
			out = append(out, string(x)) // the number as a string
		case bool:
			out = append(out, !x, strconv.FormatBool(x))
		}
	}
	if enum, ok := prop["enum"].([]any); ok {
		for _, e := range enum {
			s := e.(string)
			out = append(out, s, s+" ", " "+s, s+"x", strings.ToUpper(s), string([]rune(s)[:max(0, len([]rune(s))-1)]))
		}
		out = append(out, "其他")
	}
	for _, kw := range []string{"minLength", "maxLength"} {
		if n, ok := prop[kw].(json.Number); ok {
			k, _ := n.Int64()
			for _, m := range []int64{k - 1, k, k + 1} {
				if m >= 0 {
					out = append(out, strings.Repeat("a", int(m)), strings.Repeat("字", int(m)), strings.Repeat("😀", int(m)))
				}
			}
		}
	}
	for _, kw := range []string{"minimum", "maximum"} {
		if n, ok := prop[kw].(json.Number); ok {
			out = append(out, numberNearMisses(string(n))...)
		}
	}
	if _, ok := prop["pattern"]; ok {
		out = append(out, "a1", "12345678901234567890123456789012", "https://", "http://a b", "1234-123456-12-12-123456", "ABCDEFGH1", "ABCDEFGHI")
	}
	if f, ok := prop["format"].(string); ok {
		out = append(out, formatMisses(f)...)
	}
	return out
}

// stringNearMisses changes a valid string slightly: a character dropped, added, replaced (by
// digits, X and letters, where check characters live), the case changed, spaces around it.
func stringNearMisses(s string) []any {
	r := []rune(s)
	out := []any{s, s + "0", "0" + s, " " + s, s + " ", strings.ToLower(s), strings.ToUpper(s), s + s}
	if len(r) > 0 {
		out = append(out, string(r[:len(r)-1]), string(r[1:]))
		for _, c := range "0179XYa字" {
			last := slices.Clone(r)
			last[len(last)-1] = c
			first := slices.Clone(r)
			first[0] = c
			out = append(out, string(last), string(first))
		}
		if len(r) > 2 {
			swapped := slices.Clone(r)
			swapped[1], swapped[2] = swapped[2], swapped[1]
			out = append(out, string(swapped))
		}
	}
	return out
}

// numberNearMisses gives numbers on and around n (a JSON number's text): as json.Number and as
// float64, the float64s either side, n ± 1, and decimals too close to n for a float64 to tell
// them apart, which only an exact comparison orders.
func numberNearMisses(n string) []any {
	r, _ := new(big.Rat).SetString(n)
	f, _ := strconv.ParseFloat(n, 64)
	tiny := new(big.Rat).SetFrac64(1, 1)
	tiny.Quo(tiny, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil)))
	dec := func(x *big.Rat) json.Number { return json.Number(x.FloatString(40)) }
	one := big.NewRat(1, 1)
	out := []any{
		json.Number(n), f, -f,
		math.Nextafter(f, math.Inf(-1)), math.Nextafter(f, math.Inf(1)),
		json.Number(strconv.FormatFloat(math.Nextafter(f, math.Inf(-1)), 'g', -1, 64)),
		json.Number(strconv.FormatFloat(math.Nextafter(f, math.Inf(1)), 'g', -1, 64)),
		dec(new(big.Rat).Add(r, tiny)), dec(new(big.Rat).Sub(r, tiny)),
		dec(new(big.Rat).Add(r, one)), dec(new(big.Rat).Sub(r, one)),
		json.Number(n + "e0"), json.Number(strings.TrimPrefix(r.FloatString(3), "")),
		math.Trunc(f) + 0.5, f * 10, f / 10,
	}
	if !strings.ContainsAny(n, ".eE") {
		out = append(out, json.Number(n+".0"), json.Number(n+".5"), json.Number(n+"00e-2"))
	}
	return out
}

// formatMisses are strings that break a format, or nearly do.
func formatMisses(format string) []any {
	switch format {
	case "date":
		return []any{"2023-02-30", "2023-13-01", "2024-02-29", "2023-02-29", "20230101", "2023-1-1", "2023-01-01T00:00:00Z", "0000-01-01", "9999-12-31", "２０２３-０１-０１"}
	case "gb11643":
		return []any{"11010519491231002X", "11010519491231002x", "110105194912310021", "990105194912310024", "11010520991231002X", "1101051949123100"}
	case "gb32100":
		return []any{"91350100M000100Y43", "91350100M000100Y44", "91350100M000100YI3", "9135010"}
	case "mobile":
		return []any{"15105181234", "12345", "25105181234", "1510518123a", "+8615105181234"}
	case "gb2260":
		return []any{"320707", "990707", "32070", "000000"}
	}
	return []any{"not-a-" + format, "a@b", "@", "a@", "a@b.c", "222000", "0518-12345678"}
}

// TestChecksFollowTheValidatorOnKeywordsTheDictionaryLacks gives a form's schema keywords the
// field dictionary does not have (so the compiled checks must run them after the dictionary),
// and keywords together that no catalogue field has together (so the validator's order, and
// where it stops, shows): both ways of validating must still agree.
func TestChecksFollowTheValidatorOnKeywordsTheDictionaryLacks(t *testing.T) {
	f := openBarForm(t, catalogue.Enterprise, nil)
	props := f.Schema["properties"].(map[string]any)
	extra := map[string]map[string]any{
		"enterprise.uscc":  {"minLength": 20, "maxLength": 25, "pattern": "^9", "enum": []string{"91350100M000100Y43", "1234567890123456789012", "x"}},
		"enterprise.name":  {"format": "mobile", "maxLength": 5},
		"business.name":    {"enum": []string{"海韵小酒馆", "其他"}, "pattern": "酒"},
		"ad.period_start":  {"pattern": "^2023", "minLength": 12},
		"fire.capacity":    {"minimum": 100, "maximum": 79.5},
		"business.area_m2": {"maximum": 120.5},
	}
	for code, kws := range extra {
		for kw, v := range kws {
			props[code].(map[string]any)[kw] = v
		}
	}
	f.prepare()
	if f.checks == nil {
		t.Fatalf("the schema did not compile into checks: %v", f.checksErr)
	}
	doc, _ := decodeSchema(f.Schema)
	decoded := doc.(map[string]any)["properties"].(map[string]any)
	base := exampleForm(f)
	n := 0
	for code := range extra {
		for i, v := range badValues(decoded[code].(map[string]any)) {
			form := cloneForm(base)
			form[code] = v
			assertAgree(t, f, form, fmt.Sprintf("%s value %d (%T)", code, i, v))
			n++
		}
	}
	valid := assertAgree(t, f, base, "the examples")
	if len(valid) == 0 {
		t.Error("the examples break none of the added keywords: the test checks nothing after the dictionary")
	}
	t.Logf("%d values; the examples break %v", n, pathRules(valid))
}
