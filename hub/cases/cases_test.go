package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
	"yjshub/seeds"
)

var testCatalogue = func() *catalogue.Catalogue {
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		panic(err)
	}
	return cat
}()

// testNow is the clock of the services each and eachWith build.
var testNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// clocks hold the clock of each service each builds, which starts at testNow; setClock moves it.
var clocks sync.Map // *cases.Service → *atomic.Int64 (Unix microseconds)

// setClock sets the clock of a service each built.
func setClock(t *testing.T, svc *cases.Service, at time.Time) {
	t.Helper()
	c, ok := clocks.Load(svc)
	if !ok {
		t.Fatal("setClock: the service was not built by each")
	}
	c.(*atomic.Int64).Store(at.UnixMicro())
}

// each runs a test on every store backend (SQLite always, PostgreSQL when configured).
func each(t *testing.T, fn func(t *testing.T, st *store.Store, svc *cases.Service)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			clock := &atomic.Int64{}
			clock.Store(testNow.UnixMicro())
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, CallbackBase: "http://hub.test",
				Now: func() time.Time { return time.UnixMicro(clock.Load()).UTC() }})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			clocks.Store(svc, clock)
			t.Cleanup(func() { clocks.Delete(svc) })
			fn(t, st, svc)
		})
	}
}

func example(t *testing.T, name string) (cases.Application, string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "examples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	app, hash, err := cases.DecodeApplication(f)
	if err != nil {
		t.Fatal(err)
	}
	return app, hash
}

func count(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	var n int
	if err := st.DB().Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func departments(v *cases.CaseView) []string {
	set := map[string]bool{}
	for _, sc := range v.Subcases {
		set[sc.Department.Code] = true
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func outboxTopics(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	pending, err := st.PendingOutbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]int{}
	for _, m := range pending {
		topics[m.Topic]++
	}
	return topics
}

func TestOpenBarRoutesByApplicantType(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(departments(v), ","); got != "admin-approval,fire-rescue,tobacco,urban-management" {
			t.Fatalf("enterprise 开酒吧 went to %s", got)
		}
		topics := outboxTopics(t, st)
		for _, d := range departments(v) {
			if topics["yjs.subcase."+d] == 0 {
				t.Errorf("no message for %s in the outbox: %v", d, topics)
			}
		}

		app, hash = example(t, "open-bar-individual")
		v2, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(departments(v2), ","); got != "fire-rescue,market-regulation,tobacco" {
			t.Fatalf("individual 开酒吧 without the optional matter went to %s", got)
		}
		for _, sc := range v2.Subcases {
			if sc.MatterCode == "outdoor-advertising-approval" {
				t.Fatal("the optional matter was dispatched though not chosen")
			}
		}
	})
}

