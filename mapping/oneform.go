package mapping

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/problem"
)

// SchemaDraft is the JSON Schema dialect of the one form's schema.
const SchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// OneForm is the unified application form (一表申请) of a bundle for one applicant type and one
// selection of its matters, with the material list (一套材料) and the figures of what the
// applicant is spared. It is immutable once built and safe for concurrent use; Validate
// compiles the schema once, on first use.
//
// A form built without a selection offers every matter of the bundle open to the applicant
// type: the optional ones are conditional (their fields and materials are asked only when
// they are chosen), so that a platform renders one form and needs no second request per
// choice. A form built for a selection has no conditional matter.
type OneForm struct {
	// Bundle is the bundle's code.
	Bundle string `json:"bundle"`
	// ApplicantType is enterprise or individual.
	ApplicantType string `json:"applicant_type"`
	// CatalogueVersion is the version of the catalogue the form was built from.
	CatalogueVersion string `json:"catalogue_version"`
	// Matters are the selected (or offered) matters, in the bundle's order.
	Matters []SelectedMatter `json:"matters"`
	// Sections group the fields as a platform shows them: 申请人信息, 经营主体信息, 经营信息,
	// then one section per matter with the questions only it asks, in the bundle's order.
	Sections []Section `json:"sections"`
	// Schema is a JSON Schema (draft 2020-12) of the form: an object with one property per
	// canonical field the matters read, keyed by the field code, with the display order
	// (x-order), the sections (x-sections), enum labels (x-enum-labels) and the material list
	// (x-materials) as annotations.
	Schema map[string]any `json:"schema"`
	// ApplicationSchema is a JSON Schema (draft 2020-12) of the whole application (the body of
	// POST /api/v1/cases): the matters that may be chosen, the form (Schema) and the
	// materials, with if/then for what a choice brings: a chosen optional matter its required
	// fields and materials, a material's condition (告知承诺: fire.commitment true) the
	// material; and how many files of each material may be given.
	ApplicationSchema map[string]any `json:"application_schema"`
	// Fields lists the same fields in form order: section by section.
	Fields []FormFieldInfo `json:"fields"`
	// Materials are the matters' materials for this applicant type, each once, in the order
	// they are first listed.
	Materials []MaterialItem `json:"materials"`
	// Reuse counts what the one form spares the applicant.
	Reuse Reuse `json:"reuse"`

	rules      map[string]*fieldRule // by canonical field code
	needs      map[string][]materialNeed
	once       sync.Once
	compiled   *jsonschema.Schema // for the validator
	compileErr error
	checks     *formChecks // nil when the schema does not compile into checks; checksErr says why
	checksErr  error
}

// SelectedMatter is a matter chosen for the one form.
type SelectedMatter struct {
	Code string `json:"code"`
	// Name is the matter's name as the bundle lists it.
	Name     string `json:"name"`
	Optional bool   `json:"optional"`
	// Conditional is true for an optional matter of a form built without a selection: it is
	// offered, and its fields and materials are asked only when it is chosen.
	Conditional bool `json:"conditional,omitempty"`
	// OneOf names the bundle's either-or group (catalogue.OneOfGroup) the matter belongs to:
	// exactly one of the group's matters is applied for. "" for a matter of its own, and for
	// the only matter of a group open to the applicant type (then it is simply required).
	OneOf string `json:"one_of,omitempty"`
	// Department handles the matter for this applicant type.
	Department string `json:"department"`
}

// Section is a group of fields of the one form, in display order.
type Section struct {
	Code  string `json:"code"`
	Title string `json:"title"`
	// Matter is the matter whose own questions the section holds; empty for the shared ones.
	Matter string `json:"matter,omitempty"`
	// Conditional is true when the section's matter is offered but not chosen yet.
	Conditional bool     `json:"conditional,omitempty"`
	Fields      []string `json:"fields"`
}

