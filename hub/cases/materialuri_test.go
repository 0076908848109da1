package cases

import (
	"testing"

	"yjshub/problem"
)

func TestMaterialURIsAreHttpsOnHostsTheHubAllows(t *testing.T) {
	open := MaterialHosts(nil)
	listed := MaterialHosts{"files.gov.example", "*.zwfw.example"}
	cases := []struct {
		uri                string
		openRule, listRule string // "" = accepted
	}{
		{"https://files.gov.example/a.pdf", "", ""},
		{"https://cdn.zwfw.example/a.pdf", "", ""},
		{"https://FILES.gov.example./a.pdf", "", ""},
		{"https://zwfw.example/a.pdf", "", RuleMaterialHost}, // *.domain is the hosts under it
		{"https://files.elsewhere.example/a.pdf", "", RuleMaterialHost},
		{"file:///etc/passwd", problem.RuleURI, problem.RuleURI},
		{"http://169.254.169.254/latest/meta-data/", problem.RuleURI, problem.RuleURI},
		{"https://169.254.169.254/latest/meta-data/", RuleMaterialHost, RuleMaterialHost},
		{"https://[::1]/x", RuleMaterialHost, RuleMaterialHost},
		{"https://127.0.0.1:8080/x", RuleMaterialHost, RuleMaterialHost},
		{"https://localhost/x", RuleMaterialHost, RuleMaterialHost},
		{"https://db.internal/x", RuleMaterialHost, RuleMaterialHost},
		{"https://printer.local/x", RuleMaterialHost, RuleMaterialHost},
		{"https://user:pw@files.gov.example/a.pdf", problem.RuleURI, problem.RuleURI},
		{"gopher://files.gov.example/a", problem.RuleURI, problem.RuleURI},
		{"/relative/a.pdf", problem.RuleURI, problem.RuleURI},
		{"https:///a.pdf", problem.RuleURI, problem.RuleURI},
		{"", problem.RuleURI, problem.RuleURI},
	}
	for _, c := range cases {
		for _, m := range []struct {
			hs   MaterialHosts
			want string
		}{{open, c.openRule}, {listed, c.listRule}} {
			p := m.hs.problem("/materials/0/uri", c.uri)
			got := ""
			if p != nil {
				got = p.Rule
				if p.Path != "/materials/0/uri" {
					t.Errorf("%q: path %q", c.uri, p.Path)
				}
			}
			if got != m.want {
				t.Errorf("%q with hosts %v: rule %q, want %q", c.uri, m.hs, got, m.want)
			}
		}
	}
	if bad := (MaterialHosts{"ok.example", "*.ok.example", "http://x", "10.0.0.1", "*.", ""}).Check(); len(bad) != 4 {
		t.Errorf("Check = %q, want the four entries that are not host names", bad)
	}
}
