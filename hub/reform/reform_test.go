package reform_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/reform"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/mapping"
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

// The example enterprise's identity, as examples/*-enterprise.json give it.
const (
	uscc        = "91350100M000100Y43"
	holderName  = "连云港海韵餐饮管理有限公司"
	foodLicence = "食品经营许可证"
)

// env is the hub's services on one store, with a clock the test sets.
type env struct {
	t     *testing.T
	ctx   context.Context
	hs    *hub.Services
	clock *atomic.Int64 // Unix microseconds
}

// each runs a test on every store backend (SQLite always, PostgreSQL when configured).
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			clock := &atomic.Int64{}
			now := func() time.Time { return time.UnixMicro(clock.Load()).UTC() }
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, &env{t: t, ctx: context.Background(), hs: hs, clock: clock})
		})
	}
}

// at sets the clock to a day of 2026 at hh:mm China time.
func (e *env) at(month time.Month, day, hh, mm int) {
	e.clock.Store(time.Date(2026, month, day, hh, mm, 0, 0, deadline.China).UnixMicro())
}

func (e *env) application(name string) (cases.Application, string) {
	e.t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "examples", name+".json"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	app, hash, err := cases.DecodeApplication(f)
	if err != nil {
		e.t.Fatal(err)
	}
	return app, hash
}