func TestEachMaterialIsStoredOnceAndReferencedByEverySubcaseThatNeedsIt(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(context.Background(), app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := count(t, st, "case_materials"); got != len(app.Materials) {
			t.Fatalf("%d materials stored for %d supplied", got, len(app.Materials))
		}
		shared := 0
		for _, m := range v.Materials {
			if len(m.UsedBy) > 1 {
				shared++
			}
			for _, user := range m.UsedBy {
				found := false
				for _, sc := range v.Subcases {
					if sc.ID == user {
						found = contains(sc.Materials, m.Type)
					}
				}
				if !found {
					t.Errorf("material %s claims sub-case %s, which does not list it", m.Type, user)
				}
			}
		}
		if shared == 0 {
			t.Fatal("no material is shared by two sub-cases: 一套材料 is not happening")
		}
		// The dispatched messages reference the same stored material, never a copy.
		pending, _ := st.PendingOutbox(context.Background(), 1000)
		uris := map[string]map[string]bool{}
		for _, p := range pending {
			var env event.Envelope
			_ = json.Unmarshal(p.Payload, &env)
			if env.Type != event.TypeSubcaseDispatched {
				continue
			}
			var d event.SubcaseDispatched
			if err := json.Unmarshal(env.Data, &d); err != nil {
				t.Fatal(err)
			}
			for _, m := range d.Materials {
				if uris[m.Type] == nil {
					uris[m.Type] = map[string]bool{}
				}
				uris[m.Type][m.SHA256+" "+m.URI] = true
			}
			if d.Callback != "http://hub.test/api/v1/subcases/"+d.SubcaseID+"/events" {
				t.Errorf("callback %q", d.Callback)
			}
			if len(d.Form) == 0 {
				t.Errorf("%s: the department form is empty", d.Matter.Code)
			}
		}
		for typ, set := range uris {
			if len(set) != 1 {
				t.Errorf("material %s reached departments as %d different files", typ, len(set))
			}
		}
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestRefusedApplicationsStoreNothing(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		cases_ := []struct {
			name       string
			edit       func(a *cases.Application)
			path, rule string
		}{
			{"an invalid resident ID number", func(a *cases.Application) { a.Form["enterprise.legal_rep.id_number"] = "110105194912310021" }, "/form/enterprise.legal_rep.id_number", "gb11643"},
			{"a bad unified social credit code", func(a *cases.Application) { a.Form["enterprise.uscc"] = "91350100M000100Y44" }, "/form/enterprise.uscc", "gb32100"},
			{"a dropped required matter", func(a *cases.Application) {
				a.Matters = slices.DeleteFunc(slices.Clone(a.Matters), func(m string) bool { return m == "tobacco-retail-licence" })
			}, "/matters", "required_matter"},
			{"neither of an either-or group", func(a *cases.Application) {
				a.Matters = slices.DeleteFunc(slices.Clone(a.Matters), func(m string) bool { return m == "food-business-licence" })
			}, "/matters", "either_or"},
			{"both of an either-or group", func(a *cases.Application) {
				a.Matters = append(slices.Clone(a.Matters), "prepackaged-food-sales-filing")
			}, "/matters", "either_or"},
			{"an unknown bundle", func(a *cases.Application) { a.Bundle = json.RawMessage(`"open-casino"`) }, "/bundle", "unknown_bundle"},
			{"an empty bundle code", func(a *cases.Application) { a.Bundle = json.RawMessage(`""`) }, "/bundle", "required"},
			{"a blank bundle code", func(a *cases.Application) { a.Bundle = json.RawMessage(`" "`) }, "/bundle", "required"},
			{"a missing required material", func(a *cases.Application) { a.Materials = a.Materials[1:] }, "/materials", "required_material"},
			{"a material with a bad hash", func(a *cases.Application) { a.Materials[0].SHA256 = "abc" }, "/materials/0/sha256", "sha256"},
		}
		for _, c := range cases_ {
			t.Run(c.name, func(t *testing.T) {
				app, hash := example(t, "open-bar-enterprise")
				c.edit(&app)
				_, _, err := svc.Submit(context.Background(), app, hash, "")
				var ve *problem.Error
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a *problem.Error", err)
				}
				found := false
				for _, p := range ve.Problems {
					if p.Path == c.path && p.Rule == c.rule {
						found = true
					}
					if strings.Contains(p.Message, "110105194912310021") || strings.Contains(p.Message, "91350100M000100Y44") {
						t.Errorf("a problem repeats the submitted value: %+v", p)
					}
				}
				if !found {
					t.Fatalf("no problem at %s with rule %s: %+v", c.path, c.rule, ve.Problems)
				}
				for _, table := range []string{"cases", "subcases", "case_materials", "outbox"} {
					if n := count(t, st, table); n != 0 {
						t.Fatalf("%d rows in %s after a refused application", n, table)
					}
				}
			})
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		first, replayed, err := svc.Submit(ctx, app, hash, "key-1")
		if err != nil || replayed {
			t.Fatalf("first: %v %v", err, replayed)
		}
		again, replayed, err := svc.Submit(ctx, app, hash, "key-1")
		if err != nil || !replayed || again.ID != first.ID {
			t.Fatalf("repeat: %v replayed=%v id %s vs %s", err, replayed, again.ID, first.ID)
		}
		other, otherHash := example(t, "open-bar-individual")
		if _, _, err := svc.Submit(ctx, other, otherHash, "key-1"); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("another body under the same key: %v", err)
		}
		if n := count(t, st, "cases"); n != 1 {
			t.Fatalf("%d cases stored, want 1", n)
		}
	})
}

