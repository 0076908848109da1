package validators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub"
	"yjshub/hub/api"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

// tools returns the node_modules directory holding ajv and the python of the jsonschema
// virtualenv (scripts/validators.sh), or skips the test when they are absent, unless
// YJSHUB_REQUIRE_REAL is set, so that `make test` cannot pass without the validators.
func tools(t *testing.T) (nodeModules, python string) {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", "validators.sh"), "path").Output()
	lines := strings.Fields(string(out))
	_, nodeErr := exec.LookPath("node")
	if err != nil || len(lines) != 2 || nodeErr != nil {
		msg := "the form validators test needs node, ajv and Python jsonschema: run make validators (scripts/validators.sh up)"
		if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return lines[0], lines[1]
}

// form is one served one form: the form's schema and the whole application's.
type form struct {
	id                string // bundle/applicant type
	schema, appSchema map[string]any
}

// servedForms starts the hub's HTTP API on the seed catalogue and fetches the form of every
// bundle for every applicant type it serves, as a platform would.
func servedForms(t *testing.T) (*catalogue.Catalogue, []form) {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(storetest.OpenSQLite)(t)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Catalogue: hs.Catalogue, Cases: hs.Cases, Forms: hs.Forms})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var forms []form
	for _, b := range cat.Bundles {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			if !slices.ContainsFunc(b.Matters, func(e catalogue.BundleEntry) bool {
				m, ok := cat.Matter(e.Matter)
				return ok && m.Handles(typ)
			}) {
				continue
			}
			resp, err := http.Get(srv.URL + "/api/v1/bundles/" + url.PathEscape(b.Code) + "/form?applicant_type=" + typ)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Schema            map[string]any `json:"schema"`
				ApplicationSchema map[string]any `json:"application_schema"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || body.Schema == nil || body.ApplicationSchema == nil {
				t.Fatalf("the form of %s for %s: status %d, %v", b.Code, typ, resp.StatusCode, err)
			}
			forms = append(forms, form{id: b.Code + "/" + typ, schema: body.Schema, appSchema: body.ApplicationSchema})
		}
	}
	return cat, forms
}

// job is what check.mjs and check.py read.
type job struct {
	DivisionsTSV string     `json:"divisions_tsv"`
	Schemas      []schema   `json:"schemas"`
	Instances    []instance `json:"instances"`
	Patterns     []string   `json:"patterns"`
	Probes       []string   `json:"probes"`
}

type schema struct {
	ID     string         `json:"id"`
	Schema map[string]any `json:"schema"`
}

type instance struct {
	Schema   string `json:"schema"`
	Instance any    `json:"instance"`

	what           string // the case, for messages
	field          string // the field a refusal is about; "" for an accepted instance
	patternCatches bool   // a refusal the pattern alone catches
}

type verdict struct {
	Full         *bool    `json:"full"`
	PatternsOnly *bool    `json:"patterns_only"`
	Errors       []string `json:"errors"`
}

type answer struct {
	Compiled      int       `json:"compiled"`
	CompileErrors []string  `json:"compile_errors"`
	Results       []verdict `json:"results"`
	Patterns      []struct {
		Matches []bool `json:"matches"`
		Error   string `json:"error"`
	} `json:"patterns"`
}

// run gives the job to a validator script and decodes its answer.
func run(t *testing.T, env []string, j job, name string, args ...string) answer {
	t.Helper()
	in, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...) // no __pycache__ in the source tree
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	var a answer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("%s %s answered no JSON: %v", name, strings.Join(args, " "), err)
	}
	if len(a.Results) != len(j.Instances) {
		t.Fatalf("%s %s: %d results for %d instances", name, strings.Join(args, " "), len(a.Results), len(j.Instances))
	}
	return a
}

// Every form schema of every bundle and applicant type, as served, compiles in strict ajv and
// strict Python jsonschema with the documented setup; both accept the examples and refuse what
// the hub refuses: by the pattern alone where a regular expression can see it, by the
// documented format function where only a check character or the division list can.
func TestGenericValidatorsEnforceEveryServedForm(t *testing.T) {
	nodeModules, python := tools(t)
	cat, forms := servedForms(t)
	if len(forms) < 40 {
		t.Fatalf("only %d forms served: the catalogue did not load", len(forms))
	}
	j := job{DivisionsTSV: filepath.Join("..", "..", "format", "gb2260.tsv")}
	byID := map[string]form{}
	for _, f := range forms {
		byID[f.id] = f
		j.Schemas = append(j.Schemas, schema{ID: f.id + "#form", Schema: f.schema}, schema{ID: f.id + "#application", Schema: f.appSchema})
	}
	assertPatternsBesideFormats(t, cat, forms)

	examples, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// The formats each example's form shows, with its field: the refusals are put there.
	type place struct{ id, field string }
	withFormat := map[string]place{}
	var base = map[string]map[string]any{}
	for _, path := range examples {
		var app map[string]any
		b, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(b, &app) != nil {
			t.Fatalf("%s: %v", path, err)
		}
		id := fmt.Sprint(app["bundle"]) + "/" + fmt.Sprint(app["applicant_type"])
		f, ok := byID[id]
		if !ok {
			t.Fatalf("%s: no served form %s", path, id)
		}
		name := filepath.Base(path)
		fm, _ := app["form"].(map[string]any)
		base[id] = fm
		j.Instances = append(j.Instances,
			instance{Schema: id + "#form", Instance: fm, what: name + " (its form)"},
			instance{Schema: id + "#application", Instance: app, what: name + " (the whole application)"})
		props, _ := f.schema["properties"].(map[string]any)
		for code := range fm {
			p, _ := props[code].(map[string]any)
			if fmtName, ok := p["format"].(string); ok {
				if _, seen := withFormat[fmtName]; !seen {
					withFormat[fmtName] = place{id, code}
				}
			}
		}
	}

	goodID, _ := format.CompleteResidentID("11010519491231002")
	badIDCheck := goodID[:17] + map[bool]string{true: "1", false: "0"}[goodID[17] == '0']
	goodUSCC, _ := format.CompleteUSCC("91320707MA1XYW12B")
	badUSCC := goodUSCC[:17] + string(format.USCCAlphabet[(strings.IndexByte(format.USCCAlphabet, goodUSCC[17])+1)%31])
	refusals := []struct {
		format, value, what string
		patternCatches      bool
	}{
		{format.Mobile, "151-0518-1234", "a mobile written with dashes", true},
		{format.Mobile, "+8615105181234", "a mobile with the country code", true},
		{format.GB11643, strings.ToLower(goodID[:17]) + "x", "a resident ID ending in a lower-case x", true},
		{format.GB11643, badIDCheck, "a resident ID with a wrong check digit", false},
		{format.GB32100, badUSCC, "a USCC with a wrong check character", false},
		{format.GB32100, "91320707MA1XYW12IO", "a USCC with letters outside its alphabet", true},
		{format.GB2260, "999999", "the division code 999999", true},
		{format.GB2260, "320799", "a well-formed division code not in the list", false},
		{format.IndividualBusinessCode, goodUSCC, "a company's code given as an individual business's", true},
		{format.IndividualBusinessCode, "92" + badUSCC[2:], "an individual business's code with a wrong check character", false},
	}
	if !strings.HasSuffix(goodID, "X") {
		t.Fatalf("the resident ID fixture should end in X to try a lower-case x")
	}
	for _, r := range refusals {
		if format.Check(r.format, r.value) == nil {
			t.Fatalf("%s: the hub accepts it; the case is wrong", r.what)
		}
		at, ok := withFormat[r.format]
		if !ok {
			t.Fatalf("no example has a field of format %s to try %s on", r.format, r.what)
		}
		fm := map[string]any{}
		for k, v := range base[at.id] {
			fm[k] = v
		}
		fm[at.field] = r.value
		j.Instances = append(j.Instances, instance{Schema: at.id + "#form", Instance: fm,
			what: r.what + " in " + at.field + " of " + at.id, field: at.field, patternCatches: r.patternCatches})
	}

	// The identity number is checked by the document type's format: the form's if/then per
	// type, judged by each validator as the hub judges it.
	const idForm = "social-security-card/individual"
	if base[idForm] == nil {
		t.Fatalf("no example of %s to try the identity documents on", idForm)
	}
	taiwan, _ := format.CompleteResidentID("83000019900307002")
	foreigner, _ := format.CompleteResidentID("93284019800101001")
	taiwanBadCheck := taiwan[:17] + map[bool]string{true: "1", false: "0"}[taiwan[17] == '0']
	for _, c := range []struct {
		idType, number, what    string
		refused, patternCatches bool
	}{
		{"港澳台居民居住证", taiwan, "a Taiwan residence-permit number given as one", false, false},
		{"居民身份证", taiwan, "a Taiwan residence-permit number given as a resident ID", true, true},
		{"港澳台居民居住证", taiwanBadCheck, "a residence-permit number with a wrong check digit", true, false},
		{"外国人永久居留身份证", foreigner, "a permanent residence number given as one", false, false},
		{"外国人永久居留身份证", goodID, "a resident ID given as a permanent residence number", true, true},
		{"护照", "E12345678", "a passport number", false, false},
		{"护照", "e12345678", "a passport number in lower case", true, true},
	} {
		fm := map[string]any{}
		for k, v := range base[idForm] {
			fm[k] = v
		}
		fm["applicant.id_type"], fm["applicant.id_number"] = c.idType, c.number
		in := instance{Schema: idForm + "#form", Instance: fm, what: c.what + " in " + idForm}
		if c.refused {
			in.field, in.patternCatches = "applicant.id_number", c.patternCatches
		}
		j.Instances = append(j.Instances, in)
	}

	env := []string{"NODE_PATH=" + nodeModules}
	for _, v := range []struct {
		name string
		a    answer
	}{
		{"ajv", run(t, env, j, "node", "check.mjs")},
		{"jsonschema", run(t, nil, j, python, "check.py")},
	} {
		t.Run(v.name, func(t *testing.T) {
			if len(v.a.CompileErrors) > 0 || v.a.Compiled != len(j.Schemas) {
				t.Fatalf("compiled %d of %d schemas strictly:\n%s", v.a.Compiled, len(j.Schemas), strings.Join(v.a.CompileErrors, "\n"))
			}
			for i, in := range j.Instances {
				r := v.a.Results[i]
				if r.Full == nil || r.PatternsOnly == nil {
					t.Errorf("%s: no verdict", in.what)
					continue
				}
				switch {
				case in.field == "":
					if !*r.Full || !*r.PatternsOnly {
						t.Errorf("%s: refused (with formats: %v, patterns only: %v): %v", in.what, !*r.Full, !*r.PatternsOnly, r.Errors)
					}
				case *r.Full:
					t.Errorf("%s: accepted with the documented formats", in.what)
				case !slices.ContainsFunc(r.Errors, func(e string) bool { return strings.HasPrefix(e, "/"+in.field+" ") }):
					t.Errorf("%s: refused, but not at /%s: %v", in.what, in.field, r.Errors)
				case in.patternCatches && *r.PatternsOnly:
					t.Errorf("%s: accepted by a validator with the patterns only", in.what)
				case !in.patternCatches && !*r.PatternsOnly:
					t.Errorf("%s: refused by the patterns alone, but the case says only the format can; fix the case", in.what)
				}
			}
			t.Logf("%d schemas compiled strictly; %d instances judged as the hub judges them", v.a.Compiled, len(j.Instances))
		})
	}
}

// assertPatternsBesideFormats checks that every property with one of the hub's formats carries
// the format's pattern, and every annotation keyword is one the published vocabulary declares.
func assertPatternsBesideFormats(t *testing.T, cat *catalogue.Catalogue, forms []form) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "forms", "one-form.meta.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Defs struct {
			Vocabulary struct {
				Properties map[string]any `json:"properties"`
			} `json:"vocabulary"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	withFormat := 0
	for _, f := range forms {
		walk(f.schema, func(s map[string]any) {
			for kw := range s {
				if strings.HasPrefix(kw, "x-") && meta.Defs.Vocabulary.Properties[kw] == nil {
					t.Errorf("%s: keyword %s is not declared in schemas/forms/one-form.meta.schema.json", f.id, kw)
				}
			}
			name, _ := s["format"].(string)
			want, ok := format.Pattern(name)
			if !ok {
				return
			}
			withFormat++
			if s["pattern"] != want {
				t.Errorf("%s: a property of format %s has the pattern %v, want the format's %s", f.id, name, s["pattern"], want)
			}
		})
	}
	if withFormat == 0 {
		t.Fatal("no property with a format of the hub's: the walk found nothing")
	}
}