func (e *env) submit(app cases.Application, hash string) *cases.CaseView {
	e.t.Helper()
	v, _, err := e.hs.Cases.Submit(e.ctx, app, hash, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// subcase returns the case's sub-case of a matter.
func (e *env) subcase(v *cases.CaseView, matter string) cases.SubcaseView {
	e.t.Helper()
	for _, sc := range v.Subcases {
		if sc.MatterCode == matter {
			return sc
		}
	}
	e.t.Fatalf("case %s has no sub-case of %s", v.ID, matter)
	return cases.SubcaseView{}
}

// report applies department events to a sub-case now, in order.
func (e *env) report(sc cases.SubcaseView, evs ...event.DepartmentEvent) {
	e.t.Helper()
	for i, ev := range evs {
		if ev.EventID == "" {
			ev.EventID = ev.Type + "-" + string(rune('a'+i))
		}
		if ev.Type == event.Approved && ev.DecisionNumber == "" {
			ev.DecisionNumber = "赣审〔2026〕" + sc.ID[len(sc.ID)-6:] + "号"
		}
		if ev.Type == event.Rejected && ev.Reason == "" {
			ev.Reason = "不符合条件"
		}
		if _, _, err := e.hs.Cases.ApplyEvent(e.ctx, sc.ID, ev); err != nil {
			e.t.Fatalf("%s %s: %v", sc.MatterCode, ev.Type, err)
		}
	}
}

func ev(typ string) event.DepartmentEvent { return event.DepartmentEvent{Type: typ} }

// handBuilt counts what a case's matters would ask one by one and what they ask once, from the
// catalogue itself: each matter's canonical inputs and materials for the applicant type, summed
// over the matters (separately) and taken once each (the one form).
type handBuilt struct{ fieldsAsked, fieldsSeparate, materialsAsked, materialsSeparate int }

func countByHand(t *testing.T, applicantType string, matters ...string) handBuilt {
	t.Helper()
	var h handBuilt
	fields, materials := map[string]bool{}, map[string]bool{}
	for _, code := range matters {
		m, ok := testCatalogue.Matter(code)
		if !ok {
			t.Fatalf("no matter %s", code)
		}
		all, _ := mapping.InputsFor(m, applicantType)
		h.fieldsSeparate += len(all)
		for _, f := range all {
			fields[f] = true
		}
		for _, need := range m.Materials {
			if len(need.ApplicantTypes) > 0 && !slices.Contains(need.ApplicantTypes, applicantType) {
				continue
			}
			h.materialsSeparate++
			materials[need.Material] = true
		}
	}
	h.fieldsAsked, h.materialsAsked = len(fields), len(materials)
	return h
}

func (h handBuilt) plus(o handBuilt) handBuilt {
	return handBuilt{h.fieldsAsked + o.fieldsAsked, h.fieldsSeparate + o.fieldsSeparate, h.materialsAsked + o.materialsAsked, h.materialsSeparate + o.materialsSeparate}
}

var (
	drinkShop  = []string{"food-business-licence", "outdoor-advertising-approval"}
	barbershop = []string{"public-place-hygiene-licence", "sewage-discharge-permit"}
	bar        = []string{"food-business-licence", "outdoor-advertising-approval", "tobacco-retail-licence", "public-venue-fire-safety-inspection"}
)

// November 2026 in China has no public holiday: its working days are the weekdays. Working days
// are counted from the day after the start (Monday to Friday of one week is four).
//
// The cases, all of the example enterprise:
//
//	D 开饮品店 (30), Fri 30 Oct 10:00: both matters approved Tue 3 Nov (2 working days each). Outside November.
//	A 开饮品店 (30), Mon 2 Nov 09:00:
//	  food-business-licence (admin-approval, promised 5 / statutory 10 working days): approved Fri 6 Nov, with
//	  the food licence — 4 days.
//	  outdoor-advertising-approval (urban-management, 5/20 working days): supplement asked Tue 3 Nov 10:00, sent Mon 9 Nov
//	  10:00 (a pause of 4 working days: 4, 5, 6, 9 Nov), approved Thu 12 Nov — 8 days; its promised
//	  deadline is 5 + 4 working days after 2 Nov, Fri 13 Nov: within, thanks to the pause.
//	  Completed, with a supplement round.
//	B 开理发店 (25), Tue 3 Nov 15:00:
//	  public-place-hygiene-licence (health, promised 5 working days, statutory 20 calendar days — Mon 23 Nov,
//	  14 working days): approved Fri 20 Nov — 13 days; promised by Tue 10 Nov: late.
//	  sewage-discharge-permit (housing, promised 3 working days, statutory 15 calendar days — Wed 18 Nov, 11
//	  working days): rejected Wed 4 Nov — 1 day.
//	  Completed (partially approved), without a supplement round.
//	C 开酒吧 (34), Wed 25 Nov 09:00, prefilled and with A's food licence as a material:
//	  food-business-licence accepted; outdoor-advertising-approval (5/20) approved Fri 27 Nov — 2 days;
//	  the other two at their departments. In progress.
//	E 开理发店 (25), Thu 26 Nov 09:00, withdrawn whole on Fri 27 Nov.
//
// The report is made on Mon 30 Nov 12:00.
func buildNovember(e *env) (a, b, c, d, w *cases.CaseView) {
	t := e.t
	e.at(10, 30, 10, 0)
	d = e.submit(e.application("open-drink-shop-enterprise"))
	e.at(11, 3, 11, 0)
	for _, m := range drinkShop {
		e.report(e.subcase(d, m), ev(event.Received), ev(event.Accepted), ev(event.Approved))
	}

	e.at(11, 2, 9, 0)
	a = e.submit(e.application("open-drink-shop-enterprise"))
	e.report(e.subcase(a, "food-business-licence"), ev(event.Received), ev(event.Accepted))
	e.report(e.subcase(a, "outdoor-advertising-approval"), ev(event.Received))
	e.at(11, 3, 10, 0)
	e.report(e.subcase(a, "outdoor-advertising-approval"), event.DepartmentEvent{Type: event.SupplementRequested,
		Missing: []event.Missing{{Material: "ad-site-photo", Note: "照片不清晰"}}})

	e.at(11, 3, 15, 0)
	b = e.submit(e.application("open-barbershop-enterprise"))
	e.at(11, 4, 16, 0)
	e.report(e.subcase(b, "sewage-discharge-permit"), ev(event.Received), ev(event.Rejected))
	e.report(e.subcase(b, "public-place-hygiene-licence"), ev(event.Received), ev(event.Accepted))

	e.at(11, 6, 10, 0)
	food := e.subcase(a, "food-business-licence")
	e.report(food, event.DepartmentEvent{Type: event.Approved, Licences: []event.Licence{{Type: foodLicence, Number: "JY13207070001234",
		Holder: holderName, HolderID: uscc, HolderIDType: "uscc", Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2026-11-06", ValidFrom: "2026-11-06",
		ValidUntil: "2031-11-05", File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://licences.example.org/jy.ofd", Format: "ofd"}}}})

	e.at(11, 9, 10, 0)
	photo := cases.MaterialInput{Type: "ad-site-photo", Filename: "site-v2.jpg", SHA256: strings.Repeat("cd", 32), Size: 4096, URI: "https://files.example.org/site-v2.jpg"}
	if _, _, err := e.hs.Cases.Supplement(e.ctx, "", a.ID, cases.Supplement{Materials: []cases.MaterialInput{photo}}, "sup-1", ""); err != nil {
		t.Fatal(err)
	}
	e.at(11, 12, 10, 0)
	e.report(e.subcase(a, "outdoor-advertising-approval"), ev(event.Approved))

	e.at(11, 20, 10, 0)
	e.report(e.subcase(b, "public-place-hygiene-licence"), ev(event.Approved))

	// 开酒吧 takes the prefill (the applicant consented) and gives the food licence for its copy.
	e.at(11, 25, 8, 30)
	consent, err := e.hs.Sharing.GrantConsent(e.ctx, sharing.ConsentRequest{Holder: uscc, Purpose: sharing.PurposePrefill, Bundle: json.RawMessage(`"open-bar"`)})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := e.hs.Sharing.Prefill(e.ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc,
		Consent: &sharing.ConsentRef{Token: consent.Token, Purpose: sharing.PurposePrefill}})
	if err != nil {
		t.Fatal(err)
	}
	e.at(11, 25, 9, 0)
	app, hash := e.application("open-bar-enterprise")
	for code, f := range pre.Fields {
		app.Form[code] = f.Value
	}
	app.Materials = append(app.Materials, cases.MaterialInput{Type: "food-business-licence-copy", Licence: &cases.LicenceRef{Type: foodLicence, Number: "JY13207070001234"}})
	c = e.submit(app, hash)
	e.report(e.subcase(c, "food-business-licence"), ev(event.Received), ev(event.Accepted))
	e.report(e.subcase(c, "outdoor-advertising-approval"), ev(event.Received))

	e.at(11, 26, 9, 0)
	w = e.submit(e.application("open-barbershop-enterprise"))
	e.at(11, 27, 10, 0)
	e.report(e.subcase(c, "outdoor-advertising-approval"), ev(event.Approved))
	if _, _, err := e.hs.Cases.Withdraw(e.ctx, w.ID, cases.Withdrawal{Reason: "暂不开业"}); err != nil {
		t.Fatal(err)
	}

	e.at(11, 30, 12, 0)
	return a, b, c, d, w
}

func november() reform.Period {
	return reform.Period{From: time.Date(2026, 11, 1, 0, 0, 0, 0, deadline.China), To: time.Date(2026, 11, 30, 0, 0, 0, 0, deadline.China)}
}

// checkHandling compares handling figures with those worked out by hand.
func checkHandling(t *testing.T, what string, got, want reform.Handling) {
	t.Helper()
	if got != want {
		t.Errorf("%s handling:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestTheReportMeasuresNovembersCasesAgainstThePlan(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a, b, c, _, w := buildNovember(e)
		if got, _ := e.hs.Cases.Get(e.ctx, c.ID); got.State != cases.CaseInProgress {
			t.Fatalf("case C is %s; the fixture wants it in progress", got.State)
		}
		for _, v := range []*cases.CaseView{a, b} {
			if got, _ := e.hs.Cases.Get(e.ctx, v.ID); got.State != cases.CaseCompleted {
				t.Fatalf("case %s is %s; the fixture wants it completed", v.ID, got.State)
			}
		}
		if got, _ := e.hs.Cases.Get(e.ctx, w.ID); got.State != cases.CaseWithdrawn {
			t.Fatalf("case E is %s; the fixture wants it withdrawn", got.State)
		}

		rep, err := e.hs.Reform.Report(e.ctx, november())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Period.From != "2026-11-01" || rep.Period.To != "2026-11-30" || !rep.AsOf.Equal(time.Date(2026, 11, 30, 12, 0, 0, 0, deadline.China)) {
			t.Errorf("period %+v as of %v", rep.Period, rep.AsOf)
		}
		if _, offset := rep.AsOf.Zone(); offset != 8*3600 {
			t.Errorf("as_of is not in China time: %v", rep.AsOf)
		}

		// Overall: A, B, C and E (D was submitted in October).
		o := rep.Overall
		if o.Cases != 4 || o.Completed != 2 || o.Withdrawn != 1 || o.InProgress != 1 || o.Matters != 2+2+4+2 {
			t.Errorf("overall cases: %d cases, %d completed, %d withdrawn, %d in progress, %d matters; want 4, 2, 1, 1, 10",
				o.Cases, o.Completed, o.Withdrawn, o.InProgress, o.Matters)
		}
		drink, shop, pub := countByHand(t, "enterprise", drinkShop...), countByHand(t, "enterprise", barbershop...), countByHand(t, "enterprise", bar...)
		all := drink.plus(shop).plus(pub).plus(shop)
		if all.fieldsAsked >= all.fieldsSeparate || all.materialsAsked >= all.materialsSeparate {
			t.Fatalf("by hand the one forms ask no less than the matters one by one: %+v", all)
		}
		wantFields := reform.FieldFigures{Asked: all.fieldsAsked, Separate: all.fieldsSeparate, Saved: all.fieldsSeparate - all.fieldsAsked,
			SavedPercent: round1(100 * float64(all.fieldsSeparate-all.fieldsAsked) / float64(all.fieldsSeparate))}
		gotFields := o.Fields
		gotFields.Prefilled, gotFields.PrefilledPercent = 0, 0
		if gotFields != wantFields {
			t.Errorf("overall fields %+v; want %+v", o.Fields, wantFields)
		}
		wantMaterials := reform.MaterialFigures{Asked: all.materialsAsked, Separate: all.materialsSeparate, Saved: all.materialsSeparate - all.materialsAsked,
			SavedPercent: round1(100 * float64(all.materialsSeparate-all.materialsAsked) / float64(all.materialsSeparate))}
		gotMaterials := o.Materials
		gotMaterials.FromLicences, gotMaterials.FromLicencesPercent = 0, 0
		if gotMaterials != wantMaterials {
			t.Errorf("overall materials %+v; want %+v", o.Materials, wantMaterials)
		}

		// Decided: A food 4 days, A ad 8 (a supplement round), B hygiene 13 (promised by 10 Nov:
		// late), B sewage 1 (rejected), C ad 2. Sorted 1 2 4 8 13: mean 28/5, the 90th
		// percentile the 5th of 5 (ceil(4.5)). Limits in working days: promised 5+5+5+3+5 = 23,
		// statutory 10+20+14+11+20 = 75 (the calendar-day limits as the working days they span);
		// reduction 100 × (1 − 28/75) = 62.7.
		checkHandling(t, "overall", o.Handling, reform.Handling{Subcases: 10, Decided: 5, Approved: 4, Rejected: 1,
			MeanDays: 5.6, P90Days: 13, MeanPromisedDays: 4.6, MeanStatutoryDays: 15, WithStatutory: 5,
			WithinPromised: 4, WithinPromisedPercent: 80, WithinStatutory: 5, WithinStatutoryPercent: 100,
			ReductionPercent: 62.7, WithoutSupplement: 4, WithoutSupplementPercent: 80})
		if want := (reform.OneRound{Completed: 2, WithoutSupplement: 1, Percent: 50, SupplementRequests: 1, Supplements: 1}); o.OneRound != want {
			t.Errorf("overall one round %+v; want %+v", o.OneRound, want)
		}

		// Bundles in 序号 order: 开理发店 (B, E), 开饮品店 (A), 开酒吧 (C).
		var seqs []int
		for _, bf := range rep.Bundles {
			seqs = append(seqs, bf.Bundle.Seq)
		}
		if !slices.Equal(seqs, []int{25, 30, 34}) || rep.Bundles[2].Bundle.Code != "open-bar" || rep.Bundles[2].Bundle.Name != "开酒吧" {
			t.Fatalf("bundles %v (%+v); want 25, 30, 34", seqs, rep.Bundles)
		}
		b25, b30, b34 := rep.Bundles[0].Figures, rep.Bundles[1].Figures, rep.Bundles[2].Figures
		if b25.Cases != 2 || b25.Completed != 1 || b25.Withdrawn != 1 || b25.Matters != 4 ||
			b25.Fields.Asked != 2*shop.fieldsAsked || b25.Materials.Separate != 2*shop.materialsSeparate {
			t.Errorf("开理发店: %+v", b25)
		}
		// B: 13 and 1 days; promised (5+3)/2, statutory (14+11)/2; reduction 100 × (1 − 14/25).
		checkHandling(t, "开理发店", b25.Handling, reform.Handling{Subcases: 4, Decided: 2, Approved: 1, Rejected: 1,
			MeanDays: 7, P90Days: 13, MeanPromisedDays: 4, MeanStatutoryDays: 12.5, WithStatutory: 2,
			WithinPromised: 1, WithinPromisedPercent: 50, WithinStatutory: 2, WithinStatutoryPercent: 100,
			ReductionPercent: 44, WithoutSupplement: 2, WithoutSupplementPercent: 100})
		if want := (reform.OneRound{Completed: 1, WithoutSupplement: 1, Percent: 100}); b25.OneRound != want {
			t.Errorf("开理发店 one round %+v; want %+v", b25.OneRound, want)
		}
		// A: 4 and 8 days; promised (5+5)/2, statutory (10+20)/2; reduction 100 × (1 − 12/30).
		checkHandling(t, "开饮品店", b30.Handling, reform.Handling{Subcases: 2, Decided: 2, Approved: 2,
			MeanDays: 6, P90Days: 8, MeanPromisedDays: 5, MeanStatutoryDays: 15, WithStatutory: 2,
			WithinPromised: 2, WithinPromisedPercent: 100, WithinStatutory: 2, WithinStatutoryPercent: 100,
			ReductionPercent: 60, WithoutSupplement: 1, WithoutSupplementPercent: 50})
		if want := (reform.OneRound{Completed: 1, WithoutSupplement: 0, Percent: 0, SupplementRequests: 1, Supplements: 1}); b30.OneRound != want {
			t.Errorf("开饮品店 one round %+v; want %+v", b30.OneRound, want)
		}
		if b30.Fields.Asked != drink.fieldsAsked || b30.Fields.Separate != drink.fieldsSeparate || b30.Materials.Asked != drink.materialsAsked {
			t.Errorf("开饮品店 fields %+v, materials %+v; want %+v", b30.Fields, b30.Materials, drink)
		}
		// C: one decision, 2 days against 20; reduction 100 × (1 − 2/20).
		checkHandling(t, "开酒吧", b34.Handling, reform.Handling{Subcases: 4, Decided: 1, Approved: 1,
			MeanDays: 2, P90Days: 2, MeanPromisedDays: 5, MeanStatutoryDays: 20, WithStatutory: 1,
			WithinPromised: 1, WithinPromisedPercent: 100, WithinStatutory: 1, WithinStatutoryPercent: 100,
			ReductionPercent: 90, WithoutSupplement: 1, WithoutSupplementPercent: 100})
		if b34.InProgress != 1 || b34.OneRound.Completed != 0 || b34.OneRound.Percent != 0 {
			t.Errorf("开酒吧: %+v", b34)
		}

		// Shared data: only 开酒吧 took a prefill and a licence, and the figures are the reuse
		// report's for the same period.
		reuse, err := e.hs.Sharing.ReuseReport(e.ctx, november())
		if err != nil {
			t.Fatal(err)
		}
		if b34.Materials.FromLicences != 1 || b34.Fields.Prefilled == 0 || b34.Fields.PrefilledPercent <= 0 {
			t.Errorf("开酒吧 shared data: fields %+v, materials %+v; want prefilled fields and one licence", b34.Fields, b34.Materials)
		}
		for _, br := range reuse.Bundles {
			for _, bf := range rep.Bundles {
				if bf.Bundle.Code == br.Bundle.Code && (bf.Fields.Prefilled != br.FieldsPrefilled || bf.Fields.PrefilledPercent != br.FieldsPrefilledPercent ||
					bf.Materials.FromLicences != br.MaterialsFromLicences || bf.Materials.FromLicencesPercent != br.MaterialsFromLicencesPercent) {
					t.Errorf("%s: shared data %+v / %+v; the reuse report says %+v", bf.Bundle.Code, bf.Fields, bf.Materials, br.ReuseFigures)
				}
			}
		}
		if o.Fields.Prefilled != b34.Fields.Prefilled || o.Materials.FromLicences != 1 || o.Fields.PrefilledPercent != reuse.Overall.FieldsPrefilledPercent ||
			b30.Fields.Prefilled != 0 || b25.Materials.FromLicences != 0 {
			t.Errorf("shared data overall %+v / %+v, 开饮品店 %+v, 开理发店 %+v", o.Fields, o.Materials, b30.Fields, b25.Materials)
		}

		// Departments, in the catalogue's order, each with its sub-cases of the four cases.
		want := map[string]reform.Handling{
			// A food 4 days against 10; C food open.
			"admin-approval": {Subcases: 2, Decided: 1, Approved: 1, MeanDays: 4, P90Days: 4, MeanPromisedDays: 5, MeanStatutoryDays: 10, WithStatutory: 1,
				WithinPromised: 1, WithinPromisedPercent: 100, WithinStatutory: 1, WithinStatutoryPercent: 100, ReductionPercent: 60,
				WithoutSupplement: 1, WithoutSupplementPercent: 100},
			// A ad 8 days with a supplement round, C ad 2: p90 the 2nd of 2.
			"urban-management": {Subcases: 2, Decided: 2, Approved: 2, MeanDays: 5, P90Days: 8, MeanPromisedDays: 5, MeanStatutoryDays: 20, WithStatutory: 2,
				WithinPromised: 2, WithinPromisedPercent: 100, WithinStatutory: 2, WithinStatutoryPercent: 100, ReductionPercent: 75,
				WithoutSupplement: 1, WithoutSupplementPercent: 50},
			// B hygiene 13 days, late on the promise, within its 20 calendar days (14 working); E's withdrawn.
			"health": {Subcases: 2, Decided: 1, Approved: 1, MeanDays: 13, P90Days: 13, MeanPromisedDays: 5, MeanStatutoryDays: 14, WithStatutory: 1,
				WithinPromised: 0, WithinPromisedPercent: 0, WithinStatutory: 1, WithinStatutoryPercent: 100, ReductionPercent: 7.1,
				WithoutSupplement: 1, WithoutSupplementPercent: 100},
			// B sewage rejected after 1 day against 15 calendar days (11 working): reduction 100 × 10/11.
			"housing": {Subcases: 2, Decided: 1, Rejected: 1, MeanDays: 1, P90Days: 1, MeanPromisedDays: 3, MeanStatutoryDays: 11, WithStatutory: 1,
				WithinPromised: 1, WithinPromisedPercent: 100, WithinStatutory: 1, WithinStatutoryPercent: 100, ReductionPercent: 90.9,
				WithoutSupplement: 1, WithoutSupplementPercent: 100},
			"tobacco":     {Subcases: 1},
			"fire-rescue": {Subcases: 1},
		}
		var order []string
		for _, df := range rep.Departments {
			order = append(order, df.Department.Code)
			w, ok := want[df.Department.Code]
			if !ok {
				t.Errorf("department %s has no sub-case of November's cases", df.Department.Code)
				continue
			}
			if dept, _ := testCatalogue.Department(df.Department.Code); df.Department.Name != dept.Name {
				t.Errorf("department %s named %q", df.Department.Code, df.Department.Name)
			}
			checkHandling(t, df.Department.Code, df.Handling, w)
		}
		var catOrder []string
		for _, d := range testCatalogue.Departments {
			if _, ok := want[d.Code]; ok {
				catOrder = append(catOrder, d.Code)
			}
		}
		if !slices.Equal(order, catOrder) {
			t.Errorf("departments %v; want %v, the catalogue's order", order, catOrder)
		}

		// The plan's promises come with the report, each measured by figures it has.
		if rep.Plan.TimeReductionTargetPercent != 50 || len(rep.Plan.Promises) != 5 || !strings.Contains(rep.Plan.Promises[2].Text, "压缩50%") {
			t.Errorf("plan %+v", rep.Plan)
		}
		figures, _ := json.Marshal(o)
		var tree map[string]any
		if err := json.Unmarshal(figures, &tree); err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Plan.Promises {
			for _, path := range p.Measures {
				var node any = tree
				for _, key := range strings.Split(path, ".") {
					m, _ := node.(map[string]any)
					node = m[key]
				}
				if node == nil {
					t.Errorf("promise %s is measured by %s, which the figures do not have", p.Code, path)
				}
			}
		}
	})
}

// round1 rounds a positive share to one decimal, as the report gives shares.
func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// Without a period every case counts, October's D too; a period of days before any case counts
// none; a period that ends before it starts is refused.
func TestThePeriodSelectsTheCasesSubmittedOnItsDays(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		buildNovember(e)
		all, err := e.hs.Reform.Report(e.ctx, reform.Period{})
		if err != nil {
			t.Fatal(err)
		}
		// D adds two decisions of 2 days: 1 2 2 2 4 8 13, mean 32/7, p90 the 7th of 7.
		o := all.Overall
		if all.Period != (reform.PeriodRef{}) || o.Cases != 5 || o.Completed != 3 || o.Handling.Decided != 7 || o.Handling.MeanDays != 4.6 ||
			o.Handling.P90Days != 13 || o.OneRound.Completed != 3 || o.OneRound.WithoutSupplement != 2 || o.OneRound.Percent != 66.7 {
			t.Errorf("every case: period %+v, %+v", all.Period, o)
		}
		if len(all.Bundles) != 3 || all.Bundles[1].Cases != 2 || all.Bundles[1].Handling.Decided != 4 {
			t.Errorf("every case: bundles %+v", all.Bundles)
		}

		october, err := e.hs.Reform.Report(e.ctx, reform.Period{To: time.Date(2026, 10, 31, 0, 0, 0, 0, deadline.China)})
		if err != nil {
			t.Fatal(err)
		}
		if october.Period.From != "" || october.Period.To != "2026-10-31" || october.Overall.Cases != 1 || october.Overall.Handling.Decided != 2 ||
			october.Overall.Handling.MeanDays != 2 || len(october.Bundles) != 1 || october.Bundles[0].Bundle.Seq != 30 {
			t.Errorf("up to October: %+v", october)
		}

		empty, err := e.hs.Reform.Report(e.ctx, reform.Period{From: time.Date(2026, 9, 1, 0, 0, 0, 0, deadline.China), To: time.Date(2026, 9, 30, 0, 0, 0, 0, deadline.China)})
		if err != nil {
			t.Fatal(err)
		}
		if empty.Overall != (reform.Figures{}) || len(empty.Bundles) != 0 || len(empty.Departments) != 0 || empty.Bundles == nil || empty.Departments == nil {
			t.Errorf("September: %+v", empty)
		}

		var pe *problem.Error
		_, err = e.hs.Reform.Report(e.ctx, reform.Period{From: time.Date(2026, 12, 31, 0, 0, 0, 0, deadline.China), To: time.Date(2026, 12, 1, 0, 0, 0, 0, deadline.China)})
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "to" || pe.Problems[0].Rule != problem.RuleRange {
			t.Errorf("a period that ends before it starts: %v", err)
		}
	})
}

func TestNewNamesEveryMissingPart(t *testing.T) {
	_, err := reform.New(reform.Config{})
	for _, want := range []string{"Catalogue is required", "Store is required", "Forms is required", "Sharing is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New without parts: %v; want it to say %q", err, want)
		}
	}
}