func approve(t *testing.T, svc *cases.Service, v *cases.CaseView, sc cases.SubcaseView, n int) *cases.EventResult {
	t.Helper()
	ctx := context.Background()
	for _, typ := range []string{event.Received, event.Accepted} {
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: sc.ID + "-" + typ, Type: typ}); err != nil {
			t.Fatalf("%s %s: %v", sc.MatterCode, typ, err)
		}
	}
	ev := event.DepartmentEvent{EventID: sc.ID + "-approved", Type: event.Approved, DecisionNumber: "赣审〔2026〕" + sc.MatterCode}
	m, _ := testCatalogue.Matter(sc.MatterCode)
	if m.Result.Kind == "licence" {
		holder, err := svc.Holder(ctx, v.ID) // an individual business's licences are its credit code's
		if err != nil {
			t.Fatal(err)
		}
		ev.Licences = []event.Licence{{Type: m.Result.Name, Number: "N" + sc.ID[len(sc.ID)-8:] + string(rune('A'+n)), Holder: "申请人", HolderID: holder.ID, HolderIDType: holder.IDType,
			Issuer: sc.Department.Name, IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
			File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://files.example.org/l.ofd", Format: "ofd"}}}
	}
	res, _, err := svc.ApplyEvent(ctx, sc.ID, ev)
	if err != nil {
		t.Fatalf("%s approved: %v", sc.MatterCode, err)
	}
	return res
}

func TestACaseCompletesWhenEveryMatterIsDecided(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		var last *cases.EventResult
		for i, sc := range v.Subcases {
			if last != nil && last.Case.State == cases.CaseCompleted {
				t.Fatal("the case completed before every matter was decided")
			}
			last = approve(t, svc, v, sc, i)
		}
		if last.Case.State != cases.CaseCompleted || last.Case.Outcome != cases.OutcomeApproved {
			t.Fatalf("case %+v", last.Case)
		}
		got, err := svc.Get(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		licenceMatters := 0
		for _, sc := range v.Subcases {
			if m, _ := testCatalogue.Matter(sc.MatterCode); m.Result.Kind == "licence" {
				licenceMatters++
			}
		}
		if len(got.Licences) != licenceMatters || licenceMatters == 0 {
			t.Fatalf("%d e-licences for %d licence matters", len(got.Licences), licenceMatters)
		}
		if got.Timeline[len(got.Timeline)-1].Type != cases.CaseCompleted {
			t.Fatalf("the timeline does not end with completion: %+v", got.Timeline[len(got.Timeline)-1])
		}
	})
}

func TestDepartmentEventsFollowTheStateMachine(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		sc := v.Subcases[0]
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e1", Type: event.Resumed}); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("resumed from dispatched: %v", err)
		}
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e2", Type: event.Accepted}); err != nil {
			t.Fatal(err)
		}
		// The same event again: the first answer, no second effect.
		res, replayed, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e2", Type: event.Accepted})
		if err != nil || !replayed || res.Subcase.State != cases.StateAccepted {
			t.Fatalf("repeat: %v %v %+v", err, replayed, res)
		}
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e2", Type: event.Approved}); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("an event id reused for another type: %v", err)
		}
		before := res.Subcase.Deadlines
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e3", Type: event.SupplementRequested,
			Missing: []event.Missing{{Material: "premises-proof", Note: "租赁合同缺页"}}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e4", Type: event.Approved}); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("approved while waiting for a supplement: %v", err)
		}
		// The supplement came back five working days later: the deadline moves by five.
		later := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
		setClock(t, svc, later)
		res, _, err = svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e5", Type: event.Resubmitted, Time: later})
		if err != nil {
			t.Fatal(err)
		}
		if res.Subcase.Deadlines.Promised <= before.Promised {
			t.Fatalf("the pause did not extend the deadline: %s → %s", before.Promised, res.Subcase.Deadlines.Promised)
		}
		_, _, err = svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "e6", Type: event.Rejected})
		var ve *problem.Error
		if !errors.As(err, &ve) || ve.Problems[0].Path != "/reason" {
			t.Fatalf("a rejection without a reason: %v", err)
		}
		if _, _, err := svc.ApplyEvent(ctx, "sc_missing", event.DepartmentEvent{EventID: "e7", Type: event.Received}); !errors.Is(err, cases.ErrNotFound) {
			t.Fatalf("unknown sub-case: %v", err)
		}
	})
}

