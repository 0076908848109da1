package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/mapping"
	"yjshub/problem"
)

// An individual business (个体工商户) applies as itself, end to end: intake takes its 92… credit
// code with its operator's identity; the department's form carries the code where it asks a
// 社会信用代码 and the operator's number in the 经营者 fields; the approval's e-licence is held by
// the code, and one issued to the operator's ID number is refused as another holder's; the
// business's next application finds the licence in the library under its code (免交), which
// a natural person cannot.
func TestAnIndividualBusinessAppliesWithItsCreditCodeAndHoldsItsLicences(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-individual")
		uscc, _ := app.Form["individual_business.uscc"].(string)
		name, _ := app.Form["individual_business.name"].(string)
		operatorID, _ := app.Form["applicant.id_number"].(string)
		if !strings.HasPrefix(uscc, "92") || name == "" || operatorID == "" || app.Form[cases.SubjectField] != cases.SubjectIndividualBusiness {
			t.Fatal("the example is not an individual business's application")
		}
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.ApplicantType != catalogue.Individual || v.HolderID() != uscc {
			t.Fatalf("the case is %s, held by its credit code: %v", v.ApplicantType, v.HolderID() == uscc)
		}
		holder, err := svc.Holder(ctx, v.ID)
		if err != nil || holder.ID != uscc || holder.IDType != "uscc" || holder.Name != name {
			t.Fatalf("the case's holder is not the business by its code: %v (%v)", holder.IDType, err)
		}

		var food cases.SubcaseView
		for _, sc := range v.Subcases {
			if sc.MatterCode == "food-business-licence" {
				food = sc
			}
		}
		if food.ID == "" || food.Department.Code != "market-regulation" {
			t.Fatalf("no food licence sub-case for the individual's department: %+v", food)
		}
		d := dispatchedOf(t, st, food.ID)
		for field, want := range map[string]string{"SHXYDM": uscc, "JYZMC": name, "JYZZJHM": operatorID, "JYZZJLX": "居民身份证", "FDDBR": app.Form["applicant.name"].(string)} {
			if d.Form[field] != want {
				t.Errorf("the department's form %s is not the %s it should carry", field, map[bool]string{true: "credit code", false: "value"}[want == uscc])
			}
		}
		if d.Applicant == nil || d.Applicant.ID != uscc || d.Applicant.IDType != "uscc" {
			t.Errorf("the department is told of another applicant than the business")
		}

		for _, typ := range []string{event.Received, event.Accepted} {
			if _, _, err := svc.ApplyEvent(ctx, food.ID, event.DepartmentEvent{EventID: typ, Type: typ}); err != nil {
				t.Fatal(err)
			}
		}
		licence := func(holderID, idType string) event.Licence {
			return event.Licence{Type: foodLicence, Number: "JY13207070099001", Holder: name, HolderID: holderID, HolderIDType: idType,
				Issuer: "区市场监管局", IssuedAt: "2026-12-03", ValidFrom: "2026-12-03", ValidUntil: "2031-12-02",
				File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/jy.ofd", Format: "ofd"}}
		}
		_, _, err = svc.ApplyEvent(ctx, food.ID, event.DepartmentEvent{EventID: "approve-operator", Type: event.Approved,
			Licences: []event.Licence{licence(operatorID, "resident_id")}})
		var pe *problem.Error
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "/licences/0/holder_id" {
			t.Fatalf("a licence issued to the operator's ID number: %v, want refused as another holder's", err)
		}
		assertNoLeakIn(t, err, operatorID, uscc)
		if _, _, err := svc.ApplyEvent(ctx, food.ID, event.DepartmentEvent{EventID: "approve-business", Type: event.Approved,
			Licences: []event.Licence{licence(uscc, "uscc")}}); err != nil {
			t.Fatalf("the licence issued to the business's code: %v", err)
		}
		got, err := svc.Get(ctx, v.ID)
		if err != nil || len(got.Licences) != 1 || got.Licences[0].HolderID != uscc {
			t.Fatalf("the case's licences are not the business's: %d (%v)", len(got.Licences), err)
		}

		// The business's next application: its tobacco shop gives the food licence by reference.
		next := tobaccoShopOf(t, app)
		withLicenceMaterial(&next, "food-business-licence-copy", foodLicence, "JY13207070099001")
		if _, _, err := svc.Submit(ctx, next, "tobacco-shop-business", ""); err != nil {
			t.Fatalf("the business's own licence is not found under its code: %v", err)
		}
		// The same reference by its operator as a natural person is another holder's.
		person := tobaccoShopOf(t, app)
		delete(person.Form, cases.SubjectField)
		delete(person.Form, "individual_business.uscc")
		delete(person.Form, "individual_business.name")
		withLicenceMaterial(&person, "food-business-licence-copy", foodLicence, "JY13207070099001")
		_, _, err = svc.Submit(ctx, person, "tobacco-shop-person", "")
		if !errors.As(err, &pe) || !hasRule(pe.Problems, cases.RuleLicenceHolder, "food-business-licence-copy", "") {
			t.Fatalf("the operator as a natural person used the business's licence: %v", err)
		}
	})
}

