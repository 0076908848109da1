package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
	"yjshub/schemas"
)

// mustProblems returns the problems of a *problem.Error, failing the test on any other error.
func mustProblems(t *testing.T, err error) []problem.Problem {
	t.Helper()
	ps, ok := problemsOf(err)
	if !ok {
		t.Fatalf("want problems, got %v", err)
	}
	return ps
}

func hasRule(ps []problem.Problem, rule, material, field string) bool {
	for _, p := range ps {
		if p.Rule == rule && p.Material == material && p.Field == field {
			return true
		}
	}
	return false
}

// outboxOf returns the pending outbox messages of a type, decoded, each checked against the
// event schemas.
func outboxOf(t *testing.T, st *store.Store, typ string) []event.Envelope {
	t.Helper()
	envelope, err := schemas.Compile("events/envelope.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Envelope
	for _, m := range pending {
		if m.Headers["ce_type"] != typ {
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if err := envelope.Validate(doc); err != nil {
			t.Errorf("%s does not match the event schemas: %v", typ, err)
		}
		var env event.Envelope
		if err := json.Unmarshal(m.Payload, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

const newProof = "1111111111111111111111111111111111111111111111111111111111111111"

func TestASupplementRoundTripReplacesWhatWasAskedAndResumesTheClock(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.SubmitAs(ctx, "jiangsu", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		sc := subcaseOf(t, v, "food-business-licence")
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "a", Type: event.Accepted}); err != nil {
			t.Fatal(err)
		}
		// A request must name what the matter asks for.
		_, _, err = svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "bad", Type: event.SupplementRequested,
			Missing: []event.Missing{{Material: "no-such-material"}, {Material: "fire-facility-plan"}, {Field: "no.such"}}, Deadline: "2026-11-01"})
		ps := mustProblems(t, err)
		if !hasRule(ps, cases.RuleUnknownMaterial, "no-such-material", "") || !hasRule(ps, cases.RuleNotNeeded, "fire-facility-plan", "") ||
			!hasRule(ps, problem.RuleUnknownField, "", "") || !hasRule(ps, cases.RuleDeadlinePast, "", "") {
			t.Fatalf("a request naming what the matter does not ask: %+v", ps)
		}
		// The department's own form field name is taken as the canonical field it comes from.
		res, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "s1", Type: event.SupplementRequested, Deadline: "2026-12-10",
			Missing: []event.Missing{{Material: "premises-proof", Note: "租赁合同缺页"}, {Field: "business.area_m2", Note: "面积与平面图不符"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Subcase.SupplementDeadline != "2026-12-10" || len(res.Subcase.Missing) != 2 || res.Subcase.StateLabel != "待补正" {
			t.Fatalf("the sub-case after the request: %+v", res.Subcase)
		}
		before := res.Subcase.Deadlines.Promised

		// Only what was asked, and each request whole.
		file := cases.MaterialInput{Type: "premises-proof", Filename: "lease-v2.pdf", SHA256: newProof, Size: 2048, URI: "https://files.example.org/lease-v2.pdf"}
		_, _, err = svc.Supplement(ctx, "jiangsu", v.ID, cases.Supplement{Materials: []cases.MaterialInput{file, {Type: "id-card", Filename: "id.pdf", SHA256: newProof, Size: 1, URI: "https://files.example.org/id.pdf"}},
			Form: map[string]any{"business.name": "新店名"}}, "h1", "")
		ps = mustProblems(t, err)
		if !hasRule(ps, cases.RuleNotAsked, "id-card", "") || !hasRule(ps, cases.RuleNotAsked, "", "business.name") {
			t.Fatalf("items not asked for: %+v", ps)
		}
		_, _, err = svc.Supplement(ctx, "jiangsu", v.ID, cases.Supplement{Materials: []cases.MaterialInput{file}}, "h2", "")
		if ps = mustProblems(t, err); !hasRule(ps, cases.RuleIncomplete, "", "business.area_m2") {
			t.Fatalf("a request answered in part: %+v", ps)
		}
		_, _, err = svc.Supplement(ctx, "jiangsu", v.ID, cases.Supplement{Materials: []cases.MaterialInput{file}, Form: map[string]any{"business.area_m2": -3}}, "h3", "")
		if ps = mustProblems(t, err); len(ps) == 0 || ps[0].Field != "business.area_m2" {
			t.Fatalf("a corrected field checked against the one form: %+v", ps)
		}
		if cur, _ := svc.Get(ctx, v.ID); subcaseOf(t, cur, sc.MatterCode).State != cases.StateSupplementRequested || len(cur.Supplements) != 0 {
			t.Fatal("a refused supplement changed the case")
		}

		// Five working days later the applicant answers whole.
		setClock(t, svc, time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
		sup := cases.Supplement{Materials: []cases.MaterialInput{file}, Form: map[string]any{"business.area_m2": 42.5}, Note: "已补全"}
		after, replayed, err := svc.Supplement(ctx, "jiangsu", v.ID, sup, "h4", "key-1")
		if err != nil || replayed {
			t.Fatal(err, replayed)
		}
		got := subcaseOf(t, after, sc.MatterCode)
		if got.State != cases.StateResubmitted || got.Paused || len(got.Missing) != 0 {
			t.Fatalf("the sub-case after the supplement: %+v", got)
		}
		if got.Deadlines.Promised <= before {
			t.Fatalf("the clock did not stand still while the applicant supplemented: %s → %s", before, got.Deadlines.Promised)
		}
		var proof []cases.MaterialView
		for _, m := range after.Materials {
			if m.Type == "premises-proof" {
				proof = append(proof, m)
			}
		}
		if len(proof) != 1 || proof[0].SHA256 != newProof || len(proof[0].UsedBy) == 0 {
			t.Fatalf("the case's premises proof after the supplement: %+v", proof)
		}
		if len(after.Supplements) != 1 || after.Supplements[0].Fields[0] != "business.area_m2" || after.Supplements[0].Subcases[0] != sc.ID ||
			after.Supplements[0].Materials[0].ID != proof[0].ID {
			t.Fatalf("the supplement is not recorded: %+v", after.Supplements)
		}
		msgs := outboxOf(t, st, event.TypeSubcaseResubmitted)
		if len(msgs) != 1 {
			t.Fatalf("%d resubmitted messages, want 1", len(msgs))
		}
		var data event.SubcaseResubmitted
		if err := json.Unmarshal(msgs[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.SubcaseID != sc.ID || len(data.Materials) != 1 || data.Materials[0].SHA256 != newProof || data.Fields["business.area_m2"] == nil ||
			len(data.Asked) != 2 || data.Note != "已补全" || len(data.Form) == 0 {
			t.Fatalf("the resubmitted message: %+v", data)
		}
		// The same key and body again: the first answer; anything more: nothing pending.
		if _, replayed, err := svc.Supplement(ctx, "jiangsu", v.ID, sup, "h4", "key-1"); err != nil || !replayed {
			t.Fatalf("a repeat: %v %v", err, replayed)
		}
		_, _, err = svc.Supplement(ctx, "jiangsu", v.ID, sup, "h5", "")
		if ps = mustProblems(t, err); ps[0].Rule != cases.RuleNothingPending {
			t.Fatalf("a supplement with nothing asked: %+v", ps)
		}
		// The department goes on from resubmitted.
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "ok", Type: event.Approved, DecisionNumber: "1"}); err != nil {
			t.Fatalf("approval after the supplement: %v", err)
		}
	})
}

func TestWithdrawingACaseEndsItAndTellsOnlyTheDepartmentsThatHadIt(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "marine-fishery-chain-enterprise")
		v, _, err := svc.SubmitAs(ctx, "jiangsu", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		dispatched, waiting := 0, 0
		for _, sc := range v.Subcases {
			switch sc.State {
			case cases.StateDispatched:
				dispatched++
			case cases.StateWaiting:
				waiting++
			}
		}
		if waiting == 0 {
			t.Fatal("the example has no waiting sub-case: the test needs one")
		}
		_, _, err = svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: " "})
		if ps := mustProblems(t, err); ps[0].Path != "/reason" {
			t.Fatalf("a withdrawal without a reason: %+v", ps)
		}
		_, _, err = svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: "暂不开业", Matters: []string{"food-business-licence", "no-such"}})
		if ps := mustProblems(t, err); !hasRule(ps, cases.RuleRequiredStays, "", "") || !hasRule(ps, cases.RuleNotInCase, "", "") {
			t.Fatalf("withdrawing a required matter alone: %+v", ps)
		}
		w, replayed, err := svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: "暂不开业"})
		if err != nil || replayed {
			t.Fatal(err, replayed)
		}
		if w.State != cases.CaseWithdrawn || w.StateLabel != "已撤回" || w.CompletedAt == nil {
			t.Fatalf("the case after its withdrawal: %s %s", w.State, w.StateLabel)
		}
		for _, sc := range w.Subcases {
			if sc.State != cases.StateWithdrawn {
				t.Errorf("%s is %s after the case's withdrawal", sc.MatterCode, sc.State)
			}
		}
		if msgs := outboxOf(t, st, event.TypeSubcaseWithdrawn); len(msgs) != dispatched {
			t.Fatalf("%d withdrawal messages, want one per sub-case the departments had (%d)", len(msgs), dispatched)
		}
		if _, replayed, err := svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: "暂不开业"}); err != nil || !replayed {
			t.Fatalf("withdrawing again: %v %v", err, replayed)
		}
		sc := w.Subcases[0]
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "late", Type: event.Accepted}); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("a department event after the withdrawal: %v", err)
		}
	})
}

