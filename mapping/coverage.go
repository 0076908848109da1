package mapping

import (
	"fmt"
	"slices"

	"yjshub/catalogue"
)

// Sources of a department form field: where Map takes its value from, for one applicant type.
const (
	// SourceOneForm: the value of a field of the one form (from), or an expression over fields
	// of the one form.
	SourceOneForm = "one_form"
	// SourceConstant: the catalogue's constant (const), or an expression that folds to a
	// constant for the applicant type (`applicant_type == "enterprise" ? "企业" : "个体工商户"`).
	SourceConstant = "constant"
	// SourceDerived: a result of a prerequisite matter (from_result) — the prerequisite decided
	// in the same case, or the holder's e-licence of the type it issues — or an expression that
	// reads no field of the one form.
	SourceDerived = "derived"
	// SourceUnfilled: nothing fills the field for the applicant type: no constant, or a
	// prerequisite's result that neither the bundle nor an e-licence can supply.
	SourceUnfilled = "unfilled"
)

// FieldCoverage says how one field of a department's form is filled from a bundle's one form.
type FieldCoverage struct {
	// Field and Title are the department's own field name and its title.
	Field    string `json:"field"`
	Title    string `json:"title"`
	Required bool   `json:"required"`
	// Source is one of the Source constants.
	Source string `json:"source"`
	// OneFormFields are the fields of the one form it is filled from, sorted (one_form).
	OneFormFields []string `json:"one_form_fields,omitempty"`
	// Expression is the catalogue's mapping expression, when the field has one.
	Expression string `json:"expression,omitempty"`
	// Value is the constant it takes (constant).
	Value any `json:"value,omitempty"`
	// Default is what a one_form field's expression gives when the one form leaves its fields
	// empty (applicant?.id_type ?? "居民身份证"): Map's own answer on an empty form.
	Default any `json:"default,omitempty"`
	// Result is the prerequisite's result it takes (from_result), and where from.
	Result *ResultSource `json:"result,omitempty"`
}

// ResultSource is a prerequisite's result a department field takes, and where the case flow
// finds it: the prerequisite's decision when the bundle applies for it in the same case, else
// the holder's valid e-licence of the type the prerequisite issues.
type ResultSource struct {
	Matter string `json:"matter"`
	Field  string `json:"field"`
	// InBundle is true when the bundle applies for the prerequisite too.
	InBundle bool `json:"in_bundle"`
	// Licence is the e-licence type the prerequisite issues, when it issues one.
	Licence string `json:"licence,omitempty"`
}

// CoverageTotals count a form's fields by source, with the shares filled from the one form and
// filled at all, in percent to one decimal (0 for a form without fields).
type CoverageTotals struct {
	Fields         int     `json:"fields"`
	OneForm        int     `json:"one_form"`
	Constant       int     `json:"constant"`
	Derived        int     `json:"derived"`
	Unfilled       int     `json:"unfilled"`
	OneFormPercent float64 `json:"one_form_percent"`
	FilledPercent  float64 `json:"filled_percent"`
	// RequiredFields counts the fields the department requires, RequiredUnfilled those of
	// them nothing fills.
	RequiredFields   int `json:"required_fields"`
	RequiredUnfilled int `json:"required_unfilled"`
}

// Named is a code with its name in the catalogue.
type Named struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// FormCoverage is the coverage of one matter's department form.
type FormCoverage struct {
	Matter     Named `json:"matter"`
	Department Named `json:"department"`
	// Optional is true for a matter the applicant may leave out of the bundle.
	Optional bool            `json:"optional"`
	Fields   []FieldCoverage `json:"fields"`
	Totals   CoverageTotals  `json:"totals"`
}

// BundleCoverage is how the one form of a bundle fills its department forms for one applicant
// type.
type BundleCoverage struct {
	ApplicantType string `json:"applicant_type"`
	// Forms are the department forms of the matters open to the applicant type, in the
	// bundle's order.
	Forms []FormCoverage `json:"forms"`
	// Totals add up every form's.
	Totals CoverageTotals `json:"totals"`
}

