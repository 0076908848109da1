package connectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"yjshub/schemas"
)

// The JSON Schema of the connectors file (schemas/connectors/connectors.schema.json) is for
// editors and tools; Parse is the authority. These tests hold the two together: the kinds, the
// keys of every Config, the examples of the tests and of the docs, and the mistakes both refuse.

const schemaPath = "connectors/connectors.schema.json"

func connectorsSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := schemas.Compile(schemaPath)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaPath, err)
	}
	return s
}

// deref follows $refs to the schema that says what a value is.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for s != nil && s.Ref != nil {
		s = s.Ref
	}
	return s
}

// departmentSchema is the schema of one department (departments.<code>).
func departmentSchema(t *testing.T, root *jsonschema.Schema) *jsonschema.Schema {
	t.Helper()
	deps := deref(root.Properties["departments"])
	s, ok := deps.AdditionalProperties.(*jsonschema.Schema)
	if !ok {
		t.Fatalf("the schema's departments have no schema of a department")
	}
	return deref(s)
}

// yamlFields are a struct's fields by their YAML key, those of inlined structs included.
func yamlFields(typ reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
			continue
		case slices.Contains(strings.Split(opts, ","), "inline"):
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		out[name] = f
	}
	return out
}

func setOf[K comparable, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// difference lists what a has and b lacks, sorted.
func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// keyMismatches compares the YAML keys of typ, and of the structs it holds (through pointers,
// slices and maps), with the properties of s: a key without a property, a property without a
// key, a property without a description or a type, and an object that would take unknown keys
// (Parse refuses them) are each one mismatch, named by its path.
func keyMismatches(at string, typ reflect.Type, s *jsonschema.Schema) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	d := deref(s)
	if d == nil {
		return []string{at + ": no schema"}
	}
	var out []string
	switch typ.Kind() {
	case reflect.Struct:
		if d.AdditionalProperties != false {
			out = append(out, at+": the schema takes unknown keys, Parse does not")
		}
		fields := yamlFields(typ)
		keys := setOf(fields)
		props := setOf(d.Properties)
		for _, k := range difference(keys, props) {
			out = append(out, fmt.Sprintf("%s.%s: a key of %s the schema lacks", at, k, typ))
		}
		for _, k := range difference(props, keys) {
			out = append(out, fmt.Sprintf("%s.%s: in the schema, not a key of %s", at, k, typ))
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, ok := d.Properties[k]
			if !ok {
				continue
			}
			if p.Description == "" && deref(p).Description == "" {
				out = append(out, fmt.Sprintf("%s.%s: no description", at, k))
			}
			if dp := deref(p); (dp.Types == nil || dp.Types.IsEmpty()) && dp.Enum == nil && dp.Const == nil {
				out = append(out, fmt.Sprintf("%s.%s: no type", at, k))
			}
			out = append(out, keyMismatches(at+"."+k, fields[k].Type, p)...)
		}
	case reflect.Slice, reflect.Array:
		if holdsStruct(typ.Elem()) {
			out = append(out, keyMismatches(at+"[]", typ.Elem(), d.Items2020)...)
		}
	case reflect.Map:
		if holdsStruct(typ.Elem()) {
			v, _ := d.AdditionalProperties.(*jsonschema.Schema)
			out = append(out, keyMismatches(at+".*", typ.Elem(), v)...)
		}
	}
	return out
}

func holdsStruct(typ reflect.Type) bool {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	return typ.Kind() == reflect.Struct
}

