package mapping

import (
	"fmt"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/problem"
)

// SchemaDraft is the JSON Schema dialect of the one form's schema.
const SchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// OneForm is the unified application form (一表申请) of a bundle for one applicant type and one
// selection of its matters, with the material list (一套材料) and the figures of what the
// applicant is spared. It is immutable once built and safe for concurrent use; Validate
// compiles the schema once, on first use.
type OneForm struct {
	// Bundle is the bundle's code.
	Bundle string `json:"bundle"`
	// ApplicantType is enterprise or individual.
	ApplicantType string `json:"applicant_type"`
	// CatalogueVersion is the version of the catalogue the form was built from.
	CatalogueVersion string `json:"catalogue_version"`
	// Matters are the selected matters, in the bundle's order.
	Matters []SelectedMatter `json:"matters"`
	// Schema is a JSON Schema (draft 2020-12) of the form: an object with one property per
	// canonical field the selected matters read, keyed by the field code.
	Schema map[string]any `json:"schema"`
	// Fields lists the same fields, sorted by code.
	Fields []FormFieldInfo `json:"fields"`
	// Materials are the selected matters' materials for this applicant type, each once, in
	// the order they are first listed.
	Materials []MaterialItem `json:"materials"`
	// Reuse counts what the one form spares the applicant.
	Reuse Reuse `json:"reuse"`

	rules      map[string]*fieldRule // by canonical field code
	once       sync.Once
	compiled   *jsonschema.Schema
	compileErr error
}

// SelectedMatter is a matter chosen for the one form.
type SelectedMatter struct {
	Code string `json:"code"`
	// Name is the matter's name as the bundle lists it.
	Name     string `json:"name"`
	Optional bool   `json:"optional"`
	// Department handles the matter for this applicant type.
	Department string `json:"department"`
}

// FormFieldInfo describes one field of the one form.
type FormFieldInfo struct {
	Code  string `json:"code"`
	Title string `json:"title"`
	// Type is the field dictionary's type: string, integer, number, boolean, date or enum.
	Type     string `json:"type"`
	Required bool   `json:"required"`
	// Matters are the selected matters that read the field, in the bundle's order.
	Matters []string `json:"matters"`
}

// MaterialItem is one material of the one form's material list.
type MaterialItem struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Required is true when a selected matter requires the material, not just accepts it.
	Required bool `json:"required"`
	// Matters are the selected matters that list the material, in the bundle's order.
	Matters []string `json:"matters"`
}

// Reuse holds the figures of the reform: how many fields and materials the applicant gives
// once on the one form (asked), how many the matters' own forms and lists would have asked for
// one by one (summed), and the difference (saved).
type Reuse struct {
	FieldsAsked     int `json:"fields_asked"`
	FieldsSummed    int `json:"fields_summed"`
	FieldsSaved     int `json:"fields_saved"`
	MaterialsAsked  int `json:"materials_asked"`
	MaterialsSummed int `json:"materials_summed"`
	MaterialsSaved  int `json:"materials_saved"`
}

// fieldRule is what Validate needs of one canonical field.
type fieldRule struct {
	field    *catalogue.Field
	required bool
	matters  []string
}