func TestAnOptionalMatterIsWithdrawnAloneAndTheCaseCompletesWithoutIt(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.SubmitAs(ctx, "jiangsu", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		ad := subcaseOf(t, v, "outdoor-advertising-approval")
		if !ad.Optional {
			t.Fatal("the example's outdoor advertising is not optional")
		}
		w, _, err := svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: "不再设置户外广告", Matters: []string{"outdoor-advertising-approval"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := subcaseOf(t, w, ad.MatterCode); got.State != cases.StateWithdrawn || w.State != cases.CaseInProgress {
			t.Fatalf("after withdrawing the optional matter: case %s, matter %s", w.State, got.State)
		}
		// The others are decided: the case completes approved, the withdrawn one aside.
		for i := 0; i < 6; i++ {
			cur, _ := svc.Get(ctx, v.ID)
			for _, sc := range cur.Subcases {
				if sc.State == cases.StateDispatched {
					approve(t, svc, cur, sc, i)
				}
			}
		}
		done, _ := svc.Get(ctx, v.ID)
		if done.State != cases.CaseCompleted || done.Outcome != cases.OutcomeApproved || done.OutcomeLabel != "全部准予" {
			t.Fatalf("the case: %s %s", done.State, done.Outcome)
		}
		// Decided: the whole case can no longer be withdrawn.
		_, _, err = svc.Withdraw(ctx, v.ID, cases.Withdrawal{Reason: "x"})
		if ps := mustProblems(t, err); ps[0].Rule != cases.RuleDecided {
			t.Fatalf("withdrawing a decided case: %+v", ps)
		}
	})
}

