package mapping

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/expr-lang/expr/vm"

	"yjshub/catalogue"
	"yjshub/problem"
	"yjshub/seeds"
)

// mapByVM is Map as it was before its fast paths: every expression run on the VM, in an
// environment of the matter's own, built from every canonical field its expressions read. The
// agreement tests hold Map and CaseMapper to it.
func mapByVM(m *catalogue.Matter, applicantType string, form Form, results Results) (map[string]any, []problem.Problem) {
	out := make(map[string]any, len(m.Form))
	var problems []problem.Problem
	var env map[string]any
	var machine vm.VM
	for i := range m.Form {
		ff := &m.Form[i]
		var v any
		failed := false
		switch {
		case !ff.AskedOf(applicantType):
			continue
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

// mapVariants are forms for a set of canonical fields: every field with its example, with one
// field left out, with one field of a value of another kind, as a json.Number, and empty.
func mapVariants(cat *catalogue.Catalogue, codes []string) []Form {
	full := Form{}
	for _, code := range codes {
		if f, ok := cat.Field(code); ok {
			full[code] = f.Example
		}
	}
	forms := []Form{full, {}}
	for _, code := range codes {
		without := cloneForm(full)
		delete(without, code)
		forms = append(forms, without)
		for _, other := range []any{"其他", 42.0, json.Number("7.5"), true, nil, map[string]any{"a": 1}} {
			changed := cloneForm(full)
			changed[code] = other
			forms = append(forms, changed)
		}
	}
	return forms
}

func cloneForm(f Form) Form {
	out := make(Form, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

// assertSameMapping fails when a mapping differs from mapByVM's.
func assertSameMapping(t *testing.T, label string, m *catalogue.Matter, typ string, form Form, results Results, got map[string]any, gotProblems []problem.Problem) {
	t.Helper()
	want, wantProblems := mapByVM(m, typ, form, results)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %s (%s) maps to %v; the VM alone gives %v", label, m.Code, typ, got, want)
	}
	if !reflect.DeepEqual(gotProblems, wantProblems) {
		t.Errorf("%s: %s (%s) has problems %v; the VM alone gives %v", label, m.Code, typ, gotProblems, wantProblems)
	}
}

// TestMapAgreesWithTheVM maps every matter of the catalogue, for both applicant types, from
// forms with every field, with each field missing or of another kind, and compares the result
// with running every expression on the VM: the folded fast paths change nothing.
func TestMapAgreesWithTheVM(t *testing.T) {
	cat := seedCatalogue(t)
	folded, ran := 0, 0
	for _, m := range cat.Matters {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual, "neither"} {
			a := analyse(m, typ)
			for _, p := range a.plans {
				switch p.kind {
				case planRead, planValue:
					folded++
				case planRun:
					ran++
				}
			}
			all, _ := InputsFor(m, typ)
			for i, form := range mapVariants(cat, all) {
				results := Results{}
				for _, pre := range m.Prerequisites {
					results[pre] = map[string]any{"licence_number": "L-1", "issued_at": "2023-10-01"}
				}
				got, problems := Map(m, typ, form, results)
				assertSameMapping(t, "form "+string(rune('A'+i%26)), m, typ, form, results, got, problems)
			}
		}
	}
	if folded == 0 || ran == 0 {
		t.Errorf("%d expressions folded, %d run: the test no longer covers both paths", folded, ran)
	}
}

// TestCaseMapperAgreesWithTheVM maps every bundle's matters with one CaseMapper per case, in the
// bundle's order and backwards, and compares each department's form with the VM alone: the
// shared environment gives every matter what its own would.
func TestCaseMapperAgreesWithTheVM(t *testing.T) {
	cat := seedCatalogue(t)
	for _, b := range cat.Bundles {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			var matters []*catalogue.Matter
			codes := map[string]bool{}
			for _, e := range b.Matters {
				m, _ := cat.Matter(e.Matter)
				if !m.Handles(typ) {
					continue
				}
				matters = append(matters, m)
				all, _ := InputsFor(m, typ)
				for _, c := range all {
					codes[c] = true
				}
			}
			for _, form := range mapVariants(cat, sortedKeys(codes)) {
				for _, order := range [][]*catalogue.Matter{matters, reversed(matters)} {
					c := NewCaseMapper(typ, form)
					for _, m := range order {
						got, problems := c.Map(m, nil)
						assertSameMapping(t, b.Code, m, typ, form, nil, got, problems)
					}
				}
			}
		}
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// sharedEnvMatters are two matters whose expressions tell a group that is there from one that
// is not (?? and == nil), reading fields of the same groups.
const sharedEnvMatters = `matters:
  - code: zz-env-a
    name: 测试事项甲
    kind: licence
    applicant_types: [enterprise, individual]
    department: {default: tobacco}
    statutory_limit: {kind: handling, days: 20, unit: working, basis: 测试依据}
    promised_limit: {kind: handling, days: 10, unit: working}
    codes: {basic: unknown, implementation: unknown, source: 测试目录}
    fee: {amount: 0, basis: 测试依据}
    result: {kind: licence, name: 测试证甲, licence_type_code: LOCAL-320707-901}
    prerequisites: []
    materials:
      - material: application-form
    form:
      - {field: A1, title: 甲一, required: true, expr: 'enterprise.name ?? "无"'}
      - {field: A2, title: 甲二, expr: 'enterprise.uscc == nil ? "缺" : "有"'}
      - {field: A3, title: 甲三, expr: 'business.name ?? contact.mobile'}
  - code: zz-env-b
    name: 测试事项乙
    kind: licence
    applicant_types: [enterprise, individual]
    department: {default: tobacco}
    statutory_limit: {kind: handling, days: 20, unit: working, basis: 测试依据}
    promised_limit: {kind: handling, days: 10, unit: working}
    codes: {basic: unknown, implementation: unknown, source: 测试目录}
    fee: {amount: 0, basis: 测试依据}
    result: {kind: licence, name: 测试证乙, licence_type_code: LOCAL-320707-902}
    prerequisites: []
    materials:
      - material: application-form
    form:
      - {field: B1, title: 乙一, expr: 'enterprise.legal_rep.name ?? "无"'}
      - {field: B2, title: 乙二, expr: 'business.address + "号"'}
      - {field: B3, title: 乙三, expr: 'applicant_type == "enterprise" ? enterprise.name : applicant.name'}
`

const sharedEnvBundle = `bundles:
  - seq: 99
    code: zz-env
    name: 测试一件事
    phase: 2023年7月底
    leads: [{department: tobacco}]
    cooperating: []
    matters:
      - {name: 测试事项甲, matter: zz-env-a}
      - {name: 测试事项乙, matter: zz-env-b}
`

// TestCaseMapperGivesEachMatterItsOwnGroups maps two matters whose expressions read fields of
// the same groups and tell an absent group from a present one, from forms where one matter's
// field puts a group in the shared environment that the other's own environment would not
// have. Each must still map as it does alone.
func TestCaseMapperGivesEachMatterItsOwnGroups(t *testing.T) {
	fsys := fstest.MapFS{}
	err := fs.WalkDir(seeds.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(seeds.FS, p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys["matters/zz-env.yaml"] = &fstest.MapFile{Data: []byte(sharedEnvMatters)}
	fsys["bundles/zz-env.yaml"] = &fstest.MapFile{Data: []byte(sharedEnvBundle)}
	cat, err := catalogue.Load(fsys, "seeds+zz")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cat.Matter("zz-env-a")
	b, _ := cat.Matter("zz-env-b")
	if !analyse(a, catalogue.Enterprise).run.shared || !analyse(b, catalogue.Enterprise).run.shared {
		t.Fatal("the test matters no longer use the shared environment")
	}
	forms := []Form{
		{"enterprise.legal_rep.name": "王丽"}, // b puts enterprise there; a's own fields in it are absent
		{"enterprise.legal_rep.name": "王丽", "business.address": "华中路"},
		{"enterprise.uscc": "91350100M000100Y43"},
		{"enterprise.name": "海韵", "enterprise.legal_rep.name": "王丽"},
		{"business.address": "华中路", "contact.mobile": "15105181234"},
		{},
	}
	distinct := false
	for _, form := range forms {
		for _, typ := range []string{catalogue.Enterprise, catalogue.Individual} {
			for _, order := range [][]*catalogue.Matter{{a, b}, {b, a}, {b, a, b, a}} {
				c := NewCaseMapper(typ, form)
				for _, m := range order {
					got, problems := c.Map(m, nil)
					assertSameMapping(t, "shared", m, typ, form, nil, got, problems)
				}
			}
			// The case the check is for: had a shared b's enterprise group, it would fill A1.
			if _, ok := form["enterprise.legal_rep.name"]; ok && form["enterprise.name"] == nil {
				out, _ := mapByVM(a, typ, form, nil)
				distinct = distinct || out["A1"] == nil
			}
		}
	}
	if !distinct {
		t.Error("no form tells a shared group from the matter's own: the test proves nothing")
	}
}
