package mapping

import (
	"strconv"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"yjshub/catalogue"
)

// applicationSchema is the JSON Schema of a whole application for the form: what intake checks
// of the matters, the form and the materials, so that a platform can check an application
// before it sends it. The checks intake makes against the hub's state (the e-licence library,
// the hosts materials may be fetched from) and those of the departments' own forms are not in
// it. A material condition written in a way JSON Schema cannot say (anything beyond
// comparisons of fields with constants joined by &&, || and !) is left to intake.
func (f *OneForm) applicationSchema(bundle *catalogue.Bundle) map[string]any {
	form := map[string]any{}
	for k, v := range f.Schema {
		if k != "$schema" {
			form[k] = v
		}
	}

	// Every matter that is not conditional must be among the chosen ones when they are given:
	// the required ones always, the optional ones of a selection because they were chosen.
	var codes, requiredMatters, chosenOptional []any
	for _, sm := range f.Matters {
		codes = append(codes, sm.Code)
		if !sm.Conditional {
			requiredMatters = append(requiredMatters, sm.Code)
			if sm.Optional {
				chosenOptional = append(chosenOptional, sm.Code)
			}
		}
	}
	matters := map[string]any{"type": "array", "uniqueItems": true, "items": map[string]any{"enum": codes}}
	var containsAll []any
	for _, c := range requiredMatters {
		containsAll = append(containsAll, map[string]any{"contains": map[string]any{"const": c}})
	}
	// An either-or group offered: exactly one of its matters is among the chosen.
	var groups []string
	byGroup := map[string][]any{}
	for _, sm := range f.Matters {
		if sm.OneOf == "" || !sm.Conditional {
			continue
		}
		if _, ok := byGroup[sm.OneOf]; !ok {
			groups = append(groups, sm.OneOf)
		}
		byGroup[sm.OneOf] = append(byGroup[sm.OneOf], map[string]any{"contains": map[string]any{"const": sm.Code}})
	}
	for _, g := range groups {
		containsAll = append(containsAll, map[string]any{"oneOf": byGroup[g]})
	}
	if len(containsAll) > 0 {
		matters["allOf"] = containsAll
	}

	var materialCodes []any
	var counts []any
	var conds []any
	rootRequired := []any{"bundle", "applicant_type"}
	needMaterials := false
	for _, mi := range f.Materials {
		materialCodes = append(materialCodes, mi.Code)
		min := 0
		if mi.Required {
			min, needMaterials = 1, true
		}
		counts = append(counts, materialCount(mi.Code, min, mi.MaxFiles))
		for _, c := range mi.Conditions {
			var when any = true
			if c.When != "" {
				w, ok := conditionSchema(c.When, f.ApplicantType)
				if !ok {
					continue // intake checks it
				}
				when = w
			}
			ifs := []any{when}
			if c.IfChosen {
				ifs = append(ifs, chosen(c.Matter))
			}
			conds = append(conds, map[string]any{
				"if":   map[string]any{"allOf": ifs},
				"then": map[string]any{"required": []any{"materials"}, "properties": map[string]any{"materials": materialCount(mi.Code, 1, mi.MaxFiles)}},
			})
		}
	}
	if needMaterials {
		rootRequired = append(rootRequired, "materials")
	}
	if len(chosenOptional) > 0 || len(groups) > 0 {
		rootRequired = append(rootRequired, "matters") // without it only the required matters are applied for
	}

	// What a conditional matter brings, and what it forbids while it is not chosen.
	for _, sm := range f.Matters {
		if !sm.Conditional {
			continue
		}
		reqFields := []any{}
		defined := map[string]any{} // true: the form's schema says what each is; named for strict validators
		for _, fi := range f.Fields {
			if contains(fi.RequiredIfChosen, sm.Code) && !fi.Required {
				reqFields = append(reqFields, fi.Code)
				defined[fi.Code] = true
			}
		}
		then := map[string]any{"required": []any{"form"}, "properties": map[string]any{"form": map[string]any{"type": "object", "required": reqFields, "properties": defined}}}
		conds = append(conds, map[string]any{"if": chosen(sm.Code), "then": then})
	}
	// A field or material only conditional matters ask for is refused unless one of them is
	// chosen.
	for _, fi := range f.Fields {
		if by := onlyConditional(f, fi.Matters); by != nil {
			conds = append(conds, map[string]any{
				"if":   map[string]any{"not": anyChosen(by)},
				"then": map[string]any{"properties": map[string]any{"form": map[string]any{"type": "object", "properties": map[string]any{fi.Code: false}}}},
			})
		}
	}
	for _, mi := range f.Materials {
		if by := onlyConditional(f, mi.Matters); by != nil {
			conds = append(conds, map[string]any{
				"if":   map[string]any{"not": anyChosen(by)},
				"then": map[string]any{"properties": map[string]any{"materials": map[string]any{"type": "array", "not": map[string]any{"contains": materialIs(mi.Code)}}}},
			})
		}
	}

	materials := map[string]any{"type": "array", "items": materialItemSchema(materialCodes)}
	if len(counts) > 0 {
		materials["allOf"] = counts
	}
	out := map[string]any{
		"$schema":              SchemaDraft,
		"title":                bundle.Name + " 申请",
		"type":                 "object",
		"additionalProperties": false,
		"required":             rootRequired,
		"properties": map[string]any{
			"bundle":         map[string]any{"enum": []any{bundle.Code, bundle.Seq, strconv.Itoa(bundle.Seq)}},
			"applicant_type": map[string]any{"const": f.ApplicantType},
			"matters":        matters,
			"form":           form,
			"materials":      materials,
			"agent":          agentSchema(),
		},
	}
	if len(conds) > 0 {
		out["allOf"] = conds
	}
	return out
}

