package mapping

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"yjshub/problem"
)

// foodEnterprise is a complete enterprise form for food-business-licence.
func foodEnterprise() Form {
	return Form{
		"enterprise.name":           "连云港海韵餐饮管理有限公司",
		"enterprise.uscc":           "91350100M000100Y43",
		"enterprise.legal_rep.name": "王丽",
		"enterprise.address":        "江苏省连云港市赣榆区海头镇海脐大道66号",
		"business.address":          "江苏省连云港市赣榆区青口镇华中路108号",
		"food.business_category":    "餐饮服务经营者",
		"food.business_items":       "热食类食品制售",
		"food.safety_manager_name":  "周敏",
		"contact.mobile":            "15105181234",
	}
}

// fireEnterprise is a complete enterprise form for public-venue-fire-safety-inspection.
func fireEnterprise() Form {
	return Form{
		"enterprise.name":            "连云港海韵餐饮管理有限公司",
		"enterprise.uscc":            "91350100M000100Y43",
		"enterprise.legal_rep.name":  "王丽",
		"business.name":              "海韵小酒馆",
		"business.address":           "江苏省连云港市赣榆区青口镇华中路108号",
		"business.area_m2":           120.5,
		"fire.venue_type":            "公共娱乐场所",
		"fire.venue_floor":           "第1层",
		"fire.capacity":              80.0,
		"fire.safety_manager_name":   "赵刚",
		"fire.safety_manager_mobile": "13961312345",
		"fire.commitment":            true,
	}
}