// FormFieldInfo describes one field of the one form.
type FormFieldInfo struct {
	Code  string `json:"code"`
	Title string `json:"title"`
	// Type is the field dictionary's type: string, integer, number, boolean, date or enum.
	Type string `json:"type"`
	// Required is true when a matter that is not conditional requires the field.
	Required bool `json:"required"`
	// RequiredIfChosen lists the conditional matters that require the field once chosen.
	RequiredIfChosen []string `json:"required_if_chosen,omitempty"`
	// Matters are the matters that read the field, in the bundle's order.
	Matters []string `json:"matters"`
	// Section is the code of the section the field is shown in; Order its place in the whole
	// form, from 1.
	Section string `json:"section"`
	Order   int    `json:"order"`
	// Options are an enum field's values with the words to show for them.
	Options []Option `json:"options,omitempty"`
}

// Option is an enum value and its label.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// MaterialItem is one material of the one form's material list.
type MaterialItem struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Form is original, copy, electronic or any; FormLabel says it in Chinese.
	Form      string `json:"form,omitempty"`
	FormLabel string `json:"form_label,omitempty"`
	Copies    int    `json:"copies,omitempty"`
	Spec      string `json:"spec,omitempty"`
	// MaxFiles is how many files of the material an application may carry.
	MaxFiles int `json:"max_files"`
	// SatisfiedBy names the e-licence types that may be given instead of a file (免交).
	SatisfiedBy []string `json:"satisfied_by,omitempty"`
	// Required is true when a matter that is not conditional requires the material whatever
	// the form says.
	Required bool `json:"required"`
	// Conditions are the other ways the material becomes required: a conditional matter
	// being chosen, a condition on the form holding, or both.
	Conditions []MaterialCondition `json:"conditions,omitempty"`
	// Matters are the matters that list the material, in the bundle's order.
	Matters []string `json:"matters"`
}

// MaterialCondition is one way a material becomes required: Matter requires it when Matter is
// chosen (IfChosen, only for a conditional matter) and When holds (an expr-lang expression over
// the canonical fields, empty for always).
type MaterialCondition struct {
	Matter   string `json:"matter"`
	IfChosen bool   `json:"if_chosen,omitempty"`
	When     string `json:"when,omitempty"`
}

// materialNeed is a matter's need of a material, kept for RequiredMaterials.
type materialNeed struct {
	matter      string
	conditional bool
	need        *catalogue.MaterialNeed
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
	field      *catalogue.Field
	required   bool
	requiredIf []string // conditional matters that require it
	matters    []string
}