// agentSchema is the agent acting for the applicant (帮办代办, hub/cases.Agent), the same in every
// one form: a proxy (代办) needs the applicant's authorisation whole, an assistant (帮办) has
// none. The checks of the identity number's check character and of the phone are intake's.
func agentSchema() map[string]any {
	// Not blank: one character that is neither a control character nor a space as Go's
	// unicode.IsSpace has it (what intake trims), spelt out rather than \S, which Go's RE2 and
	// ECMAScript read differently; the characters past \xFF are in the pattern as themselves.
	text := func(max int) map[string]any {
		return map[string]any{"type": "string", "minLength": 1, "maxLength": max,
			"pattern": "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\x00-\\x20\\x7F-\\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\\x00-\\x1F\\x7F-\\x9F]*$"}
	}
	file := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"filename", "sha256", "size", "uri"},
		"properties": map[string]any{
			"filename": map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\\\\\x00]+$"},
			"sha256":   map[string]any{"type": "string", "pattern": "^[0-9a-f]{64}$"},
			"size":     map[string]any{"type": "integer", "minimum": 1},
			"uri":      map[string]any{"type": "string", "format": "uri", "pattern": "^https://"},
		}}
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"kind", "name", "id_type", "id_number", "phone"},
		"properties": map[string]any{
			"kind":         map[string]any{"enum": []any{"assistance", "proxy"}},
			"name":         text(50),
			"id_type":      map[string]any{"enum": []any{"resident_id", "passport"}},
			"id_number":    map[string]any{"type": "string", "pattern": "^[0-9A-Z]{5,20}$"},
			"phone":        map[string]any{"type": "string", "pattern": "^[0-9-]+$"},
			"organisation": map[string]any{"type": "string", "maxLength": 100, "pattern": `^[^\x00-\x1F\x7F-\x9F]*$`},
			"authorisation": map[string]any{"type": "object", "additionalProperties": false, "required": []any{"scope", "valid_until", "material"},
				"properties": map[string]any{"scope": text(500), "valid_until": map[string]any{"type": "string", "format": "date"}, "material": file}},
		},
		"if":   map[string]any{"required": []any{"kind"}, "properties": map[string]any{"kind": map[string]any{"const": "proxy"}}},
		"then": map[string]any{"required": []any{"authorisation"}, "properties": map[string]any{"authorisation": true}},
		"else": map[string]any{"properties": map[string]any{"authorisation": false}},
	}
}

// onlyConditional returns matters when every one of them is conditional, else nil.
func onlyConditional(f *OneForm, matters []string) []any {
	var out []any
	for _, code := range matters {
		for _, sm := range f.Matters {
			if sm.Code == code {
				if !sm.Conditional {
					return nil
				}
				out = append(out, code)
			}
		}
	}
	return out
}

func chosen(matter string) map[string]any {
	return map[string]any{"required": []any{"matters"}, "properties": map[string]any{"matters": map[string]any{"type": "array", "contains": map[string]any{"const": matter}}}}
}

func anyChosen(matters []any) map[string]any {
	return map[string]any{"required": []any{"matters"}, "properties": map[string]any{"matters": map[string]any{"type": "array", "contains": map[string]any{"enum": matters}}}}
}

func materialIs(code string) map[string]any {
	return map[string]any{"type": "object", "required": []any{"type"}, "properties": map[string]any{"type": map[string]any{"const": code}}}
}

// materialCount says that between min and max entries of the materials are of a type.
func materialCount(code string, min, max int) map[string]any {
	return map[string]any{"type": "array", "contains": materialIs(code), "minContains": min, "maxContains": max}
}