func TestTheSchemaNamesEveryKindOfTheTableAndNoOther(t *testing.T) {
	t.Parallel()
	dept := departmentSchema(t, connectorsSchema(t))
	kinds := kindNames()

	kindProp := deref(dept.Properties["kind"])
	if kindProp == nil || kindProp.Enum == nil {
		t.Fatal("the schema's department has no enum of kinds")
	}
	var enum []string
	for _, v := range kindProp.Enum.Values {
		enum = append(enum, fmt.Sprint(v))
	}
	if d := difference(kinds, enum); d != nil {
		t.Errorf("kinds of the table missing from the schema's enum: %q", d)
	}
	if d := difference(enum, kinds); d != nil {
		t.Errorf("kinds in the schema's enum that the table lacks: %q", d)
	}

	// The settings keys: the schema's, the Department struct's and the table's are the same.
	settingsKeys := difference(setOf(dept.Properties), []string{"kind"})
	if d := difference(kinds, settingsKeys); d != nil {
		t.Errorf("kinds whose settings the schema's department lacks: %q", d)
	}
	if d := difference(settingsKeys, kinds); d != nil {
		t.Errorf("settings in the schema's department that are no kind of the table: %q", d)
	}
	fields := yamlFields(reflect.TypeFor[Department]())
	structKeys := difference(setOf(fields), []string{"kind"})
	if d := difference(kinds, structKeys); d != nil {
		t.Errorf("kinds without a field of Department keyed by their name: %q", d)
	}
	if d := difference(structKeys, kinds); d != nil {
		t.Errorf("fields of Department that are no kind of the table: %q", d)
	}

	// Each entry finds its settings in the field keyed by its name, and no other entry does.
	for _, name := range kinds {
		f, ok := fields[name]
		if !ok || f.Type.Kind() != reflect.Pointer {
			continue // reported above
		}
		var d Department
		reflect.ValueOf(&d).Elem().FieldByIndex(f.Index).Set(reflect.New(f.Type.Elem()))
		for _, k := range departmentKinds {
			if got, want := k.present(&d), k.name() == name; got != want {
				t.Errorf("with only departments.<code>.%s set, kind %s finds settings: %v", name, k.name(), got)
			}
		}
	}
}

func TestTheSchemaHasEveryKeyOfEachConfigAndNoOther(t *testing.T) {
	t.Parallel()
	root := connectorsSchema(t)
	// From the file down: each kind's Config (through Department), platform.Config and
	// supervision.Config, with the structs they hold (retry, breaker, inbound rules …).
	for _, m := range keyMismatches("connectors file", reflect.TypeFor[File](), root) {
		t.Error(m)
	}

	// The comparison finds a key missing from the schema, and properties without a key.
	type departmentPlus struct {
		Department `yaml:",inline"`
		Extra      string `yaml:"extra"`
	}
	got := keyMismatches("departments.*", reflect.TypeFor[departmentPlus](), departmentSchema(t, root))
	if !slices.ContainsFunc(got, func(m string) bool { return strings.HasPrefix(m, "departments.*.extra: a key of") }) {
		t.Errorf("a field the schema lacks went unnoticed: %q", got)
	}
	type fewer struct {
		Kind string `yaml:"kind"`
	}
	got = keyMismatches("departments.*", reflect.TypeFor[fewer](), departmentSchema(t, root))
	if len(got) != len(departmentKinds) {
		t.Errorf("a struct without the kinds' settings: %q, want one mismatch per kind", got)
	}
}

// example is a connectors file the tests or the docs give.
type example struct {
	from string
	doc  string
	// elided marks an example of the docs that stands "…" for what it leaves out; it is held
	// to the schema only, without what was left out, as Parse would refuse it.
	elided bool
}

// testExamples are the connectors files the tests give as valid.
func testExamples(t *testing.T) []example {
	t.Helper()
	platforms, err := os.ReadFile("platform/testdata/platforms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return []example{
		{from: "config_pullkinds_test.go", doc: restPullAndFrontDBFile},
		{from: "config_platforms_test.go", doc: string(platforms) + kafkaAndSupervisionFile},
		{from: "platform/testdata/platforms.yaml", doc: string(platforms)},
		// The file cmd/yjshub's end-to-end tests write (writeConnectors).
		{from: "cmd/yjshub/connectors_e2e_test.go", doc: "departments:\n  tobacco:\n    kind: restpush\n    restpush:\n      endpoint: http://127.0.0.1:8090/\n      timeout: 2s\n"},
	}
}

// docExamples are the connectors files shown in the repository's README, the Markdown under
// connectors/ and the doc comment of File. A fenced yaml block is one when its top-level keys
// are those of a connectors file.
func docExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	mds := []string{"../README.md"}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			mds = append(mds, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mds {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range fencedYAML(string(b)) {
			if isConnectorsFile(block) {
				out = append(out, example{from: fmt.Sprintf("%s, yaml block %d", p, i+1), doc: block, elided: strings.Contains(block, "…")})
			}
		}
	}
	fileDoc := fileDocExample(t)
	return append(out, example{from: "the doc comment of File", doc: fileDoc, elided: strings.Contains(fileDoc, "…")})
}