func TestTheExternalRefIsThePlatformsOwnNumberAndFindsTheCase(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, _ := example(t, "open-drink-shop-individual")
		app.ExternalRef = "JS-2026-000123"
		v, _, err := svc.SubmitAs(ctx, "jiangsu", app, "h1", "")
		if err != nil {
			t.Fatal(err)
		}
		if v.ExternalRef != "JS-2026-000123" {
			t.Fatalf("external_ref %q", v.ExternalRef)
		}
		if _, _, err := svc.SubmitAs(ctx, "jiangsu", app, "h2", ""); !errors.Is(err, cases.ErrConflict) {
			t.Fatalf("the same number again: %v", err)
		}
		// Another platform's numbers are its own.
		if _, _, err := svc.SubmitAs(ctx, "lianyungang", app, "h3", ""); err != nil {
			t.Fatal(err)
		}
		list, err := svc.List(ctx, cases.CaseQuery{Owner: "jiangsu", ExternalRef: "JS-2026-000123"})
		if err != nil || len(list.Items) != 1 || list.Items[0].ID != v.ID || list.Items[0].StateLabel != "办理中" {
			t.Fatalf("the platform's list: %v %+v", err, list)
		}
		all, err := svc.List(ctx, cases.CaseQuery{AllOwners: true, ExternalRef: "JS-2026-000123", Limit: 1})
		if err != nil || len(all.Items) != 1 || all.Next == "" {
			t.Fatalf("the operators' list, page 1: %v %+v", err, all)
		}
		rest, err := svc.List(ctx, cases.CaseQuery{AllOwners: true, ExternalRef: "JS-2026-000123", After: all.Next})
		if err != nil || len(rest.Items) != 1 || rest.Next != "" || rest.Items[0].ID == all.Items[0].ID {
			t.Fatalf("the operators' list, page 2: %v %+v", err, rest)
		}
		if _, err := svc.List(ctx, cases.CaseQuery{State: "nonsense", Limit: 9999}); len(mustProblems(t, err)) != 2 {
			t.Fatalf("a bad query: %v", err)
		}
		body := strings.Replace(string(mustJSONBytes(t, app)), "JS-2026-000123", "JS 1", 1)
		if _, _, err := cases.DecodeApplication(strings.NewReader(body)); mustProblems(t, err)[0].Rule != cases.RuleExternalRef {
			t.Fatalf("an external_ref with a space: %v", err)
		}
	})
}

func mustJSONBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheFeedCarriesTheApplicantsStepsOfOnesOwnCasesInOrder(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.SubmitAs(ctx, "jiangsu", app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := example(t, "open-drink-shop-enterprise")
		if _, _, err := svc.SubmitAs(ctx, "lianyungang", other, "h", ""); err != nil {
			t.Fatal(err)
		}
		first, err := svc.Events(ctx, cases.FeedQuery{Owner: "jiangsu"})
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Items) == 0 || first.Items[0].Type != "submitted" || first.Items[0].CaseID != v.ID {
			t.Fatalf("the feed's first page: %+v", first)
		}
		for _, e := range first.Items {
			if e.CaseID != v.ID || e.Text == "" || e.At.Location().String() == "UTC" {
				t.Fatalf("a step of another platform, without text or not in China time: %+v", e)
			}
		}
		// A long poll from the last cursor waits for the acceptance and carries its facts.
		sc := subcaseOf(t, v, "food-business-licence")
		got := make(chan *cases.Feed, 1)
		go func() {
			f, err := svc.Events(ctx, cases.FeedQuery{Owner: "jiangsu", After: first.Next, Wait: 30 * time.Second})
			if err != nil {
				t.Error(err)
			}
			got <- f
		}()
		if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "a", Type: event.Accepted}); err != nil {
			t.Fatal(err)
		}
		f := <-got
		if len(f.Items) == 0 {
			t.Fatal("the long poll ended without the acceptance")
		}
		acc := f.Items[len(f.Items)-1]
		if acc.Type != "accepted" || acc.Label != "已受理" || acc.Data["promised_date"] == "" || acc.Data["accepted_at"] == nil ||
			acc.Data["department"].(map[string]any)["code"] != sc.Department.Code || !strings.Contains(acc.Text, "承诺办结日期") {
			t.Fatalf("the acceptance in the feed: %+v", acc)
		}
		if acc.Cursor <= first.Next && len(acc.Cursor) <= len(first.Next) {
			t.Fatalf("cursor %s not after %s", acc.Cursor, first.Next)
		}
		// Nothing new: an immediate answer with the same cursor.
		empty, err := svc.Events(ctx, cases.FeedQuery{Owner: "jiangsu", After: f.Next})
		if err != nil || len(empty.Items) != 0 || empty.Next != f.Next {
			t.Fatalf("nothing new: %v %+v", err, empty)
		}
		if _, err := svc.Events(ctx, cases.FeedQuery{After: "x", Wait: time.Hour}); len(mustProblems(t, err)) != 2 {
			t.Fatalf("a bad feed query: %v", err)
		}
	})
}

func TestADepartmentTimeAheadOfTheHubsClockIsTakenAtTheHubsTimeAndFlagged(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		sc := subcaseOf(t, v, "food-business-licence")
		res, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "r", Type: event.Received, Time: testNow.Add(time.Minute)})
		if err != nil || res.TimeClamped {
			t.Fatalf("a minute ahead is within the clocks' skew: %v %v", err, res)
		}
		res, _, err = svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "a", Type: event.Accepted, Time: testNow.Add(48 * time.Hour)})
		if err != nil || !res.TimeClamped {
			t.Fatalf("two days ahead: %v %+v", err, res)
		}
		cur, _ := svc.Get(ctx, v.ID)
		last := cur.Timeline[len(cur.Timeline)-1]
		if last.Type != "accepted" || !last.At.Equal(testNow) || last.Data["time_clamped"] != true || !strings.Contains(last.Detail, "ahead of the hub's clock") {
			t.Fatalf("the clamped step: %+v", last)
		}
		if _, offset := last.At.Zone(); offset != 8*3600 {
			t.Fatalf("the timeline is not in China time: %v", last.At)
		}
	})
}

