package seeds_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/seeds"
)

// seedPath is the source plan, Ganyu District's 2023 plan with its table of the 40 bundles. It
// is kept in the repository, so that every clone checks the catalogue against it: a test that
// skipped where the plan was missing would pass whatever the catalogue says.
var seedPath = filepath.Join("testdata", "ganyu-yijianshi-plan-2023.txt")

type seedRow struct {
	seq                       string
	name                      string
	matters                   []string
	leads, cooperating, phase string
}

// parseSeedTable reads the table of the plan's annex: blocks separated by blank lines, each
// cell starting with a tab, a cell's further lines without one.
func parseSeedTable(t *testing.T) []seedRow {
	t.Helper()
	b, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatalf("the seed plan is part of the repository: %v", err)
	}
	text := string(b)
	i := strings.Index(text, "市设“一件事一次办”任务分工\n")
	i = strings.Index(text[i+1:], "市设“一件事一次办”任务分工\n") + i + 1
	var rows []seedRow
	for _, block := range strings.Split(text[i:], "\n\n") {
		var cells [][]string
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, "\t") {
				cells = append(cells, []string{strings.TrimSpace(line)})
			} else if len(cells) > 0 && strings.TrimSpace(line) != "" {
				cells[len(cells)-1] = append(cells[len(cells)-1], strings.TrimSpace(line))
			}
		}
		if len(cells) != 6 || cells[0][0] == "序号" {
			continue
		}
		rows = append(rows, seedRow{
			seq: cells[0][0], name: strings.Join(cells[1], ""), matters: cells[2],
			leads: strings.Join(cells[3], "\n"), cooperating: strings.Join(cells[4], "\n"), phase: cells[5][0],
		})
	}
	return rows
}

var deptRE = regexp.MustCompile(`区[^：:\s、，/]+?(局|委|大队)`)

