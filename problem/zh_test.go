package problem_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"yjshub/problem"
)

// ruleSite is where a rule is declared or written.
type ruleSite struct {
	rule, at string
}

// moduleRules finds every rule the module's code declares: constants named Rule… with a string
// literal value, and string literals written as the Rule of a composite literal (a Problem, a
// Violation, a connector's problem).
func moduleRules(t *testing.T) []ruleSite {
	t.Helper()
	root := ".."
	var sites []ruleSite
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		literal := func(e ast.Expr) (string, bool) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.CONST {
					return true
				}
				for _, spec := range n.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if !strings.HasPrefix(id.Name, "Rule") || i >= len(vs.Values) {
							continue
						}
						if s, ok := literal(vs.Values[i]); ok {
							sites = append(sites, ruleSite{s, fset.Position(id.Pos()).String() + " " + id.Name})
						}
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Rule" {
					if s, ok := literal(n.Value); ok {
						sites = append(sites, ruleSite{s, fset.Position(n.Pos()).String() + " Rule:"})
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sites
}

func TestEveryRuleOfTheModuleHasAChineseTemplate(t *testing.T) {
	sites := moduleRules(t)
	found := map[string]bool{}
	for _, s := range sites {
		found[s.rule] = true
	}
	// Rules the scan must see, or it has stopped looking where rules are declared.
	for _, want := range []string{problem.RuleRequired, "control_character", "value_map", "consent_missing", "licence_revoked", "unknown_bundle", "issuer"} {
		if !found[want] {
			t.Errorf("the scan of the module did not find the rule %q: it no longer finds every rule", want)
		}
	}
	// The field dictionary's format checks report their format's name as the rule: the format
	// package's own test holds each to a template (format is above problem).
	var missing []string
	for _, s := range sites {
		if !problem.HasZHTemplate(s.rule) {
			missing = append(missing, s.rule+" ("+s.at+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules without a Chinese template in problem/zh.go:\n%s", strings.Join(missing, "\n"))
	}
	if len(sites) < 60 {
		t.Errorf("only %d rule sites found", len(sites))
	}
}

// names is a labeller of a few of the catalogue's things.
type names map[string]string

func (n names) FieldName(code string) (string, bool)    { v, ok := n["field:"+code]; return v, ok }
func (n names) MaterialName(code string) (string, bool) { v, ok := n["material:"+code]; return v, ok }
func (n names) MatterName(code string) (string, bool)   { v, ok := n["matter:"+code]; return v, ok }

var labels = names{
	"field:applicant.id_number":    "申请人公民身份号码",
	"field:enterprise.uscc":        "统一社会信用代码",
	"field:contact.mobile":         "联系人手机号码",
	"material:premises-proof":      "经营场所使用证明",
	"matter:food-business-licence": "食品经营许可",
}

func TestCommonRulesAreWordedForTheApplicant(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    problem.Problem
		l    problem.Labeller
		want string
	}{
		{"a required field is asked for by its name", problem.Problem{Path: "/form/applicant.id_number", Rule: problem.RuleRequired}, labels, "请填写申请人公民身份号码"},
		{"the Field a producer set names the thing over the path", problem.Problem{Path: "/x", Rule: problem.RuleRequired, Field: "applicant.id_number"}, labels, "请填写申请人公民身份号码"},
		{"a resident ID number that fails its check", problem.Problem{Path: "/form/applicant.id_number", Rule: "gb11643"}, labels, "申请人公民身份号码有误（位数、出生日期或校验位不正确），请核对"},
		{"a USCC that fails its check", problem.Problem{Path: "/form/enterprise.uscc", Rule: "gb32100"}, labels, "统一社会信用代码不是有效的统一社会信用代码（位数或校验位不正确），请核对"},
		{"a mobile number", problem.Problem{Path: "/form/contact.mobile", Rule: "mobile"}, labels, "联系人手机号码不是有效的手机号码，请核对"},
		{"a required material is asked to be submitted", problem.Problem{Path: "/materials", Rule: problem.RuleRequired, Material: "premises-proof"}, labels, "请提交经营场所使用证明"},
		{"a missing required material by its Material", problem.Problem{Path: "/materials", Rule: "required_material", Material: "premises-proof"}, labels, "请提交经营场所使用证明"},
		{"a missing required material without its Material", problem.Problem{Path: "/materials", Rule: "required_material"}, labels, "请提交所选事项要求的材料"},
		{"a material item is counted from one", problem.Problem{Path: "/materials/2/type", Rule: "not_needed"}, labels, "所选事项不需要第3份材料，请删除"},
		{"a part of a material item", problem.Problem{Path: "/materials/0/sha256", Rule: problem.RuleSHA256}, labels, "第1份材料的文件摘要格式不正确，应为64位十六进制的SHA-256摘要"},
		{"a part of a licence a department attaches", problem.Problem{Path: "/licences/0/valid_until", Rule: problem.RuleDate}, labels, "第1个电子证照的有效期截止日期应为日期，格式为年-月-日（如2026-01-31）"},
		{"a matter named by code in the path", problem.Problem{Path: "/matters/food-business-licence", Rule: "not_open"}, labels, "事项“食品经营许可”不向该类申请人开放，请重新选择"},
		{"a matter named by its index", problem.Problem{Path: "/matters/1", Rule: "not_open"}, labels, "所选第2个事项不向该类申请人开放，请重新选择"},
		{"a request key the hub knows", problem.Problem{Path: "/bundle", Rule: problem.RuleRequired}, labels, "请填写一件事"},
		{"a query parameter", problem.Problem{Path: "within", Rule: problem.RuleRange}, labels, "期限（工作日）超出允许的范围，请核对"},
		{"a rule about the whole body names nothing", problem.Problem{Path: "", Rule: problem.RuleJSON}, labels, "提交的内容不是规定格式的JSON，请核对后重新提交"},
		{"a refused consent", problem.Problem{Path: "/consent", Rule: "consent_expired"}, labels, "申请人的授权已过期，请重新取得授权"},
		{"without a labeller a field is not named", problem.Problem{Path: "/form/applicant.id_number", Rule: problem.RuleRequired}, nil, "请填写该填写项"},
		{"a rule without a template is worded generically", problem.Problem{Path: "/form/applicant.id_number", Rule: "no_such_rule"}, labels, "申请人公民身份号码有误，请核对"},
		{"a rule without a template and nothing to name", problem.Problem{Path: "/zzz", Rule: "no_such_rule"}, labels, "提交的内容有误，请核对后重新提交"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problem.MessageZH(tc.p, tc.l); got != tc.want {
				t.Errorf("MessageZH(%+v) = %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

func TestTheChineseMessageNeverRepeatsWhatWasSubmitted(t *testing.T) {
	// Keys and codes the hub does not know are the submitter's text: a key may be an ID number.
	const id = "11010519491231002X"
	for _, p := range []problem.Problem{
		{Path: "/form/" + id, Rule: problem.RuleUnknownField},
		{Path: "/" + id, Rule: problem.RuleUnknownField},
		{Path: "/matters/" + id, Rule: "unknown_matter"},
		{Path: "/materials/0/" + id, Rule: problem.RuleUnknownField},
		{Path: id, Rule: problem.RuleRequired},
		{Path: "/form/x", Rule: problem.RuleRequired, Field: id},
		{Path: "/materials", Rule: problem.RuleRequired, Material: id},
	} {
		if got := problem.MessageZH(p, labels); strings.Contains(got, id) || got == "" {
			t.Errorf("%+v: %q", p, got)
		}
	}
}

func TestLocaliseFillsOnlyWhatTheProducerLeftEmptyAndCopies(t *testing.T) {
	in := []problem.Problem{
		{Path: "/form/applicant.id_number", Rule: problem.RuleRequired},
		{Path: "/bundle", Rule: problem.RuleRequired, MessageZH: "请选择一件事"},
	}
	out := problem.Localise(in, labels)
	if out[0].MessageZH != "请填写申请人公民身份号码" || out[1].MessageZH != "请选择一件事" {
		t.Errorf("Localise = %+v", out)
	}
	if in[0].MessageZH != "" {
		t.Error("Localise changed its argument")
	}
	if problem.Localise(nil, labels) != nil {
		t.Error("no problems must stay none")
	}
}