func TestAPlatformIsShownTheApplicantsStepsWithoutTheOperatorsDetail(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-individual")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		sc := v.Subcases[0]
		if err := svc.RecordDelivered(ctx, connector.Delivery{Connector: "restpush:" + sc.Department.Code, EventID: "ev-x", CaseID: v.ID, SubcaseID: sc.ID,
			Department: sc.Department.Code, Status: 202, Attempts: 1, At: testNow}); err != nil {
			t.Fatal(err)
		}
		cur, _ := svc.Get(ctx, v.ID)
		operatorSteps := len(cur.Timeline)
		cur.ForApplicant()
		if len(cur.Timeline) >= operatorSteps {
			t.Fatalf("the applicant sees every step (%d of %d)", len(cur.Timeline), operatorSteps)
		}
		for _, e := range cur.Timeline {
			if e.Detail != "" || e.Text == "" || e.Type == "delivered" || e.Label == e.Type {
				t.Fatalf("an applicant's step: %+v", e)
			}
		}
	})
}

// 《行政许可法》第三十二条: what to supplement is told within five working days of receiving the
// application; a later request before acceptance is flagged, one after acceptance is not.
func TestASupplementRequestLaterThanFiveWorkingDaysBeforeAcceptanceIsFlagged(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-bar-enterprise")
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		var late, accepted cases.SubcaseView
		for _, sc := range v.Subcases {
			if sc.State == cases.StateDispatched && late.ID == "" {
				late = sc
			} else if sc.State == cases.StateDispatched && accepted.ID == "" {
				accepted = sc
			}
		}
		if accepted.ID == "" {
			t.Fatal("the example has fewer than two dispatched sub-cases")
		}
		if _, _, err := svc.ApplyEvent(ctx, accepted.ID, event.DepartmentEvent{EventID: "a", Type: event.Accepted}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ApplyEvent(ctx, late.ID, event.DepartmentEvent{EventID: "r", Type: event.Received}); err != nil {
			t.Fatal(err)
		}
		// Friday 27 November → Wednesday 9 December: eight working days.
		setClock(t, svc, time.Date(2026, 12, 9, 2, 0, 0, 0, time.UTC))
		for _, sc := range []cases.SubcaseView{late, accepted} {
			var item event.Missing
			for _, m := range v.Materials {
				if slices.Contains(m.UsedBy, sc.ID) {
					item = event.Missing{Material: m.Type}
				}
			}
			if _, _, err := svc.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: "s", Type: event.SupplementRequested, Missing: []event.Missing{item}}); err != nil {
				t.Fatal(err)
			}
		}
		cur, _ := svc.Get(ctx, v.ID)
		flags := map[string]any{}
		for _, e := range cur.Timeline {
			if e.Type == cases.StateSupplementRequested {
				flags[e.SubcaseID] = e.Data["late_notice_working_days"]
			}
		}
		if flags[late.ID] != float64(8) || flags[accepted.ID] != nil {
			t.Fatalf("late flags: %v; want 8 working days for %s (not accepted) and none for %s (accepted)", flags, late.MatterCode, accepted.MatterCode)
		}
	})
}

