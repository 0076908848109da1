package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"yjshub/format"
)

// The identity number is checked by the rule of the document type the applicant chose, and
// the schema (if/then per type), the compiled checks and the field dictionary agree on every
// choice: a Taiwan residence-permit number is taken as what it is and refused as a resident ID.
func TestIdentityNumberIsCheckedByTheChosenDocumentType(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "social-security-card-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Bundle  string   `json:"bundle"`
		Matters []string `json:"matters"`
		Form    Form     `json:"form"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	f, err := BuildOneForm(seedCatalogue(t), mustBundle(t, app.Bundle), "individual", app.Matters)
	if err != nil {
		t.Fatal(err)
	}
	if _, asked := f.rules["applicant.id_type"]; !asked {
		t.Fatal("the form reads the identity number but does not ask the document type")
	}
	complete := func(body string) string {
		n, err := format.CompleteResidentID(body)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	resident := complete("32070719900307001")
	taiwan := complete("83000019900307002")
	foreigner := complete("93284019800101001")
	cases := []struct {
		name   string
		idType any // nil: not given
		number string
		want   []string // the rules at /form/applicant.id_number; none: accepted
		typeOK bool
	}{
		{"a resident ID without a document type is a resident ID", nil, resident, nil, true},
		{"a Taiwan permit number without a document type is refused as a resident ID", nil, taiwan, []string{format.GB11643}, true},
		{"a Taiwan permit number given as a resident ID is refused", "居民身份证", taiwan, []string{format.GB11643}, true},
		{"a Taiwan permit number given as a residence permit is accepted", "港澳台居民居住证", taiwan, nil, true},
		{"a resident ID given as a residence permit is refused", "港澳台居民居住证", resident, []string{format.ResidencePermitHMT}, true},
		{"a permanent residence number is accepted as one", "外国人永久居留身份证", foreigner, nil, true},
		{"a resident ID given as a permanent residence number is refused", "外国人永久居留身份证", resident, []string{format.ForeignPermanentResident}, true},
		{"a passport number is accepted as one", "护照", "E12345678", nil, true},
		{"a lower-case passport number is refused", "护照", "e12345678", []string{format.Passport}, true},
		{"a resident ID is not a passport number", "护照", resident + "-1", []string{format.Passport}, true},
		{"an unknown document type is its own problem, and judges no number", "驾驶证", taiwan, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := Form{}
			for k, v := range app.Form {
				form[k] = v
			}
			delete(form, "applicant.id_type")
			if c.idType != nil {
				form["applicant.id_type"] = c.idType
			}
			form["applicant.id_number"] = c.number
			problems := assertAgree(t, f, form, c.name)
			rules := rulesAt(problems)
			if got := rules["/form/applicant.id_number"]; !slices.Equal(got, c.want) {
				t.Errorf("rules at the number: %v, want %v (all: %v)", got, c.want, problems)
			}
			if typeRules := rules["/form/applicant.id_type"]; (len(typeRules) == 0) != c.typeOK {
				t.Errorf("rules at the document type: %v", typeRules)
			}
			assertNoLeak(t, problems, c.number)
		})
	}
}

// The schema says the choice as if/then per document type, each with the format's pattern, so
// that a validator with the patterns only still refuses a number of the wrong shape.
func TestTheOneFormSchemaChoosesTheIdentityFormatPerType(t *testing.T) {
	f := openBarForm(t, "individual", nil)
	prop := f.Schema["properties"].(map[string]any)["applicant.id_number"].(map[string]any)
	if prop["format"] != nil || prop["pattern"] != nil {
		t.Fatalf("the number's property has a fixed format or pattern: %v", prop)
	}
	choices, _ := f.Schema["allOf"].([]any)
	formats := map[string]string{}
	for _, c := range choices {
		branch := c.(map[string]any)
		sel, isIDType := branch["if"].(map[string]any)["properties"].(map[string]any)["applicant.id_type"].(map[string]any)
		if !isIDType {
			continue // another field's condition
		}
		value := sel["const"].(string)
		then := branch["then"].(map[string]any)["properties"].(map[string]any)["applicant.id_number"].(map[string]any)
		name := then["format"].(string)
		formats[value] = name
		if want, _ := format.Pattern(name); then["pattern"] != want {
			t.Errorf("%s: pattern %v, want the format's", value, then["pattern"])
		}
		_, requires := branch["if"].(map[string]any)["required"]
		if requires == (value == "居民身份证") {
			t.Errorf("%s: the branch requires the document type: %v (only the default may hold without it)", value, requires)
		}
	}
	want := map[string]string{"居民身份证": format.GB11643, "港澳台居民居住证": format.ResidencePermitHMT,
		"外国人永久居留身份证": format.ForeignPermanentResident, "护照": format.Passport}
	if len(formats) != len(want) {
		t.Fatalf("branches %v, want %v", formats, want)
	}
	for k, v := range want {
		if formats[k] != v {
			t.Errorf("%s: format %q, want %q", k, formats[k], v)
		}
	}
}

// An individual business must give its credit code and name on the one form itself, and the
// schema, the compiled checks and the dictionary agree; a natural person is asked neither.
func TestAnIndividualBusinessMustGiveItsCodeAndNameOnTheOneForm(t *testing.T) {
	f := openBarForm(t, "individual", nil)
	base := exampleForm(f)
	for _, c := range []struct {
		name    string
		subject any // nil: not given
		drop    []string
		want    []string // paths of required problems
	}{
		{"an individual business with its code and name", "个体工商户", nil, nil},
		{"an individual business without its code and name", "个体工商户", []string{"individual_business.uscc", "individual_business.name"},
			[]string{"/form/individual_business.name", "/form/individual_business.uscc"}},
		{"a natural person without a business's code and name", "自然人", []string{"individual_business.uscc", "individual_business.name"}, nil},
		{"an applicant who does not say, without them", nil, []string{"individual_business.uscc", "individual_business.name"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := Form{}
			for k, v := range base {
				form[k] = v
			}
			delete(form, "applicant.subject")
			if c.subject != nil {
				form["applicant.subject"] = c.subject
			}
			for _, k := range c.drop {
				delete(form, k)
			}
			var got []string
			for _, p := range assertAgree(t, f, form, c.name) {
				if p.Rule == "required" {
					got = append(got, p.Path)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("required problems at %v, want %v", got, c.want)
			}
		})
	}
}
