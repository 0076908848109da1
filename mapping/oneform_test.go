package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"yjshub/catalogue"
	"yjshub/problem"
)

var openBarWithoutAds = []string{"food-business-licence", "prepackaged-food-sales-filing", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}

func TestBuildOneFormOpenBar(t *testing.T) {
	cat := seedCatalogue(t)
	bar := mustBundle(t, "open-bar")
	ent, err := BuildOneForm(cat, bar, catalogue.Enterprise, nil)
	if err != nil {
		t.Fatal(err)
	}
	ind, err := BuildOneForm(cat, bar, catalogue.Individual, openBarWithoutAds)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("an empty selection takes every matter of the bundle, optional ones too", func(t *testing.T) {
		var codes []string
		for _, m := range ent.Matters {
			codes = append(codes, m.Code)
		}
		want := []string{"food-business-licence", "prepackaged-food-sales-filing", "outdoor-advertising-approval", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}
		if !reflect.DeepEqual(codes, want) {
			t.Errorf("matters = %v; want %v", codes, want)
		}
		if !ent.Matters[2].Optional || ent.Matters[0].Optional {
			t.Errorf("optional flags are wrong: %+v", ent.Matters)
		}
		if ent.Matters[1].Name != "仅销售包装食品经营者备案" {
			t.Errorf("the matter's name is %q; want the name the bundle lists it under", ent.Matters[1].Name)
		}
	})

	t.Run("the food licence goes to admin-approval for an enterprise and to market-regulation for an individual", func(t *testing.T) {
		dept := func(f *OneForm, code string) string {
			for _, m := range f.Matters {
				if m.Code == code {
					return m.Department
				}
			}
			return ""
		}
		if d := dept(ent, "food-business-licence"); d != "admin-approval" {
			t.Errorf("enterprise: department %q", d)
		}
		if d := dept(ind, "food-business-licence"); d != "market-regulation" {
			t.Errorf("individual: department %q", d)
		}
		if d := dept(ind, "tobacco-retail-licence"); d != "tobacco" {
			t.Errorf("individual tobacco: department %q", d)
		}
	})

	t.Run("the unselected optional matter's fields and materials are absent", func(t *testing.T) {
		props := ind.Schema["properties"].(map[string]any)
		for code := range props {
			if strings.HasPrefix(code, "ad.") {
				t.Errorf("individual form has %s, read only by the unselected outdoor advertising matter", code)
			}
		}
		for _, m := range ind.Materials {
			if strings.HasPrefix(m.Code, "ad-") || slices.Contains(m.Matters, "outdoor-advertising-approval") {
				t.Errorf("individual form lists material %s of the unselected matter", m.Code)
			}
		}
		entProps := ent.Schema["properties"].(map[string]any)
		for _, code := range []string{"ad.location", "ad.area_m2"} {
			if _, ok := entProps[code]; !ok {
				t.Errorf("enterprise form lacks %s", code)
			}
		}
		if !slices.ContainsFunc(ent.Materials, func(m MaterialItem) bool { return m.Code == "ad-design-drawing" }) {
			t.Error("enterprise form lacks the outdoor advertising materials")
		}
	})

	t.Run("each applicant type is asked for its own identity", func(t *testing.T) {
		has := func(f *OneForm, code string) bool {
			_, ok := f.Schema["properties"].(map[string]any)[code]
			return ok
		}
		for _, code := range []string{"enterprise.uscc", "enterprise.legal_rep.name", "enterprise.legal_rep.id_number"} {
			if !has(ent, code) || has(ind, code) {
				t.Errorf("%s: enterprise form has it %v, individual form has it %v", code, has(ent, code), has(ind, code))
			}
		}
		for _, code := range []string{"applicant.id_number", "applicant.name"} {
			if has(ent, code) || !has(ind, code) {
				t.Errorf("%s: enterprise form has it %v, individual form has it %v", code, has(ent, code), has(ind, code))
			}
		}
	})

	t.Run("a material only for the other applicant type is skipped", func(t *testing.T) {
		codes := func(f *OneForm) []string {
			var out []string
			for _, m := range f.Materials {
				out = append(out, m.Code)
			}
			return out
		}
		// Every open-bar matter asks individuals for id-card and enterprises for
		// legal-rep-id-card (outdoor advertising asks enterprises for neither).
		if c := codes(ent); slices.Contains(c, "id-card") || !slices.Contains(c, "legal-rep-id-card") {
			t.Errorf("enterprise materials = %v", c)
		}
		if c := codes(ind); slices.Contains(c, "legal-rep-id-card") || !slices.Contains(c, "id-card") {
			t.Errorf("individual materials = %v", c)
		}
	})

	t.Run("a material is required when any selected matter requires it", func(t *testing.T) {
		for _, m := range ent.Materials {
			switch m.Code {
			case "power-of-attorney", "ad-structure-safety", "fire-safety-commitment":
				if m.Required {
					t.Errorf("%s is only ever optional but marked required", m.Code)
				}
			case "application-form", "business-licence":
				if !m.Required || len(m.Matters) != 5 {
					t.Errorf("%s: required %v, matters %v", m.Code, m.Required, m.Matters)
				}
			}
		}
	})

	t.Run("the schema is a draft 2020-12 object schema titled after the bundle", func(t *testing.T) {
		s := ent.Schema
		if s["$schema"] != SchemaDraft || s["type"] != "object" || s["additionalProperties"] != false || s["title"] != "开酒吧 一表申请" {
			t.Errorf("schema header = %v %v %v %v", s["$schema"], s["type"], s["additionalProperties"], s["title"])
		}
		req := s["required"].([]string)
		if !slices.IsSorted(req) || !slices.Contains(req, "enterprise.uscc") || slices.Contains(req, "ad.quantity") {
			t.Errorf("required = %v", req)
		}
		uscc := s["properties"].(map[string]any)["enterprise.uscc"].(map[string]any)
		if uscc["format"] != "gb32100" || uscc["type"] != "string" || uscc["title"] != "统一社会信用代码" {
			t.Errorf("enterprise.uscc property = %v", uscc)
		}
		if got := uscc["x-matters"].([]string); len(got) != 5 {
			t.Errorf("enterprise.uscc x-matters = %v; every selected matter reads it", got)
		}
		legal := s["properties"].(map[string]any)["enterprise.legal_rep.id_number"].(map[string]any)
		if legal["x-personal"] != true || legal["format"] != "gb11643" {
			t.Errorf("enterprise.legal_rep.id_number property = %v", legal)
		}
		area := s["properties"].(map[string]any)["ad.area_m2"].(map[string]any)
		if area["type"] != "number" || area["minimum"] != 0.01 || area["x-personal"] != nil {
			t.Errorf("ad.area_m2 property = %v", area)
		}
		start := s["properties"].(map[string]any)["ad.period_start"].(map[string]any)
		if start["type"] != "string" || start["format"] != "date" {
			t.Errorf("ad.period_start property = %v", start)
		}
		venue := s["properties"].(map[string]any)["fire.venue_type"].(map[string]any)
		if venue["type"] != "string" || len(venue["enum"].([]string)) == 0 {
			t.Errorf("fire.venue_type property = %v", venue)
		}
	})

	t.Run("fields come in sections, in form order, and agree with the schema", func(t *testing.T) {
		props := ent.Schema["properties"].(map[string]any)
		if len(ent.Fields) != len(props) {
			t.Fatalf("%d fields, %d properties", len(ent.Fields), len(props))
		}
		req := ent.Schema["required"].([]string)
		order := ent.Schema["x-order"].([]string)
		for i, f := range ent.Fields {
			if f.Order != i+1 || order[i] != f.Code {
				t.Errorf("field %s: order %d, x-order has %s at %d", f.Code, f.Order, order[i], i+1)
			}
			if _, ok := props[f.Code]; !ok {
				t.Errorf("field %s has no property", f.Code)
			}
			if f.Required != slices.Contains(req, f.Code) {
				t.Errorf("field %s: required %v disagrees with the schema", f.Code, f.Required)
			}
		}
		var sections []string
		n := 0
		for _, s := range ent.Sections {
			sections = append(sections, s.Code)
			for _, code := range s.Fields {
				if ent.Fields[n].Code != code || ent.Fields[n].Section != s.Code {
					t.Errorf("field %d is %s in %s; the section lists %s", n, ent.Fields[n].Code, ent.Fields[n].Section, code)
				}
				n++
			}
		}
		want := []string{"applicant", "enterprise", "business", "matter:food-business-licence", "matter:outdoor-advertising-approval",
			"matter:tobacco-retail-licence", "matter:public-venue-fire-safety-inspection"}
		if !reflect.DeepEqual(sections, want) {
			t.Errorf("sections = %v, want %v", sections, want)
		}
		pos := map[string]int{}
		for _, f := range ent.Fields {
			pos[f.Code] = f.Order
		}
		for _, before := range [][2]string{
			{"enterprise.name", "food.business_category"}, // the applicant's identity before any matter's questions
			{"business.address", "ad.location"},
			{"ad.period_start", "ad.period_end"}, // 起始日期 before 截止日期, as the department's form lists them
			{"food.business_category", "ad.location"},
			{"ad.location", "fire.venue_type"}, // the bundle's order of matters
		} {
			if pos[before[0]] >= pos[before[1]] {
				t.Errorf("%s (%d) is not before %s (%d)", before[0], pos[before[0]], before[1], pos[before[1]])
			}
		}
	})

	t.Run("an optional matter offered without a selection is conditional", func(t *testing.T) {
		if !ent.Matters[2].Conditional || ent.Matters[3].Conditional {
			t.Fatalf("conditional flags: %+v", ent.Matters)
		}
		for _, f := range ent.Fields {
			if f.Code == "ad.location" && (f.Required || !slices.Contains(f.RequiredIfChosen, "outdoor-advertising-approval")) {
				t.Errorf("ad.location: required %v, required if chosen %v", f.Required, f.RequiredIfChosen)
			}
		}
		var drawing MaterialItem
		for _, m := range ent.Materials {
			if m.Code == "ad-design-drawing" {
				drawing = m
			}
		}
		if drawing.Required || len(drawing.Conditions) != 1 || !drawing.Conditions[0].IfChosen {
			t.Errorf("ad-design-drawing = %+v; want required only when the matter is chosen", drawing)
		}
		chosen, err := BuildOneForm(cat, bar, catalogue.Enterprise, []string{"food-business-licence", "prepackaged-food-sales-filing", "outdoor-advertising-approval", "tobacco-retail-licence", "public-venue-fire-safety-inspection"})
		if err != nil {
			t.Fatal(err)
		}
		if chosen.Matters[2].Conditional || !slices.Contains(chosen.Schema["required"].([]string), "ad.location") {
			t.Error("a chosen optional matter must be required like any other")
		}
	})

	t.Run("the reuse figures add up and the one form asks less than the forms together", func(t *testing.T) {
		for _, f := range []*OneForm{ent, ind} {
			r := f.Reuse
			if r.FieldsAsked != len(f.Fields) || r.MaterialsAsked != len(f.Materials) {
				t.Errorf("%s: asked %d fields and %d materials; the form has %d and %d", f.ApplicantType, r.FieldsAsked, r.MaterialsAsked, len(f.Fields), len(f.Materials))
			}
			if r.FieldsAsked >= r.FieldsSummed || r.MaterialsAsked >= r.MaterialsSummed {
				t.Errorf("%s: nothing saved: %+v", f.ApplicantType, r)
			}
			if r.FieldsSaved != r.FieldsSummed-r.FieldsAsked || r.MaterialsSaved != r.MaterialsSummed-r.MaterialsAsked {
				t.Errorf("%s: saved figures do not add up: %+v", f.ApplicantType, r)
			}
			sum := 0
			for _, m := range f.Matters {
				all, _ := InputsFor(mustMatter(t, m.Code), f.ApplicantType)
				sum += len(all)
			}
			if sum != r.FieldsSummed {
				t.Errorf("%s: fields summed %d; the matters' inputs add up to %d", f.ApplicantType, r.FieldsSummed, sum)
			}
		}
	})

	t.Run("the one form encodes to JSON", func(t *testing.T) {
		b, err := json.Marshal(ent)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{`"fields_asked"`, `"x-matters"`, `"materials_saved"`, `"department"`} {
			if !strings.Contains(string(b), key) {
				t.Errorf("the JSON lacks %s", key)
			}
		}
	})
}

