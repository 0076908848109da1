package catalogue

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"yjshub/format"
)

// crossCheck checks every reference between catalogue items and every rule that spans items,
// reporting all problems. It also compiles patterns and mapping expressions, once.
func (l *loader) crossCheck(cat *Catalogue) {
	depts := map[string]bool{}
	for _, d := range cat.Departments {
		if depts[d.Code] {
			l.c.at(l.locs[d], "/code", "duplicate department code %q", d.Code)
		}
		depts[d.Code] = true
	}
	deptKnown := func(code string) bool { return l.known(kindDepartments, code, depts[code]) }

	fields := map[string]*Field{}
	for _, f := range cat.Fields {
		loc := l.locs[f]
		if _, dup := fields[f.Code]; dup {
			l.c.at(loc, "/code", "duplicate field code %q", f.Code)
			continue
		}
		fields[f.Code] = f
		l.checkField(f, loc)
	}
	for _, f := range cat.Fields {
		if f.FormatBy != nil && fields[f.Code] == f {
			l.checkFormatBy(f, l.locs[f], fields)
		}
		if w := f.RequiredWhen; w != nil && fields[f.Code] == f {
			switch sel, ok := fields[w.Field]; {
			case !ok:
				l.c.at(l.locs[f], "/required_when/field", "unknown field %q", w.Field)
			case sel.Type != TypeEnum || !contains(sel.Values, w.Value):
				l.c.at(l.locs[f], "/required_when/value", "%q is not a value of the enum field %s", w.Value, w.Field)
			}
		}
	}
	for code := range fields {
		if isGroup(code, fields) {
			l.c.at(l.locs[fields[code]], "/code", "field %q is also the prefix of other fields: a code is either a field or a group", code)
		}
	}
	fieldKnown := func(code string) bool { _, ok := fields[code]; return l.known(kindFields, code, ok) }

	materials := map[string]bool{}
	for _, m := range cat.Materials {
		if materials[m.Code] {
			l.c.at(l.locs[m], "/code", "duplicate material code %q", m.Code)
		}
		materials[m.Code] = true
	}
	materialKnown := func(code string) bool { return l.known(kindMaterials, code, materials[code]) }

	matters := map[string]*Matter{}
	names := map[string]string{} // matter name or alias → matter code
	for _, m := range cat.Matters {
		loc := l.locs[m]
		if _, dup := matters[m.Code]; dup {
			l.c.at(loc, "/code", "duplicate matter code %q", m.Code)
			continue
		}
		matters[m.Code] = m
		for i, n := range append([]string{m.Name}, m.Aliases...) {
			if other, dup := names[n]; dup && other != m.Code {
				suffix := "/name"
				if i > 0 {
					suffix = "/aliases/" + strconv.Itoa(i-1)
				}
				l.c.at(loc, suffix, "the name %q is already used by matter %q", n, other)
				continue
			}
			names[n] = m.Code
		}
	}
	matterKnown := func(code string) bool { _, ok := matters[code]; return l.known(kindMatters, code, ok) }
	l.checkLicenceTypeCodes(cat.Matters, matters)

	env := exprEnv(cat.Fields)
	for _, m := range cat.Matters {
		if matters[m.Code] != m {
			continue
		}
		l.checkMatter(m, l.locs[m], deptKnown, fieldKnown, materialKnown, matterKnown, matters, fields, env)
	}
	l.checkCycles(cat.Matters, matters)

	codes := map[string]bool{}
	seqs := map[int]bool{}
	for _, b := range cat.Bundles {
		loc := l.locs[b]
		if codes[b.Code] {
			l.c.at(loc, "/code", "duplicate bundle code %q", b.Code)
		}
		codes[b.Code] = true
		if seqs[b.Seq] {
			l.c.at(loc, "/seq", "duplicate bundle seq %d", b.Seq)
		}
		seqs[b.Seq] = true
		l.checkBundle(b, loc, deptKnown, matters, matterKnown)
	}
}

