package mapping

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"yjshub/catalogue"
)

// InputsFor returns the canonical fields a matter's form reads for one applicant type, sorted:
// all of them, and those the applicant must fill in (the inputs of the required form fields).
//
// Mapping expressions are folded for the applicant type before their fields are collected:
// applicant_type becomes the string constant, comparisons of two string constants become
// booleans, and conditional branches that can no longer be taken are pruned, together with
// constant &&, ||, ! and `in`. So for an individual, `applicant_type == "enterprise" ?
// insured.name : applicant.name` reads applicant.name only.
//
// A canonical field is required when a required form field reads it on every path of its
// expression: the condition of a data-dependent conditional is required, its branches only
// when both read the field; the right side of &&, || and ?? is not required. Which branch is
// taken then depends on the data, and Map reports a required field that ends up without a
// value.
//
// The analysis is done once per matter and applicant type (enterprise, individual) and
// cached; the returned slices are copies the caller may keep.
func InputsFor(m *catalogue.Matter, applicantType string) (all, required []string) {
	a := analyse(m, applicantType)
	return slices.Clone(a.all), slices.Clone(a.required)
}

// matterInputs is the analysis of one matter's form for one applicant type.
type matterInputs struct {
	fields   []fieldInputs // by form index
	all      []string      // sorted union of every form field's inputs
	required []string      // sorted union of the required form fields' required inputs
	exprEnv  []envField    // the fields the expressions read: what Map puts in their environment
	plans    []fieldPlan   // by form index: how Map fills the field (plan.go)
	run      runEnv        // what the expressions left to the VM need of an environment
}

// envField is a canonical field and its code split at the dots.
type envField struct {
	code string
	path []string
}

// fieldInputs is what one department form field reads.
type fieldInputs struct {
	all    []string // canonical fields the field may read
	always []string // canonical fields read on every evaluation path
}

// inputsKey identifies an analysis. It holds the matter itself, not its code: two loaded
// catalogue versions may define the same code differently. A reload adds at most one entry per
// matter and applicant type, so the cache stays small.
type inputsKey struct {
	matter        *catalogue.Matter
	applicantType string
}

var inputsCache sync.Map // inputsKey → *matterInputs

// analyse returns the cached analysis of a matter for an applicant type. Only the two
// applicant types are cached, so that a caller passing arbitrary strings cannot grow the cache.
func analyse(m *catalogue.Matter, applicantType string) *matterInputs {
	if applicantType != catalogue.Enterprise && applicantType != catalogue.Individual {
		return buildInputs(m, applicantType)
	}
	key := inputsKey{m, applicantType}
	if a, ok := inputsCache.Load(key); ok {
		return a.(*matterInputs)
	}
	a, _ := inputsCache.LoadOrStore(key, buildInputs(m, applicantType))
	return a.(*matterInputs)
}

func buildInputs(m *catalogue.Matter, applicantType string) *matterInputs {
	known := make(map[string]bool, len(m.Inputs()))
	for _, f := range m.Inputs() {
		known[f] = true
	}
	out := &matterInputs{fields: make([]fieldInputs, len(m.Form)), plans: make([]fieldPlan, len(m.Form))}
	all := map[string]bool{}
	required := map[string]bool{}
	env := map[string]bool{}
	var running []ast.Node // the folded expressions left to the VM
	for i, ff := range m.Form {
		var fi fieldInputs
		switch {
		case !ff.AskedOf(applicantType):
			out.plans[i] = fieldPlan{kind: planNotAsked}
		case ff.From != "":
			fi = fieldInputs{all: []string{ff.From}, always: []string{ff.From}}
			out.plans[i] = fieldPlan{kind: planFrom, code: ff.From}
		case ff.Expr != "":
			var folded ast.Node
			fi, folded = exprInputs(ff.Expr, applicantType, known)
			for _, f := range fi.all {
				env[f] = true
			}
			out.plans[i] = planOf(folded, known, m.Program(i) != nil)
			if out.plans[i].kind == planRun {
				running = append(running, folded)
			}
		case ff.FromResult != nil:
			out.plans[i] = fieldPlan{kind: planResult}
		default:
			out.plans[i] = fieldPlan{kind: planConst}
		}
		out.fields[i] = fi
		for _, f := range fi.all {
			all[f] = true
		}
		if ff.Required {
			for _, f := range fi.always {
				required[f] = true
			}
		}
	}
	out.all = sortedKeys(all)
	out.required = sortedKeys(required)
	for _, f := range sortedKeys(env) {
		out.exprEnv = append(out.exprEnv, envField{code: f, path: strings.Split(f, ".")})
	}
	out.run = planRunEnv(out, running, known)
	return out
}

