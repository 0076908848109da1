package mapping

import (
	"slices"
	"testing"
)

// coveredField returns a form's coverage of a department field.
func coveredField(t *testing.T, fc FormCoverage, field string) FieldCoverage {
	t.Helper()
	for _, f := range fc.Fields {
		if f.Field == field {
			return f
		}
	}
	t.Fatalf("%s: no field %s", fc.Matter.Code, field)
	return FieldCoverage{}
}

// formOf returns a bundle's coverage of a matter's form.
func formOf(t *testing.T, bc *BundleCoverage, matter string) FormCoverage {
	t.Helper()
	for _, f := range bc.Forms {
		if f.Matter.Code == matter {
			return f
		}
	}
	t.Fatalf("no form of %s", matter)
	return FormCoverage{}
}

func coverageOf(t *testing.T, bundle, applicantType string) *BundleCoverage {
	t.Helper()
	cat := seedCatalogue(t)
	of, err := BuildOneForm(cat, mustBundle(t, bundle), applicantType, nil)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := CoverageOf(cat, of)
	if err != nil {
		t.Fatal(err)
	}
	return bc
}

// 开酒吧's tobacco form, read off seeds/matters/tobacco.yaml: fourteen fields, eleven required;
// 企业名称 is the enterprise's name for an enterprise and, for an individual, the registered name
// of an individual business or the shop's name of a natural person (an expression folded for the
// type, then chosen by applicant.subject), 主体类型 a word by type, the rest canonical fields as
// they are. Thirteen of fourteen come from the one form: 92.9 %.
func TestTheBarsTobaccoFormIsFilledFromTheOneFormButItsEntityType(t *testing.T) {
	for _, tc := range []struct {
		applicantType string
		names         []string
		entity        any
	}{
		{"enterprise", []string{"enterprise.name"}, "企业"},
		{"individual", []string{"applicant.subject", "business.name", "individual_business.name"}, "个体工商户"},
	} {
		t.Run(tc.applicantType, func(t *testing.T) {
			bc := coverageOf(t, "open-bar", tc.applicantType)
			if bc.ApplicantType != tc.applicantType || len(bc.Forms) != 5 {
				t.Fatalf("coverage of 开酒吧 for %s: %d forms", bc.ApplicantType, len(bc.Forms))
			}
			tobacco := formOf(t, bc, "tobacco-retail-licence")
			if tobacco.Department.Code != "tobacco" || tobacco.Department.Name == "tobacco" || tobacco.Matter.Name != "烟草专卖零售许可证核发" || tobacco.Optional {
				t.Errorf("the tobacco form: matter %+v, department %+v, optional %v", tobacco.Matter, tobacco.Department, tobacco.Optional)
			}
			if f := coveredField(t, tobacco, "QYMC"); f.Source != SourceOneForm || !slices.Equal(f.OneFormFields, tc.names) || f.Expression == "" || !f.Required {
				t.Errorf("QYMC: %+v; want %v, through its expression", f, tc.names)
			}
			if f := coveredField(t, tobacco, "ZTLX"); f.Source != SourceConstant || f.Value != tc.entity || len(f.OneFormFields) != 0 {
				t.Errorf("ZTLX: %+v; want the constant %v", f, tc.entity)
			}
			if f := coveredField(t, tobacco, "JYCS"); f.Source != SourceOneForm || len(f.OneFormFields) != 1 || f.OneFormFields[0] != "business.address" || f.Expression != "" {
				t.Errorf("JYCS: %+v; want business.address", f)
			}
			if f := coveredField(t, tobacco, "SPJYXKZH"); f.Source != SourceOneForm || f.OneFormFields[0] != "food.licence_number" || f.Required {
				t.Errorf("SPJYXKZH: %+v; want food.licence_number, not required", f)
			}
			want := CoverageTotals{Fields: 14, OneForm: 13, Constant: 1, OneFormPercent: 92.9, FilledPercent: 100, RequiredFields: 11}
			if tobacco.Totals != want {
				t.Errorf("tobacco totals %+v; want %+v", tobacco.Totals, want)
			}
			var sum CoverageTotals
			for _, f := range bc.Forms {
				sum.add(f.Totals)
			}
			sum.percentages()
			if bc.Totals != sum || bc.Totals.Fields <= 14 {
				t.Errorf("bundle totals %+v; the forms add up to %+v", bc.Totals, sum)
			}
		})
	}
}