func TestBuildOneFormRejectsAnInvalidSelection(t *testing.T) {
	cat := seedCatalogue(t)
	tests := []struct {
		name    string
		bundle  string
		typ     string
		matters []string
		want    []problem.Problem // path and rule
	}{
		{"an unknown matter code is refused", "open-bar", "enterprise", []string{"no-such-matter"}, []problem.Problem{{Path: "matters", Rule: RuleUnknownMatter}}},
		{"a matter of another bundle is refused", "open-bar", "enterprise", []string{"food-business-licence", "fire-acceptance"}, []problem.Problem{{Path: "matters", Rule: RuleNotInBundle}}},
		{"a matter not open to the applicant type is refused", "open-optical-shop", "individual", []string{"class3-medical-device-business-licence"}, []problem.Problem{{Path: "matters", Rule: RuleNotOpen}}},
		{"an unknown applicant type is refused", "open-bar", "person", nil, []problem.Problem{{Path: "applicant_type", Rule: RuleUnknownApplicantType}}},
		{"a bundle with nothing open to the applicant type is refused", "joint-acceptance", "individual", nil, []problem.Problem{{Path: "applicant_type", Rule: RuleNoMatters}}},
		{"every problem is reported at once", "open-bar", "person", []string{"fire-acceptance", "nope"}, []problem.Problem{
			{Path: "applicant_type", Rule: RuleUnknownApplicantType}, {Path: "matters", Rule: RuleNotInBundle}, {Path: "matters", Rule: RuleUnknownMatter}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := BuildOneForm(cat, mustBundle(t, tt.bundle), tt.typ, tt.matters)
			var se *problem.Error
			if !errors.As(err, &se) {
				t.Fatalf("BuildOneForm = %v, %v; want a *problem.Error", f, err)
			}
			var got []problem.Problem
			for _, p := range se.Problems {
				if p.Message == "" {
					t.Errorf("problem %s %s has no message", p.Path, p.Rule)
				}
				got = append(got, problem.Problem{Path: p.Path, Rule: p.Rule})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems = %v; want %v", got, tt.want)
			}
			if se.Error() == "" {
				t.Error("empty error string")
			}
		})
	}
}