func (l *loader) checkField(f *Field, loc location) {
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			l.c.at(loc, "/pattern", "not a valid regular expression: %v", err)
			return
		}
		f.pattern = re
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		l.c.at(loc, "/min_length", "min_length %d is above max_length %d", *f.MinLength, *f.MaxLength)
	}
	if f.Minimum != nil && f.Maximum != nil && *f.Minimum > *f.Maximum {
		l.c.at(loc, "/minimum", "minimum %v is above maximum %v", *f.Minimum, *f.Maximum)
	}
	for _, v := range f.Check(f.Example) {
		l.c.at(loc, "/example", "the example breaks the field's own rule %s: %s", v.Rule, v.Message)
	}
	for _, v := range sortedKeys(f.Labels) {
		if f.Type != TypeEnum || !contains(f.Values, v) {
			l.c.at(loc, "/labels/"+v, "%q is not one of the field's enum values: only enum values take labels", v)
		}
	}
	if src := f.FromLicence; src != nil {
		// A licence's result fields are text, and its dates are written YYYY-MM-DD.
		isDate := src.Field == "issued_at" || src.Field == "valid_until"
		if f.Type != TypeString && !(isDate && f.Type == TypeDate) {
			l.c.at(loc, "/from_licence/field", "a licence's %s cannot fill a field of type %s", src.Field, f.Type)
		}
	}
}

// checkFormatBy checks that a field's format_by names an enum field, gives every one of its
// values a known format (no document type may leave the number unchecked) and defaults to one
// of them.
func (l *loader) checkFormatBy(f *Field, loc location, fields map[string]*Field) {
	by := f.FormatBy
	if f.Type != TypeString {
		l.c.at(loc, "/format_by", "only a string field takes format_by, not a %s", f.Type)
	}
	if f.Format != "" {
		l.c.at(loc, "/format", "a field has either format or format_by, not both")
	}
	sel, ok := fields[by.Field]
	switch {
	case !ok:
		l.c.at(loc, "/format_by/field", "unknown field %q", by.Field)
		return
	case sel.Type != TypeEnum:
		l.c.at(loc, "/format_by/field", "field %q is a %s; the choosing field must be an enum", by.Field, sel.Type)
		return
	}
	for _, v := range sel.Values {
		if _, ok := by.Formats[v]; !ok {
			l.c.at(loc, "/format_by/formats", "%s value %q has no format: every choice must check the number", by.Field, v)
		}
	}
	for _, v := range sortedKeys(by.Formats) {
		if !contains(sel.Values, v) {
			l.c.at(loc, "/format_by/formats/"+v, "%q is not a value of %s", v, by.Field)
		}
		if _, ok := format.Lookup(by.Formats[v]); !ok {
			l.c.at(loc, "/format_by/formats/"+v, "unknown format %q", by.Formats[v])
		}
	}
	if _, ok := by.Formats[by.Default]; !ok {
		l.c.at(loc, "/format_by/default", "the default %q is not one of the formats' keys", by.Default)
	}
}

func (l *loader) checkMatter(m *Matter, loc location, deptKnown, fieldKnown, materialKnown, matterKnown func(string) bool,
	matters map[string]*Matter, fields map[string]*Field, env map[string]any) {
	if !deptKnown(m.Department.Default) {
		l.c.at(loc, "/department/default", "unknown department %q", m.Department.Default)
	}
	for t, d := range m.Department.ByApplicantType {
		if !deptKnown(d) {
			l.c.at(loc, "/department/by_applicant_type/"+t, "unknown department %q", d)
		}
		if !m.Handles(t) {
			l.c.at(loc, "/department/by_applicant_type/"+t, "the matter is not open to %s applicants (applicant_types)", t)
		}
	}
	variants := map[string]bool{}
	for i, v := range m.Variants {
		if variants[v.Code] {
			l.c.at(loc, fmt.Sprintf("/variants/%d/code", i), "duplicate variant code %q", v.Code)
		}
		variants[v.Code] = true
	}
	if msg := promisedWithinHalf(m.PromisedLimit, m.StatutoryLimit); msg != "" {
		l.c.at(loc, "/promised_limit", "%s", msg)
	}
	prereqs := map[string]bool{}
	for i, p := range m.Prerequisites {
		switch {
		case p == m.Code:
			l.c.at(loc, fmt.Sprintf("/prerequisites/%d", i), "a matter cannot be its own prerequisite")
		case !matterKnown(p):
			l.c.at(loc, fmt.Sprintf("/prerequisites/%d", i), "unknown matter %q", p)
		}
		prereqs[p] = true
	}
	seenMat := map[string]bool{}
	for i, need := range m.Materials {
		p := fmt.Sprintf("/materials/%d", i)
		if !materialKnown(need.Material) {
			l.c.at(loc, p+"/material", "unknown material %q", need.Material)
		}
		if seenMat[need.Material] {
			l.c.at(loc, p+"/material", "material %q is listed twice", need.Material)
		}
		seenMat[need.Material] = true
		for _, t := range need.ApplicantTypes {
			if !m.Handles(t) {
				l.c.at(loc, p+"/applicant_types", "the matter is not open to %s applicants (applicant_types)", t)
			}
		}
		if need.When != "" {
			if need.Optional {
				l.c.at(loc, p+"/optional", "a material with a when condition is required exactly when the condition holds: drop optional")
			}
			prog, used, problems := compileExpr(need.When, env, fields, expr.AsBool())
			for _, msg := range problems {
				l.c.at(loc, p+"/when", "%s", msg)
			}
			m.Materials[i].when, m.Materials[i].whenInputs = prog, used
		}
	}
	seenField := map[string]bool{}
	inputs := map[string]bool{}
	m.programs = map[int]*vm.Program{}
	for i, ff := range m.Form {
		p := fmt.Sprintf("/form/%d", i)
		if seenField[ff.Field] {
			l.c.at(loc, p+"/field", "form field %q is listed twice", ff.Field)
		}
		seenField[ff.Field] = true
		for _, t := range ff.ApplicantTypes {
			if !contains(m.ApplicantTypes, t) {
				l.c.at(loc, p+"/applicant_types", "the matter is not open to %s applicants", t)
			}
		}
		switch {
		case ff.From != "":
			if !fieldKnown(ff.From) {
				l.c.at(loc, p+"/from", "mapped from an unknown canonical field %q", ff.From)
			}
			inputs[ff.From] = true
		case ff.Expr != "":
			prog, used, problems := compileExpr(ff.Expr, env, fields)
			for _, msg := range problems {
				l.c.at(loc, p+"/expr", "%s", msg)
			}
			if prog != nil {
				m.programs[i] = prog
				for _, u := range used {
					inputs[u] = true
				}
			}
		case ff.FromResult != nil:
			if !prereqs[ff.FromResult.Matter] {
				l.c.at(loc, p+"/from_result/matter", "%q is not one of this matter's prerequisites", ff.FromResult.Matter)
			}
		}
	}
	m.inputs = make([]string, 0, len(inputs))
	for f := range inputs {
		m.inputs = append(m.inputs, f)
	}
	sort.Strings(m.inputs)
}

