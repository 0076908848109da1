package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/mapping"
	"yjshub/problem"
)

// Problem is one thing wrong with a platform's application, as reported back to it (退件):
// Path is the field in the platform's application (dotted, empty when the hub field is not
// mapped), HubPath the hub's JSON Pointer, Rule the rule broken. Message never repeats a
// value.
type Problem struct {
	Path    string `json:"path"`
	HubPath string `json:"hub_path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Material and Field name the catalogue material or canonical field, and MessageZH says
	// it in Chinese for the applicant, where the hub's validation gives them.
	Material  string `json:"material,omitempty"`
	Field     string `json:"field,omitempty"`
	MessageZH string `json:"message_zh,omitempty"`
}

// faultRules are the rules whose problems are the hub's fault, not the applicant's: the
// mapping meets a value its values table does not list, or yields what the catalogue lacks (a
// bundle, matter, material, department or canonical field), or the hub's one form cannot be
// evaluated. Such an application is held for the operators and retried, never rejected (退件):
// the applicant could not correct it.
var faultRules = []string{
	RuleValueMap,
	mapping.RuleUnknownBundle, mapping.RuleUnknownMatter, mapping.RuleExpression, mapping.RuleSchema,
	cases.RuleUnknownMaterial, cases.RuleUnknownDepartment, problem.RuleUnknownField,
}

// faultsOf returns the problems that are the hub's fault; none means every problem is the
// applicant's.
func faultsOf(problems []Problem) []Problem {
	var out []Problem
	for _, p := range problems {
		if slices.Contains(faultRules, p.Rule) {
			out = append(out, p)
		}
	}
	return out
}

// RuleValueMap is the rule of a value that is not among a mapping rule's values; the mapping
// also reports problem.RuleRequired (the path is not in the application), RuleType and RuleJSON
// (the body is not a JSON object).
const RuleValueMap = "value_map"

// mapper turns a platform's application into the hub's by the rules of Config.Inbound.
type mapper struct {
	rules []Rule
	cat   *catalogue.Catalogue
	byTo  map[string]Rule
}

func newMapper(rules []Rule, cat *catalogue.Catalogue) *mapper {
	m := &mapper{rules: rules, cat: cat, byTo: map[string]Rule{}}
	for _, r := range rules {
		m.byTo[r.To] = r
	}
	return m
}

// check verifies the rules against the catalogue: canonical fields that exist, mapped values
// that name a bundle, an applicant type, a matter or a material type.
func (m *mapper) check() error {
	var errs []error
	for i, r := range m.rules {
		at := fmt.Sprintf("inbound[%d]", i)
		var known func(string) bool
		switch {
		case r.To == ToBundle:
			known = func(s string) bool { _, ok := m.cat.Bundle(s); return ok }
		case r.To == ToApplicantType:
			known = func(s string) bool { return s == catalogue.Enterprise || s == catalogue.Individual }
		case r.To == ToMatters:
			known = func(s string) bool { _, ok := m.cat.Matter(s); return ok }
		case r.To == ToMaterials:
			known = func(s string) bool { _, ok := m.cat.Material(s); return ok }
		case strings.HasPrefix(r.To, ToFormPrefix):
			if _, ok := m.cat.Field(strings.TrimPrefix(r.To, ToFormPrefix)); !ok {
				errs = append(errs, fmt.Errorf("%s.to: %s is not a canonical field of the catalogue", at, strings.TrimPrefix(r.To, ToFormPrefix)))
			}
		}
		if known == nil {
			continue
		}
		for _, k := range sortedKeys(r.Values) {
			if s, ok := text(r.Values[k]); !ok || !known(s) {
				errs = append(errs, fmt.Errorf("%s.values[%q]: the catalogue has no %s %v", at, k, r.To, r.Values[k]))
			}
		}
		if r.Const != nil && r.Values == nil && r.To != ToMatters && r.To != ToMaterials {
			if s, ok := text(r.Const); !ok || !known(s) {
				errs = append(errs, fmt.Errorf("%s.const: the catalogue has no %s %v", at, r.To, r.Const))
			}
		}
	}
	return errors.Join(errs...)
}

// Map turns body, the platform's application, into the hub's; problems lists everything it
// could not map (paths and rules, no values).
func (m *mapper) Map(body []byte) (cases.Application, []Problem) {
	app := cases.Application{Form: map[string]any{}}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return app, []Problem{{Rule: problem.RuleJSON, Message: "the application is not JSON"}}
	}
	if _, ok := doc.(map[string]any); !ok {
		return app, []Problem{{Rule: problem.RuleJSON, Message: "the application is not a JSON object"}}
	}
	var problems []Problem
	add := func(path, hubPath, rule, msg string) {
		problems = append(problems, Problem{Path: path, HubPath: hubPath, Rule: rule, Message: msg})
	}
	for _, r := range m.rules {
		v, found := r.Const, r.Const != nil
		if r.From != "" {
			v, found = lookup(doc, r.From)
		}
		hubPath := "/" + r.To
		if code, ok := strings.CutPrefix(r.To, ToFormPrefix); ok {
			hubPath = "/form/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(code)
		}
		switch {
		case r.To == ToBundle, r.To == ToApplicantType:
			if !found || v == nil {
				add(r.From, hubPath, problem.RuleRequired, "is required")
				continue
			}
			mv, ok := mapValue(r, v)
			if !ok {
				add(r.From, hubPath, RuleValueMap, "the value is not one the mapping knows")
				continue
			}
			if r.To == ToApplicantType {
				s, _ := text(mv)
				app.ApplicantType = s
				continue
			}
			raw, err := json.Marshal(mv)
			if err != nil {
				add(r.From, hubPath, problem.RuleType, "must be a bundle code or 序号")
				continue
			}
			app.Bundle = raw
		case r.To == ToMatters:
			if !found || v == nil {
				continue // the bundle's required matters
			}
			list, ok := v.([]any)
			if !ok {
				add(r.From, hubPath, problem.RuleType, "must be an array")
				continue
			}
			app.Matters = []string{}
			for i, el := range list {
				at := r.From + "." + strconv.Itoa(i)
				if r.Key != "" {
					el, _ = lookup(el, r.Key)
					at += "." + r.Key
				}
				mv, ok := mapValue(r, el)
				s, isText := text(mv)
				switch {
				case !ok:
					add(at, fmt.Sprintf("/matters/%d", i), RuleValueMap, "the matter is not one the mapping knows")
				case !isText || s == "":
					add(at, fmt.Sprintf("/matters/%d", i), problem.RuleType, "must be a matter code")
				default:
					app.Matters = append(app.Matters, s)
				}
			}
		case r.To == ToMaterials:
			if !found || v == nil {
				continue // the hub reports the required ones
			}
			list, ok := v.([]any)
			if !ok {
				add(r.From, hubPath, problem.RuleType, "must be an array")
				continue
			}
			for i, el := range list {
				mi, ps := m.material(r, el, i)
				problems = append(problems, ps...)
				app.Materials = append(app.Materials, mi)
			}
		default: // form.<code>
			if !found || v == nil {
				continue // the one form says whether it is required
			}
			mv, ok := mapValue(r, v)
			if !ok {
				add(r.From, hubPath, RuleValueMap, "the value is not one the mapping knows")
				continue
			}
			code := strings.TrimPrefix(r.To, ToFormPrefix)
			app.Form[code] = m.coerce(code, mv)
		}
	}
	return app, problems
}

func (m *mapper) material(r Rule, el any, i int) (cases.MaterialInput, []Problem) {
	var mi cases.MaterialInput
	var problems []Problem
	at := r.From + "." + strconv.Itoa(i)
	hub := fmt.Sprintf("/materials/%d", i)
	for _, f := range materialFields {
		path, mapped := r.Fields[f]
		if !mapped {
			continue
		}
		v, found := lookup(el, path)
		if !found || v == nil {
			continue // the hub reports what is missing
		}
		if f == "type" {
			mv, ok := mapValue(r, v)
			if !ok {
				problems = append(problems, Problem{Path: at + "." + path, HubPath: hub + "/type", Rule: RuleValueMap, Message: "the material type is not one the mapping knows"})
				continue
			}
			v = mv
		}
		if f == "size" {
			n, err := strconv.ParseInt(strings.TrimSpace(fmt.Sprint(v)), 10, 64)
			if err != nil {
				problems = append(problems, Problem{Path: at + "." + path, HubPath: hub + "/size", Rule: problem.RuleType, Message: "must be a whole number of bytes"})
				continue
			}
			mi.Size = n
			continue
		}
		s, ok := text(v)
		if !ok {
			problems = append(problems, Problem{Path: at + "." + path, HubPath: hub + "/" + f, Rule: problem.RuleType, Message: "must be text"})
			continue
		}
		switch f {
		case "type":
			mi.Type = s
		case "filename":
			mi.Filename = s
		case "sha256":
			mi.SHA256 = strings.ToLower(s)
		case "uri":
			mi.URI = s
		}
	}
	return mi, problems
}

// coerce converts a value to the JSON type of its canonical field when the platform wrote it
// otherwise (a number as text, a mobile as a number); anything it cannot convert is left for
// the hub's validation to report.
func (m *mapper) coerce(code string, v any) any {
	f, ok := m.cat.Field(code)
	if !ok {
		return v
	}
	switch f.Type {
	case catalogue.TypeNumber, catalogue.TypeInteger:
		if s, ok := v.(string); ok {
			s = strings.TrimSpace(s)
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return json.Number(s)
			}
		}
	case catalogue.TypeBoolean:
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b
			}
		}
	case catalogue.TypeString, catalogue.TypeDate, catalogue.TypeEnum:
		if n, ok := v.(json.Number); ok {
			return n.String()
		}
	}
	return v
}

// mapValue applies a rule's value map; without one the value passes as it is.
func mapValue(r Rule, v any) (any, bool) { return mapValues(r.Values, v) }

// mapValues maps a value by its text; with no map the value passes as it is.
func mapValues(values map[string]any, v any) (any, bool) {
	if values == nil {
		return v, true
	}
	s, ok := text(v)
	if !ok {
		return nil, false
	}
	mv, ok := values[s]
	return mv, ok
}

// text renders a JSON scalar as the text a value map is keyed by.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	default:
		return "", false
	}
}

// lookup follows a dotted path through objects and arrays (numeric segments).
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// platformPath translates a problem the hub found (a JSON Pointer into the hub's application)
// to the field of the platform's application it came from, "" when no rule maps it.
func (m *mapper) platformPath(hubPath string) string {
	segs := strings.Split(strings.TrimPrefix(hubPath, "/"), "/")
	for i := range segs {
		segs[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(segs[i])
	}
	if len(segs) == 0 {
		return ""
	}
	switch segs[0] {
	case "bundle", "applicant_type":
		return m.byTo[segs[0]].From
	case "form":
		if len(segs) < 2 {
			return ""
		}
		code, _, _ := strings.Cut(segs[1], " ") // "/form (matter: …)" carries no field
		return m.byTo[ToFormPrefix+code].From
	case "matters":
		r := m.byTo[ToMatters]
		if r.From == "" || len(segs) < 2 {
			return r.From
		}
		p := r.From + "." + segs[1]
		if r.Key != "" {
			p += "." + r.Key
		}
		return p
	case "materials":
		r := m.byTo[ToMaterials]
		if r.From == "" || len(segs) < 2 {
			return r.From
		}
		p := r.From + "." + segs[1]
		if len(segs) > 2 {
			if f, ok := r.Fields[segs[2]]; ok {
				p += "." + f
			}
		}
		return p
	}
	return ""
}

// apply turns a hub document into the platform's: fields renamed, values mapped, constants
// added, unmapped fields dropped when OnlyMapped.
func (o Outbound) apply(doc map[string]any) map[string]any {
	out := o.object(doc, "")
	for k, v := range o.Const {
		out[k] = v
	}
	return out
}

func (o Outbound) object(m map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		p := prefix + k
		if o.OnlyMapped && !o.mapped(p) {
			continue
		}
		name := k
		if n, ok := o.Fields[p]; ok {
			name = n
		}
		out[name] = o.value(p, v)
	}
	return out
}

func (o Outbound) value(p string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		return o.object(x, p+".")
	case []map[string]any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = o.object(el, p+".")
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = o.value(p, el)
		}
		return out
	case string:
		if mv, ok := o.Values[p][x]; ok {
			return mv
		}
	}
	return v
}

// mapped reports whether a field, or a field inside it, is named in Fields.
func (o Outbound) mapped(p string) bool {
	if _, ok := o.Fields[p]; ok {
		return true
	}
	for k := range o.Fields {
		if strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}
