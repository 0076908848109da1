package catalogue

import (
	"encoding/json"
	"strings"

	"github.com/expr-lang/expr/vm"
)

// Conditional reports whether the need has a when condition.
func (n *MaterialNeed) Conditional() bool { return n.When != "" }

// WhenInputs returns the canonical fields the need's when condition reads, sorted.
func (n *MaterialNeed) WhenInputs() []string { return n.whenInputs }

// Holds reports whether the need's when condition is true for a submitted form (canonical field
// code → JSON value) and an applicant type. A need without a condition always holds. A
// condition that cannot be evaluated (a value of the wrong type, which the form's own checks
// report) does not hold.
func (n *MaterialNeed) Holds(form map[string]any, applicantType string) bool {
	if n.When == "" {
		return true
	}
	if n.when == nil {
		return false
	}
	env := map[string]any{ApplicantTypeVar: applicantType}
	for _, code := range n.whenInputs {
		parts := strings.Split(code, ".")
		m := env
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		v := form[code]
		if num, ok := v.(json.Number); ok {
			if f, err := num.Float64(); err == nil {
				v = f
			}
		}
		m[parts[len(parts)-1]] = v
	}
	out, err := vm.Run(n.when, env)
	if err != nil {
		return false
	}
	b, _ := out.(bool)
	return b
}
