package sharing_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/audit"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/sharing"
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

const (
	uscc        = "91350100M000100Y43"
	foodLicence = "食品经营许可证"
)

type env struct {
	st    *store.Store
	cases *cases.Service
	svc   *sharing.Service
	audit *audit.Log
	now   *time.Time
}

// each runs a test on every backend with a case service and a sharing service on one store and
// one clock.
func each(t *testing.T, fn func(t *testing.T, e env)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			cs := hs.Cases
			svc := hs.Sharing
			fn(t, env{st: st, cases: cs, svc: svc, audit: hs.Audit, now: &now})
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

// openDrinkShop runs 开饮品店 for the example enterprise to completion, its departments issuing
// their e-licences, and returns the case and its food licence number.
func openDrinkShop(t *testing.T, e env) (*cases.CaseView, string) {
	t.Helper()
	ctx := context.Background()
	app, hash := example(t, "open-drink-shop-enterprise")
	v, _, err := e.cases.Submit(ctx, app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	number := ""
	for i, sc := range v.Subcases {
		for _, typ := range []string{event.Received, event.Accepted} {
			if _, _, err := e.cases.ApplyEvent(ctx, sc.ID, event.DepartmentEvent{EventID: sc.ID + typ, Type: typ}); err != nil {
				t.Fatal(err)
			}
		}
		ev := event.DepartmentEvent{EventID: sc.ID + "ok", Type: event.Approved, DecisionNumber: "赣审〔2026〕" + sc.MatterCode}
		if m, _ := testCatalogue.Matter(sc.MatterCode); m.Result.Kind == "licence" {
			n := "JY1320707001234" + string(rune('0'+i))
			if m.Result.Name == foodLicence {
				number = n
			}
			ev.Licences = []event.Licence{{Type: m.Result.Name, Number: n, Holder: "连云港海韵餐饮管理有限公司", HolderID: uscc, HolderIDType: "uscc",
				Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
				File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://licences.example.org/" + n + ".ofd", Format: "ofd"}}}
		}
		if _, _, err := e.cases.ApplyEvent(ctx, sc.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	done, _ := e.cases.Get(ctx, v.ID)
	if done.State != cases.CaseCompleted || number == "" {
		t.Fatalf("开饮品店: %s, food licence %q", done.State, number)
	}
	return done, number
}

func consent(t *testing.T, e env, holder, purpose, bundle string) string {
	t.Helper()
	c, err := e.svc.GrantConsent(context.Background(), sharing.ConsentRequest{Holder: holder, Purpose: purpose, Bundle: json.RawMessage(`"` + bundle + `"`)})
	if err != nil {
		t.Fatal(err)
	}
	return c.Token
}

func TestAfterTheDrinkShopTheBarIsPrefilledFromItsCaseAndLicence(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		drink, number := openDrinkShop(t, e)
		token := consent(t, e, uscc, sharing.PurposePrefill, "open-bar")
		p, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
			Consent: &sharing.ConsentRef{Token: token, Purpose: sharing.PurposePrefill}})
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"enterprise.name", "enterprise.uscc", "enterprise.address", "enterprise.legal_rep.name", "business.address", "food.business_category"} {
			f, ok := p.Fields[code]
			if !ok || f.Source.Kind != sharing.SourceCase || f.Source.ID != drink.ID || f.Source.Date != "2026-11-27" || f.Title == "" {
				t.Errorf("%s: %+v", code, f)
			}
		}
		if p.Fields["enterprise.name"].Value != "连云港海韵餐饮管理有限公司" || p.Fields["business.name"].Value != "海韵茶饮" {
			t.Errorf("values: %v %v", p.Fields["enterprise.name"].Value, p.Fields["business.name"].Value)
		}
		// Only what 开酒吧 asks: the drink shop's outdoor sign is asked too, its fire fields are not known.
		for code := range p.Fields {
			if strings.HasPrefix(code, "fire.") || strings.HasPrefix(code, "tobacco.") {
				t.Errorf("%s was never given: it cannot be prefilled", code)
			}
		}
		lic := p.Fields["food.licence_number"]
		if lic.Value != number || lic.Source.Kind != sharing.SourceLicence || lic.Source.Date != "2026-12-01" {
			t.Errorf("food.licence_number: %+v", lic)
		}
		if len(p.Materials) != 1 || p.Materials[0].Code != "food-business-licence-copy" || p.Materials[0].Licence.Number != number ||
			p.Materials[0].Supply["type"] != "food-business-licence-copy" {
			t.Fatalf("materials satisfied: %+v", p.Materials)
		}
		if len(p.Licences) != 1 || p.Reuse.FieldsPrefilled != len(p.Fields) || p.Reuse.FieldsAsked <= p.Reuse.FieldsPrefilled || p.Reuse.MaterialsSatisfied != 1 {
			t.Fatalf("licences %d, reuse %+v", len(p.Licences), p.Reuse)
		}

		// The audit row names the fields and sources, never a value.
		rows, err := e.audit.Entries(ctx, "prefill", audit.Granted)
		if err != nil || len(rows) != 1 || rows[0].Seq != p.AuditSeq {
			t.Fatalf("audit rows: %+v %v", rows, err)
		}
		detail := string(rows[0].Detail)
		if !strings.Contains(detail, `"enterprise.name"`) || !strings.Contains(detail, drink.ID) || !strings.Contains(detail, "food-business-licence-copy") {
			t.Errorf("audit detail: %s", detail)
		}
		for _, secret := range []string{uscc, "连云港海韵餐饮管理有限公司", number, token} {
			if strings.Contains(detail, secret) || strings.Contains(rows[0].Subject, secret) {
				t.Errorf("the audit row holds a value it must not: %s", detail)
			}
		}
		if n, err := e.audit.Verify(ctx); err != nil || n != 2 { // the consent and the prefill
			t.Fatalf("audit chain: %d rows, %v", n, err)
		}
	})
}

func TestAPrefillWithoutAValidConsentIsRefusedAndOnlyAudited(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		openDrinkShop(t, e)
		good := consent(t, e, uscc, sharing.PurposePrefill, "open-bar")
		otherPurpose := consent(t, e, uscc, "licence-check", "open-bar")
		otherBundle := consent(t, e, uscc, sharing.PurposePrefill, "open-drink-shop")
		otherHolder := consent(t, e, "11010519491231002X", sharing.PurposePrefill, "open-bar")
		*e.now = e.now.Add(10 * time.Minute)
		expiring, err := e.svc.GrantConsent(ctx, sharing.ConsentRequest{Holder: uscc, Purpose: sharing.PurposePrefill, Bundle: json.RawMessage(`34`), TTL: json.RawMessage(`60`)})
		if err != nil {
			t.Fatal(err)
		}
		*e.now = e.now.Add(61 * time.Second)

		var consentsBefore, casesBefore int
		_ = e.st.DB().Get(&consentsBefore, "SELECT COUNT(*) FROM consents")
		_ = e.st.DB().Get(&casesBefore, "SELECT COUNT(*) FROM cases")
		tests := []struct {
			name    string
			consent *sharing.ConsentRef
			rule    string
		}{
			{"no consent", nil, sharing.RuleConsentMissing},
			{"an empty token", &sharing.ConsentRef{Purpose: sharing.PurposePrefill}, sharing.RuleConsentMissing},
			{"a token the hub never gave", &sharing.ConsentRef{Token: "yjc_forged", Purpose: sharing.PurposePrefill}, sharing.RuleConsentUnknown},
			{"an expired consent", &sharing.ConsentRef{Token: expiring.Token, Purpose: sharing.PurposePrefill}, sharing.RuleConsentExpired},
			{"a consent for another purpose", &sharing.ConsentRef{Token: otherPurpose, Purpose: "licence-check"}, sharing.RuleConsentPurpose},
			{"a request naming another purpose", &sharing.ConsentRef{Token: good, Purpose: "marketing"}, sharing.RuleConsentPurpose},
			{"a consent for another bundle", &sharing.ConsentRef{Token: otherBundle, Purpose: sharing.PurposePrefill}, sharing.RuleConsentBundle},
			{"a consent by another holder", &sharing.ConsentRef{Token: otherHolder, Purpose: sharing.PurposePrefill}, sharing.RuleConsentHolder},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := e.audit.Entries(ctx, "prefill", "")
				p, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc, Consent: tc.consent})
				var re *sharing.RefusedError
				if !errors.As(err, &re) || !errors.Is(err, sharing.ErrRefused) || re.Rule != tc.rule || p != nil {
					t.Fatalf("err = %v, want a refusal with rule %s", err, tc.rule)
				}
				if strings.Contains(re.Reason, uscc) {
					t.Errorf("the refusal repeats the holder: %s", re.Reason)
				}
				after, _ := e.audit.Entries(ctx, "prefill", "")
				if len(after) != len(before)+1 || after[len(after)-1].Outcome != audit.Refused || !strings.Contains(string(after[len(after)-1].Detail), tc.rule) {
					t.Fatalf("the refusal is not the one new audit row: %d → %d", len(before), len(after))
				}
				if strings.Contains(string(after[len(after)-1].Detail), `"fields"`) {
					t.Fatalf("a refused prefill's audit row lists fields: %s", after[len(after)-1].Detail)
				}
			})
		}
		var consentsAfter, casesAfter int
		_ = e.st.DB().Get(&consentsAfter, "SELECT COUNT(*) FROM consents")
		_ = e.st.DB().Get(&casesAfter, "SELECT COUNT(*) FROM cases")
		if consentsAfter != consentsBefore || casesAfter != casesBefore {
			t.Fatalf("refused prefills stored something: consents %d → %d, cases %d → %d", consentsBefore, consentsAfter, casesBefore, casesAfter)
		}
		if _, err := e.audit.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAMalformedPrefillOrConsentIsRefusedWithoutRepeatingTheHolder(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		const bad = "91350100M000100Y44"
		_, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`99`), ApplicantType: "robot", Holder: bad})
		var ve *problem.Error
		if !errors.As(err, &ve) || len(ve.Problems) != 3 {
			t.Fatalf("err = %v", err)
		}
		_, err = e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: bad})
		if !errors.As(err, &ve) || ve.Problems[0].Path != "/holder" || ve.Problems[0].Rule != "gb32100" || strings.Contains(ve.Problems[0].Message, bad) {
			t.Fatalf("err = %v", err)
		}
		_, err = e.svc.GrantConsent(ctx, sharing.ConsentRequest{Holder: bad, Purpose: "Prefill!", Bundle: json.RawMessage(`"nope"`), TTL: json.RawMessage(`"48h"`)})
		if !errors.As(err, &ve) || len(ve.Problems) != 4 {
			t.Fatalf("err = %v", err)
		}
		for _, p := range ve.Problems {
			if strings.Contains(p.Message, bad) {
				t.Errorf("a problem repeats the holder: %+v", p)
			}
		}
		refused, _ := e.audit.Entries(ctx, "prefill", audit.Refused)
		if len(refused) != 2 {
			t.Fatalf("%d refused prefills audited, want 2", len(refused))
		}
		var consents int
		_ = e.st.DB().Get(&consents, "SELECT COUNT(*) FROM consents")
		if consents != 0 {
			t.Fatalf("%d consents stored after a refused request", consents)
		}
	})
}