// exprInputs folds an expression for the applicant type and collects the canonical fields it
// reads; it returns the folded expression too (nil when it does not parse). known holds the
// fields the catalogue found in the matter's form (every expression was checked when the
// catalogue loaded); anything else the walker meets (a let variable, a partial chain) is
// dropped.
func exprInputs(src, applicantType string, known map[string]bool) (fieldInputs, ast.Node) {
	tree, err := parser.Parse(src)
	if err != nil {
		// The catalogue compiled every expression at load time, so this cannot happen for a
		// loaded matter; reading nothing is the answer that asks the applicant for nothing.
		return fieldInputs{}, nil
	}
	node := foldApplicantType(tree.Node, applicantType)
	r := readsOf(node)
	keep := func(set map[string]bool) []string {
		out := make([]string, 0, len(set))
		for f := range set {
			if known[f] {
				out = append(out, f)
			}
		}
		sort.Strings(out)
		return out
	}
	return fieldInputs{all: keep(r.all), always: keep(r.always)}, node
}

// foldApplicantType replaces the identifier applicant_type by the string constant and folds
// what becomes constant, pruning the conditional branches that cannot be taken. It returns the
// folded tree (the parsed tree is modified in place).
func foldApplicantType(node ast.Node, applicantType string) ast.Node {
	if declares(node, catalogue.ApplicantTypeVar) {
		return node // a let shadows applicant_type: leave the expression as it is
	}
	f := &folder{value: applicantType}
	ast.Walk(&node, f) // post-order: children are folded before their parent
	return node
}

type folder struct {
	value       string
	substituted map[ast.Node]bool // the constants that replaced applicant_type
}

func (f *folder) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == catalogue.ApplicantTypeVar {
			s := &ast.StringNode{Value: f.value}
			if f.substituted != nil {
				f.substituted[s] = true
			}
			ast.Patch(n, s)
		}
	case *ast.UnaryNode:
		if b, ok := x.Node.(*ast.BoolNode); ok && (x.Operator == "!" || x.Operator == "not") {
			ast.Patch(n, &ast.BoolNode{Value: !b.Value})
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "==", "!=":
			l, lok := x.Left.(*ast.StringNode)
			r, rok := x.Right.(*ast.StringNode)
			if lok && rok {
				ast.Patch(n, &ast.BoolNode{Value: (l.Value == r.Value) == (x.Operator == "==")})
			}
		case "in":
			if v, ok := constIn(x); ok {
				ast.Patch(n, &ast.BoolNode{Value: v})
			}
		case "&&", "and":
			// Only a constant left side folds: the right side is evaluated after the left, so
			// `x && false` still reads x.
			if l, ok := x.Left.(*ast.BoolNode); ok {
				if l.Value {
					ast.Patch(n, x.Right)
				} else {
					ast.Patch(n, &ast.BoolNode{Value: false})
				}
			}
		case "||", "or":
			if l, ok := x.Left.(*ast.BoolNode); ok {
				if l.Value {
					ast.Patch(n, &ast.BoolNode{Value: true})
				} else {
					ast.Patch(n, x.Right)
				}
			}
		}
	case *ast.ConditionalNode:
		if c, ok := x.Cond.(*ast.BoolNode); ok {
			if c.Value {
				ast.Patch(n, x.Exp1)
			} else {
				ast.Patch(n, x.Exp2)
			}
		}
	}
}

// constIn folds `"a" in ["a", "b"]` when both sides are string constants.
func constIn(x *ast.BinaryNode) (bool, bool) {
	l, ok := x.Left.(*ast.StringNode)
	if !ok {
		return false, false
	}
	arr, ok := x.Right.(*ast.ArrayNode)
	if !ok {
		return false, false
	}
	found := false
	for _, e := range arr.Nodes {
		s, ok := e.(*ast.StringNode)
		if !ok {
			return false, false
		}
		found = found || s.Value == l.Value
	}
	return found, true
}

