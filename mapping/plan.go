package mapping

import (
	"strings"

	"github.com/expr-lang/expr/ast"
)

// planKind says how Map fills one department field for one applicant type.
type planKind uint8

const (
	planConst    planKind = iota // the catalogue's constant
	planFrom                     // a canonical field's value (from)
	planResult                   // a prerequisite's result (from_result)
	planRead                     // an expression that folds to one canonical field: its value, read directly
	planValue                    // an expression that folds to a constant: the constant
	planRun                      // any other expression: its program, run on the VM
	planNotAsked                 // a field the department's form has only for other applicant types
)

// fieldPlan is the plan of one department field. Most mapping expressions only choose a
// canonical field or a word by applicant type (`applicant_type == "enterprise" ?
// enterprise.name : applicant.name`); folded for the type, they are a field or a constant, and
// Map gives what the program would give without building an environment or running the VM.
type fieldPlan struct {
	kind  planKind
	code  string // planFrom, planRead: the canonical field
	value any    // planValue: the constant
}

// planOf plans a field whose expression folded to node. Only folds whose value is certain are
// taken: a string or boolean constant, and a chain that names a known canonical field. The VM
// gives such a chain the field's value (a json.Number as float64) or fails when it is absent;
// Map then leaves the field without a value either way, and a required field's problem names
// the absent input first, so reading nil instead of failing changes nothing. A field whose
// program did not compile keeps planRun, where it fails as before.
func planOf(node ast.Node, known map[string]bool, compiled bool) fieldPlan {
	if !compiled {
		return fieldPlan{kind: planRun}
	}
	switch x := node.(type) {
	case *ast.StringNode:
		return fieldPlan{kind: planValue, value: x.Value}
	case *ast.BoolNode:
		return fieldPlan{kind: planValue, value: x.Value}
	case *ast.MemberNode:
		if code, ok := chainOf(x); ok && known[code] {
			return fieldPlan{kind: planRead, code: code}
		}
	}
	return fieldPlan{kind: planRun}
}

// runEnv is what a matter's expressions that still run on the VM need of an environment.
type runEnv struct {
	// shared is true when every such expression reads known canonical fields by plain chains
	// (a.b.c) and nothing else of the environment: the case's shared environment can serve
	// them (CaseMapper.envFor). Anything else (a let, a predicate, ?., an index) gets an
	// environment of its own, built as the matter's alone.
	shared bool
	chains []envField // the fields they may read
	groups []envGroup // the groups of fields those chains pass through
}

// envGroup is a group of canonical fields an expression passes through (enterprise,
// enterprise.legal_rep). A matter's own environment has the group exactly when one of the
// matter's expression fields inside it (under) has a value; reading a field of a group that is
// there gives nil, of one that is not an error, and expressions such as `a.x ?? b.y` or
// `a.x == "…"` tell the two apart.
type envGroup struct {
	path  []string
	under []string
}

// planRunEnv works out runEnv for the fields of a whose plan is planRun; running holds their
// folded expressions.
func planRunEnv(a *matterInputs, running []ast.Node, known map[string]bool) runEnv {
	if len(running) == 0 {
		return runEnv{}
	}
	r := runEnv{shared: true}
	for _, n := range running {
		if !plainChains(n, known) {
			r.shared = false
		}
	}
	chains := map[string]bool{}
	for i, p := range a.plans {
		if p.kind == planRun {
			for _, f := range a.fields[i].all {
				chains[f] = true
			}
		}
	}
	groups := map[string]bool{}
	for _, code := range sortedKeys(chains) {
		path := strings.Split(code, ".")
		r.chains = append(r.chains, envField{code: code, path: path})
		for n := 1; n < len(path); n++ {
			groups[strings.Join(path[:n], ".")] = true
		}
	}
	for _, key := range sortedKeys(groups) {
		g := envGroup{path: strings.Split(key, ".")}
		for _, f := range a.exprEnv {
			if strings.HasPrefix(f.code, key+".") {
				g.under = append(g.under, f.code)
			}
		}
		r.groups = append(r.groups, g)
	}
	return r
}

// plainChains reports whether an expression reads the environment only through member chains
// that name known canonical fields: no bare identifier (a let variable, a function, $env), no
// computed index, no optional chain, no predicate.
func plainChains(n ast.Node, known map[string]bool) bool {
	switch x := n.(type) {
	case nil, *ast.StringNode, *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.NilNode:
		return true
	case *ast.MemberNode:
		code, ok := chainOf(x)
		return ok && known[code]
	case *ast.UnaryNode:
		return plainChains(x.Node, known)
	case *ast.BinaryNode:
		return plainChains(x.Left, known) && plainChains(x.Right, known)
	case *ast.ConditionalNode:
		return plainChains(x.Cond, known) && plainChains(x.Exp1, known) && plainChains(x.Exp2, known)
	case *ast.ArrayNode:
		for _, e := range x.Nodes {
			if !plainChains(e, known) {
				return false
			}
		}
		return true
	}
	return false
}

// groupAt returns the group at path in env, creating it (and the groups around it) when
// create is set; nil when it is not there. Like exprEnv, a group wins over a field's value
// standing where it belongs (which the catalogue forbids).
func groupAt(env map[string]any, path []string, create bool) map[string]any {
	m := env
	for _, seg := range path {
		next, ok := m[seg].(map[string]any)
		if !ok {
			if !create {
				return nil
			}
			next = make(map[string]any, 4)
			m[seg] = next
		}
		m = next
	}
	return m
}

// setField puts a canonical field's value into env at its path, as exprEnv does.
func setField(env map[string]any, path []string, v any) {
	m := groupAt(env, path[:len(path)-1], true)
	leaf := path[len(path)-1]
	if _, group := m[leaf].(map[string]any); !group {
		m[leaf] = envValue(v)
	}
}
