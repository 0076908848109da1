package platform

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors/platform/platformsim"
	"yjshub/hub/cases"
	"yjshub/hub/hubtest"
	"yjshub/problem"
)

// testConfigs reads testdata/platforms.yaml strictly, as the connectors file is read.
func testConfigs(t testing.TB) map[string]Config {
	t.Helper()
	b, err := os.ReadFile("testdata/platforms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Platforms map[string]Config `yaml:"platforms"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("testdata/platforms.yaml: %v", err)
	}
	for name, c := range f.Platforms {
		c.Name = name
		f.Platforms[name] = c
	}
	return f.Platforms
}

// normalized is an application as JSON decodes it, so that values compare whatever Go types
// they were built from.
func normalized(t *testing.T, app cases.Application) any {
	t.Helper()
	b, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	// The bundle by code or by 序号: the same bundle.
	if s, ok := v["bundle"].(string); ok && s == "30" {
		v["bundle"] = "open-drink-shop"
	}
	return v
}

func TestEachPlatformsApplicationMapsToTheHubsApplication(t *testing.T) {
	cat := hubtest.Catalogue(t)
	cfgs := testConfigs(t)
	for name, format := range map[string]platformsim.Format{"jiangsu": platformsim.Jiangsu, "lianyungang": platformsim.Lianyungang} {
		t.Run(name, func(t *testing.T) {
			cfg := cfgs[name]
			cfg.setDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			m := newMapper(cfg.Inbound, cat)
			if err := m.check(); err != nil {
				t.Fatalf("check against the catalogue: %v", err)
			}
			for _, example := range []string{"open-drink-shop-individual"} {
				want, _ := hubtest.Example(t, example)
				body, err := format.Encode(want)
				if err != nil {
					t.Fatal(err)
				}
				if name == "lianyungang" && !bytes.Contains(body, []byte(`"JYMJ":"120.5"`)) {
					t.Fatalf("the municipal format should write numbers as text: %s", body)
				}
				got, problems := m.Map(body)
				if len(problems) != 0 {
					t.Fatalf("problems: %+v", problems)
				}
				if g, w := normalized(t, got), normalized(t, want); !reflect.DeepEqual(g, w) {
					t.Errorf("%s mapped to\n%v\nwant\n%v", example, g, w)
				}
			}
		})
	}
}

func TestMappingProblemsNameThePlatformsFieldsAndNoValues(t *testing.T) {
	cat := hubtest.Catalogue(t)
	cfg := testConfigs(t)["jiangsu"]
	m := newMapper(cfg.Inbound, cat)
	body := []byte(`{"sxxx": {"yjsbm": "JSYJS9999", "sxlb": [{"sxbm": "320707-SPJYXK-01"}, {"sxbm": "NO-SUCH-MATTER"}]},
		"sqr": {"xm": "张明", "zjhm": "11010519491231002X"},
		"clxx": [{"clbm": "id-card", "wjdx": "many"}, "not an object"]}`)
	_, problems := m.Map(body)
	want := []Problem{
		{Path: "sxxx.yjsbm", HubPath: "/bundle", Rule: RuleValueMap},
		{Path: "sqrlx", HubPath: "/applicant_type", Rule: problem.RuleRequired},
		{Path: "sxxx.sxlb.1.sxbm", HubPath: "/matters/1", Rule: RuleValueMap},
		{Path: "clxx.0.wjdx", HubPath: "/materials/0/size", Rule: problem.RuleType},
	}
	if len(problems) != len(want) {
		t.Fatalf("problems %+v, want %+v", problems, want)
	}
	for i, w := range want {
		p := problems[i]
		if p.Path != w.Path || p.HubPath != w.HubPath || p.Rule != w.Rule || p.Message == "" {
			t.Errorf("problem %d = %+v, want %+v", i, p, w)
		}
		for _, value := range []string{"JSYJS9999", "NO-SUCH-MATTER", "many", "张明", "11010519491231002X"} {
			if strings.Contains(p.Message, value) {
				t.Errorf("problem %d repeats a value: %q", i, p.Message)
			}
		}
	}
	for hub, want := range map[string]string{
		"/form/applicant.id_number": "sqr.zjhm",
		"/form/food.online_sales":   "spjy.wljy",
		"/materials/3/sha256":       "clxx.3.wjzy",
		"/materials":                "clxx",
		"/matters/0":                "sxxx.sxlb.0.sxbm",
		"/bundle":                   "sxxx.yjsbm",
		"/form/enterprise.uscc":     "",
	} {
		if got := m.platformPath(hub); got != want {
			t.Errorf("platformPath(%s) = %q, want %q", hub, got, want)
		}
	}
}