// checkLicenceTypeCodes reports a licence type given two codes: each e-licence type has one
// code, wherever it is issued, so that an approval's licence is checked against the same code
// whichever matter issues it.
func (l *loader) checkLicenceTypeCodes(list []*Matter, matters map[string]*Matter) {
	first := map[string]*Matter{} // licence type → the first matter that gives it a code
	for _, m := range list {
		if matters[m.Code] != m {
			continue
		}
		for _, lt := range m.LicenceTypes() {
			if lt.Code == "" {
				continue
			}
			// The schema has the code's shape; a national code's credit code must also hold
			// its check character, or it is not the code of any authority.
			if !strings.HasPrefix(lt.Code, "LOCAL-") && len(lt.Code) == 21 && format.CheckUSCC(lt.Code[:18]) != nil {
				l.c.at(l.locs[m], "/result/licence_type_code", "is not a national e-licence type code: its first 18 characters are not a unified social credit code (GB 32100)")
				continue
			}
			if o, ok := first[lt.Name]; ok && o.Result.LicenceTypeCode != lt.Code {
				l.c.at(l.locs[m], "/result/licence_type_code", "licence type %q has code %q in matter %q: one type, one code", lt.Name, o.Result.LicenceTypeCode, o.Code)
				continue
			}
			if _, ok := first[lt.Name]; !ok {
				first[lt.Name] = m
			}
		}
	}
}