// tobaccoShopOf is an individual's application for the tobacco licence alone (bundle 32,
// 开烟酒店), with the fields and materials of app that its one form asks.
func tobaccoShopOf(t *testing.T, app cases.Application) cases.Application {
	t.Helper()
	b, _ := testCatalogue.Bundle("open-tobacco-liquor-shop")
	of, err := mapping.BuildOneForm(testCatalogue, b, catalogue.Individual, []string{"tobacco-retail-licence"})
	if err != nil {
		t.Fatal(err)
	}
	out := cases.Application{Bundle: json.RawMessage(`32`), ApplicantType: catalogue.Individual, Matters: []string{"tobacco-retail-licence"}, Form: map[string]any{}}
	for _, f := range of.Fields {
		if v, ok := app.Form[f.Code]; ok {
			out.Form[f.Code] = v
		}
	}
	for _, m := range app.Materials {
		if _, ok := of.Material(m.Type); ok {
			out.Materials = append(out.Materials, m)
		}
	}
	return out
}

// assertNoLeakIn fails when an error's text repeats one of the values.
func assertNoLeakIn(t *testing.T, err error, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(err.Error(), v) {
			t.Errorf("the error repeats a number the applicant gave")
		}
	}
}

// Intake judges the identity number by the document type as the one form's published schema
// does: a Taiwan residence-permit number is taken as a 港澳台居民居住证 and refused as a resident
// ID, by both, and the refusal never repeats the number.
func TestIntakeAndTheOneFormSchemaAgreeOnEveryDocumentType(t *testing.T) {
	taiwan, _ := format.CompleteResidentID("83000019900307002")
	foreigner, _ := format.CompleteResidentID("93284019800101001")
	tests := []struct {
		idType, number string
		refusedBy      string // the rule intake refuses with; "" accepted
	}{
		{"港澳台居民居住证", taiwan, ""},
		{"居民身份证", taiwan, format.GB11643},
		{"外国人永久居留身份证", foreigner, ""},
		{"外国人永久居留身份证", taiwan, format.ForeignPermanentResident},
		{"护照", "E12345678", ""},
		{"护照", "e12345678", format.Passport},
	}
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		for i, c := range tests {
			app, _ := example(t, "open-bar-individual")
			app.Form["applicant.id_type"], app.Form["applicant.id_number"] = c.idType, c.number
			b, _ := testCatalogue.Bundle("open-bar")
			of, err := mapping.BuildOneForm(testCatalogue, b, app.ApplicantType, app.Matters)
			if err != nil {
				t.Fatal(err)
			}
			sch, err := mapping.CompileSchema(of.ApplicationSchema)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := json.Marshal(app)
			if err != nil {
				t.Fatal(err)
			}
			var inst any
			if err := json.Unmarshal(doc, &inst); err != nil {
				t.Fatal(err)
			}
			schemaOK := sch.Validate(inst) == nil

			_, _, err = svc.Submit(ctx, app, "doc-"+strconv.Itoa(i), "")
			var pe *problem.Error
			switch {
			case c.refusedBy == "" && err != nil:
				t.Errorf("%s %s: intake refuses it: %v", c.idType, c.refusedBy, err)
			case c.refusedBy != "" && (!errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "/form/applicant.id_number" || pe.Problems[0].Rule != c.refusedBy):
				t.Errorf("%s: intake gives %v, want %s at /form/applicant.id_number alone", c.idType, err, c.refusedBy)
			case c.refusedBy != "":
				assertNoLeakIn(t, err, c.number)
			}
			if schemaOK != (c.refusedBy == "") {
				t.Errorf("%s (want %q): the schema says valid=%v, intake the opposite", c.idType, c.refusedBy, schemaOK)
			}
		}
	})
}

// An individual business that leaves out its credit code is refused at that field of the one
// form; without the subject the applicant is a natural person and the department's form takes
// the ID number as before.
func TestAnIndividualBusinessWithoutItsCodeIsRefusedAndANaturalPersonIsNot(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, _ := example(t, "open-bar-individual")
		delete(app.Form, "individual_business.uscc")
		_, _, err := svc.Submit(ctx, app, "no-code", "")
		var pe *problem.Error
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "/form/individual_business.uscc" || pe.Problems[0].Rule != problem.RuleRequired {
			t.Fatalf("err = %v, want the code required, alone", err)
		}

		person, hash := example(t, "open-bar-individual")
		for _, k := range []string{cases.SubjectField, "individual_business.uscc", "individual_business.name"} {
			delete(person.Form, k)
		}
		v, _, err := svc.Submit(ctx, person, hash+"-person", "")
		if err != nil {
			t.Fatalf("a natural person's application: %v", err)
		}
		if v.HolderID() != person.Form["applicant.id_number"] {
			t.Error("a natural person's case is not held by their ID number")
		}
		for _, sc := range v.Subcases {
			if sc.MatterCode == "food-business-licence" {
				if d := dispatchedOf(t, st, sc.ID); d.Form["SHXYDM"] != person.Form["applicant.id_number"] || d.Form["JYZMC"] != person.Form["business.name"] {
					t.Error("a natural person's food form does not carry their ID number and shop name")
				}
			}
		}
	})
}