// A prerequisite's result is derived: from the prerequisite in the bundle, or from the holder's
// e-licence when the prerequisite issues one; a decision outside the bundle fills nothing.
func TestAPrerequisitesResultIsDerivedWhereTheCaseFlowCanFindIt(t *testing.T) {
	cat := seedCatalogue(t)
	bc := coverageOf(t, "marine-fishery-chain", "enterprise")
	registration := formOf(t, bc, "fishing-vessel-ownership-nationality-registration")
	f := coveredField(t, registration, "quota_certificate_no")
	if f.Source != SourceDerived || f.Result == nil || f.Result.Matter != "fishing-vessel-quota-approval" || f.Result.Field != "decision_number" || !f.Result.InBundle {
		t.Errorf("in the bundle: %+v (%+v)", f, f.Result)
	}

	outside := func(string) bool { return false }
	alone := MatterCoverage(cat, mustMatter(t, "fishing-vessel-ownership-nationality-registration"), "enterprise", outside)
	for _, f := range alone {
		if f.Field == "quota_certificate_no" && (f.Source != SourceUnfilled || f.Result.InBundle || f.Result.Licence != "") {
			t.Errorf("a decision outside the bundle: %+v (%+v); want unfilled", f, f.Result)
		}
	}
	if tot := totalsOf(alone); tot.Unfilled != 1 || tot.RequiredUnfilled != 1 || tot.FilledPercent >= 100 {
		t.Errorf("totals with the quota approval outside: %+v", tot)
	}
	licence := MatterCoverage(cat, mustMatter(t, "fishing-licence"), "enterprise", outside)
	found := false
	for _, f := range licence {
		if f.Field == "nationality_certificate_no" {
			found = true
			if f.Source != SourceDerived || f.Result.InBundle || f.Result.Licence == "" {
				t.Errorf("a licence outside the bundle: %+v (%+v); want derived from the holder's e-licence", f, f.Result)
			}
		}
	}
	if !found {
		t.Fatal("fishing-licence has no nationality_certificate_no")
	}
}

// What the coverage says of each field of every department form of every bundle is what Map does:
// a field filled from one field of the one form takes that field's value, a constant is there
// with nothing on the form, a derived result comes from the prerequisite's results, and an
// unfilled field stays empty.
func TestCoverageSaysWhatMapDoesForEveryForm(t *testing.T) {
	cat := seedCatalogue(t)
	checked := map[string]int{}
	for _, b := range cat.Bundles {
		for _, typ := range []string{"enterprise", "individual"} {
			of, err := BuildOneForm(cat, b, typ, nil)
			if err != nil {
				continue // no matter of the bundle is open to the type
			}
			bc, err := CoverageOf(cat, of)
			if err != nil {
				t.Fatal(err)
			}
			for _, fc := range bc.Forms {
				m := mustMatter(t, fc.Matter.Code)
				form, results := Form{}, Results{}
				for _, f := range fc.Fields {
					if f.Source == SourceOneForm && len(f.OneFormFields) == 1 {
						form[f.OneFormFields[0]] = "v:" + f.OneFormFields[0]
					}
					if f.Result != nil {
						results[f.Result.Matter] = map[string]any{f.Result.Field: "r:" + f.Result.Matter}
					}
				}
				simple, _ := Map(m, typ, form, results)
				empty, _ := Map(m, typ, Form{}, nil)
				for _, f := range fc.Fields {
					switch {
					case f.Source == SourceOneForm && len(f.OneFormFields) == 1 && f.Expression == "":
						if simple[f.Field] != "v:"+f.OneFormFields[0] {
							t.Errorf("%s %s %s.%s: coverage says %s, Map gives %v", b.Code, typ, m.Code, f.Field, f.OneFormFields[0], simple[f.Field])
						}
					case f.Source == SourceConstant:
						if empty[f.Field] != f.Value {
							t.Errorf("%s %s %s.%s: coverage says the constant %v, Map gives %v", b.Code, typ, m.Code, f.Field, f.Value, empty[f.Field])
						}
					case f.Source == SourceDerived && f.Result != nil:
						if simple[f.Field] != "r:"+f.Result.Matter || empty[f.Field] != nil {
							t.Errorf("%s %s %s.%s: coverage says %s's result, Map gives %v (%v without it)", b.Code, typ, m.Code, f.Field, f.Result.Matter, simple[f.Field], empty[f.Field])
						}
					case f.Source == SourceOneForm:
						if empty[f.Field] != f.Default {
							t.Errorf("%s %s %s.%s: coverage says it comes from %v (default %v), Map fills it from nothing with %v", b.Code, typ, m.Code, f.Field, f.OneFormFields, f.Default, empty[f.Field])
						}
					}
					checked[f.Source]++
				}
			}
		}
	}
	if checked[SourceOneForm] < 1000 || checked[SourceConstant] == 0 || checked[SourceDerived] == 0 {
		t.Errorf("fields checked by source: %v", checked)
	}
}