func TestAPrerequisiteHoldsAMatterBackAndFeedsItsForm(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "marine-fishery-chain-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		byMatter := map[string]cases.SubcaseView{}
		for _, sc := range v.Subcases {
			byMatter[sc.MatterCode] = sc
		}
		fishing := byMatter["fishing-licence"]
		if fishing.State != cases.StateWaiting || len(fishing.WaitingFor) == 0 {
			t.Fatalf("fishing-licence: %+v", fishing)
		}
		if fishing.Deadlines.Promised <= byMatter[fishing.WaitingFor[0]].Deadlines.Promised || v.Deadline.Promised < fishing.Deadlines.Promised {
			t.Fatalf("the critical path is not followed: fishing %s, prerequisite %s, case %s",
				fishing.Deadlines.Promised, byMatter[fishing.WaitingFor[0]].Deadlines.Promised, v.Deadline.Promised)
		}
		// Approve in prerequisite order until the fishing licence is dispatched.
		for i := 0; i < 5 && fishing.State == cases.StateWaiting; i++ {
			cur, _ := svc.Get(ctx, v.ID)
			for _, sc := range cur.Subcases {
				if sc.State == cases.StateDispatched {
					approve(t, svc, cur, sc, i)
				}
			}
			cur, _ = svc.Get(ctx, v.ID)
			for _, sc := range cur.Subcases {
				if sc.MatterCode == "fishing-licence" {
					fishing = sc
				}
			}
		}
		if fishing.State != cases.StateDispatched {
			t.Fatalf("fishing-licence never dispatched: %s", fishing.State)
		}
		var form string
		if err := st.DB().Get(&form, st.DB().Rebind("SELECT form FROM subcases WHERE id = ?"), fishing.ID); err != nil {
			t.Fatal(err)
		}
		var licence string
		if err := st.DB().Get(&licence, st.DB().Rebind("SELECT number FROM licences l JOIN subcases s ON s.id = l.subcase_id WHERE s.case_id = ? AND s.matter_code = ?"),
			v.ID, "fishing-vessel-ownership-nationality-registration"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(form, licence) {
			t.Fatalf("the prerequisite's licence number %s is not in the released form %s", licence, form)
		}
	})
}

func TestADeliveryOfAnUnknownSubcaseIsRecordedAndDoesNotStall(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		err := svc.RecordDelivered(context.Background(), connector.Delivery{EventID: "ev_x", SubcaseID: "sc_from_elsewhere", Department: "tobacco", Status: 202, Attempts: 1})
		if err != nil {
			t.Fatalf("an unknown sub-case's delivery must not fail (it would block the partition): %v", err)
		}
		if n := count(t, st, "deliveries"); n != 1 {
			t.Fatalf("%d delivery rows", n)
		}
	})
}