// The operators' case search: each filter narrows the list to the cases it names, filters
// combine, the cursor pages through them, each summary counts its matters, and a bad query is
// refused with every problem named.
func TestTheCaseListFiltersByBundleStateDepartmentDayAndHolder(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		type submitted struct {
			v      *cases.CaseView
			holder string
			day    string
		}
		var all []submitted
		// Three days, two bundles, two holders; one case withdrawn.
		for i, s := range []struct {
			example string
			day     time.Time
		}{
			{"open-bar-enterprise", chinaDay(2026, 11, 2, 10, 0)},
			{"open-drink-shop-individual", chinaDay(2026, 11, 2, 23, 59)},
			{"open-bar-enterprise", chinaDay(2026, 11, 3, 0, 0)},
			{"open-drink-shop-enterprise", chinaDay(2026, 11, 4, 9, 0)},
		} {
			setClock(t, svc, s.day)
			app, hash := example(t, s.example)
			v, _, err := svc.SubmitAs(ctx, "jiangsu", app, fmt.Sprintf("%s-%d", hash, i), "")
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, submitted{v: v, holder: v.HolderID(), day: s.day.Format(time.DateOnly)})
		}
		if _, _, err := svc.Withdraw(ctx, all[2].v.ID, cases.Withdrawal{Reason: "不再开办"}); err != nil {
			t.Fatal(err)
		}
		ids := func(q cases.CaseQuery) []string {
			t.Helper()
			q.AllOwners = true
			l, err := svc.List(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			out := []string{}
			for _, it := range l.Items {
				out = append(out, it.ID)
			}
			return out
		}
		// What each filter should find, worked out from the submissions above.
		want := func(keep func(s submitted) bool) []string {
			out := []string{}
			for _, s := range all {
				if keep(s) {
					out = append(out, s.v.ID)
				}
			}
			return out
		}
		hasDept := func(s submitted, code string) bool {
			for _, sc := range s.v.Subcases {
				if sc.Department.Code == code {
					return true
				}
			}
			return false
		}
		for name, c := range map[string]struct {
			q    cases.CaseQuery
			keep func(s submitted) bool
		}{
			"bundle":          {cases.CaseQuery{Bundle: "open-bar"}, func(s submitted) bool { return s.v.Bundle.Code == "open-bar" }},
			"state":           {cases.CaseQuery{State: cases.CaseWithdrawn}, func(s submitted) bool { return s.v.ID == all[2].v.ID }},
			"department":      {cases.CaseQuery{Department: "fire-rescue"}, func(s submitted) bool { return hasDept(s, "fire-rescue") }},
			"from":            {cases.CaseQuery{From: "2026-11-03"}, func(s submitted) bool { return s.day >= "2026-11-03" }},
			"to, whole day":   {cases.CaseQuery{To: "2026-11-02"}, func(s submitted) bool { return s.day <= "2026-11-02" }},
			"one day":         {cases.CaseQuery{From: "2026-11-03", To: "2026-11-03"}, func(s submitted) bool { return s.day == "2026-11-03" }},
			"holder":          {cases.CaseQuery{Holder: all[0].holder}, func(s submitted) bool { return s.holder == all[0].holder }},
			"bundle and from": {cases.CaseQuery{Bundle: "open-bar", From: "2026-11-03"}, func(s submitted) bool { return s.v.Bundle.Code == "open-bar" && s.day >= "2026-11-03" }},
		} {
			got, exp := ids(c.q), want(c.keep)
			if strings.Join(got, ",") != strings.Join(exp, ",") {
				t.Errorf("%s: %v, want %v", name, got, exp)
			}
			if len(exp) == 0 || len(exp) == len(all) {
				t.Errorf("%s: the test's filter should keep some cases and drop some (%d of %d)", name, len(exp), len(all))
			}
		}
		// Pages of two, then one; the summary counts the matters and names the departments.
		var paged []string
		cursor := ""
		for page := 0; ; page++ {
			l, err := svc.List(ctx, cases.CaseQuery{AllOwners: true, Limit: 2, After: cursor})
			if err != nil || page > 3 {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, it := range l.Items {
				paged = append(paged, it.ID)
				var src *cases.CaseView
				for _, s := range all {
					if s.v.ID == it.ID {
						src = s.v
					}
				}
				if it.Subcases.Total != len(src.Subcases) || len(it.Departments) == 0 || !hasDept(submitted{v: src}, it.Departments[0]) {
					t.Errorf("%s: summary %+v of a case with %d matters", it.ID, it, len(src.Subcases))
				}
				if it.ID == all[2].v.ID && (it.Subcases.Decided != it.Subcases.Total || it.CompletedAt == nil) {
					t.Errorf("the withdrawn case: %+v", it)
				}
			}
			if cursor = l.Next; cursor == "" {
				break
			}
		}
		if strings.Join(paged, ",") != strings.Join(want(func(submitted) bool { return true }), ",") {
			t.Errorf("paged: %v", paged)
		}
		_, err := svc.List(ctx, cases.CaseQuery{Bundle: "no-such", Department: "police", From: "2026-13-01", To: "2026-11-01x"})
		if ps := mustProblems(t, err); len(ps) != 4 {
			t.Errorf("a bad query: %+v, want four problems", ps)
		}
		_, err = svc.List(ctx, cases.CaseQuery{From: "2026-11-05", To: "2026-11-04"})
		if ps := mustProblems(t, err); len(ps) != 1 || ps[0].Path != "to" {
			t.Errorf("to before from: %+v", ps)
		}
	})
}