func TestBuildOneFormSelectionIsOrderFreeAndDeduplicated(t *testing.T) {
	cat := seedCatalogue(t)
	bar := mustBundle(t, "open-bar")
	a, err := BuildOneForm(cat, bar, "individual", openBarWithoutAds)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := []string{"tobacco-retail-licence", "food-business-licence", "public-venue-fire-safety-inspection", "food-business-licence", "prepackaged-food-sales-filing"}
	b, err := BuildOneForm(cat, bar, "individual", shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Matters, b.Matters) || !reflect.DeepEqual(a.Schema, b.Schema) || a.Reuse != b.Reuse {
		t.Error("the order or repetition of the selection changed the form")
	}
}

// TestEveryBundleSchemaAcceptsItsExamples builds the one form of every bundle for every
// applicant type something is open to, compiles its schema, and validates a form made of the
// examples of every property: each property must have an example, and the examples must be
// valid against the schema and the field dictionary.
func TestEveryBundleSchemaAcceptsItsExamples(t *testing.T) {
	cat := seedCatalogue(t)
	built := 0
	for _, b := range cat.Bundles {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			open := false
			for _, e := range b.Matters {
				if m, ok := cat.Matter(e.Matter); ok && m.Handles(typ) {
					open = true
				}
			}
			if !open {
				continue
			}
			t.Run(fmt.Sprintf("%02d-%s-%s", b.Seq, b.Code, typ), func(t *testing.T) {
				f, err := BuildOneForm(cat, b, typ, nil)
				if err != nil {
					t.Fatal(err)
				}
				built++
				if _, err := f.schema(); err != nil {
					t.Fatalf("the schema does not compile: %v", err)
				}
				form := Form{}
				for code, p := range f.Schema["properties"].(map[string]any) {
					ex, ok := p.(map[string]any)["examples"].([]any)
					if !ok || len(ex) == 0 {
						t.Errorf("%s has no example", code)
						continue
					}
					form[code] = ex[0]
				}
				if problems := f.Validate(form); len(problems) > 0 {
					t.Errorf("the examples are not a valid form: %v", problems)
				}
				for _, sm := range f.Matters {
					if _, problems := Map(mustMatter(t, sm.Code), typ, form, nil); len(problems) > 0 {
						t.Errorf("a valid form leaves %s with problems: %v", sm.Code, problems)
					}
				}
			})
		}
	}
	if built < len(cat.Bundles) {
		t.Errorf("only %d one forms built for %d bundles", built, len(cat.Bundles))
	}
}