func TestMap(t *testing.T) {
	type want struct {
		fields   map[string]any // department fields that must have these values
		absent   []string       // department fields that must be left out
		problems map[string]string
	}
	tests := []struct {
		name    string
		matter  string
		typ     string
		form    Form
		results Results
		want    want
	}{
		{
			name:   "a const field is filled in whatever the form holds",
			matter: "food-business-licence", typ: "enterprise", form: foodEnterprise(),
			want: want{fields: map[string]any{"SQLX": "新办"}},
		},
		{
			name:   "a from field copies the canonical value and an absent one is left out",
			matter: "food-business-licence", typ: "enterprise", form: foodEnterprise(),
			want: want{fields: map[string]any{"JYCS": "江苏省连云港市赣榆区青口镇华中路108号", "LXDH": "15105181234"},
				absent: []string{"CCCS", "JYMJ", "LXR"}},
		},
		{
			name:   "an expression takes the enterprise branch for an enterprise",
			matter: "food-business-licence", typ: "enterprise",
			form: func() Form { f := foodEnterprise(); f["business.name"] = "海韵小酒馆"; return f }(),
			want: want{fields: map[string]any{"JYZMC": "连云港海韵餐饮管理有限公司", "SHXYDM": "91350100M000100Y43"}},
		},
		{
			name:   "an expression reads the canonical fields as nested maps three levels deep",
			matter: "food-business-licence", typ: "enterprise", form: foodEnterprise(),
			want: want{fields: map[string]any{"FDDBR": "王丽"}},
		},
		{
			name:   "a from_result field takes the prerequisite's result",
			matter: "vehicle-repair-fee-filing", typ: "individual",
			form:    Form{"business.name": "快修汽车服务部"},
			results: Results{"vehicle-repair-business-filing": {"licence_number": "苏交运维备（赣）字2023第0086号"}},
			want: want{fields: map[string]any{"repair_filing_no": "苏交运维备（赣）字2023第0086号", "operator_name": "快修汽车服务部"},
				problems: map[string]string{"/credit_code": problem.RuleRequired, "/business_address": problem.RuleRequired, "/labour_rate": problem.RuleRequired,
					"/fee_schedule": problem.RuleRequired, "/contact_phone": problem.RuleRequired, "/operator_id_number": problem.RuleRequired}},
		},
		{
			name:   "a required from_result field without a result is left out and is no problem",
			matter: "vehicle-repair-fee-filing", typ: "enterprise",
			form: Form{"enterprise.name": "快修", "enterprise.uscc": "91350100M000100Y43", "business.address": "青口镇沙河路9号",
				"vehicle_repair.labour_rate_yuan_per_hour": 60.0, "vehicle_repair.fee_schedule": "洗车25元/次", "contact.mobile": "15105181234"},
			results: Results{"vehicle-repair-business-filing": {"issued_at": "2023-10-01"}},
			want:    want{absent: []string{"repair_filing_no"}},
		},
		{
			name:   "a required field whose canonical field is missing is a problem naming the field",
			matter: "food-business-licence", typ: "enterprise",
			form: func() Form {
				f := foodEnterprise()
				delete(f, "enterprise.uscc")
				delete(f, "contact.mobile")
				return f
			}(),
			want: want{absent: []string{"SHXYDM", "LXDH"},
				problems: map[string]string{"/SHXYDM": problem.RuleRequired, "/LXDH": problem.RuleRequired}},
		},
		{
			name:   "an optional expression that fails at run time is left out",
			matter: "outdoor-advertising-approval", typ: "enterprise",
			form: Form{"enterprise.name": "海韵", "enterprise.uscc": "91350100M000100Y43", "ad.location": "华中路108号门头",
				"ad.facility_type": "招牌", "ad.content": "海韵小酒馆", "ad.width_m": 6.0, "ad.height_m": 1.2, "ad.area_m2": "large",
				"ad.period_start": "2023-10-08", "ad.period_end": "2026-10-07", "contact.mobile": "15105181234"},
			want: want{fields: map[string]any{"MJ": "large"}, absent: []string{"SFDXSS"}},
		},
		{
			name:   "an optional expression whose input is absent is left out",
			matter: "outdoor-advertising-approval", typ: "individual",
			form: Form{"applicant.name": "张明"},
			want: want{fields: map[string]any{"SQR": "张明"}, absent: []string{"SFDXSS", "MJ"},
				problems: map[string]string{"/ZJHM": problem.RuleRequired, "/SZDD": problem.RuleRequired, "/SSLX": problem.RuleRequired, "/SZNR": problem.RuleRequired,
					"/KD": problem.RuleRequired, "/GD": problem.RuleRequired, "/MJ": problem.RuleRequired, "/QSRQ": problem.RuleRequired, "/JZRQ": problem.RuleRequired, "/LXDH": problem.RuleRequired,
					"/JYZZJHM": problem.RuleRequired}},
		},
		{
			name:   "a json.Number is compared as a number inside an expression",
			matter: "outdoor-advertising-approval", typ: "enterprise",
			form: Form{"enterprise.name": "海韵", "enterprise.uscc": "91350100M000100Y43", "ad.location": "华中路108号门头",
				"ad.facility_type": "招牌", "ad.content": "海韵小酒馆", "ad.width_m": json.Number("12"), "ad.height_m": json.Number("5"),
				"ad.area_m2": json.Number("60"), "ad.period_start": "2023-10-08", "ad.period_end": "2026-10-07", "contact.mobile": "15105181234"},
			want: want{fields: map[string]any{"SFDXSS": "是", "MJ": json.Number("60")}},
		},
		{
			name:   "a required expression that fails although its inputs are there is an expression problem",
			matter: "public-venue-fire-safety-inspection", typ: "enterprise",
			form: func() Form { f := fireEnterprise(); f["fire.commitment"] = "是"; return f }(),
			want: want{absent: []string{"handling_mode"}, problems: map[string]string{"/handling_mode": RuleExpression}},
		},
		{
			name:   "a required expression whose input is missing is a required problem",
			matter: "public-venue-fire-safety-inspection", typ: "individual",
			form: func() Form { f := fireEnterprise(); f["applicant.id_number"] = "11010519491231002X"; return f }(),
			want: want{fields: map[string]any{"handling_mode": "告知承诺", "credit_code": "11010519491231002X"},
				absent:   []string{"operator_name", "legal_person"},
				problems: map[string]string{"/operator_name": problem.RuleRequired, "/legal_person": problem.RuleRequired}},
		},
		{
			name:   "a required expression that gives nil although its group exists is a required problem",
			matter: "public-venue-fire-safety-inspection", typ: "enterprise",
			form: func() Form { f := fireEnterprise(); delete(f, "enterprise.uscc"); return f }(),
			want: want{absent: []string{"credit_code"}, problems: map[string]string{"/credit_code": problem.RuleRequired}},
		},
		{
			name:   "keys without a dot and a key that is also a group do not disturb expressions",
			matter: "food-business-licence", typ: "enterprise",
			form: func() Form {
				f := foodEnterprise()
				f["enterprise"] = "not a group"
				f["applicant_type"] = "individual"
				f["enterprise.legal_rep"] = "a leaf where a group is"
				return f
			}(),
			want: want{fields: map[string]any{"JYZMC": "连云港海韵餐饮管理有限公司", "FDDBR": "王丽"}},
		},
		{
			name:   "a null value counts as absent",
			matter: "food-business-licence", typ: "enterprise",
			form: func() Form { f := foodEnterprise(); f["business.address"] = nil; f["enterprise.name"] = nil; return f }(),
			want: want{absent: []string{"JYCS", "JYZMC"}, problems: map[string]string{"/JYCS": problem.RuleRequired, "/JYZMC": problem.RuleRequired}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMatter(t, tt.matter)
			got, problems := Map(m, tt.typ, tt.form, tt.results)
			for k, v := range tt.want.fields {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v; want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.want.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %#v; want it left out", k, v)
				}
			}
			gotProblems := map[string]string{}
			for _, p := range problems {
				gotProblems[p.Path] = p.Rule
				if p.Message == "" {
					t.Errorf("problem at %s has no message", p.Path)
				}
			}
			want := tt.want.problems
			if want == nil {
				want = map[string]string{}
			}
			if !reflect.DeepEqual(gotProblems, want) {
				t.Errorf("problems = %v; want %v", gotProblems, want)
			}
			var values []string
			for _, v := range tt.form {
				if s, ok := v.(string); ok {
					values = append(values, s)
				}
			}
			assertNoLeak(t, problems, values...)
		})
	}
}