func fencedYAML(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```yaml":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

func isConnectorsFile(block string) bool {
	var top map[string]any
	if yaml.Unmarshal([]byte(block), &top) != nil || len(top) == 0 {
		return false
	}
	for k, v := range top {
		switch k {
		case "departments", "platforms":
			if _, ok := v.(map[string]any); !ok {
				return false // a catalogue's departments are a list
			}
		case "supervision":
		default:
			return false
		}
	}
	return true
}

// fileDocExample is the connectors file in the doc comment of File (config.go).
func fileDocExample(t *testing.T) string {
	t.Helper()
	af, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range af.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE || g.Doc == nil || g.Specs[0].(*ast.TypeSpec).Name.Name != "File" {
			continue
		}
		var lines []string
		for _, line := range strings.Split(g.Doc.Text(), "\n") {
			if after, ok := strings.CutPrefix(line, "\t"); ok {
				lines = append(lines, after)
			}
		}
		return strings.Join(lines, "\n") + "\n"
	}
	t.Fatal("config.go: no doc comment on File")
	return ""
}

// instance decodes a YAML document into what the schema validates: JSON's values.
func instance(t *testing.T, doc string, elided bool) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	v = jsonValue(v, elided)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("to JSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// jsonValue gives maps string keys, as the Config's string fields and maps read them; with
// elided, it drops the "…" standing for elements and keys the docs leave out.
func jsonValue(v any, elided bool) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if !(elided && k == "…") {
				out[k] = jsonValue(e, elided)
			}
		}
		return out
	case map[any]any:
		out := map[string]any{}
		for k, e := range v {
			if ks := fmt.Sprint(k); !(elided && ks == "…") {
				out[ks] = jsonValue(e, elided)
			}
		}
		return out
	case []any:
		out := []any{}
		for _, e := range v {
			if !(elided && e == "…") {
				out = append(out, jsonValue(e, elided))
			}
		}
		return out
	}
	return v
}

func TestTheConnectorsFilesOfTheTestsAndTheDocsAgreeWithTheSchema(t *testing.T) {
	t.Parallel()
	schema := connectorsSchema(t)
	docs := docExamples(t)
	// The docs that must show a connectors file, so that finding none is a failure.
	for _, p := range []string{"../README.md", "frontdb/README.md", "kafka/README.md", "platform/README.md", "supervision/README.md"} {
		if !slices.ContainsFunc(docs, func(e example) bool { return strings.HasPrefix(e.from, p+",") }) {
			t.Errorf("%s: no connectors file found in its yaml blocks", p)
		}
	}
	for _, e := range append(testExamples(t), docs...) {
		if err := schema.Validate(instance(t, e.doc, e.elided)); err != nil {
			t.Errorf("%s: the schema refuses it:\n%v", e.from, err)
		}
		if e.elided {
			continue
		}
		if _, err := Parse([]byte(e.doc), e.from, nil); err != nil {
			t.Errorf("Parse refuses it: %v", err)
		}
	}
}

// schemaLocations are the instance locations (JSON Pointers) the schema's error and its causes
// point at.
func schemaLocations(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		out = append(out, "/"+strings.Join(e.InstanceLocation, "/"))
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

func TestTheSchemaAndParseRefuseTheSameMistakes(t *testing.T) {
	t.Parallel()
	schema := connectorsSchema(t)
	for _, tc := range []struct {
		name     string
		doc      string
		parseSay string // in Parse's error
		schemaAt string // where the schema's error points
	}{
		{
			name:     "an unknown kind",
			doc:      "departments:\n  tobacco:\n    kind: carrier-pigeon\n",
			parseSay: `departments.tobacco.kind: "carrier-pigeon" is not a kind of connector (one of restpush, restpull, frontdb, kafka)`,
			schemaAt: "/departments/tobacco/kind",
		},
		{
			name:     "a department without a kind",
			doc:      "departments:\n  rsj:\n    restpull: {}\n",
			parseSay: "departments.rsj.kind: required (one of restpush, restpull, frontdb, kafka)",
			schemaAt: "/departments/rsj",
		},
		{
			name:     "an unknown key in a kind's settings",
			doc:      "departments:\n  tobacco:\n    kind: restpush\n    restpush: {endpoint: \"https://x.example/\", timeuot: 2s}\n",
			parseSay: `departments.tobacco.restpush.timeuot: unknown key "timeuot"; did you mean "timeout"?`,
			schemaAt: "/departments/tobacco/restpush",
		},
		{
			name:     "an unknown key in a nested setting",
			doc:      "departments:\n  tobacco:\n    kind: restpush\n    restpush: {endpoint: \"https://x.example/\", retry: {max_attempt: 3}}\n",
			parseSay: `departments.tobacco.restpush.retry.max_attempt: unknown key "max_attempt"; did you mean "max_attempts"?`,
			schemaAt: "/departments/tobacco/restpush/retry",
		},
		{
			name:     "an unknown key of a department",
			doc:      "departments:\n  rsj:\n    kind: restpull\n    restpul: {}\n",
			parseSay: `departments.rsj.restpul: unknown key "restpul"; did you mean "restpull"?`,
			schemaAt: "/departments/rsj",
		},
		{
			name:     "an unknown key of the file",
			doc:      "department:\n  rsj:\n    kind: restpull\n",
			parseSay: `department: unknown key "department"; did you mean "departments"?`,
			schemaAt: "",
		},
		{
			name:     "settings for another kind",
			doc:      "departments:\n  fire-rescue:\n    kind: restpush\n    restpush: {endpoint: \"https://x.example/\"}\n    kafka: {group_id: x}\n",
			parseSay: `departments.fire-rescue.kafka: settings for another kind than "restpush"`,
			schemaAt: "/departments/fire-rescue",
		},
		{
			name:     "a kind without its required settings",
			doc:      "departments:\n  market:\n    kind: frontdb\n",
			parseSay: "departments.market.frontdb: required for kind frontdb",
			schemaAt: "/departments/market",
		},
		{
			name:     "a kafka department without its group",
			doc:      "departments:\n  market:\n    kind: kafka\n    kafka: {poll_interval: 5s}\n",
			parseSay: "departments.market.kafka.group_id: required",
			schemaAt: "/departments/market/kafka",
		},
		{
			name:     "a duration without a unit",
			doc:      "departments:\n  rsj:\n    kind: restpull\n    restpull: {default_visibility: 30}\n",
			parseSay: "departments.rsj.restpull.default_visibility: want a duration such as 500ms, 10s or 1m30s, got a whole number",
			schemaAt: "/departments/rsj/restpull/default_visibility",
		},
		{
			name:     "a driver frontdb does not speak",
			doc:      "departments:\n  tax:\n    kind: frontdb\n    frontdb: {driver: oracle, dsn: \"db/qzk\"}\n",
			parseSay: `departments.tax.frontdb.driver: "oracle"`,
			schemaAt: "/departments/tax/frontdb/driver",
		},
		{
			name:     "an unknown key of supervision",
			doc:      "supervision:\n  endpoint: https://jg.example/records\n  mask_holder_ids: false\n",
			parseSay: `supervision.mask_holder_ids: unknown key "mask_holder_ids"; did you mean "mask_holder_id"?`,
			schemaAt: "/supervision",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "connectors.yaml", nil)
			if err == nil || !strings.Contains(err.Error(), tc.parseSay) {
				t.Errorf("Parse: %v, want an error saying %q", err, tc.parseSay)
			}
			err = schema.Validate(instance(t, tc.doc, false))
			if err == nil {
				t.Fatal("the schema takes it")
			}
			if at := schemaLocations(err); !slices.Contains(at, "/"+strings.TrimPrefix(tc.schemaAt, "/")) {
				t.Errorf("the schema's error points at %q, want %q:\n%v", at, tc.schemaAt, err)
			}
		})
	}
}

func TestTheSchemaTakesOnlyDurationsParseTakes(t *testing.T) {
	t.Parallel()
	duration := deref(deref(connectorsSchema(t).Properties["supervision"]).Properties["timeout"])
	parses := func(s string) bool {
		var v struct {
			D time.Duration `yaml:"d"`
		}
		b, _ := json.Marshal(s)
		return yaml.Unmarshal([]byte("d: "+string(b)), &v) == nil && v.D >= 0
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0", true}, {"10s", true}, {"200ms", true}, {"1m30s", true}, {"168h", true}, {"1.5h", true},
		{".5s", true}, {"1us", true}, {"1µs", true}, {"2h45m0.5s", true},
		{"", false}, {"10", false}, {"10 s", false}, {"-5s", false}, {"1d", false}, {"5sec", false}, {"s", false},
	} {
		taken := duration.Validate(tc.in) == nil
		if taken != tc.want {
			t.Errorf("the schema takes %q: %v, want %v", tc.in, taken, tc.want)
		}
		if taken && !parses(tc.in) {
			t.Errorf("the schema takes %q, which is no duration Parse takes", tc.in)
		}
	}
}

func TestTheStatusAPIKnowsEveryKindOfTheTable(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				ConnectorStatus struct {
					Properties struct {
						Kind struct {
							Enum []string `yaml:"enum"`
						} `yaml:"kind"`
					} `yaml:"properties"`
				} `yaml:"ConnectorStatus"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(schemas.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas.ConnectorStatus.Properties.Kind.Enum
	if d := difference(kindNames(), enum); d != nil {
		t.Errorf("kinds of the table missing from ConnectorStatus.kind in schemas/openapi.yaml %q: %q", enum, d)
	}
}
