package mapping

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"yjshub/problem"
)

func openBarForm(t testing.TB, typ string, matters []string) *OneForm {
	t.Helper()
	f, err := BuildOneForm(seedCatalogue(t), mustBundle(t, "open-bar"), typ, matters)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	f := openBarForm(t, "enterprise", nil)
	form := exampleForm(f)
	const (
		badID    = "11010519491231002Y" // wrong check character
		badUSCC  = "91350100M000100Y44" // wrong check character
		badPhone = "12345"
	)
	form["enterprise.legal_rep.id_number"] = badID
	form["enterprise.uscc"] = badUSCC
	form["contact.mobile"] = badPhone
	form["favourite.colour"] = "blue"
	delete(form, "business.address")
	form["business.area_m2"] = "120 square metres"
	form["fire.venue_type"] = "karaoke"

	problems := f.Validate(form)
	got := rulesAt(problems)
	want := map[string][]string{
		"/form/enterprise.legal_rep.id_number": {"gb11643"},
		"/form/enterprise.uscc":                {"gb32100"},
		"/form/contact.mobile":                 {"mobile"},
		"/form/favourite.colour":               {problem.RuleUnknownField},
		"/form/business.address":               {problem.RuleRequired},
		"/form/business.area_m2":               {problem.RuleType},
		"/form/fire.venue_type":                {"enum"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems by path = %v\nwant %v\n%v", got, want, problems)
	}
	assertNoLeak(t, problems, badID, badUSCC, badPhone, "blue", "120 square metres", "karaoke")
	if !sort.SliceIsSorted(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path }) {
		t.Error("problems are not sorted by path")
	}
	for _, p := range problems {
		if p.Message == "" {
			t.Errorf("%s %s has no message", p.Path, p.Rule)
		}
	}
}

func TestValidateRules(t *testing.T) {
	ind := openBarForm(t, "individual", openBarWithoutAds)
	ent := openBarForm(t, "enterprise", nil)
	tests := []struct {
		name   string
		form   *OneForm
		change func(Form)
		want   map[string][]string
		secret string
	}{
		{
			name: "a valid form has no problems", form: ind, change: func(Form) {}, want: map[string][]string{},
		},
		{
			name: "an invalid resident ID is a gb11643 problem at the applicant's ID",
			form: ind, change: func(f Form) { f["applicant.id_number"] = "110105194912310021" },
			want: map[string][]string{"/form/applicant.id_number": {"gb11643"}}, secret: "110105194912310021",
		},
		{
			name: "a resident ID with a lower-case x is refused",
			form: ind, change: func(f Form) { f["applicant.id_number"] = "11010519491231002x" },
			want: map[string][]string{"/form/applicant.id_number": {"gb11643"}}, secret: "11010519491231002x",
		},
		{
			name: "a field of the unselected optional matter is unknown",
			form: ind, change: func(f Form) { f["ad.location"] = "华中路108号门头" },
			want: map[string][]string{"/form/ad.location": {problem.RuleUnknownField}}, secret: "华中路108号门头",
		},
		{
			name: "an enterprise field on an individual's form is unknown",
			form: ind, change: func(f Form) { f["enterprise.uscc"] = "91350100M000100Y43" },
			want: map[string][]string{"/form/enterprise.uscc": {problem.RuleUnknownField}}, secret: "91350100M000100Y43",
		},
		{
			name: "a missing required field is reported once",
			form: ind, change: func(f Form) { delete(f, "applicant.id_number") },
			want: map[string][]string{"/form/applicant.id_number": {problem.RuleRequired}},
		},
		{
			name: "a null counts as the wrong type",
			form: ind, change: func(f Form) { f["applicant.name"] = nil },
			want: map[string][]string{"/form/applicant.name": {problem.RuleType}},
		},
		{
			name: "a number where a string belongs is a type problem, not also a format problem",
			form: ind, change: func(f Form) { f["applicant.id_number"] = 110105194912310020.0 },
			want: map[string][]string{"/form/applicant.id_number": {problem.RuleType}},
		},
		{
			name: "a fraction where a whole number belongs is a type problem",
			form: ent, change: func(f Form) { f["fire.capacity"] = 80.5 },
			want: map[string][]string{"/form/fire.capacity": {problem.RuleType}},
		},
		{
			name: "a json.Number is a number",
			form: ent, change: func(f Form) { f["fire.capacity"] = json.Number("80"); f["ad.area_m2"] = json.Number("7.2") },
			want: map[string][]string{},
		},
		{
			name: "a number below the minimum breaks the minimum rule",
			form: ent, change: func(f Form) { f["ad.width_m"] = 0.0 },
			want: map[string][]string{"/form/ad.width_m": {"minimum"}},
		},
		{
			name: "a string too short counts characters, not bytes",
			form: ind, change: func(f Form) { f["applicant.name"] = "张" },
			want: map[string][]string{"/form/applicant.name": {"min_length"}}, secret: "张",
		},
		{
			name: "an impossible date breaks the date rule",
			form: ent, change: func(f Form) { f["ad.period_start"] = "2023-02-30" },
			want: map[string][]string{"/form/ad.period_start": {"date"}}, secret: "2023-02-30",
		},
		{
			name: "a string where a boolean belongs is a type problem",
			form: ind, change: func(f Form) { f["food.online_sales"] = "否" },
			want: map[string][]string{"/form/food.online_sales": {problem.RuleType}},
		},
		{
			name: "an unknown province in a division code breaks gb2260",
			form: ind, change: func(f Form) { f["business.division_code"] = "990707" },
			want: map[string][]string{"/form/business.division_code": {"gb2260"}}, secret: "990707",
		},
		{
			name: "an unknown field's path is escaped as a JSON Pointer",
			form: ind, change: func(f Form) { f["a/b~c"] = "x" },
			want: map[string][]string{"/form/a~1b~0c": {problem.RuleUnknownField}},
		},
		{
			name: "an empty form misses every required field",
			form: ind, change: func(f Form) {
				for k := range f {
					delete(f, k)
				}
			},
			want: func() map[string][]string {
				out := map[string][]string{}
				for _, code := range ind.Schema["required"].([]string) {
					out[formPointer(code)] = []string{problem.RuleRequired}
				}
				return out
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := exampleForm(tt.form)
			tt.change(form)
			problems := tt.form.Validate(form)
			if got := rulesAt(problems); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems = %v; want %v\n%v", got, tt.want, problems)
			}
			assertNoLeak(t, problems, tt.secret)
		})
	}
}