func TestMapProblemNamesTheFieldsToFillIn(t *testing.T) {
	m := mustMatter(t, "work-injury-lump-sum-medical-subsidy")
	tests := []struct {
		name, typ, wantInput, notInput string
		form                           Form
	}{
		{"an individual is asked for their own name", "individual", "applicant.name", "insured.name", Form{}},
		{"an employer is asked for the worker's name", "enterprise", "insured.name", "applicant.name", Form{}},
		{"an individual whose form holds the applicant group is still asked for their own name", "individual", "applicant.name", "insured.name",
			Form{"applicant.mobile": "13912345678", "insured.ssn": "11010519491231002X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := Map(m, tt.typ, tt.form, nil)
			var msg string
			for _, p := range problems {
				if p.Path == "/person_name" {
					msg = p.Message
				}
			}
			if msg == "" {
				t.Fatalf("no problem for the missing person_name: %v", problems)
			}
			if !strings.Contains(msg, tt.wantInput) || strings.Contains(msg, tt.notInput) {
				t.Errorf("message %q should name %s and not %s", msg, tt.wantInput, tt.notInput)
			}
		})
	}
}

func TestMapDoesNotModifyItsInputs(t *testing.T) {
	m := mustMatter(t, "food-business-licence")
	form := foodEnterprise()
	form["business.area_m2"] = json.Number("120.5")
	before := make(Form, len(form))
	for k, v := range form {
		before[k] = v
	}
	Map(m, "enterprise", form, nil)
	if !reflect.DeepEqual(form, before) {
		t.Errorf("Map changed the form: %v", form)
	}
}

func TestExprEnvBuildsNestedMaps(t *testing.T) {
	fields := func(codes ...string) []envField {
		var out []envField
		for _, c := range codes {
			out = append(out, envField{code: c, path: strings.Split(c, ".")})
		}
		return out
	}
	tests := []struct {
		name   string
		form   Form
		fields []envField
		want   map[string]any
	}{
		{
			name:   "dotted codes become nested maps and json.Number becomes float64",
			form:   Form{"enterprise.legal_rep.name": "王丽", "enterprise.name": "海韵", "ad.area_m2": json.Number("7.5")},
			fields: fields("ad.area_m2", "enterprise.legal_rep.name", "enterprise.name"),
			want: map[string]any{"applicant_type": "enterprise",
				"enterprise": map[string]any{"name": "海韵", "legal_rep": map[string]any{"name": "王丽"}},
				"ad":         map[string]any{"area_m2": 7.5}},
		},
		{
			name:   "only the fields the expressions read are looked up",
			form:   Form{"enterprise.name": "海韵", "business.name": "海韵小酒馆", "plain": "x"},
			fields: fields("enterprise.name"),
			want:   map[string]any{"applicant_type": "enterprise", "enterprise": map[string]any{"name": "海韵"}},
		},
		{
			name:   "absent and null fields are left out and a form applicant_type is ignored",
			form:   Form{"x.y": nil, "applicant_type": "individual"},
			fields: fields("x.y", "z.w", "applicant_type"),
			want:   map[string]any{"applicant_type": "enterprise"},
		},
		{
			name:   "a group wins over a leaf of the same name in either order",
			form:   Form{"a.b": "leaf", "a.b.c": "deeper"},
			fields: fields("a.b", "a.b.c"),
			want:   map[string]any{"applicant_type": "enterprise", "a": map[string]any{"b": map[string]any{"c": "deeper"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exprEnv(tt.form, tt.fields, "enterprise"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("exprEnv = %#v; want %#v", got, tt.want)
			}
			reversed := slices.Clone(tt.fields)
			slices.Reverse(reversed)
			if got := exprEnv(tt.form, reversed, "enterprise"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("in reverse order, exprEnv = %#v; want %#v", got, tt.want)
			}
		})
	}
}

func FuzzMap(f *testing.F) {
	f.Add([]byte(`{"enterprise.name":"海韵","ad.area_m2":60,"fire.commitment":"x","applicant_type":"individual"}`), true)
	f.Add([]byte(`{"enterprise":{"name":1},"a.b":"c","a.b.c":null,"project.code":[1,2]}`), false)
	cat := seedCatalogue(f)
	bundle := mustBundle(f, "open-bar")
	f.Fuzz(func(t *testing.T, data []byte, enterprise bool) {
		var form Form
		if json.Unmarshal(data, &form) != nil {
			return
		}
		typ := "individual"
		if enterprise {
			typ = "enterprise"
		}
		for _, e := range bundle.Matters {
			m, _ := cat.Matter(e.Matter)
			out, problems := Map(m, typ, form, Results{"x": {"licence_number": 1}})
			for _, p := range problems {
				if !strings.HasPrefix(p.Path, "/") || (p.Rule != problem.RuleRequired && p.Rule != RuleExpression) {
					t.Errorf("malformed problem %+v", p)
				}
				if _, ok := out[strings.TrimPrefix(p.Path, "/")]; ok {
					t.Errorf("%s is both filled in and a problem", p.Path)
				}
			}
		}
	})
}
