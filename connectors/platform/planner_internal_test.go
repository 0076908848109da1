package platform

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// caseBook answers Get with a case view as a test sets it.
type caseBook struct{ v *cases.CaseView }

func (b caseBook) SubmitAs(context.Context, string, cases.Application, string, string) (*cases.CaseView, bool, error) {
	panic("not used")
}
func (b caseBook) Get(context.Context, string) (*cases.CaseView, error) { return b.v, nil }

func summary(v *cases.CaseView) cases.CaseUpdated {
	ev := cases.CaseUpdated{CaseID: v.ID, State: v.State, Bundle: v.Bundle, Deadline: v.Deadline}
	for _, sc := range v.Subcases {
		ev.Subcases = append(ev.Subcases, cases.SubcaseSummary{ID: sc.ID, MatterCode: sc.MatterCode, Department: sc.Department.Code, State: sc.State})
	}
	return ev
}

func TestWithdrawalsArePushedForTheCaseOrForTheOptionalSubcaseNamed(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		cfg := testConfigs(t)["jiangsu"]
		cfg.setDefaults()
		c := &Connector{cfg: cfg, tables: tables{st: env.Store, platform: "jiangsu"}}
		if err := c.tables.storeApplication(env.Ctx, outcome{appID: "JS-W", caseID: "cs_w", state: appSubmitted, reported: reportDone}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
		v := &cases.CaseView{ID: "cs_w", State: cases.CaseInProgress, Bundle: event.BundleRef{Seq: 30, Code: "open-drink-shop", Name: "开饮品店"},
			Subcases: []cases.SubcaseView{
				{ID: "sc_food", MatterCode: "food-business-licence", MatterName: "食品经营许可", State: cases.StateAccepted,
					Department: cases.DepartmentRef{Code: "market-regulation", Name: "区市场监管局"}},
				{ID: "sc_ad", MatterCode: "outdoor-advertising-approval", MatterName: "户外广告设施设置审批", Optional: true, State: cases.StateWithdrawn,
					Department: cases.DepartmentRef{Code: "urban-management", Name: "区城管局"}},
			},
			Timeline: []cases.TimelineEntry{{At: at.Add(-time.Hour), SubcaseID: "sc_food", Type: cases.StateAccepted}, {At: at, SubcaseID: "sc_ad", Type: cases.StateWithdrawn}},
		}
		c.cases = caseBook{v}
		p := planner{c}
		steps, err := p.Steps(env.Ctx, summary(v))
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, s := range steps {
			keys[s.Key] = true
		}
		if !keys["platform:jiangsu:cs_w:withdrawn:sc_ad"] || keys["platform:jiangsu:cs_w:withdrawn"] || len(steps) != 2 {
			t.Fatalf("steps %v, want 受理 and the sub-case's 撤件", keys)
		}
		pushes, err := p.Build(env.Ctx, summary(v), steps)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		_ = json.Unmarshal(pushes[1].Body, &doc)
		w, _ := doc["withdrawn"].(map[string]any)
		if doc["blzt"] != "撤件" || doc["blsj"] != "2026-12-03T10:00:00+08:00" || w["scope"] != "subcase" || w["subcase_id"] != "sc_ad" ||
			w["matter_name"] != "户外广告设施设置审批" || w["department_code"] != "urban-management" {
			t.Errorf("撤件 of the sub-case = %v", doc)
		}

		// The applicant withdraws the whole case: one 撤件 for it, none per sub-case.
		v.State = cases.CaseWithdrawn
		v.Subcases[0].State = cases.StateWithdrawn
		v.Timeline = append(v.Timeline, cases.TimelineEntry{At: at.Add(time.Hour), Type: cases.CaseWithdrawn})
		steps, err = p.Steps(env.Ctx, summary(v))
		if err != nil {
			t.Fatal(err)
		}
		var withdrawn []string
		for _, s := range steps {
			if s.Name == stepWithdrawn {
				withdrawn = append(withdrawn, s.Key)
			}
		}
		if len(withdrawn) != 1 || withdrawn[0] != "platform:jiangsu:cs_w:withdrawn" {
			t.Fatalf("撤件 steps %v, want the case's alone", withdrawn)
		}
		pushes, err = p.Build(env.Ctx, summary(v), steps[len(steps)-1:])
		if err != nil || len(pushes) != 1 {
			t.Fatalf("Build: %v, %d pushes", err, len(pushes))
		}
		doc = nil
		_ = json.Unmarshal(pushes[0].Body, &doc)
		if w, _ := doc["withdrawn"].(map[string]any); w["scope"] != "case" || doc["blsj"] != "2026-12-03T11:00:00+08:00" {
			t.Errorf("撤件 of the case = %v", doc)
		}
	})
}
