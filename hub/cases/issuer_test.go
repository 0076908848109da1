package cases_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/problem"
)

// A department issues, with its approval, only the licence type its matter's result defines,
// in its own name: 区烟草局 approving its own sub-case with a 食品经营许可证 in 区市场监管局's
// name is refused whole, and nothing of the event is applied — however the event arrives, it
// comes through ApplyEvent.
func TestAnApprovalIssuesOnlyItsMattersLicenceInItsDepartmentsName(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		var tobacco cases.SubcaseView
		for _, sc := range v.Subcases {
			if sc.Department.Code == "tobacco" {
				tobacco = sc
			}
		}
		for _, typ := range []string{event.Received, event.Accepted} {
			if _, _, err := svc.ApplyEvent(ctx, tobacco.ID, event.DepartmentEvent{EventID: typ, Type: typ}); err != nil {
				t.Fatal(err)
			}
		}
		licence := func(typ, issuer string) event.Licence {
			return event.Licence{Type: typ, Number: "X320707100123", Holder: "连云港海韵餐饮管理有限公司", HolderID: "91350100M000100Y43",
				HolderIDType: "uscc", Issuer: issuer, IssuedAt: "2026-12-03", ValidFrom: "2026-12-03", ValidUntil: "2099-12-31",
				File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/x.ofd", Format: "ofd"}}
		}
		tests := []struct {
			name     string
			licences []event.Licence
			want     []problem.Problem // path and rule
		}{
			{"another department's licence in that department's name",
				[]event.Licence{licence("食品经营许可证", "区市场监管局")},
				[]problem.Problem{{Path: "/licences/0/type", Rule: licences.RuleLicenceType}, {Path: "/licences/0/issuer", Rule: licences.RuleIssuer}}},
			{"its own licence type in another department's name",
				[]event.Licence{licence("烟草专卖零售许可证", "连云港市赣榆区市场监督管理局")},
				[]problem.Problem{{Path: "/licences/0/issuer", Rule: licences.RuleIssuer}}},
			{"another type in its own name, beside a good one",
				[]event.Licence{licence("烟草专卖零售许可证", "区烟草局"), licence("食品经营许可证", "tobacco")},
				[]problem.Problem{{Path: "/licences/1/type", Rule: licences.RuleLicenceType}}},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ev := event.DepartmentEvent{EventID: "approve-" + string(rune('a'+i)), Type: event.Approved, DecisionNumber: "赣烟许〔2026〕1号", Licences: tc.licences}
				_, _, err := svc.ApplyEvent(ctx, tobacco.ID, ev)
				var pe *problem.Error
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want the problems", err)
				}
				if len(pe.Problems) != len(tc.want) {
					t.Fatalf("problems %+v, want %+v", pe.Problems, tc.want)
				}
				for j, w := range tc.want {
					if p := pe.Problems[j]; p.Path != w.Path || p.Rule != w.Rule || p.Message == "" {
						t.Errorf("problem %d: %+v, want %s at %s", j, p, w.Rule, w.Path)
					}
				}
				for _, table := range []string{"licences", "department_events WHERE type = 'approved'"} {
					if n := count(t, st, table); n != 0 {
						t.Errorf("%d rows in %s after a refused approval", n, table)
					}
				}
				got, err := svc.Get(ctx, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, sc := range got.Subcases {
					if sc.ID == tobacco.ID && sc.State != "accepted" {
						t.Errorf("the sub-case is %s after a refused approval, want accepted", sc.State)
					}
				}
			})
		}

		// In its own name (here its full name): recorded for the sub-case.
		ev := event.DepartmentEvent{EventID: "approve-ok", Type: event.Approved, DecisionNumber: "赣烟许〔2026〕1号",
			Licences: []event.Licence{licence("烟草专卖零售许可证", "连云港市赣榆区烟草专卖局")}}
		if _, _, err := svc.ApplyEvent(ctx, tobacco.ID, ev); err != nil {
			t.Fatalf("tobacco's own licence in its own name: %v", err)
		}
		got, _ := svc.Get(ctx, v.ID)
		if len(got.Licences) != 1 || got.Licences[0].SubcaseID != tobacco.ID || got.Licences[0].Type != "烟草专卖零售许可证" {
			t.Fatalf("the case's licences: %+v", got.Licences)
		}
	})
}