func TestTheReuseReportCountsPrefilledFieldsAndLicenceMaterials(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		_, number := openDrinkShop(t, e)
		token := consent(t, e, uscc, sharing.PurposePrefill, "open-bar")
		p, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc,
			Consent: &sharing.ConsentRef{Token: token, Purpose: sharing.PurposePrefill}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc}); err == nil {
			t.Fatal("a prefill without consent was granted")
		}
		// The applicant takes the prefill into the 开酒吧 application and the licence for the material.
		app, hash := example(t, "open-bar-enterprise")
		for code, f := range p.Fields {
			app.Form[code] = f.Value
		}
		app.Materials = append(app.Materials, cases.MaterialInput{Type: "food-business-licence-copy", Licence: &cases.LicenceRef{Type: foodLicence, Number: number}})
		if _, _, err := e.cases.Submit(ctx, app, hash, ""); err != nil {
			t.Fatal(err)
		}
		rep, err := e.svc.ReuseReport(ctx, sharing.Period{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Bundles) != 2 || rep.Bundles[0].Bundle.Seq != 30 || rep.Bundles[1].Bundle.Seq != 34 {
			t.Fatalf("bundles: %+v", rep.Bundles)
		}
		drink, bar := rep.Bundles[0], rep.Bundles[1]
		if drink.Cases != 1 || drink.FieldsPrefilled != 0 || drink.MaterialsFromLicences != 0 || drink.FieldsAsked == 0 {
			t.Errorf("开饮品店: %+v", drink.ReuseFigures)
		}
		if bar.Cases != 1 || bar.CasesPrefilled != 1 || bar.FieldsPrefilled != len(p.Fields) || bar.MaterialsFromLicences != 1 ||
			bar.PrefillsGranted != 1 || bar.PrefillsRefused != 1 || bar.FieldsPrefilledPercent <= 0 || bar.MaterialsFromLicencesPercent <= 0 {
			t.Errorf("开酒吧: %+v (prefill returned %d fields)", bar.ReuseFigures, len(p.Fields))
		}
		if rep.Overall.Cases != 2 || rep.Overall.FieldsPrefilled != bar.FieldsPrefilled || rep.Overall.MaterialsAsked != drink.MaterialsAsked+bar.MaterialsAsked {
			t.Errorf("overall: %+v", rep.Overall)
		}
		// A second 开酒吧 without a new prefill is not counted as prefilled: a prefill feeds one case.
		app2, hash2 := example(t, "open-bar-enterprise")
		if _, _, err := e.cases.Submit(ctx, app2, hash2, ""); err != nil {
			t.Fatal(err)
		}
		rep, _ = e.svc.ReuseReport(ctx, sharing.Period{})
		if got := rep.Bundles[1]; got.Cases != 2 || got.CasesPrefilled != 1 || got.FieldsPrefilled != len(p.Fields) {
			t.Errorf("after a second case: %+v", got.ReuseFigures)
		}

		// A period counts the cases submitted and the prefills made on its days only.
		*e.now = time.Date(2026, 12, 10, 2, 0, 0, 0, time.UTC)
		app3, hash3 := example(t, "open-drink-shop-enterprise")
		if _, _, err := e.cases.Submit(ctx, app3, hash3, ""); err != nil {
			t.Fatal(err)
		}
		china := time.FixedZone("CST", 8*3600)
		dec, err := e.svc.ReuseReport(ctx, sharing.Period{From: time.Date(2026, 12, 1, 0, 0, 0, 0, china), To: time.Date(2026, 12, 31, 0, 0, 0, 0, china)})
		if err != nil {
			t.Fatal(err)
		}
		if dec.From != "2026-12-01" || dec.To != "2026-12-31" || len(dec.Bundles) != 1 || dec.Bundles[0].Bundle.Seq != 30 ||
			dec.Overall.Cases != 1 || dec.Overall.PrefillsGranted != 0 || dec.Overall.PrefillsRefused != 0 {
			t.Errorf("December: %+v", dec)
		}
		nov, err := e.svc.ReuseReport(ctx, sharing.Period{To: time.Date(2026, 11, 30, 0, 0, 0, 0, china)})
		if err != nil {
			t.Fatal(err)
		}
		if nov.From != "" || nov.Overall.Cases != 3 || nov.Overall.PrefillsGranted != 1 || nov.Overall.PrefillsRefused != 1 || nov.Overall.CasesPrefilled != 1 {
			t.Errorf("up to November: %+v", nov.Overall)
		}
		var ve *problem.Error
		if _, err := e.svc.ReuseReport(ctx, sharing.Period{From: time.Date(2026, 12, 31, 0, 0, 0, 0, china), To: time.Date(2026, 12, 1, 0, 0, 0, 0, china)}); !errors.As(err, &ve) {
			t.Errorf("a period that ends before it starts: %v", err)
		}
	})
}

