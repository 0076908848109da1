package mapping

import (
	"reflect"
	"slices"
	"testing"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"yjshub/catalogue"
)

func TestInputsForFoldsTheApplicantType(t *testing.T) {
	tests := []struct {
		name         string
		matter, typ  string
		wantIn       []string // must be among all
		wantRequired []string // must be among required
		wantOut      []string // must not be among all
	}{
		{
			name:   "an individual claiming a work-injury subsidy gives their own name, not an insured worker's",
			matter: "work-injury-lump-sum-medical-subsidy", typ: "individual",
			wantIn: []string{"applicant.name", "applicant.id_number", "applicant.mobile"}, wantRequired: []string{"applicant.name", "applicant.id_number", "applicant.mobile", "enterprise.name"},
			wantOut: []string{"insured.name", "insured.ssn", "contact.mobile"},
		},
		{
			name:   "an employer claiming a work-injury subsidy gives the insured worker's name, not its own",
			matter: "work-injury-lump-sum-medical-subsidy", typ: "enterprise",
			wantIn: []string{"insured.name", "insured.ssn", "contact.mobile"}, wantRequired: []string{"insured.name", "insured.ssn", "contact.mobile"},
			wantOut: []string{"applicant.name", "applicant.id_number", "applicant.mobile"},
		},
		{
			// Which name and code the department's form takes depends on the data (a natural
			// person's own, or an individual business's), so only the operator's identity, which
			// both give, stays required.
			name:   "an individual food trader gives the operator's identity, and the name and code of a natural person or of an individual business",
			matter: "food-business-licence", typ: "individual",
			wantIn:       []string{"business.name", "individual_business.name", "individual_business.uscc", "applicant.subject", "applicant.id_type"},
			wantRequired: []string{"applicant.id_number", "applicant.name", "applicant.address", "business.address"},
			wantOut:      []string{"enterprise.name", "enterprise.uscc", "enterprise.legal_rep.name", "enterprise.address"},
		},
		{
			name:   "an enterprise is not asked an operator's identity",
			matter: "food-business-licence", typ: "enterprise",
			wantOut: []string{"applicant.id_number", "applicant.id_type", "applicant.subject", "individual_business.uscc"},
		},
		{
			name:   "a branch that gives a constant for the type reads nothing",
			matter: "social-security-card-application", typ: "individual",
			wantIn:  []string{"applicant.address"},
			wantOut: []string{"enterprise.name", "enterprise.address", "insured.mobile"},
		},
		{
			name:   "a condition on data keeps both branches but requires only the condition",
			matter: "rural-urban-pension-relation-cancellation", typ: "individual",
			wantIn:       []string{"deceased.name", "deceased.id_number", "applicant.name"},
			wantRequired: []string{"pension.termination_reason"},
		},
		{
			name:   "an optional field's inputs are asked but not required",
			matter: "outdoor-advertising-approval", typ: "enterprise",
			wantIn:  []string{"ad.quantity", "ad.material"},
			wantOut: []string{"applicant.name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all, required := InputsFor(mustMatter(t, tt.matter), tt.typ)
			for _, f := range tt.wantIn {
				if !slices.Contains(all, f) {
					t.Errorf("%s is not among the inputs %v", f, all)
				}
			}
			for _, f := range tt.wantRequired {
				if !slices.Contains(required, f) {
					t.Errorf("%s is not among the required inputs %v", f, required)
				}
			}
			for _, f := range tt.wantOut {
				if slices.Contains(all, f) {
					t.Errorf("%s is among the inputs %v; the expression was not folded", f, all)
				}
			}
			for _, f := range required {
				if !slices.Contains(all, f) {
					t.Errorf("required input %s is not among all inputs", f)
				}
			}
			if !slices.IsSorted(all) || !slices.IsSorted(required) {
				t.Errorf("inputs are not sorted: %v / %v", all, required)
			}
			if tt.matter == "rural-urban-pension-relation-cancellation" {
				for _, f := range []string{"deceased.name", "deceased.id_number"} {
					if slices.Contains(required, f) {
						t.Errorf("%s is required although only one branch of a data condition reads it", f)
					}
				}
			}
		})
	}
}