// checkCycles reports prerequisite cycles, each once, with the path.
func (l *loader) checkCycles(list []*Matter, matters map[string]*Matter) {
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	var visit func(code string)
	visit = func(code string) {
		colour[code] = grey
		stack = append(stack, code)
		m := matters[code]
		for i, p := range m.Prerequisites {
			if _, ok := matters[p]; !ok {
				continue
			}
			switch colour[p] {
			case white:
				visit(p)
			case grey:
				start := 0
				for j, s := range stack {
					if s == p {
						start = j
					}
				}
				cycle := append(append([]string{}, stack[start:]...), p)
				l.c.at(l.locs[m], fmt.Sprintf("/prerequisites/%d", i), "prerequisites form a cycle: %s", strings.Join(cycle, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		colour[code] = black
	}
	for _, m := range list {
		if matters[m.Code] == m && colour[m.Code] == white {
			visit(m.Code)
		}
	}
}

func (l *loader) checkBundle(b *Bundle, loc location, deptKnown func(string) bool, matters map[string]*Matter, matterKnown func(string) bool) {
	for i, lead := range b.Leads {
		if !deptKnown(lead.Department) {
			l.c.at(loc, fmt.Sprintf("/leads/%d/department", i), "unknown department %q", lead.Department)
		}
	}
	for i, p := range b.CooperatingByLaw {
		if !deptKnown(p.Department) {
			l.c.at(loc, fmt.Sprintf("/cooperating_by_law/%d/department", i), "unknown department %q", p.Department)
		}
		if contains(b.Cooperating, p.Department) {
			l.c.at(loc, fmt.Sprintf("/cooperating_by_law/%d/department", i), "department %q is a cooperating department of the plan's table already", p.Department)
		}
	}
	for i, d := range b.Cooperating {
		if !deptKnown(d) {
			l.c.at(loc, fmt.Sprintf("/cooperating/%d", i), "unknown department %q", d)
		}
	}
	seen := map[string]bool{}
	required := 0
	for i, e := range b.Matters {
		p := fmt.Sprintf("/matters/%d", i)
		if !e.Optional {
			required++
		}
		marker := strings.Contains(e.Name, "选办")
		if marker {
			l.c.at(loc, p+"/name", "write optional matters without the （选办） marker and with optional: true")
		}
		m, ok := matters[e.Matter]
		if !ok {
			if !matterKnown(e.Matter) {
				l.c.at(loc, p+"/matter", "matter %q is used but not defined", e.Matter)
			}
			continue
		}
		if seen[e.Matter] {
			l.c.at(loc, p+"/matter", "matter %q is listed twice in the bundle", e.Matter)
		}
		seen[e.Matter] = true
		if !marker && e.Name != m.Name && !contains(m.Aliases, e.Name) {
			l.c.at(loc, p+"/name", "%q is neither the name nor an alias of matter %q (%s)", e.Name, m.Code, m.Name)
		}
	}
	if required == 0 {
		l.c.at(loc, "/matters", "a bundle needs at least one matter that is not optional")
	}
	l.checkOneOf(b, loc)
}

// checkOneOf checks a bundle's either-or groups: each defined once, each named by at least two
// of its matters, and every name an entry gives defined.
func (l *loader) checkOneOf(b *Bundle, loc location) {
	members := map[string]int{}
	for _, e := range b.Matters {
		if e.OneOf != "" {
			members[e.OneOf]++
		}
	}
	defined := map[string]bool{}
	for i, g := range b.OneOf {
		p := fmt.Sprintf("/one_of/%d/code", i)
		if defined[g.Code] {
			l.c.at(loc, p, "one-of group %q is defined twice", g.Code)
		}
		defined[g.Code] = true
		if members[g.Code] < 2 {
			l.c.at(loc, p, "one-of group %q has %d matter(s): a choice needs at least two", g.Code, members[g.Code])
		}
	}
	for i, e := range b.Matters {
		if e.OneOf != "" && !defined[e.OneOf] {
			l.c.at(loc, fmt.Sprintf("/matters/%d/one_of", i), "one-of group %q is not defined in the bundle's one_of", e.OneOf)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// promisedWithinHalf checks the plan's rule that a promised limit cuts the statutory one by at
// least half (办理时限在法定时限基础上压缩50%), and says how it is broken; "" when it holds. The
// two are compared in the statutory limit's unit: a promised limit in working days against a
// statutory one in calendar days counts as 7 calendar days per 5 working days, rounded up, so
// that the cut is never overstated. A matter decided on the spot by law is promised on the spot;
// where no statutory limit is set there is nothing to halve. A promise in calendar days is for a
// statutory limit in calendar days too short to halve in working days (营业性演出, 3日).
func promisedWithinHalf(promised, statutory Limit) string {
	switch statutory.Kind {
	case LimitNone:
		return ""
	case LimitOnTheSpot:
		if promised.Kind != LimitOnTheSpot {
			return "the statutory limit is on the spot (当场办结): the promised limit must be on_the_spot too"
		}
		return ""
	}
	if promised.Kind == LimitOnTheSpot {
		return ""
	}
	p := promised.Days
	switch {
	case statutory.Unit == UnitCalendar && promised.Unit == UnitWorking:
		p = (promised.Days*7 + 4) / 5
	case statutory.Unit == UnitWorking && promised.Unit == UnitCalendar:
		return "a promised limit in calendar days needs a statutory limit in calendar days: promise working days"
	}
	if p*2 > statutory.Days {
		return fmt.Sprintf("promised limit %s is above 50%% of the statutory %s (the plan requires a cut of at least half)",
			promised.Label(), statutory.Label())
	}
	return ""
}