// declares reports whether the expression declares a let variable of that name.
func declares(node ast.Node, name string) bool {
	return ast.Find(node, func(n ast.Node) bool {
		d, ok := n.(*ast.VariableDeclaratorNode)
		return ok && d.Name == name
	}) != nil
}

// reads is what an expression reads: every member chain it may read (all), and the chains it
// reads on every evaluation path (always).
type reads struct {
	all, always map[string]bool
}

func newReads() reads { return reads{all: map[string]bool{}, always: map[string]bool{}} }

func (r reads) union(o reads) {
	for k := range o.all {
		r.all[k] = true
	}
	for k := range o.always {
		r.always[k] = true
	}
}

// maybe adds o's reads as ones that happen on some paths only.
func (r reads) maybe(o reads) {
	for k := range o.all {
		r.all[k] = true
	}
}

// readsOf walks a (folded) expression. A member chain a.b.c counts as one read of "a.b.c" (the
// maximal chain, as the catalogue's own reference collector counts it); bare identifiers are
// never canonical fields (those always have a dot) and are skipped.
func readsOf(n ast.Node) reads {
	r := newReads()
	switch x := n.(type) {
	case nil:
	case *ast.MemberNode:
		if chain, ok := chainOf(x); ok {
			r.all[chain] = true
			r.always[chain] = true
			return r
		}
		r.union(readsOf(x.Node))
		r.union(readsOf(x.Property))
	case *ast.ConditionalNode:
		r.union(readsOf(x.Cond))
		a, b := readsOf(x.Exp1), readsOf(x.Exp2)
		r.maybe(a)
		r.maybe(b)
		for k := range a.always {
			if b.always[k] {
				r.always[k] = true
			}
		}
	case *ast.BinaryNode:
		l, rt := readsOf(x.Left), readsOf(x.Right)
		switch x.Operator {
		case "&&", "and", "||", "or":
			r.union(l)
			r.maybe(rt)
		case "??":
			r.maybe(l)
			r.maybe(rt)
			for k := range l.always {
				if rt.always[k] {
					r.always[k] = true
				}
			}
		default:
			r.union(l)
			r.union(rt)
		}
	case *ast.PredicateNode:
		// A predicate runs once per element, possibly never.
		r.maybe(readsOf(x.Node))
	default:
		for _, c := range children(n) {
			r.union(readsOf(c))
		}
	}
	return r
}

// children lists a node's sub-expressions (ast.Walk's cases).
func children(n ast.Node) []ast.Node {
	switch x := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{x.Node}
	case *ast.ChainNode:
		return []ast.Node{x.Node}
	case *ast.SliceNode:
		return []ast.Node{x.Node, x.From, x.To}
	case *ast.CallNode:
		return append([]ast.Node{x.Callee}, x.Arguments...)
	case *ast.BuiltinNode:
		return x.Arguments
	case *ast.VariableDeclaratorNode:
		return []ast.Node{x.Value, x.Expr}
	case *ast.SequenceNode:
		return x.Nodes
	case *ast.ArrayNode:
		return x.Nodes
	case *ast.MapNode:
		return x.Pairs
	case *ast.PairNode:
		return []ast.Node{x.Key, x.Value}
	}
	return nil
}

// chainOf returns the dotted chain of a member access like enterprise.legal_rep.name.
func chainOf(m *ast.MemberNode) (string, bool) {
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	switch inner := m.Node.(type) {
	case *ast.IdentifierNode:
		return inner.Value + "." + prop.Value, true
	case *ast.MemberNode:
		c, ok := chainOf(inner)
		if !ok {
			return "", false
		}
		return c + "." + prop.Value, true
	}
	return "", false
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// joinOr lists codes for a message: "a, b or c".
func joinOr(codes []string) string {
	switch len(codes) {
	case 0:
		return ""
	case 1:
		return codes[0]
	}
	return strings.Join(codes[:len(codes)-1], ", ") + " or " + codes[len(codes)-1]
}