// BuildOneForm builds the one form of a bundle for an applicant type and a selection of the
// bundle's matters (codes, in any order; duplicates count once). An empty selection means
// every matter of the bundle, required or optional, that is open to the applicant type, the
// optional ones conditional on being chosen.
//
// An unknown applicant type, an unknown matter code, a matter that is not in the bundle or not
// open to the applicant type are reported together in a *problem.Error, with Path
// "applicant_type" or "matters". Whether a selection may drop a required matter is a question
// for CheckSelection, which intake and the form route ask first.
func BuildOneForm(cat *catalogue.Catalogue, bundle *catalogue.Bundle, applicantType string, matters []string) (*OneForm, error) {
	if cat == nil || bundle == nil {
		return nil, fmt.Errorf("building a one form: the catalogue and the bundle are required")
	}
	entries, err := selectMatters(cat, bundle, applicantType, matters)
	if err != nil {
		return nil, err
	}
	offered := len(matters) == 0

	f := &OneForm{
		Bundle:           bundle.Code,
		ApplicantType:    applicantType,
		CatalogueVersion: cat.Version,
		rules:            map[string]*fieldRule{},
		needs:            map[string][]materialNeed{},
	}
	type materialAcc struct {
		item  MaterialItem
		order int
	}
	mats := map[string]*materialAcc{}
	for _, e := range entries {
		m, _ := cat.Matter(e.Matter)
		choice := Choosable(cat, bundle, e, applicantType)
		conditional := offered && choice
		sm := SelectedMatter{Code: m.Code, Name: e.Name, Optional: e.Optional, Conditional: conditional, Department: m.Department.For(applicantType)}
		if choice && e.OneOf != "" {
			sm.OneOf = e.OneOf
		}
		f.Matters = append(f.Matters, sm)

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
			if conditional {
				f.rules[code].requiredIf = append(f.rules[code].requiredIf, m.Code)
			} else {
				f.rules[code].required = true
			}
		}

		for i := range m.Materials {
			need := &m.Materials[i]
			if len(need.ApplicantTypes) > 0 && !contains(need.ApplicantTypes, applicantType) {
				continue
			}
			f.Reuse.MaterialsSummed++
			acc := mats[need.Material]
			if acc == nil {
				item := MaterialItem{Code: need.Material, Name: need.Material, MaxFiles: catalogue.DefaultMaxFiles}
				if mat, ok := cat.Material(need.Material); ok {
					item = MaterialItem{Code: mat.Code, Name: mat.Name, Description: mat.Description, Form: mat.Form,
						FormLabel: mat.FormLabel(), Copies: mat.Copies, Spec: mat.Spec, MaxFiles: mat.Files(), SatisfiedBy: mat.SatisfiedBy}
				}
				acc = &materialAcc{item: item, order: len(mats)}
				mats[need.Material] = acc
			}
			f.needs[need.Material] = append(f.needs[need.Material], materialNeed{matter: m.Code, conditional: conditional, need: need})
			switch {
			case need.Optional:
			case !conditional && !need.Conditional():
				acc.item.Required = true
			default:
				acc.item.Conditions = append(acc.item.Conditions, MaterialCondition{Matter: m.Code, IfChosen: conditional, When: need.When})
			}
			if !contains(acc.item.Matters, m.Code) {
				acc.item.Matters = append(acc.item.Matters, m.Code)
			}
		}
	}

	// A field whose format another field chooses brings that field with it, asked but not
	// required (without it the default document applies): otherwise a form that reads only the
	// identity number could never take a passport.
	for _, code := range slices.Sorted(maps.Keys(f.rules)) {
		r := f.rules[code]
		by := r.field.FormatBy
		if by == nil || f.rules[by.Field] != nil {
			continue
		}
		sel, ok := cat.Field(by.Field)
		if !ok {
			return nil, fmt.Errorf("building the one form of %s: field %s takes its format from %s, which the field dictionary does not define", bundle.Code, code, by.Field)
		}
		f.rules[by.Field] = &fieldRule{field: sel, matters: append([]string(nil), r.matters...)}
	}

	f.Materials = make([]MaterialItem, len(mats))
	for _, acc := range mats {
		if acc.item.Required {
			acc.item.Conditions = nil // required anyway
		}
		f.Materials[acc.order] = acc.item
	}
	f.Reuse.FieldsAsked = len(f.rules)
	f.Reuse.FieldsSaved = f.Reuse.FieldsSummed - f.Reuse.FieldsAsked
	f.Reuse.MaterialsAsked = len(f.Materials)
	f.Reuse.MaterialsSaved = f.Reuse.MaterialsSummed - f.Reuse.MaterialsAsked

	f.layOut(cat, entries)
	properties := make(map[string]any, len(f.rules))
	required := []string{}
	order := make([]string, 0, len(f.Fields))
	for _, fi := range f.Fields {
		r := f.rules[fi.Code]
		properties[fi.Code] = propertySchema(r)
		order = append(order, fi.Code)
		if r.required {
			required = append(required, fi.Code)
		}
	}
	sort.Strings(required)
	f.Schema = map[string]any{
		"$schema":              SchemaDraft,
		"type":                 "object",
		"title":                bundle.Name + " 一表申请",
		"additionalProperties": false,
		"properties":           properties,
		"required":             required,
		"x-order":              order,
		"x-sections":           f.Sections,
		"x-materials":          f.Materials,
	}
	if choices := f.formatChoices(); len(choices) > 0 {
		f.Schema["allOf"] = choices
	}
	f.ApplicationSchema = f.applicationSchema(bundle)
	return f, nil
}