func TestExprInputsFolding(t *testing.T) {
	known := map[string]bool{}
	for _, f := range []string{"a.x", "b.y", "c.z", "d.w", "e.v.u"} {
		known[f] = true
	}
	tests := []struct {
		name        string
		src, typ    string
		all, always []string
	}{
		{"a ternary on the applicant type keeps only the branch taken", `applicant_type == "enterprise" ? a.x : b.y`, "individual", []string{"b.y"}, []string{"b.y"}},
		{"!= folds the other way round", `applicant_type != "enterprise" ? a.x : b.y`, "enterprise", []string{"b.y"}, []string{"b.y"}},
		{"the constant may stand on the left", `"individual" == applicant_type ? a.x : b.y`, "individual", []string{"a.x"}, []string{"a.x"}},
		{"&& of constant comparisons folds", `applicant_type == "enterprise" && applicant_type != "individual" ? a.x : b.y`, "enterprise", []string{"a.x"}, []string{"a.x"}},
		{"|| of constant comparisons folds", `applicant_type == "x" || applicant_type == "individual" ? a.x : b.y`, "individual", []string{"a.x"}, []string{"a.x"}},
		{"not of a constant comparison folds", `not (applicant_type == "enterprise") ? a.x : b.y`, "enterprise", []string{"b.y"}, []string{"b.y"}},
		{"! of a constant comparison folds", `!(applicant_type == "enterprise") ? a.x : b.y`, "individual", []string{"a.x"}, []string{"a.x"}},
		{"in a constant list folds", `applicant_type in ["enterprise"] ? a.x : b.y`, "enterprise", []string{"a.x"}, []string{"a.x"}},
		{"not in a constant list folds", `applicant_type not in ["enterprise"] ? a.x : b.y`, "enterprise", []string{"b.y"}, []string{"b.y"}},
		{"if/else folds like the ternary", `if applicant_type == "enterprise" { a.x } else { b.y }`, "enterprise", []string{"a.x"}, []string{"a.x"}},
		{"nested conditionals fold at every level", `applicant_type == "enterprise" ? a.x : (applicant_type == "individual" ? b.y : c.z)`, "individual", []string{"b.y"}, []string{"b.y"}},
		{"a condition on data keeps both branches and requires the condition only", `c.z == "1" ? a.x : b.y`, "enterprise", []string{"a.x", "b.y", "c.z"}, []string{"c.z"}},
		{"a field both branches read is required", `c.z ? a.x + b.y : a.x`, "enterprise", []string{"a.x", "b.y", "c.z"}, []string{"a.x", "c.z"}},
		{"the right side of && is read on some paths only", `c.z && d.w`, "enterprise", []string{"c.z", "d.w"}, []string{"c.z"}},
		{"the right side of a folded-away && is not read", `applicant_type == "enterprise" && d.w`, "individual", nil, nil},
		{"neither side of ?? is required alone", `a.x ?? b.y`, "enterprise", []string{"a.x", "b.y"}, nil},
		{"a deep chain is one field", `e.v.u + a.x`, "enterprise", []string{"a.x", "e.v.u"}, []string{"a.x", "e.v.u"}},
		{"a predicate body is read on some paths only", `all([1, 2], {# > 0 && a.x > 0})`, "enterprise", []string{"a.x"}, nil},
		{"a let that shadows applicant_type stops the folding", `let applicant_type = b.y; applicant_type == "enterprise" ? a.x : c.z`, "individual", []string{"a.x", "b.y", "c.z"}, []string{"b.y"}},
		{"an unknown chain is dropped", `zz.top == "1" ? a.x : a.x`, "enterprise", []string{"a.x"}, []string{"a.x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := exprInputs(tt.src, tt.typ, known)
			if !reflect.DeepEqual(nonNil(got.all), nonNil(tt.all)) {
				t.Errorf("all = %v; want %v", got.all, tt.all)
			}
			if !reflect.DeepEqual(nonNil(got.always), nonNil(tt.always)) {
				t.Errorf("always = %v; want %v", got.always, tt.always)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestInputsForIsCachedAndReturnsCopies(t *testing.T) {
	m := mustMatter(t, "food-business-licence")
	all, required := InputsFor(m, "enterprise")
	want := slices.Clone(all)
	all[0] = "changed by the caller"
	required[0] = "changed by the caller"
	again, _ := InputsFor(m, "enterprise")
	if !reflect.DeepEqual(again, want) {
		t.Errorf("a caller's change leaked into the cache: %v", again)
	}
	first, second := analyse(m, "enterprise"), analyse(m, "enterprise")
	if first != second {
		t.Error("the analysis is rebuilt on every call")
	}
}

// TestSeedInputsCoverTheCatalogue checks, for every matter of the seed catalogue, that folding
// only ever drops inputs: the inputs of the applicant types together are the matter's inputs
// as the catalogue computed them.
func TestSeedInputsCoverTheCatalogue(t *testing.T) {
	for _, m := range seedCatalogue(t).Matters {
		union := map[string]bool{}
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			all, _ := InputsFor(m, typ)
			for _, f := range all {
				union[f] = true
			}
		}
		if got := sortedKeys(union); !reflect.DeepEqual(got, m.Inputs()) {
			t.Errorf("%s: the inputs of both applicant types are %v; the catalogue says %v", m.Code, got, m.Inputs())
		}
	}
}

// TestSeedExpressionsFoldCompletely checks every mapping expression of the seed catalogue:
// applicant_type is only compared with a real applicant type (a typo would silently send every
// applicant down the other branch), and after folding for each applicant type the matter is
// open to, no comparison with applicant_type is left.
func TestSeedExpressionsFoldCompletely(t *testing.T) {
	for _, m := range seedCatalogue(t).Matters {
		for i, ff := range m.Form {
			if ff.Expr == "" {
				continue
			}
			tree, err := parser.Parse(ff.Expr)
			if err != nil {
				t.Errorf("%s form[%d] %s: %v", m.Code, i, ff.Field, err)
				continue
			}
			ast.Find(tree.Node, func(n ast.Node) bool {
				b, ok := n.(*ast.BinaryNode)
				if !ok || (b.Operator != "==" && b.Operator != "!=") {
					return false
				}
				for _, pair := range [][2]ast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
					id, ok := pair[0].(*ast.IdentifierNode)
					if !ok || id.Value != catalogue.ApplicantTypeVar {
						continue
					}
					s, ok := pair[1].(*ast.StringNode)
					if !ok || (s.Value != catalogue.Enterprise && s.Value != catalogue.Individual) {
						t.Errorf("%s form[%d] %s: applicant_type is compared with something that is not an applicant type: %s", m.Code, i, ff.Field, ff.Expr)
					}
				}
				return false
			})
			for _, typ := range m.ApplicantTypes {
				if residue := foldResidue(ff.Expr, typ); residue != "" {
					t.Errorf("%s form[%d] %s for %s: the folded expression still tests applicant_type in %s", m.Code, i, ff.Field, typ, residue)
				}
			}
		}
	}
}

// foldResidue folds an expression for an applicant type and returns the first comparison or
// condition that still involves the applicant type, printed, or "" when the fold is complete.
func foldResidue(src, applicantType string) string {
	tree, err := parser.Parse(src)
	if err != nil {
		return err.Error()
	}
	f := &folder{value: applicantType, substituted: map[ast.Node]bool{}}
	node := tree.Node
	ast.Walk(&node, f)
	found := ast.Find(node, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.BinaryNode:
			if !testingOperators[x.Operator] {
				return false // the applicant type used as a value, e.g. concatenated
			}
			return f.substituted[x.Left] || f.substituted[x.Right]
		case *ast.ConditionalNode:
			return f.substituted[x.Cond]
		case *ast.UnaryNode:
			return f.substituted[x.Node]
		}
		return false
	})
	if found == nil {
		return ""
	}
	return found.String()
}

// testingOperators are the binary operators whose result tests their operands.
var testingOperators = map[string]bool{
	"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true, "in": true, "matches": true,
	"contains": true, "startsWith": true, "endsWith": true, "&&": true, "and": true, "||": true, "or": true, "??": true,
}

func TestFoldResidueFindsAnIncompleteFold(t *testing.T) {
	tests := []struct {
		name, src  string
		incomplete bool
	}{
		{"a comparison with a constant folds", `applicant_type == "enterprise" ? a.x : b.y`, false},
		{"a comparison with data does not fold", `applicant_type == a.x ? a.x : b.y`, true},
		{"an unsupported operator does not fold", `applicant_type startsWith "ent" ? a.x : b.y`, true},
		{"the applicant type used as a value is not a residue", `applicant_type + "-" + a.x`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := foldResidue(tt.src, "enterprise") != ""; got != tt.incomplete {
				t.Errorf("incomplete = %v; want %v", got, tt.incomplete)
			}
		})
	}
}
