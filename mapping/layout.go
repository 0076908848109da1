package mapping

import (
	"sort"
	"strings"

	"yjshub/catalogue"
)

// sharedSections are the sections every one form starts with, in display order, and the
// field-code prefixes (the field dictionary's groups) each takes.
var sharedSections = []struct {
	code, title string
	prefixes    []string
}{
	{"applicant", "申请人信息", []string{"applicant.", "contact."}},
	{"enterprise", "经营主体信息", []string{"enterprise.", "individual_business."}},
	{"business", "经营信息", []string{"business."}},
}

// layOut puts the form's fields in order and in sections: the shared sections first, their
// fields in the field dictionary's order; then one section per matter, in the bundle's order,
// holding the fields no earlier section holds, in the order the matter's own form lists them
// (so 起始日期 comes before 截止日期 where the department's form has it so). A field several
// matters read is shown with the first matter that is not conditional, so that a required
// question never hides in the section of an optional matter.
func (f *OneForm) layOut(cat *catalogue.Catalogue, entries []catalogue.BundleEntry) {
	dictOrder := make(map[string]int, len(cat.Fields))
	for i, fld := range cat.Fields {
		dictOrder[fld.Code] = i
	}
	section := map[string]string{} // field code → section code
	var shared [][]string
	for _, s := range sharedSections {
		var codes []string
		for code := range f.rules {
			for _, p := range s.prefixes {
				if strings.HasPrefix(code, p) {
					codes = append(codes, code)
					section[code] = s.code
					break
				}
			}
		}
		sort.Slice(codes, func(i, j int) bool { return dictOrder[codes[i]] < dictOrder[codes[j]] })
		shared = append(shared, codes)
	}

	own := map[string][]string{} // matter code → its own fields, in its form's order
	claim := func(m *catalogue.Matter) {
		a := analyse(m, f.ApplicantType)
		for _, fi := range a.fields {
			reads := append([]string(nil), fi.all...)
			sort.Slice(reads, func(i, j int) bool { return dictOrder[reads[i]] < dictOrder[reads[j]] })
			for _, code := range reads {
				if _, done := section[code]; done || f.rules[code] == nil {
					continue
				}
				section[code] = "matter:" + m.Code
				own[m.Code] = append(own[m.Code], code)
			}
		}
	}
	for _, pass := range []bool{false, true} { // matters that are not conditional first
		for _, sm := range f.Matters {
			if sm.Conditional == pass {
				m, _ := cat.Matter(sm.Code)
				claim(m)
			}
		}
	}

	f.Sections = nil
	for i, s := range sharedSections {
		if len(shared[i]) > 0 {
			f.Sections = append(f.Sections, Section{Code: s.code, Title: s.title, Fields: shared[i]})
		}
	}
	for i, sm := range f.Matters {
		if codes := own[sm.Code]; len(codes) > 0 {
			f.Sections = append(f.Sections, Section{Code: "matter:" + sm.Code, Title: entries[i].Name, Matter: sm.Code,
				Conditional: sm.Conditional, Fields: codes})
		}
	}
	f.Fields = make([]FormFieldInfo, 0, len(f.rules))
	for _, s := range f.Sections {
		for _, code := range s.Fields {
			r := f.rules[code]
			f.Fields = append(f.Fields, FormFieldInfo{
				Code: code, Title: r.field.Name, Type: r.field.Type, Required: r.required, RequiredIfChosen: r.requiredIf,
				Matters: r.matters, Section: s.Code, Order: len(f.Fields) + 1, Options: options(r.field),
			})
		}
	}
}