// RequiredMaterials returns the codes of the materials a submitted form requires, in list
// order, each with the matters that require it: those required whatever the form says, and
// those whose conditions hold for form (a conditional matter counts as chosen when chosen
// says so; nil: none is).
func (f *OneForm) RequiredMaterials(form Form, chosen map[string]bool) []RequiredMaterial {
	var out []RequiredMaterial
	for _, mi := range f.Materials {
		var by []string
		for _, n := range f.needs[mi.Code] {
			if n.need.Optional || n.conditional && !chosen[n.matter] || !n.need.Holds(form, f.ApplicantType) {
				continue
			}
			by = append(by, n.matter)
		}
		if len(by) > 0 {
			out = append(out, RequiredMaterial{MaterialItem: mi, By: by})
		}
	}
	return out
}

// RequiredMaterial is a material a form requires and the matters that require it.
type RequiredMaterial struct {
	MaterialItem
	By []string
}

// Material returns the material list's entry of a code.
func (f *OneForm) Material(code string) (MaterialItem, bool) {
	for _, mi := range f.Materials {
		if mi.Code == code {
			return mi, true
		}
	}
	return MaterialItem{}, false
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

// formatChoices are the if/then of the fields whose format or whose being required another field
// chooses. First FormatBy:
// one per choice, "if the choosing field is this value, the field has this format and its
// pattern". The default choice's if holds while the choosing field is absent too (properties
// only judges what is there), so that a form without it is checked as before; the others
// require it. A choosing value outside the field's values takes no branch, as intake then
// reports that value and judges no number by a rule nobody chose. Sorted by field and value,
// so that the same form gives the same schema.
func (f *OneForm) formatChoices() []any {
	var out []any
	for _, code := range slices.Sorted(maps.Keys(f.rules)) {
		by := f.rules[code].field.FormatBy
		if by == nil {
			continue
		}
		for _, value := range slices.Sorted(maps.Keys(by.Formats)) {
			name := by.Formats[value]
			cond := map[string]any{"properties": map[string]any{by.Field: map[string]any{"const": value}}}
			if value != by.Default {
				cond["required"] = []any{by.Field}
			}
			prop := map[string]any{"type": "string", "format": name}
			if fp, ok := format.Pattern(name); ok {
				prop["pattern"] = fp
			}
			out = append(out, map[string]any{"if": cond, "then": map[string]any{"properties": map[string]any{code: prop}}})
		}
	}
	// A field required while another has a value (RequiredWhen), where the form asks both and
	// no matter requires the field anyway: the property is named beside required, as strict
	// validators (ajv's strictRequired) want it defined where it is required.
	for _, code := range slices.Sorted(maps.Keys(f.rules)) {
		r := f.rules[code]
		w := r.field.RequiredWhen
		if w == nil || r.required || f.rules[w.Field] == nil {
			continue
		}
		cond := map[string]any{"required": []any{w.Field}, "properties": map[string]any{w.Field: map[string]any{"const": w.Value}}}
		out = append(out, map[string]any{"if": cond, "then": map[string]any{"required": []any{code}, "properties": map[string]any{code: true}}})
	}
	return out
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
		labels := make(map[string]string, len(f.Values))
		for _, o := range options(f) {
			labels[o.Value] = o.Label
		}
		p["x-enum-labels"] = labels
	default:
		p["type"] = "string"
	}
	if f.Format != "" {
		p["format"] = f.Format
		// The format's pattern beside it: a generic validator that does not know the format
		// (an annotation only, in JSON Schema 2020-12) still refuses the wrong shape. A field
		// with a pattern of its own keeps it; the agreement test over every form says whether
		// one ever does.
		if fp, ok := format.Pattern(f.Format); ok {
			p["pattern"] = fp
		}
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

// options returns an enum field's values with their labels (a value without one is its own).
func options(f *catalogue.Field) []Option {
	if f.Type != catalogue.TypeEnum {
		return nil
	}
	out := make([]Option, len(f.Values))
	for i, v := range f.Values {
		label := f.Labels[v]
		if label == "" {
			label = v
		}
		out[i] = Option{Value: v, Label: label}
	}
	return out
}
