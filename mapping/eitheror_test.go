package mapping

import (
	"slices"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/problem"
)

// 开酒吧 takes the food licence or the filing for those who sell only pre-packaged food, never
// both and never neither (《食品安全法》第三十五条); the rest of the bundle is unchanged.
func TestAnEitherOrGroupIsAppliedForExactlyOnce(t *testing.T) {
	cat := seedCatalogue(t)
	bar := mustBundle(t, "open-bar")
	required := []string{"tobacco-retail-licence", "public-venue-fire-safety-inspection"}
	for _, applicantType := range []string{catalogue.Enterprise, catalogue.Individual} {
		cases := []struct {
			name    string
			matters []string
			want    []string // selected; nil with a problem
			problem string   // words the either_or problem says
		}{
			{"no choice made", nil, nil, "choose exactly one of 食品经营许可（新设） (food-business-licence) or 仅销售包装食品经营者备案 (prepackaged-food-sales-filing) (食品经营资格): 《食品安全法》第三十五条"},
			{"neither", required, nil, "choose exactly one of"},
			{"both", append([]string{"food-business-licence", "prepackaged-food-sales-filing"}, required...), nil,
				"not 食品经营许可（新设） (food-business-licence) and 仅销售包装食品经营者备案 (prepackaged-food-sales-filing)"},
			{"the licence", append([]string{"food-business-licence"}, required...), append([]string{"food-business-licence"}, required...), ""},
			{"the filing", append([]string{"prepackaged-food-sales-filing"}, required...), append([]string{"prepackaged-food-sales-filing"}, required...), ""},
		}
		for _, tc := range cases {
			selected, problems := CheckSelection(cat, bar, applicantType, tc.matters, BodyPaths)
			if tc.problem == "" {
				if len(problems) > 0 || !sameSet(selected, tc.want) {
					t.Errorf("%s, %s: selected %v, problems %v; want %v", applicantType, tc.name, selected, problems, tc.want)
				}
				continue
			}
			var found []problem.Problem
			for _, p := range problems {
				if p.Rule == RuleEitherOr {
					found = append(found, p)
				}
			}
			if len(found) != 1 || found[0].Path != "/matters" || !strings.Contains(found[0].Message, tc.problem) {
				t.Errorf("%s, %s: problems %v; want one either_or at /matters saying %q", applicantType, tc.name, problems, tc.problem)
			}
		}
	}
}

// The form offered without a selection says which matters are either-or, and its application
// schema holds an application to exactly one of them, as intake does.
func TestTheApplicationSchemaHoldsAnEitherOrGroupToOne(t *testing.T) {
	cat := seedCatalogue(t)
	bar := mustBundle(t, "open-bar")
	f, err := BuildOneForm(cat, bar, catalogue.Enterprise, nil)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]string{}
	for _, sm := range f.Matters {
		groups[sm.Code] = sm.OneOf
	}
	if groups["food-business-licence"] != "food-qualification" || groups["prepackaged-food-sales-filing"] != "food-qualification" || groups["tobacco-retail-licence"] != "" {
		t.Fatalf("either-or groups of the offered form: %v", groups)
	}
	props := f.ApplicationSchema["properties"].(map[string]any)
	sch, err := CompileSchema(map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "allOf": props["matters"].(map[string]any)["allOf"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		matters []any
		valid   bool
	}{
		{[]any{"food-business-licence", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}, true},
		{[]any{"prepackaged-food-sales-filing", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}, true},
		{[]any{"food-business-licence", "prepackaged-food-sales-filing", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}, false},
		{[]any{"tobacco-retail-licence", "public-venue-fire-safety-inspection"}, false},
	} {
		if err := sch.Validate(tc.matters); (err == nil) != tc.valid {
			t.Errorf("matters %v: valid %v, want %v (%v)", tc.matters, err == nil, tc.valid, err)
		}
		_, problems := CheckSelection(cat, bar, catalogue.Enterprise, toStrings(tc.matters), BodyPaths)
		if (len(problems) == 0) != tc.valid {
			t.Errorf("matters %v: intake problems %v, schema valid %v — they disagree", tc.matters, problems, tc.valid)
		}
	}
	if req, _ := f.ApplicationSchema["required"].([]any); !slices.Contains(req, any("matters")) {
		t.Errorf("an application must say its choice: required %v", req)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func toStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.(string)
	}
	return out
}

// The social security card's forms send the document the applicant holds, 居民身份证 when the
// one form does not say.
func TestTheSocialSecurityCardFormsSendTheDocumentType(t *testing.T) {
	for _, code := range []string{"social-security-card-application", "social-security-card-password", "social-security-card-loss-report"} {
		m := mustMatter(t, code)
		for _, tc := range []struct{ given, want any }{{"护照", "护照"}, {"港澳台居民居住证", "港澳台居民居住证"}, {nil, "居民身份证"}} {
			form := Form{}
			for _, c := range m.Inputs() {
				if f, ok := seedCatalogue(t).Field(c); ok {
					form[c] = f.Example
				}
			}
			delete(form, "applicant.id_type")
			if tc.given != nil {
				form["applicant.id_type"] = tc.given
			}
			got, problems := Map(m, catalogue.Individual, form, nil)
			if len(problems) > 0 || got["id_type"] != tc.want {
				t.Errorf("%s with %v: id_type %v, problems %v; want %v", code, tc.given, got["id_type"], problems, tc.want)
			}
		}
	}
}

// A material is given by the id of an uploaded material object, as a file on a platform's
// host or as an e-licence: exactly one of them.
func TestTheApplicationSchemaTakesAMaterialByTheIDOfAnUpload(t *testing.T) {
	cat := seedCatalogue(t)
	f, err := BuildOneForm(cat, mustBundle(t, "open-bar"), catalogue.Enterprise, nil)
	if err != nil {
		t.Fatal(err)
	}
	props := f.ApplicationSchema["properties"].(map[string]any)
	items := props["materials"].(map[string]any)["items"].(map[string]any)
	sch, err := CompileSchema(map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": []any{items}})
	if err != nil {
		t.Fatal(err)
	}
	const id = "mo_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b"
	file := map[string]any{"filename": "a.pdf", "sha256": strings.Repeat("ab", 32), "size": 1, "uri": "https://files.example.org/a.pdf"}
	withFile := func(extra map[string]any) map[string]any {
		m := map[string]any{"type": "business-licence"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		item  map[string]any
		valid bool
	}{
		{"an upload's id", withFile(map[string]any{"id": id}), true},
		{"a file on a platform's host", withFile(file), true},
		{"an e-licence", withFile(map[string]any{"licence": map[string]any{"type": "营业执照", "number": "1"}}), true},
		{"an id and a file at once", withFile(map[string]any{"id": id, "filename": "a.pdf", "sha256": strings.Repeat("ab", 32), "size": 1, "uri": "https://files.example.org/a.pdf"}), false},
		{"an id and an e-licence at once", withFile(map[string]any{"id": id, "licence": map[string]any{"type": "营业执照", "number": "1"}}), false},
		{"an id not of an upload", withFile(map[string]any{"id": "../etc/passwd"}), false},
	} {
		doc, err := decodeSchema(tc.item)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); (err == nil) != tc.valid {
			t.Errorf("%s: valid %v, want %v (%v)", tc.name, err == nil, tc.valid, err)
		}
	}
}