func TestFormsCachesOneFormPerSelection(t *testing.T) {
	cat := seedCatalogue(t)
	t.Run("the same selection in any order gives the same form", func(t *testing.T) {
		fs := NewForms(cat)
		bar := mustBundle(t, "open-bar")
		a, err := fs.Get(bar, "individual", openBarWithoutAds)
		if err != nil {
			t.Fatal(err)
		}
		reversed := slices.Clone(openBarWithoutAds)
		slices.Reverse(reversed)
		b, err := fs.Get(mustBundle(t, "34"), "individual", reversed)
		if err != nil {
			t.Fatal(err)
		}
		if a != b || fs.Len() != 1 {
			t.Errorf("two forms for one selection (cached %d)", fs.Len())
		}
		c, _ := fs.Get(bar, "enterprise", openBarWithoutAds)
		if c == a || fs.Len() != 2 {
			t.Error("another applicant type shares the form")
		}
	})
	t.Run("an invalid request is an error and is not cached", func(t *testing.T) {
		fs := NewForms(cat)
		var se *problem.Error
		if _, err := fs.Get(nil, "enterprise", nil); !errors.As(err, &se) || se.Problems[0].Path != "bundle" {
			t.Errorf("no bundle: %v", err)
		}
		if _, err := fs.Get(mustBundle(t, "open-bar"), "enterprise", []string{"nope"}); !errors.As(err, &se) {
			t.Errorf("unknown matter: %v", err)
		}
		if fs.Len() != 0 {
			t.Errorf("%d errors cached", fs.Len())
		}
	})
	t.Run("the cache stays within its limit", func(t *testing.T) {
		fs := NewForms(cat)
		fs.Limit = 2
		for _, b := range []string{"open-bar", "open-barbershop", "open-beauty-salon", "open-clinic"} {
			if _, err := fs.Get(mustBundle(t, b), "enterprise", nil); err != nil {
				t.Fatal(err)
			}
		}
		if fs.Len() != 2 {
			t.Errorf("%d forms cached; the limit is 2", fs.Len())
		}
	})
	t.Run("concurrent callers share one form and one compiled schema", func(t *testing.T) {
		fs := NewForms(cat)
		const n = 16
		forms := make([]*OneForm, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := fs.Get(mustBundle(t, "open-bar"), "enterprise", nil)
				if err != nil {
					t.Error(err)
					return
				}
				f.Validate(Form{"enterprise.uscc": "x"})
				forms[i] = f
			}()
		}
		wg.Wait()
		for _, f := range forms[1:] {
			if f != forms[0] {
				t.Fatal("callers got different forms for one key")
			}
		}
	})
}

