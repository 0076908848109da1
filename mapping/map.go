package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
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
// are shared with form, not deep-copied. To map several matters of one case from one form, a
// CaseMapper does the same with less work.
func Map(m *catalogue.Matter, applicantType string, form Form, results Results) (map[string]any, []problem.Problem) {
	c := CaseMapper{applicantType: applicantType, form: form}
	return c.Map(m, results)
}

// CaseMapper maps the matters of one case from the case's one form: Map for each matter, with
// one expression environment for the whole case, built as the matters need it, and one VM.
// The results are those Map gives, matter by matter.
//
// A CaseMapper is not safe for concurrent use (it holds the environment and the VM); it does
// not modify the form, which must not change while the CaseMapper is in use.
type CaseMapper struct {
	applicantType string
	form          Form
	env           map[string]any   // the shared environment, built on the first expression run
	entered       []*matterInputs  // the matters whose fields env holds
	enteredBuf    [8]*matterInputs // entered's first array: a case has a handful of matters
	machine       vm.VM
}

// NewCaseMapper returns a CaseMapper for a case of an applicant of applicantType whose one form
// is form.
func NewCaseMapper(applicantType string, form Form) *CaseMapper {
	return &CaseMapper{applicantType: applicantType, form: form}
}

// Map fills in the department's own form of matter m, as the function Map does.
func (c *CaseMapper) Map(m *catalogue.Matter, results Results) (map[string]any, []problem.Problem) {
	a := analyse(m, c.applicantType)
	out := make(map[string]any, len(m.Form))
	var problems []problem.Problem
	var env map[string]any // found on the first expression the VM runs
	for i := range m.Form {
		ff := &m.Form[i]
		plan := &a.plans[i]
		var v any
		failed := false
		switch plan.kind {
		case planNotAsked:
			continue
		case planFrom:
			v = c.form[plan.code]
		case planRead:
			v = envValue(c.form[plan.code])
		case planValue:
			v = plan.value
		case planRun:
			prog := m.Program(i)
			if prog == nil {
				failed = true
				break
			}
			if env == nil {
				env = c.envFor(a)
			}
			r, err := c.machine.Run(prog, env)
			if err != nil {
				// The error text may quote a value: it is not kept.
				failed = true
				break
			}
			v = r
		case planResult:
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
			problems = append(problems, missingProblem(m, c.applicantType, i, failed, c.form))
		}
	}
	return out, problems
}

// envFor returns the environment for the expressions matter a runs on the VM. It must look to
// them exactly as the matter's own environment (exprEnv) would: the same values in the fields
// they read, and the same groups there or not (see envGroup). The shared environment gains the
// fields of each matter that enters it, and a group when one of the matter's own expression
// fields in it has a value; it serves the matter when no other matter has put there a group
// the matter's own fields would not. Otherwise, or when the matter's expressions read the
// environment in ways this does not follow, the matter gets an environment of its own.
func (c *CaseMapper) envFor(a *matterInputs) map[string]any {
	if !a.run.shared {
		return exprEnv(c.form, a.exprEnv, c.applicantType)
	}
	if c.env == nil {
		c.env = make(map[string]any, 8)
		c.env[catalogue.ApplicantTypeVar] = c.applicantType
		c.entered = c.enteredBuf[:0]
	}
	if !slices.Contains(c.entered, a) {
		for _, g := range a.run.groups {
			if c.anyValue(g.under) {
				groupAt(c.env, g.path, true)
			}
		}
		for _, f := range a.run.chains {
			if v := c.form[f.code]; v != nil {
				setField(c.env, f.path, v)
			}
		}
		c.entered = append(c.entered, a)
	}
	for _, g := range a.run.groups {
		if (groupAt(c.env, g.path, false) != nil) != c.anyValue(g.under) {
			return exprEnv(c.form, a.exprEnv, c.applicantType)
		}
	}
	return c.env
}

// anyValue reports whether one of the canonical fields has a value in the form.
func (c *CaseMapper) anyValue(codes []string) bool {
	for _, code := range codes {
		if c.form[code] != nil {
			return true
		}
	}
	return false
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
		if v := form[f.code]; v != nil {
			setField(env, f.path, v)
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