func TestValidateMessagesSayWhoNeedsAMissingField(t *testing.T) {
	f := openBarForm(t, "enterprise", nil)
	form := exampleForm(f)
	delete(form, "enterprise.uscc")
	problems := f.Validate(form)
	if len(problems) != 1 {
		t.Fatalf("problems = %v", problems)
	}
	for _, want := range []string{"统一社会信用代码", "food-business-licence", "tobacco-retail-licence"} {
		if !strings.Contains(problems[0].Message, want) {
			t.Errorf("message %q does not mention %s", problems[0].Message, want)
		}
	}
}

func TestValidateANilForm(t *testing.T) {
	f := openBarForm(t, "individual", openBarWithoutAds)
	if got, want := len(f.Validate(nil)), len(f.Schema["required"].([]string)); got != want {
		t.Errorf("%d problems for a nil form; want one per required field (%d)", got, want)
	}
}

func TestPointerEscaping(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"a dotted code is used as it is", "applicant.id_number", "/form/applicant.id_number"},
		{"a slash becomes ~1", "a/b", "/form/a~1b"},
		{"a tilde becomes ~0 before slashes are escaped", "~/", "/form/~0~1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formPointer(tt.code); got != tt.want {
				t.Errorf("formPointer(%q) = %q; want %q", tt.code, got, tt.want)
			}
		})
	}
}

// FuzzValidate feeds arbitrary JSON objects to the open-bar one form: Validate must never
// panic, every problem must point into the form with a rule and a message, and the compiled
// checks must find what the schema validator and the dictionary find (validateBySchema), and
// the compiled schema alone what the validator alone finds.
func FuzzValidate(f *testing.F) {
	form := openBarForm(f, "enterprise", nil)
	valid, _ := json.Marshal(exampleForm(form))
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"enterprise.uscc": 91350100, "fire.capacity": -1e309, "ad.period_start": "2023-13-01", "x/y~z": null}`))
	f.Add([]byte(`{"enterprise.name": {"nested": [1, "a", true]}, "applicant.id_number": "11010519491231002X", "": ""}`))
	f.Add([]byte(`{"contact.mobile": "\u0000\ud800", "enterprise.legal_rep.id_number": "999999999999999999"}`))
	f.Add([]byte(`{"ad.area_m2": 0.0099999999999999999999, "ad.width_m": 0.01, "fire.capacity": 80.0000000000000000001, "ad.quantity": 1e0}`))
	f.Add([]byte(`{"business.area_m2": 1e400, "fire.capacity": 1e-400, "fire.floors_above": 1E+2, "ad.height_m": -0}`))
	f.Add([]byte(`{"fire.venue_type": "公共娱乐场所 ", "business.division_code": "32070", "ad.period_end": "2024-02-29"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader(data))
			if useNumber {
				dec.UseNumber()
			}
			var in Form
			if dec.Decode(&in) != nil {
				return
			}
			for _, p := range assertAgree(t, form, in, "fuzz") {
				if !strings.HasPrefix(p.Path, "/form/") || p.Rule == "" || p.Message == "" {
					t.Errorf("malformed problem %+v", p)
				}
			}
		}
	})
}