func deptNames(cell string) []string {
	found := deptRE.FindAllString(cell, -1)
	set := map[string]bool{}
	for _, f := range found {
		set[f] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func load(t *testing.T) *catalogue.Catalogue {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestTheCatalogueMatchesTheSeedTable compares every bundle with the plan's table: seq, name
// (joined where the table breaks a line), every matter in order with （选办） turned into
// optional, the lead and cooperating departments, and the phase.
func TestTheCatalogueMatchesTheSeedTable(t *testing.T) {
	rows := parseSeedTable(t)
	if len(rows) != 40 {
		t.Fatalf("parsed %d rows from the seed table, want 40", len(rows))
	}
	cat := load(t)
	if len(cat.Bundles) != 40 {
		t.Fatalf("the catalogue has %d bundles, want 40", len(cat.Bundles))
	}
	for _, row := range rows {
		b, ok := cat.Bundle(row.seq)
		if !ok {
			t.Errorf("bundle %s is missing", row.seq)
			continue
		}
		if b.Name != row.name {
			t.Errorf("bundle %s: name %q, the seed says %q", row.seq, b.Name, row.name)
		}
		if b.Phase != row.phase {
			t.Errorf("bundle %s: phase %q, the seed says %q", row.seq, b.Phase, row.phase)
		}
		// Each seed line is one entry, or several entries whose names the line joins with 、.
		entries := b.Matters
		for _, line := range row.matters {
			optional := strings.Contains(line, "（选办）")
			want := strings.ReplaceAll(line, "（选办）", "")
			var names []string
			for len(entries) > 0 && strings.Join(names, "、") != want {
				names = append(names, entries[0].Name)
				if entries[0].Optional != optional {
					t.Errorf("bundle %s: %q optional=%v, the seed says %v", row.seq, entries[0].Name, entries[0].Optional, optional)
				}
				entries = entries[1:]
				if !strings.HasPrefix(want, strings.Join(names, "、")) {
					break
				}
			}
			if strings.Join(names, "、") != want {
				t.Errorf("bundle %s: the seed lists %q, the catalogue %q", row.seq, want, strings.Join(names, "、"))
			}
		}
		if len(entries) > 0 {
			t.Errorf("bundle %s: the catalogue has matters the seed does not list: %v", row.seq, entries)
		}
		var leads, coop []string
		for _, l := range b.Leads {
			d, _ := cat.Department(l.Department)
			leads = append(leads, d.Name)
		}
		for _, c := range b.Cooperating {
			d, _ := cat.Department(c)
			coop = append(coop, d.Name)
		}
		if got, want := strings.Join(uniqueSorted(leads), ","), strings.Join(deptNames(row.leads), ","); got != want {
			t.Errorf("bundle %s: leads %s, the seed says %s", row.seq, got, want)
		}
		if got, want := strings.Join(uniqueSorted(coop), ","), strings.Join(deptNames(row.cooperating), ","); got != want {
			t.Errorf("bundle %s: cooperating %s, the seed says %s", row.seq, got, want)
		}
	}
}

func uniqueSorted(ss []string) []string {
	set := map[string]bool{}
	for _, s := range ss {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestEveryDepartmentTheTableNamesIsDefined(t *testing.T) {
	cat := load(t)
	want := []string{"区行政审批局", "区市场监管局", "区农业农村局", "区人社局", "区城管局", "区卫健委", "区住建局", "区交通运输局", "区烟草局", "区消防救援大队", "区自然资源局"}
	have := map[string]bool{}
	for _, d := range cat.Departments {
		have[d.Name] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("department %s is missing", w)
		}
	}
}

func TestSharedMattersAreDefinedOnce(t *testing.T) {
	cat := load(t)
	groups := [][]string{
		{"社会保障卡申领", "社保卡申领"},
		{"户外广告设施设置的审批"},
		{"食品经营许可（新设）"},
		{"一次性工伤医疗补助金申领（个人、单位）", "一次性工伤医疗补助金申领"},
		{"仅销售包装食品经营者备案", "仅销售预包装食品经营者备案"},
		{"公共场所卫生许可", "公共场所卫生许可（新证）"},
	}
	for _, g := range groups {
		codes := map[string]bool{}
		uses := 0
		for _, b := range cat.Bundles {
			for _, e := range b.Matters {
				for _, n := range g {
					if e.Name == n {
						codes[e.Matter] = true
						uses++
					}
				}
			}
		}
		if len(codes) != 1 || uses < 2 {
			t.Errorf("%v: %d uses under %d matter definitions, want one definition used more than once", g, uses, len(codes))
		}
	}
}

func TestLeadsAndHandlingFollowTheApplicantType(t *testing.T) {
	cat := load(t)
	for _, seq := range []string{"30", "33", "34"} {
		b, _ := cat.Bundle(seq)
		if l := b.LeadFor(catalogue.Enterprise); len(l) != 1 || l[0].Department != "admin-approval" {
			t.Errorf("bundle %s enterprise leads: %v", seq, l)
		}
		if l := b.LeadFor(catalogue.Individual); len(l) != 1 || l[0].Department != "market-regulation" {
			t.Errorf("bundle %s individual leads: %v", seq, l)
		}
	}
	b, _ := cat.Bundle("1")
	stages := map[string]bool{}
	for _, l := range b.Leads {
		stages[l.Stage] = true
	}
	if len(stages) != 2 || stages[""] {
		t.Errorf("bundle 1 should have leads per stage, got %v", b.Leads)
	}
	food := b.Matters[3]
	m, _ := cat.Matter(food.Matter)
	if m.Department.For(catalogue.Enterprise) != "admin-approval" || m.Department.For(catalogue.Individual) != "market-regulation" {
		t.Errorf("食品经营许可 handling: %+v", m.Department)
	}
}

func TestEveryMatterIsComplete(t *testing.T) {
	cat := load(t)
	for _, m := range cat.Matters {
		switch l := m.StatutoryLimit; {
		case l.Set() && l.Basis == "":
			t.Errorf("%s: statutory limit without basis", m.Code)
		case l.Kind == catalogue.LimitHandling && (l.Days < 1 || (l.Unit != catalogue.UnitWorking && l.Unit != catalogue.UnitCalendar)):
			t.Errorf("%s: statutory limit without days or unit: %+v", m.Code, l)
		case l.Kind == catalogue.LimitNone && l.Note == "":
			t.Errorf("%s: no statutory limit, and no note saying what was checked", m.Code)
		}
		if !m.PromisedLimit.Set() {
			t.Errorf("%s: no promised limit", m.Code)
		}
		if m.Fee == nil || (m.Fee.Unknown && m.Fee.Note == "") || (!m.Fee.Unknown && m.Fee.Basis == "") {
			t.Errorf("%s: a fee with its basis, or unknown with a note: %+v", m.Code, m.Fee)
		}
		if len(m.Materials) == 0 {
			t.Errorf("%s: no materials", m.Code)
		}
		if len(m.Form) < 3 || len(m.Inputs()) == 0 {
			t.Errorf("%s: form has %d fields and reads %d canonical fields", m.Code, len(m.Form), len(m.Inputs()))
		}
	}
	for _, f := range cat.Fields {
		if v := f.Check(f.Example); len(v) > 0 {
			t.Errorf("%s: example invalid: %v", f.Code, v)
		}
	}
}