func TestPrefillSaysWhichLicencesTheBundleWouldIssueTheHolderAlreadyHolds(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		_, number := openDrinkShop(t, e)
		prefill := func(matters ...string) *sharing.Prefill {
			t.Helper()
			token := consent(t, e, uscc, sharing.PurposePrefill, "open-bar")
			p, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc, Matters: matters,
				Consent: &sharing.ConsentRef{Token: token, Purpose: sharing.PurposePrefill}})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		heldFor := func(p *sharing.Prefill) map[string]sharing.HeldLicence {
			out := map[string]sharing.HeldLicence{}
			for _, h := range p.AlreadyHeld {
				if _, twice := out[h.Matter]; twice {
					t.Errorf("%s listed twice: %+v", h.Matter, p.AlreadyHeld)
				}
				out[h.Matter] = h
			}
			return out
		}

		// Every matter of 开酒吧 open to an enterprise: the drink shop's food licence (and its
		// outdoor sign approval, where that is an e-licence) are held already.
		all := prefill()
		held := heldFor(all)
		food, ok := held["food-business-licence"]
		if !ok || food.MatterName == "" || food.Status != "valid" || food.Licence.Type != foodLicence || food.Licence.Number != number ||
			food.Licence.Issuer == "" || food.Licence.ValidUntil != "2031-11-30" || food.Licence.ID == "" {
			t.Fatalf("already held: %+v", all.AlreadyHeld)
		}
		for _, h := range all.AlreadyHeld {
			m, _ := testCatalogue.Matter(h.Matter)
			if len(m.LicenceTypes()) != 1 || m.LicenceTypes()[0].Name != h.Licence.Type {
				t.Errorf("%s issues %v, listed with a %s", h.Matter, m.LicenceTypes(), h.Licence.Type)
			}
		}
		if _, ok := held["tobacco-retail-licence"]; ok {
			t.Error("the tobacco licence was never issued: it is not held")
		}

		// Only the selected matters count.
		if got := heldFor(prefill("tobacco-retail-licence", "public-venue-fire-safety-inspection")); len(got) != 0 {
			t.Errorf("without the food licence matter: %+v", got)
		}
		if got := heldFor(prefill("food-business-licence", "prepackaged-food-sales-filing", "tobacco-retail-licence", "public-venue-fire-safety-inspection")); len(got) != 1 || got["food-business-licence"].Licence.Number != number {
			t.Errorf("with the food licence matter: %+v", got)
		}
		var pe *problem.Error
		_, err := e.svc.Prefill(ctx, sharing.PrefillRequest{Bundle: json.RawMessage(`"open-bar"`), ApplicantType: "enterprise", Holder: uscc, Matters: []string{"marriage-registration"},
			Consent: &sharing.ConsentRef{Token: consent(t, e, uscc, sharing.PurposePrefill, "open-bar"), Purpose: sharing.PurposePrefill}})
		if !errors.As(err, &pe) || len(pe.Problems) == 0 || pe.Problems[0].Path != "/matters" {
			t.Errorf("a matter not of the bundle: %v", err)
		}

		// The audit row names the matters, never the licence's number.
		rows, err := e.audit.Entries(ctx, "prefill", audit.Granted)
		if err != nil || len(rows) != 3 {
			t.Fatalf("audit rows: %d %v", len(rows), err)
		}
		detail := string(rows[0].Detail)
		if !strings.Contains(detail, `"already_held":["food-business-licence"`) || !strings.Contains(detail, food.Licence.ID) || strings.Contains(detail, number) {
			t.Errorf("audit detail: %s", detail)
		}

		// An expired licence is no longer held.
		*e.now = time.Date(2031, 12, 1, 9, 0, 0, 0, time.UTC)
		later := prefill()
		if len(later.AlreadyHeld) != 0 || len(later.Licences) == 0 || later.Licences[0].Status != "expired" {
			t.Errorf("after the licences expired: already held %+v, licences %+v", later.AlreadyHeld, later.Licences)
		}
	})
}
