package cases_test

import (
	"context"
	"testing"

	"yjshub/format"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store/storetest"
)

// Each sub-case's clock counts its matter's limits as their rules state them: 失业保险金 10
// working days (《社会保险经办条例》), 失业登记 with no statutory limit at all — never overdue
// against the law, only against the promise — and 烟草专卖零售许可 20 calendar days, which end
// on 17 December where 20 working days would end on 25 December. 失业保险金 waits for 失业登记,
// which has no statutory deadline: its statutory clock is projected from the registration's
// promised day.
func TestSubcasesCountTheirLimitsAsTheRulesStateThem(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := &movableClock{t: chinaDay(2026, 11, 27, 9, 30)} // a Friday
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: storetest.Migrated(open)(t), Now: clock.now})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			app, hash := example(t, "unemployment-individual")
			v, _, err := svc.Submit(ctx, app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			byMatter := map[string]cases.SubcaseView{}
			for _, sc := range v.Subcases {
				byMatter[sc.MatterCode] = sc
			}
			benefit, registration := byMatter["unemployment-insurance-benefit"], byMatter["unemployment-registration"]
			if benefit.State != cases.StateWaiting || benefit.Deadlines.Statutory != "2026-12-14" ||
				benefit.Limits.Statutory != (cases.LimitView{Days: 10, Unit: "working", Label: "10个工作日"}) {
				t.Errorf("失业保险金 waiting: %s %+v, limits %+v; want 10 working days after 11-30, due 2026-12-14", benefit.State, benefit.Deadlines, benefit.Limits)
			}
			if registration.Deadlines.Statutory != "" || registration.Limits.Statutory != (cases.LimitView{Unit: cases.UnitNone, Label: "无法定时限"}) ||
				registration.Deadlines.Promised != "2026-11-30" {
				t.Errorf("失业登记: %+v, limits %+v; want no statutory deadline and the promise on 2026-11-30", registration.Deadlines, registration.Limits)
			}
			latest := ""
			for _, sc := range v.Subcases {
				latest = max(latest, sc.Deadlines.Statutory)
			}
			if v.Deadline.Statutory != latest || latest == "" {
				t.Errorf("the case's statutory deadline %q, want the latest of its sub-cases' %q", v.Deadline.Statutory, latest)
			}

			// The registration is approved the same day: the benefit's clock starts now.
			for i, typ := range []string{event.Received, event.Approved} {
				if _, _, err := svc.ApplyEvent(ctx, registration.ID, event.DepartmentEvent{EventID: "reg" + string(rune('0'+i)), Type: typ, DecisionNumber: "赣人社失登〔2026〕1号"}); err != nil {
					t.Fatal(err)
				}
			}
			if v, err = svc.Get(ctx, v.ID); err != nil {
				t.Fatal(err)
			}
			for _, sc := range v.Subcases {
				if sc.MatterCode == benefit.MatterCode && (sc.State != cases.StateDispatched || sc.Deadlines.Statutory != "2026-12-11") {
					t.Errorf("失业保险金 released: %s %+v; want due 2026-12-11", sc.State, sc.Deadlines)
				}
			}

			// Three months on: the matters without a statutory limit are late on their promise
			// only; the benefit is past its statutory limit.
			clock.set(chinaDay(2027, 3, 1, 10, 0))
			for _, sc := range v.Subcases {
				if sc.State != cases.StateDispatched {
					continue
				}
				it := watched(t, svc, cases.DeadlineQuery{}, sc.ID)
				switch {
				case it.StatutoryUnit == cases.UnitNone:
					if it.Standing != cases.StandingOverduePromised || it.StatutoryDaysLeft != nil || it.Deadlines.Statutory != "" {
						t.Errorf("%s (no statutory limit): %s, statutory days left %v, due %q", it.Matter.Code, it.Standing, it.StatutoryDaysLeft, it.Deadlines.Statutory)
					}
				case it.Standing != cases.StandingOverdueStatutory || it.StatutoryDaysLeft == nil || *it.StatutoryDaysLeft >= 0:
					t.Errorf("%s: %s, statutory days left %v; want overdue against the law", it.Matter.Code, it.Standing, it.StatutoryDaysLeft)
				}
			}

			clock.set(chinaDay(2026, 11, 27, 9, 30))
			bar, hash := example(t, "open-bar-enterprise")
			b, _, err := svc.Submit(ctx, bar, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range b.Subcases {
				if sc.MatterCode == "tobacco-retail-licence" && (sc.Deadlines.Statutory != "2026-12-17" || sc.Limits.Statutory.Label != "20日") {
					t.Errorf("烟草专卖零售许可: %+v, limits %+v; want 20日, due 2026-12-17", sc.Deadlines, sc.Limits)
				}
			}
		})
	}
}

// A deadline in a year whose official holiday schedule is not known yet (2028 here) is
// counted Monday–Friday and flagged provisional, in the case view and on the deadline watch; one
// within the known schedule is not.
func TestADeadlineBeyondTheKnownScheduleIsProvisional(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := &movableClock{t: chinaDay(2027, 12, 27, 9, 30)}
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: storetest.Migrated(open)(t), Now: clock.now})
			if err != nil {
				t.Fatal(err)
			}
			app, hash := example(t, "unemployment-individual")
			v, _, err := hs.Cases.Submit(ctx, app, hash, "")
			if err != nil {
				t.Fatal(err)
			}
			flagged := 0
			for _, sc := range v.Subcases {
				in2028 := sc.Deadlines.Promised >= "2028" || sc.Deadlines.Statutory >= "2028"
				if sc.Deadlines.Provisional != in2028 {
					t.Errorf("%s due %+v: provisional %v", sc.MatterCode, sc.Deadlines, sc.Deadlines.Provisional)
				}
				if in2028 && sc.State != cases.StateWaiting {
					flagged++
					if it := watched(t, hs.Cases, cases.DeadlineQuery{}, sc.ID); !it.Deadlines.Provisional {
						t.Errorf("%s on the watch: %+v, want provisional", sc.MatterCode, it.Deadlines)
					}
				}
			}
			if flagged == 0 || !v.Deadline.Provisional {
				t.Fatalf("no deadline fell in 2028 (%+v): the test proves nothing", v.Deadline)
			}
		})
	}
}

// A natural person is the holder of their licences under the kind of the document they hold:
// a Taiwan resident with a residence permit is no resident ID holder (Holder, the dispatched
// applicant, the platform's holder code all follow it).
func TestAHolderKeepsTheKindOfTheirIdentityDocument(t *testing.T) {
	permit, err := format.CompleteResidentID("83000019900307002")
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: storetest.Migrated(open)(t)})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ idType, number, want string }{
				{"港澳台居民居住证", permit, event.IDResidencePermitHMT},
				{"护照", "E12345678", event.IDPassport},
			} {
				app, _ := example(t, "unemployment-individual")
				app.Form["applicant.id_type"], app.Form["applicant.id_number"] = tc.idType, tc.number
				v, _, err := hs.Cases.Submit(ctx, app, "h-"+tc.want, "")
				if err != nil {
					t.Fatalf("%s: %v", tc.idType, err)
				}
				holder, err := hs.Cases.Holder(ctx, v.ID)
				if err != nil || holder.ID != tc.number || holder.IDType != tc.want {
					t.Errorf("%s: holder %+v (%v), want kind %s", tc.idType, holder, err, tc.want)
				}
			}
		})
	}
}