// materialItemSchema is one entry of the materials: a file (filename, sha256, size, uri) or
// an e-licence of the hub's library (licence), not both.
func materialItemSchema(codes []any) map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []any{"type"},
		"properties": map[string]any{
			"type":     map[string]any{"enum": codes},
			"filename": map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\\\\\x00]+$"},
			"sha256":   map[string]any{"type": "string", "pattern": "^[0-9a-f]{64}$"},
			"size":     map[string]any{"type": "integer", "minimum": 1},
			"uri":      map[string]any{"type": "string", "format": "uri", "pattern": "^https://"},
			"licence": map[string]any{"type": "object", "required": []any{"type", "number"}, "properties": map[string]any{
				"type":   map[string]any{"type": "string", "minLength": 1},
				"number": map[string]any{"type": "string", "minLength": 1},
			}},
			// A material object uploaded to the hub (/api/v1/uploads): whether it is the
			// platform's and the applicant's, and of this type, only intake can tell.
			"id": map[string]any{"type": "string", "pattern": "^mo_[0-9a-f]{32}$"},
		},
		"oneOf": []any{
			// licence: false rather than not/required, and each required property named in the
			// alternative's own properties (true: the item's schema above says what it is): the
			// same, and strict validators (ajv's strictRequired) see every required property
			// defined where it is required.
			map[string]any{"required": []any{"id"},
				"properties": map[string]any{"id": true, "filename": false, "sha256": false, "size": false, "uri": false, "licence": false}},
			map[string]any{"required": []any{"filename", "sha256", "size", "uri"},
				"properties": map[string]any{"filename": true, "sha256": true, "size": true, "uri": true, "licence": false, "id": false}},
			map[string]any{"required": []any{"licence"},
				"properties": map[string]any{"licence": true, "filename": false, "sha256": false, "size": false, "uri": false, "id": false}},
		},
	}
}

// conditionSchema translates a material's when condition into a JSON Schema of the
// application, where it can: comparisons of a canonical field with a constant (==, !=, <, <=,
// >, >=), a boolean field alone, and &&, || and ! of those; applicant_type is the form's own.
// ok is false for anything else.
func conditionSchema(src, applicantType string) (any, bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, false
	}
	return condNode(tree.Node, applicantType)
}

func condNode(n ast.Node, applicantType string) (any, bool) {
	switch x := n.(type) {
	case *ast.BoolNode:
		return x.Value, true
	case *ast.MemberNode:
		return fieldIs(x, map[string]any{"const": true})
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			inner, ok := condNode(x.Node, applicantType)
			return map[string]any{"not": inner}, ok
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and", "||", "or":
			l, okL := condNode(x.Left, applicantType)
			r, okR := condNode(x.Right, applicantType)
			key := "allOf"
			if x.Operator == "||" || x.Operator == "or" {
				key = "anyOf"
			}
			return map[string]any{key: []any{l, r}}, okL && okR
		}
		left, right := x.Left, x.Right
		op := x.Operator
		if _, isLit := literal(left); isLit {
			left, right = right, left
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op] + map[string]string{"==": "==", "!=": "!="}[op]
		}
		v, ok := literal(right)
		if !ok {
			return nil, false
		}
		if id, isID := left.(*ast.IdentifierNode); isID && id.Value == catalogue.ApplicantTypeVar {
			switch op {
			case "==":
				return v == applicantType, true
			case "!=":
				return v != applicantType, true
			}
			return nil, false
		}
		m, isMember := left.(*ast.MemberNode)
		if !isMember {
			return nil, false
		}
		switch op {
		case "==":
			return fieldIs(m, map[string]any{"const": v})
		case "!=":
			eq, ok := fieldIs(m, map[string]any{"const": v})
			return map[string]any{"not": eq}, ok
		case "<", "<=", ">", ">=":
			if _, num := v.(float64); !num {
				return nil, false
			}
			kw := map[string]string{"<": "exclusiveMaximum", "<=": "maximum", ">": "exclusiveMinimum", ">=": "minimum"}[op]
			return fieldIs(m, map[string]any{"type": "number", kw: v})
		}
	}
	return nil, false
}

// fieldIs says that the form has the field and its value matches schema.
func fieldIs(m *ast.MemberNode, schema map[string]any) (any, bool) {
	code, ok := chainOf(m)
	if !ok {
		return nil, false
	}
	return map[string]any{"required": []any{"form"}, "properties": map[string]any{"form": map[string]any{
		"type": "object", "required": []any{code}, "properties": map[string]any{code: schema}}}}, true
}

func literal(n ast.Node) (any, bool) {
	switch x := n.(type) {
	case *ast.BoolNode:
		return x.Value, true
	case *ast.StringNode:
		return x.Value, true
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, true
	}
	return nil, false
}