// MatterCoverage says, field by field, how Map fills matter m's department form for an
// applicant type: from which fields of the one form, with which constant, from which
// prerequisite's result, or not at all. It reads Map's own plan of each field (expressions
// folded for the applicant type, as Map runs them); a field the form has only for other
// applicant types is not listed. inBundle reports whether a prerequisite is
// applied for in the same bundle.
func MatterCoverage(cat *catalogue.Catalogue, m *catalogue.Matter, applicantType string, inBundle func(matter string) bool) []FieldCoverage {
	a := analyse(m, applicantType)
	out := make([]FieldCoverage, 0, len(m.Form))
	var empty map[string]any // Map on an empty one form, for the expressions' defaults
	for i := range m.Form {
		ff := &m.Form[i]
		if a.plans[i].kind == planNotAsked {
			continue // not a field of this applicant type's form
		}
		fc := FieldCoverage{Field: ff.Field, Title: ff.Title, Required: ff.Required, Expression: ff.Expr}
		plan := a.plans[i]
		switch plan.kind {
		case planFrom, planRead:
			fc.Source, fc.OneFormFields = SourceOneForm, []string{plan.code}
		case planValue:
			fc.Source, fc.Value = SourceConstant, plan.value
		case planRun:
			fc.Source, fc.OneFormFields = SourceOneForm, slices.Clone(a.fields[i].all)
			if len(fc.OneFormFields) == 0 {
				fc.Source = SourceDerived
				break
			}
			if empty == nil {
				empty, _ = Map(m, applicantType, Form{}, nil)
			}
			fc.Default = empty[ff.Field]
		case planResult:
			rs := &ResultSource{Matter: ff.FromResult.Matter, Field: ff.FromResult.Field, InBundle: inBundle(ff.FromResult.Matter)}
			if pm, ok := cat.Matter(ff.FromResult.Matter); ok && pm.Result.Kind == "licence" {
				rs.Licence = pm.Result.Name
			}
			fc.Result, fc.Source = rs, SourceDerived
			if !rs.InBundle && rs.Licence == "" {
				fc.Source = SourceUnfilled // the case flow takes an outside prerequisite's result only from an e-licence
			}
		default:
			fc.Source, fc.Value = SourceConstant, ff.Const
			if ff.Const == nil {
				fc.Source = SourceUnfilled
			}
		}
		out = append(out, fc)
	}
	return out
}

// CoverageOf says how one form fills the department forms of its matters (offered or chosen,
// the optional ones included); cat is the catalogue the form was built from.
func CoverageOf(cat *catalogue.Catalogue, of *OneForm) (*BundleCoverage, error) {
	inBundle := func(code string) bool {
		return slices.ContainsFunc(of.Matters, func(sm SelectedMatter) bool { return sm.Code == code })
	}
	bc := &BundleCoverage{ApplicantType: of.ApplicantType, Forms: make([]FormCoverage, 0, len(of.Matters))}
	for _, sm := range of.Matters {
		m, ok := cat.Matter(sm.Code)
		if !ok {
			return nil, fmt.Errorf("coverage of %s: the one form names matter %s, which the catalogue lacks", of.Bundle, sm.Code)
		}
		dept := Named{Code: sm.Department, Name: sm.Department}
		if d, ok := cat.Department(sm.Department); ok {
			dept.Name = d.Name
		}
		fc := FormCoverage{Matter: Named{Code: m.Code, Name: m.Name}, Department: dept, Optional: sm.Optional,
			Fields: MatterCoverage(cat, m, of.ApplicantType, inBundle)}
		fc.Totals = totalsOf(fc.Fields)
		bc.Totals.add(fc.Totals)
		bc.Forms = append(bc.Forms, fc)
	}
	bc.Totals.percentages()
	return bc, nil
}

func totalsOf(fields []FieldCoverage) CoverageTotals {
	var t CoverageTotals
	for _, f := range fields {
		t.Fields++
		switch f.Source {
		case SourceOneForm:
			t.OneForm++
		case SourceConstant:
			t.Constant++
		case SourceDerived:
			t.Derived++
		default:
			t.Unfilled++
		}
		if f.Required {
			t.RequiredFields++
			if f.Source == SourceUnfilled {
				t.RequiredUnfilled++
			}
		}
	}
	t.percentages()
	return t
}

func (t *CoverageTotals) add(o CoverageTotals) {
	t.Fields += o.Fields
	t.OneForm += o.OneForm
	t.Constant += o.Constant
	t.Derived += o.Derived
	t.Unfilled += o.Unfilled
	t.RequiredFields += o.RequiredFields
	t.RequiredUnfilled += o.RequiredUnfilled
}

func (t *CoverageTotals) percentages() {
	pct := func(n int) float64 {
		if t.Fields == 0 {
			return 0
		}
		return float64(int(float64(n)*1000/float64(t.Fields)+0.5)) / 10
	}
	t.OneFormPercent = pct(t.OneForm)
	t.FilledPercent = pct(t.Fields - t.Unfilled)
}