func countSteps(v *cases.CaseView, typ string) int {
	n := 0
	for _, e := range v.Timeline {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestADeliveryRetriedThenFailedThenReplayedShowsEachState(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if dv := v.Subcases[0].Delivery; dv == nil || dv.State != cases.DeliveryPending {
			t.Fatalf("a sub-case just sent: delivery %+v, want pending", dv)
		}
		d := connector.Delivery{EventID: "ev_1", SubcaseID: v.Subcases[0].ID, Department: v.Subcases[0].Department.Code, Status: 503, Attempts: 1}
		next := time.Now().Add(time.Minute).Truncate(time.Millisecond)
		for n := 1; n <= 3; n++ {
			d.Attempts = n
			if err := svc.RecordRetrying(ctx, connector.Retry{Delivery: d, Reason: "HTTP 503", NextAt: next}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := svc.Get(ctx, v.ID)
		dv := got.Subcases[0].Delivery
		if dv == nil || dv.State != cases.DeliveryRetrying || dv.Attempts != 3 || dv.LastError != "HTTP 503" || dv.NextAttemptAt == nil || !dv.NextAttemptAt.Equal(next) {
			t.Fatalf("while retried: delivery %+v, want retrying, 3 attempts, next %v", dv, next)
		}
		if n := countSteps(got, cases.StepDeliveryRetrying); n != 1 {
			t.Fatalf("%d retry steps in the timeline after three attempts, want 1", n)
		}
		d.Status, d.Attempts = 400, 4
		if err := svc.RecordFailed(ctx, d, "HTTP 400", "dl_1"); err != nil {
			t.Fatal(err)
		}
		got, _ = svc.Get(ctx, v.ID)
		if got.Subcases[0].DeliveryError != "HTTP 400" || got.Subcases[0].DeliveredAt != nil {
			t.Fatalf("after the failure: %+v", got.Subcases[0])
		}
		dv = got.Subcases[0].Delivery
		if dv == nil || dv.State != cases.DeliveryFailed || dv.DeadLetterID != "dl_1" || dv.LastError != "HTTP 400" || dv.NextAttemptAt != nil || dv.StateLabel != "推送失败" {
			t.Fatalf("after the failure: delivery %+v, want failed with dead letter dl_1", dv)
		}
		applicant := *got
		applicant.Subcases = append([]cases.SubcaseView(nil), got.Subcases...)
		applicant.ForApplicant()
		if applicant.Subcases[0].Delivery != nil {
			t.Fatal("a platform is shown the delivery records")
		}
		if err := svc.RecordRetrying(ctx, connector.Retry{Delivery: d, Reason: "HTTP 503", NextAt: next}); err != nil {
			t.Fatal(err)
		}
		d.Status = 202
		if err := svc.RecordDelivered(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := svc.RecordDelivered(ctx, d); err != nil { // a repeat changes nothing
			t.Fatal(err)
		}
		got, _ = svc.Get(ctx, v.ID)
		if got.Subcases[0].DeliveryError != "" || got.Subcases[0].DeliveredAt == nil {
			t.Fatalf("after the replay got through: %+v", got.Subcases[0])
		}
		if dv := got.Subcases[0].Delivery; dv == nil || dv.State != cases.DeliveryDelivered || dv.DeadLetterID != "" {
			t.Fatalf("after the replay got through: delivery %+v, want delivered", dv)
		}
		if err := svc.RecordRetrying(ctx, connector.Retry{Delivery: d, Reason: "HTTP 503", NextAt: next}); err != nil {
			t.Fatal(err)
		}
		if got, _ := svc.Get(ctx, v.ID); got.Subcases[0].Delivery.State != cases.DeliveryDelivered {
			t.Fatalf("a late retry note turned a delivered message into %s", got.Subcases[0].Delivery.State)
		}
		delivered := 0
		for _, e := range got.Timeline {
			if e.Type == "delivered" {
				delivered++
			}
		}
		if delivered != 1 {
			t.Fatalf("%d delivered entries in the timeline, want 1", delivered)
		}
	})
}

// An application that does not say which matters it applies for gets the bundle's required
// matters, and none of its optional ones (Application.Matters).
func TestAnApplicationWithoutMattersGetsOnlyTheRequiredMatters(t *testing.T) {
	b, ok := testCatalogue.Bundle("open-drink-shop")
	if !ok {
		t.Fatal("no bundle open-drink-shop in the catalogue")
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-drink-shop-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	// Without the optional outdoor sign: its fields and materials go with it.
	delete(doc, "matters")
	for k := range doc["form"].(map[string]any) {
		if strings.HasPrefix(k, "ad.") {
			delete(doc["form"].(map[string]any), k)
		}
	}
	doc["materials"] = slices.DeleteFunc(doc["materials"].([]any), func(m any) bool {
		return strings.HasPrefix(m.(map[string]any)["type"].(string), "ad-")
	})
	body, _ = json.Marshal(doc)
	app, hash, err := cases.DecodeApplication(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	// The bundle's required matters open to individuals, from the catalogue. The example
	// applies for exactly these, with the fields and materials they need and no more: had the
	// optional matter been selected too, its fields would be missing.
	var want []string
	optional := ""
	for _, e := range b.Matters {
		m, _ := testCatalogue.Matter(e.Matter)
		switch {
		case !m.Handles(app.ApplicantType):
		case e.Optional:
			optional = e.Matter
		default:
			want = append(want, e.Matter)
		}
	}
	if optional == "" || len(want) == 0 {
		t.Fatalf("open-drink-shop needs a required and an optional matter open to individuals for this test: %+v", b.Matters)
	}
	sort.Strings(want)
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		v, _, err := svc.Submit(context.Background(), app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sc := range v.Subcases {
			got = append(got, sc.MatterCode)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("applied for %v, want the required matters %v (and not the optional %s)", got, want, optional)
		}
	})
}