// BuildOneForm builds the one form of a bundle for an applicant type and a selection of the
// bundle's matters (codes, in any order; duplicates count once). An empty selection means
// every matter of the bundle, required or optional, that is open to the applicant type.
//
// An unknown applicant type, an unknown matter code, a matter that is not in the bundle or not
// open to the applicant type are reported together in a *problem.Error, with Path
// "applicant_type" or "matters".
func BuildOneForm(cat *catalogue.Catalogue, bundle *catalogue.Bundle, applicantType string, matters []string) (*OneForm, error) {
	if cat == nil || bundle == nil {
		return nil, fmt.Errorf("building a one form: the catalogue and the bundle are required")
	}
	entries, err := selectMatters(cat, bundle, applicantType, matters)
	if err != nil {
		return nil, err
	}

	f := &OneForm{
		Bundle:           bundle.Code,
		ApplicantType:    applicantType,
		CatalogueVersion: cat.Version,
		rules:            map[string]*fieldRule{},
	}
	type materialAcc struct {
		item  MaterialItem
		order int
	}
	mats := map[string]*materialAcc{}
	for _, e := range entries {
		m, _ := cat.Matter(e.Matter)
		f.Matters = append(f.Matters, SelectedMatter{
			Code: m.Code, Name: e.Name, Optional: e.Optional, Department: m.Department.For(applicantType),
		})

		a := analyse(m, applicantType)
		f.Reuse.FieldsSummed += len(a.all)
		for _, code := range a.all {
			r := f.rules[code]
			if r == nil {
				fld, ok := cat.Field(code)
				if !ok {
					return nil, fmt.Errorf("building the one form of %s: matter %s reads %s, which the field dictionary does not define", bundle.Code, m.Code, code)
				}
				r = &fieldRule{field: fld}
				f.rules[code] = r
			}
			r.matters = append(r.matters, m.Code)
		}
		for _, code := range a.required {
			f.rules[code].required = true
		}

		for _, need := range m.Materials {
			if len(need.ApplicantTypes) > 0 && !contains(need.ApplicantTypes, applicantType) {
				continue
			}
			f.Reuse.MaterialsSummed++
			acc := mats[need.Material]
			if acc == nil {
				name := need.Material
				if mat, ok := cat.Material(need.Material); ok {
					name = mat.Name
				}
				acc = &materialAcc{item: MaterialItem{Code: need.Material, Name: name}, order: len(mats)}
				mats[need.Material] = acc
			}
			acc.item.Required = acc.item.Required || !need.Optional
			if !contains(acc.item.Matters, m.Code) {
				acc.item.Matters = append(acc.item.Matters, m.Code)
			}
		}
	}

	f.Materials = make([]MaterialItem, len(mats))
	for _, acc := range mats {
		f.Materials[acc.order] = acc.item
	}
	f.Reuse.FieldsAsked = len(f.rules)
	f.Reuse.FieldsSaved = f.Reuse.FieldsSummed - f.Reuse.FieldsAsked
	f.Reuse.MaterialsAsked = len(f.Materials)
	f.Reuse.MaterialsSaved = f.Reuse.MaterialsSummed - f.Reuse.MaterialsAsked

	codes := make([]string, 0, len(f.rules))
	for code := range f.rules {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	properties := make(map[string]any, len(codes))
	required := []string{}
	for _, code := range codes {
		r := f.rules[code]
		properties[code] = propertySchema(r)
		f.Fields = append(f.Fields, FormFieldInfo{
			Code: code, Title: r.field.Name, Type: r.field.Type, Required: r.required, Matters: r.matters,
		})
		if r.required {
			required = append(required, code)
		}
	}
	f.Schema = map[string]any{
		"$schema":              SchemaDraft,
		"type":                 "object",
		"title":                bundle.Name + " 一表申请",
		"additionalProperties": false,
		"properties":           properties,
		"required":             required,
	}
	return f, nil
}

// selectMatters checks a selection and returns the chosen bundle entries in the bundle's order.
func selectMatters(cat *catalogue.Catalogue, bundle *catalogue.Bundle, applicantType string, matters []string) ([]catalogue.BundleEntry, error) {
	var problems []problem.Problem
	typeKnown := applicantType == catalogue.Enterprise || applicantType == catalogue.Individual
	if !typeKnown {
		problems = append(problems, problem.Problem{Path: "applicant_type", Rule: RuleUnknownApplicantType,
			Message: fmt.Sprintf("the applicant type must be %q or %q", catalogue.Enterprise, catalogue.Individual)})
	}
	inBundle := map[string]bool{}
	for _, e := range bundle.Matters {
		inBundle[e.Matter] = true
	}

	chosen := map[string]bool{}
	if len(matters) == 0 {
		for _, e := range bundle.Matters {
			if m, ok := cat.Matter(e.Matter); ok && m.Handles(applicantType) {
				chosen[e.Matter] = true
			}
		}
		if typeKnown && len(chosen) == 0 {
			problems = append(problems, problem.Problem{Path: "applicant_type", Rule: RuleNoMatters,
				Message: fmt.Sprintf("no matter of bundle %s is open to %s applicants", bundle.Code, applicantType)})
		}
	}
	for _, code := range sortedUnique(matters) {
		m, ok := cat.Matter(code)
		switch {
		case !ok:
			problems = append(problems, problem.Problem{Path: "matters", Rule: RuleUnknownMatter,
				Message: fmt.Sprintf("there is no matter %q", code)})
			continue
		case !inBundle[code]:
			problems = append(problems, problem.Problem{Path: "matters", Rule: RuleNotInBundle,
				Message: fmt.Sprintf("matter %s is not part of bundle %s", code, bundle.Code)})
			continue
		case typeKnown && !m.Handles(applicantType):
			problems = append(problems, problem.Problem{Path: "matters", Rule: RuleNotOpen,
				Message: fmt.Sprintf("matter %s is not open to %s applicants", code, applicantType)})
			continue
		}
		chosen[code] = true
	}
	if len(problems) > 0 {
		return nil, problem.New(problems...)
	}
	var out []catalogue.BundleEntry
	for _, e := range bundle.Matters {
		if chosen[e.Matter] {
			out = append(out, e)
		}
	}
	return out, nil
}

// propertySchema is the JSON Schema of one canonical field.
func propertySchema(r *fieldRule) map[string]any {
	f := r.field
	p := map[string]any{"title": f.Name}
	switch f.Type {
	case catalogue.TypeInteger:
		p["type"] = "integer"
	case catalogue.TypeNumber:
		p["type"] = "number"
	case catalogue.TypeBoolean:
		p["type"] = "boolean"
	case catalogue.TypeDate:
		p["type"] = "string"
		p["format"] = "date"
	case catalogue.TypeEnum:
		p["type"] = "string"
		p["enum"] = f.Values
	default:
		p["type"] = "string"
	}
	if f.Format != "" {
		p["format"] = f.Format
	}
	if f.Pattern != "" {
		p["pattern"] = f.Pattern
	}
	if f.MinLength != nil {
		p["minLength"] = *f.MinLength
	}
	if f.MaxLength != nil {
		p["maxLength"] = *f.MaxLength
	}
	if f.Minimum != nil {
		p["minimum"] = *f.Minimum
	}
	if f.Maximum != nil {
		p["maximum"] = *f.Maximum
	}
	if f.Description != "" {
		p["description"] = f.Description
	}
	if f.Example != nil {
		p["examples"] = []any{f.Example}
	}
	p["x-matters"] = r.matters
	if f.Personal {
		p["x-personal"] = true
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sortedUnique returns the codes sorted, each once.
func sortedUnique(codes []string) []string {
	out := append([]string(nil), codes...)
	sort.Strings(out)
	n := 0
	for i, c := range out {
		if i == 0 || c != out[n-1] {
			out[n] = c
			n++
		}
	}
	return out[:n]
}
