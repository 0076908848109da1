package catalogue

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// ApplicantTypeVar is the variable every mapping expression sees besides the canonical fields:
// "enterprise" or "individual".
const ApplicantTypeVar = "applicant_type"

// exprEnv is the environment mapping expressions are compiled against: the canonical fields as
// nested maps (leaves nil, since at run time any field may be absent), plus applicant_type.
// Unknown top-level names fail to compile; member chains are checked by compileExpr.
func exprEnv(fields []*Field) map[string]any {
	env := map[string]any{ApplicantTypeVar: Enterprise}
	for _, f := range fields {
		parts := strings.Split(f.Code, ".")
		m := env
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = nil
	}
	return env
}

// compileExpr compiles a mapping expression once and returns the program and the canonical
// fields it reads. Every problem is returned as a message.
func compileExpr(src string, env map[string]any, fields map[string]*Field, opts ...expr.Option) (*vm.Program, []string, []string) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil, []string{"the expression does not parse: " + oneLine(err.Error())}
	}
	refs := &refCollector{bases: map[*ast.IdentifierNode]bool{}, lets: map[string]bool{}}
	ast.Walk(&tree.Node, refs)

	var problems []string
	used := map[string]bool{}
	for _, chain := range refs.maximalChains() {
		if _, ok := fields[chain]; ok {
			used[chain] = true
			continue
		}
		if strings.Contains(chain, ".") && isGroup(chain, fields) {
			problems = append(problems, fmt.Sprintf("%s names a group of fields, not a field", chain))
			continue
		}
		if !strings.Contains(chain, ".") && (chain == ApplicantTypeVar || refs.lets[chain]) {
			continue
		}
		problems = append(problems, fmt.Sprintf("unknown canonical field %s", chain))
	}
	for _, id := range refs.idents {
		name := id.Value
		if name == ApplicantTypeVar || refs.lets[name] || refs.bases[id] {
			continue
		}
		if isGroup(name, fields) {
			problems = append(problems, fmt.Sprintf("%s names a group of fields, not a field", name))
		}
		// Other bare identifiers are reported by the compiler below as unknown names.
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	prog, err := expr.Compile(src, append([]expr.Option{expr.Env(env)}, opts...)...)
	if err != nil {
		return nil, nil, []string{"the expression does not compile: " + oneLine(err.Error())}
	}
	inputs := make([]string, 0, len(used))
	for f := range used {
		inputs = append(inputs, f)
	}
	sort.Strings(inputs)
	return prog, inputs, nil
}

func isGroup(prefix string, fields map[string]*Field) bool {
	for code := range fields {
		if strings.HasPrefix(code, prefix+".") {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// refCollector gathers identifiers and member chains (a.b.c) from an expression's syntax tree.
type refCollector struct {
	idents []*ast.IdentifierNode
	bases  map[*ast.IdentifierNode]bool // identifiers that start a member chain
	chains []string
	lets   map[string]bool
}

func (r *refCollector) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		r.idents = append(r.idents, x)
	case *ast.VariableDeclaratorNode:
		r.lets[x.Name] = true
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok {
			r.bases[id] = true // a function name, not a field
		}
	case *ast.MemberNode:
		if chain, base, ok := memberChain(x); ok {
			r.chains = append(r.chains, chain)
			r.bases[base] = true
		}
	}
}

// maximalChains returns the recorded chains that no other chain extends.
func (r *refCollector) maximalChains() []string {
	set := map[string]bool{}
	for _, c := range r.chains {
		set[c] = true
	}
	var out []string
	for c := range set {
		extended := false
		for d := range set {
			if strings.HasPrefix(d, c+".") {
				extended = true
				break
			}
		}
		if !extended {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func memberChain(m *ast.MemberNode) (string, *ast.IdentifierNode, bool) {
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", nil, false
	}
	switch inner := m.Node.(type) {
	case *ast.IdentifierNode:
		return inner.Value + "." + prop.Value, inner, true
	case *ast.MemberNode:
		c, base, ok := memberChain(inner)
		if !ok {
			return "", nil, false
		}
		return c + "." + prop.Value, base, true
	}
	return "", nil, false
}
