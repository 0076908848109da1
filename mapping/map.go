package mapping

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/vm"

	"yjshub/catalogue"
	"yjshub/problem"
)

// Form is the applicant's one form: canonical field code (a flat key with dots, e.g.
// "enterprise.uscc") → the decoded JSON value (string, float64 or json.Number, bool). A key
// whose value is nil (JSON null) counts as absent.
type Form map[string]any

// Results holds the results of decided prerequisites: matter code → result field
// (licence_number, licence_name, issued_at, valid_until, issuer, decision_number) → value.
type Results map[string]map[string]any

// Map fills in the department's own form of matter m for an applicant of applicantType, from
// the canonical form and the prerequisites' results. Each form field of the matter is filled
// in as the catalogue says:
//
//   - from: the canonical field's value; absent → the field is omitted;
//   - const: the constant;
//   - expr: the compiled expression, run with the canonical fields it reads as nested maps
//     ({"enterprise": {"name": …}}) plus applicant_type; an expression that fails or gives
//     nil leaves the field out;
//   - from_result: the prerequisite's result field; absent → omitted, and never a problem,
//     since the prerequisite may not have been decided yet.
//
// A required form field left without a value (other than from_result) is a Problem whose Path
// is the department field as a JSON Pointer ("/SHXYDM"): rule "required" naming the canonical
// fields to fill in, or rule "expression" when the expression failed although every canonical
// field it reads is there (a value of the wrong kind). No message contains a value.
//
// Map is safe for concurrent use; it does not modify form or results. The values it copies
// are shared with form, not deep-copied.
func Map(m *catalogue.Matter, applicantType string, form Form, results Results) (map[string]any, []problem.Problem) {
	out := make(map[string]any, len(m.Form))
	var problems []problem.Problem
	var env map[string]any // built on the first expression only
	var machine vm.VM      // reused by the matter's expressions
	for i := range m.Form {
		ff := &m.Form[i]
		var v any
		failed := false
		switch {
		case ff.From != "":
			v = form[ff.From]
		case ff.Expr != "":
			prog := m.Program(i)
			if prog == nil {
				failed = true
				break
			}
			if env == nil {
				env = exprEnv(form, analyse(m, applicantType).exprEnv, applicantType)
			}
			r, err := machine.Run(prog, env)
			if err != nil {
				// The error text may quote a value: it is not kept.
				failed = true
				break
			}
			v = r
		case ff.FromResult != nil:
			if r := results[ff.FromResult.Matter][ff.FromResult.Field]; r != nil {
				out[ff.Field] = r
			}
			continue
		default:
			v = ff.Const
		}
		if v != nil && !failed {
			out[ff.Field] = v
			continue
		}
		if ff.Required {
			problems = append(problems, missingProblem(m, applicantType, i, failed, form))
		}
	}
	return out, problems
}

// missingProblem describes a required department field left without a value. When canonical
// fields the department field reads for this applicant type are absent, that is the cause
// (rule required, naming them); an expression that fails although its inputs are all there
// has met a value of the wrong kind (rule expression).
func missingProblem(m *catalogue.Matter, applicantType string, i int, failed bool, form Form) problem.Problem {
	ff := &m.Form[i]
	p := problem.Problem{Path: "/" + pointerEscaper.Replace(ff.Field), Rule: problem.RuleRequired}
	inputs := analyse(m, applicantType).fields[i].all
	var missing []string
	for _, f := range inputs {
		if form[f] == nil {
			missing = append(missing, f)
		}
	}
	switch {
	case len(missing) > 0:
		p.Message = fmt.Sprintf("required field %s (%s) of %s has no value: fill in %s", ff.Field, ff.Title, m.Code, joinOr(missing))
	case failed:
		p.Rule = RuleExpression
		p.Message = fmt.Sprintf("required field %s (%s) of %s: its mapping expression could not be evaluated from %s",
			ff.Field, ff.Title, m.Code, strings.Join(inputs, ", "))
	default:
		p.Message = fmt.Sprintf("required field %s (%s) of %s has no value", ff.Field, ff.Title, m.Code)
	}
	return p
}

// exprEnv builds the environment of a matter's mapping expressions: the canonical fields they
// read (fields, known from the cached analysis and split at the dots) as nested maps, plus
// applicant_type. Only those fields are looked up, so the cost does not grow with the size of
// the form. Folding is exact, so the fields of the branches pruned for this applicant type are
// never read at run time and need not be there. A field that is also a group of other fields
// (which the catalogue forbids) would lose to the group, whatever the order.
func exprEnv(form Form, fields []envField, applicantType string) map[string]any {
	env := make(map[string]any, len(fields)+1)
	for _, f := range fields {
		v := form[f.code]
		if v == nil {
			continue
		}
		path := f.path
		m := env
		for _, seg := range path[:len(path)-1] {
			next, ok := m[seg].(map[string]any)
			if !ok {
				next = make(map[string]any, 4)
				m[seg] = next
			}
			m = next
		}
		leaf := path[len(path)-1]
		if _, group := m[leaf].(map[string]any); !group {
			m[leaf] = envValue(v)
		}
	}
	env[catalogue.ApplicantTypeVar] = applicantType
	return env
}

// envValue turns a json.Number into a float64 so that expressions can compare and add it.
func envValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return v
}