func TestNotJSONIsOneProblem(t *testing.T) {
	m := newMapper(testConfigs(t)["jiangsu"].Inbound, hubtest.Catalogue(t))
	for _, body := range []string{`not json`, `[1, 2]`, `"text"`} {
		if _, ps := m.Map([]byte(body)); len(ps) != 1 || ps[0].Rule != problem.RuleJSON {
			t.Errorf("Map(%s) = %+v, want one %s problem", body, ps, problem.RuleJSON)
		}
	}
}

func TestOutboundRenamesMapsValuesAndMinimises(t *testing.T) {
	doc := map[string]any{
		"app_id": "A1", "status": "办结", "outcome": "approved", "case_id": "cs_1",
		"result": map[string]any{"matter_name": "食品经营许可", "decision_number": "D1",
			"licences": []map[string]any{{"number": "JY1", "holder_id": "11010519491231002X", "file_uri": "u"}}},
	}
	o := Outbound{
		Fields: map[string]string{"app_id": "YWLSH", "status": "BJZT", "result": "JG", "result.licences": "ZZ",
			"result.licences.number": "ZZBH", "result.licences.file_uri": "ZZDZ"},
		Values:     map[string]map[string]any{"status": {"办结": "09"}},
		Const:      map[string]any{"XZQH": "320707"},
		OnlyMapped: true,
	}
	got := o.apply(doc)
	want := map[string]any{"YWLSH": "A1", "BJZT": "09", "XZQH": "320707",
		"JG": map[string]any{"ZZ": []any{map[string]any{"ZZBH": "JY1", "ZZDZ": "u"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apply = %v\nwant    %v", got, want)
	}
	o.OnlyMapped = false
	all := o.apply(doc)
	if all["case_id"] != "cs_1" || all["outcome"] != "approved" {
		t.Errorf("without only_mapped the unnamed fields keep their names: %v", all)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"the test configurations are valid", func(*Config) {}, nil},
		{"URLs are required and must be http", func(c *Config) { c.PullURL, c.PushURL = "", "ftp://user:pw-S3cret@x/y" },
			[]string{"pull_url: required", `push_url: "ftp://x/y": scheme "ftp" is not http or https`}},
		{"a rule maps to a known hub field, once, from a path or a constant", func(c *Config) {
			c.Inbound = append(c.Inbound, Rule{From: "a", To: "form.applicant.name"}, Rule{To: "formx"}, Rule{From: "a..b", Const: "x", To: "matters", Fields: map[string]string{"x": "y"}})
		}, []string{"form.applicant.name is mapped already", `"formx" is not bundle`, "give either from or const", "fields: only for materials"}},
		{"bundle and applicant type must be mapped", func(c *Config) { c.Inbound = c.Inbound[3:] },
			[]string{"no rule maps to bundle", "no rule maps to applicant_type"}},
		{"materials need their type", func(c *Config) {
			c.Inbound[len(c.Inbound)-1].Fields = map[string]string{"uri": "u", "colour": "c"}
		}, []string{"fields.type: required", "fields.colour: not a material field"}},
		{"limits and names", func(c *Config) {
			c.Name, c.Limit, c.Level, c.TimeLayout, c.Concurrency = "Jiang Su", 5000, "national", "today", 65
		}, []string{"name:", "limit: 5000", "level:", "time_layout:", "concurrency: 65 is not from 1 to 64"}},
		{"one case event at a time", func(c *Config) { c.Concurrency = 1 }, nil},
		{"reserved and malformed headers", func(c *Config) {
			c.Headers = map[string]string{"Idempotency-Key": "x", "Bad Name": "y", "X-Ok": "a\nb"}
		},
			[]string{`headers["Idempotency-Key"]: set by the connector`, `headers["Bad Name"]`, `headers["X-Ok"]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfigs(t)["jiangsu"]
			tc.edit(&c)
			c.setDefaults()
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "pw-S3cret") || strings.Contains(err.Error(), "REPLACED") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestMappingIsCheckedAgainstTheCatalogue(t *testing.T) {
	rules := slices.Clone(testConfigs(t)["jiangsu"].Inbound)
	rules = append(rules, Rule{From: "x", To: "form.no.such.field"})
	rules[0].Values = map[string]any{"JSYJS0030": "open-casino"}
	err := newMapper(rules, hubtest.Catalogue(t)).check()
	if err == nil || !strings.Contains(err.Error(), "no.such.field is not a canonical field") || !strings.Contains(err.Error(), "open-casino") {
		t.Errorf("check = %v, want the unknown field and bundle", err)
	}
}