// walk calls visit on every subschema of s.
func walk(v any, visit func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		visit(x)
		for k, sub := range x {
			if strings.HasPrefix(k, "x-") || k == "enum" || k == "const" || k == "examples" {
				continue // values, not schemas
			}
			walk(sub, visit)
		}
	case []any:
		for _, sub := range x {
			walk(sub, visit)
		}
	}
}

// Every pattern the forms carry means the same in Go (RE2, how the hub checks) and in ECMA-262
// with the u flag (how ajv and browsers check): both compile it, and both give the same answer
// on every probe, the spaces of other scripts and look-alike digits among them.
func TestEveryPatternMeansTheSameInGoAndECMAScript(t *testing.T) {
	nodeModules, _ := tools(t)
	_, forms := servedForms(t)
	seen := map[string]bool{}
	var patterns []string
	for _, f := range forms {
		for _, s := range []map[string]any{f.schema, f.appSchema} {
			walk(s, func(s map[string]any) {
				if p, ok := s["pattern"].(string); ok && !seen[p] {
					seen[p] = true
					patterns = append(patterns, p)
				}
			})
		}
	}
	if len(patterns) < 4 {
		t.Fatalf("only %d patterns found in the forms: the walk found nothing", len(patterns))
	}
	goodID, _ := format.CompleteResidentID("32070719900307001")
	goodUSCC, _ := format.CompleteUSCC("91320707MA1XYW12B")
	spaces := []string{" ", "\t", "\n", "\v", "\f", "\r", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\x00", "\x7f"}
	probes := []string{"", "15105181234", "151-0518-1234", "+8615105181234", "１５１０５１８１２３４", "11010519491231002X", "11010519491231002x",
		goodID, goodUSCC, goodUSCC[:17] + "I", "320707", "999999", "320012", "222000", "0518-86212345", "025-12345678-801",
		"https://art.example.com", "http://例子.中国/路径", "https://", "ftp://a.b", "report.pdf", "a/b.pdf", "a\\b", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"2024-02-29", "ÀB", "\U0001F600", "1234-567890-12-34-567890", "ABCDEFGH1", "123456789012345678"}
	for _, s := range spaces {
		probes = append(probes, "https://art.example.com/a"+s+"b", "https://a"+s, "151051"+s+"81234", s)
	}
	// A format no form uses yet is tried all the same: a field may take it tomorrow.
	for _, name := range format.PatternNames() {
		if p, _ := format.Pattern(name); !seen[p] {
			seen[p] = true
			patterns = append(patterns, p)
		}
	}

	slices.Sort(patterns)
	a := run(t, []string{"NODE_PATH=" + nodeModules}, job{DivisionsTSV: filepath.Join("..", "..", "format", "gb2260.tsv"), Patterns: patterns, Probes: probes}, "node", "check.mjs")
	if len(a.Patterns) != len(patterns) {
		t.Fatalf("node answered for %d of %d patterns", len(a.Patterns), len(patterns))
	}
	differ := 0
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil || a.Patterns[i].Error != "" {
			t.Errorf("pattern %q compiles in Go: %v; in ECMAScript: %s", p, err, a.Patterns[i].Error)
			continue
		}
		for k, s := range probes {
			if goOK, jsOK := re.MatchString(s), a.Patterns[i].Matches[k]; goOK != jsOK {
				differ++
				t.Errorf("pattern %q on %q: Go says %v, ECMAScript %v", p, s, goOK, jsOK)
			}
		}
	}
	t.Logf("%d patterns × %d probes, %d disagreements", len(patterns), len(probes), differ)
}