func TestFormProblemsNameTheirField(t *testing.T) {
	f, err := BuildOneForm(seedCatalogue(t), mustBundle(t, "open-bar"), catalogue.Enterprise, openBarWithoutAds)
	if err != nil {
		t.Fatal(err)
	}
	problems := f.Validate(Form{"enterprise.uscc": "91350100M000100Y44", "fire.capacity": "many"})
	byPath := map[string]problem.Problem{}
	for _, p := range problems {
		byPath[p.Path] = p
	}
	for path, field := range map[string]string{
		"/form/enterprise.uscc": "enterprise.uscc", "/form/fire.capacity": "fire.capacity", "/form/enterprise.name": "enterprise.name",
	} {
		if p, ok := byPath[path]; !ok || p.Field != field {
			t.Errorf("%s: problem %+v, want field %s", path, p, field)
		}
	}
}

func TestRequiredMaterialsFollowTheirConditions(t *testing.T) {
	f, err := BuildOneForm(seedCatalogue(t), mustBundle(t, "open-bar"), catalogue.Enterprise, openBarWithoutAds)
	if err != nil {
		t.Fatal(err)
	}
	requires := func(form Form, code string) bool {
		return slices.ContainsFunc(f.RequiredMaterials(form, nil), func(r RequiredMaterial) bool { return r.Code == code })
	}
	if !requires(Form{"fire.commitment": true}, "fire-safety-commitment") {
		t.Error("告知承诺 must bring the commitment letter")
	}
	if requires(Form{"fire.commitment": false}, "fire-safety-commitment") || requires(Form{}, "fire-safety-commitment") {
		t.Error("the letter is required without 告知承诺")
	}
	if !requires(Form{}, "business-licence") {
		t.Error("an unconditional material is not required")
	}
	mi, _ := f.Material("fire-safety-commitment")
	if mi.Required || len(mi.Conditions) != 1 || mi.Conditions[0].When != "fire.commitment == true" {
		t.Errorf("fire-safety-commitment = %+v", mi)
	}
	shop, err := BuildOneForm(seedCatalogue(t), mustBundle(t, "open-barbershop"), catalogue.Enterprise, nil)
	if err != nil {
		t.Fatal(err)
	}
	health, _ := shop.Material("staff-health-certificates")
	if health.MaxFiles < 2 || health.FormLabel == "" {
		t.Errorf("staff-health-certificates = %+v", health)
	}
}

func TestEnumFieldsCarryTheirLabels(t *testing.T) {
	cat := seedCatalogue(t)
	var bundle *catalogue.Bundle
	for _, b := range cat.Bundles {
		for _, e := range b.Matters {
			if m, _ := cat.Matter(e.Matter); slices.Contains(m.Inputs(), "training.course") && bundle == nil {
				bundle = b
			}
		}
	}
	if bundle == nil {
		t.Skip("no bundle reads training.course")
	}
	f, err := BuildOneForm(cat, bundle, catalogue.Individual, nil)
	if err != nil {
		t.Fatal(err)
	}
	prop := f.Schema["properties"].(map[string]any)["training.course"].(map[string]any)
	labels := prop["x-enum-labels"].(map[string]string)
	if labels["SYB创业培训"] != "创办你的企业（SYB）创业培训" || labels["网络创业培训"] != "网络创业培训" {
		t.Errorf("labels = %v", labels)
	}
	for _, fi := range f.Fields {
		if fi.Code == "training.course" && (len(fi.Options) != 4 || fi.Options[0].Label == fi.Options[0].Value) {
			t.Errorf("options = %+v", fi.Options)
		}
	}
}
