package sharing_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub"
	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/pseudonym"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
)

// Platforms of the tests, and an operator.
var (
	jiangsu     = auth.Client{Name: "jiangsu", Role: auth.RolePlatform}
	lianyungang = auth.Client{Name: "lianyungang", Role: auth.RolePlatform}
	operator    = auth.Client{Name: "ops", Role: auth.RoleOperator}
)

func as(c auth.Client) context.Context { return auth.WithClient(context.Background(), c) }

// grant gives a consent through platform c.
func grant(t *testing.T, e env, c auth.Client, purpose, bundle string, uses int) *sharing.Consent {
	t.Helper()
	req := sharing.ConsentRequest{Holder: uscc, Purpose: purpose, Bundle: json.RawMessage(`"` + bundle + `"`)}
	if uses > 0 {
		req.Uses = json.RawMessage(strconv.Itoa(uses))
	}
	got, err := e.svc.GrantConsent(as(c), req)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// refusedRule returns the rule of a RefusedError, or fails.
func refusedRule(t *testing.T, err error) string {
	t.Helper()
	var re *sharing.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	return re.Rule
}

func TestAConsentServesOnlyThePlatformThatObtainedItAsOftenAsItSays(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		openDrinkShop(t, e)
		c := grant(t, e, jiangsu, sharing.PurposeLicences, "open-bar", 2)
		if len(c.ID) != 16 || strings.Contains(c.Token, c.ID) || c.Uses != 2 {
			t.Fatalf("consent id %q uses %d: want 16 hex digits, not part of the token, and 2 uses", c.ID, c.Uses)
		}
		if _, err := e.svc.HolderLicences(as(lianyungang), uscc, c.Token, ""); refusedRule(t, err) != sharing.RuleConsentPlatform {
			t.Fatalf("another platform: %v", err)
		}
		for i := range 2 {
			if list, err := e.svc.HolderLicences(as(jiangsu), uscc, c.Token, ""); err != nil || len(list) != 1 {
				t.Fatalf("use %d: %d licences, %v", i+1, len(list), err)
			}
		}
		if _, err := e.svc.HolderLicences(as(jiangsu), uscc, c.Token, ""); refusedRule(t, err) != sharing.RuleConsentUsed {
			t.Fatalf("a third use of a consent for two: %v", err)
		}
		// The refusal by another platform did not count: two uses were made, and no more.
		var uses int
		if err := e.st.DB().Get(&uses, e.st.DB().Rebind("SELECT uses FROM consents WHERE id = ?"), c.ID); err != nil || uses != 2 {
			t.Fatalf("uses counted %d (%v), want 2", uses, err)
		}
		// A prefill consent of one platform serves the other no prefill either.
		pc := grant(t, e, jiangsu, sharing.PurposePrefill, "open-bar", 0)
		_, err := e.svc.Prefill(as(lianyungang), sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
			Consent: &sharing.ConsentRef{Token: pc.Token, Purpose: sharing.PurposePrefill}})
		if refusedRule(t, err) != sharing.RuleConsentPlatform {
			t.Fatalf("another platform's prefill: %v", err)
		}
		if _, err := e.svc.Prefill(as(jiangsu), sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
			Consent: &sharing.ConsentRef{Token: pc.Token, Purpose: sharing.PurposePrefill}}); err != nil {
			t.Fatalf("the platform's own prefill: %v", err)
		}
		if _, err := e.svc.Prefill(as(jiangsu), sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
			Consent: &sharing.ConsentRef{Token: pc.Token, Purpose: sharing.PurposePrefill}}); refusedRule(t, err) != sharing.RuleConsentUsed {
			t.Fatalf("a second prefill on a consent for one (the default): %v", err)
		}
	})
}

func TestAConsentAsksForOneToTwentyUses(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		for _, uses := range []string{`0`, `21`, `1.5`, `"3"`} {
			_, err := e.svc.GrantConsent(as(jiangsu), sharing.ConsentRequest{Holder: uscc, Purpose: sharing.PurposePrefill, Bundle: json.RawMessage(`34`), Uses: json.RawMessage(uses)})
			var pe *problem.Error
			if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Path != "/uses" {
				t.Errorf("uses %s: %v, want one problem at /uses", uses, err)
			}
		}
		if c := grant(t, e, jiangsu, sharing.PurposePrefill, "open-bar", 20); c.Uses != 20 {
			t.Errorf("uses 20: %d", c.Uses)
		}
	})
}

// Requests at once never use a consent more often than it allows: the use is counted by the
// store, not read, checked and written back.
func TestConcurrentUsesNeverExceedTheConsent(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		openDrinkShop(t, e)
		c := grant(t, e, jiangsu, sharing.PurposeLicences, "open-bar", 3)
		const requests = 12
		errs := make([]error, requests)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range requests {
			wg.Go(func() {
				<-start
				_, errs[i] = e.svc.HolderLicences(as(jiangsu), uscc, c.Token, "")
			})
		}
		close(start)
		wg.Wait()
		granted, used := 0, 0
		for _, err := range errs {
			var re *sharing.RefusedError
			switch {
			case err == nil:
				granted++
			case errors.As(err, &re) && re.Rule == sharing.RuleConsentUsed:
				used++
			default:
				t.Errorf("a request failed otherwise: %v", err)
			}
		}
		if granted != 3 || used != requests-3 {
			t.Fatalf("%d granted and %d refused as used, want 3 and %d", granted, used, requests-3)
		}
		var uses int
		if err := e.st.DB().Get(&uses, e.st.DB().Rebind("SELECT uses FROM consents WHERE id = ?"), c.ID); err != nil || uses != 3 {
			t.Fatalf("uses counted %d (%v), want 3", uses, err)
		}
		rows, _ := e.audit.Entries(context.Background(), sharing.KindLicences, "")
		if len(rows) != requests {
			t.Errorf("%d listings audited, want %d", len(rows), requests)
		}
		if _, err := e.audit.Verify(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestAWithdrawnConsentIsRefusedAndOnlyItsPlatformWithdrawsIt(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		openDrinkShop(t, e)
		c := grant(t, e, jiangsu, sharing.PurposeLicences, "open-bar", 5)
		for name, id := range map[string]string{"another platform": c.ID, "an unknown id": "0123456789abcdef", "a malformed id": "x'; --"} {
			if err := e.svc.WithdrawConsent(as(lianyungang), id); !errors.Is(err, sharing.ErrNotFound) {
				t.Errorf("%s withdraws: %v, want ErrNotFound", name, err)
			}
		}
		if _, err := e.svc.HolderLicences(as(jiangsu), uscc, c.Token, ""); err != nil {
			t.Fatalf("before the withdrawal: %v", err)
		}
		if err := e.svc.WithdrawConsent(as(jiangsu), c.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.WithdrawConsent(as(jiangsu), c.ID); err != nil {
			t.Fatalf("withdrawing again: %v", err)
		}
		if _, err := e.svc.HolderLicences(as(jiangsu), uscc, c.Token, ""); refusedRule(t, err) != sharing.RuleConsentWithdrawn {
			t.Fatalf("after the withdrawal: %v", err)
		}
		rows, err := e.audit.Entries(ctx, sharing.KindConsentWithdrawn, "")
		if err != nil || len(rows) != 1 || !strings.Contains(string(rows[0].Detail), c.ID) || !strings.Contains(string(rows[0].Detail), `"jiangsu"`) ||
			!strings.HasPrefix(rows[0].Subject, "k1:") {
			t.Fatalf("withdrawals audited: %+v %v; want one, naming the consent and the platform", rows, err)
		}
	})
}

// Listing a holder's licences needs the holder's consent, or an operator; every listing is
// audited with the pseudonym, the client, the basis and the licences' ids, never a number.
func TestListingAHoldersLicencesNeedsAConsentAndIsAudited(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		_, number := openDrinkShop(t, e)
		prefillOnly := grant(t, e, jiangsu, sharing.PurposePrefill, "open-bar", 0)
		for name, tc := range map[string]struct{ token, rule string }{
			"no token":                   {"", sharing.RuleConsentMissing},
			"a token the hub never gave": {"yjc_forged", sharing.RuleConsentUnknown},
			"a consent for prefill only": {prefillOnly.Token, sharing.RuleConsentPurpose},
		} {
			_, err := e.svc.HolderLicences(as(jiangsu), uscc, tc.token, "")
			var re *sharing.RefusedError
			if !errors.As(err, &re) || re.Rule != tc.rule || re.Path != sharing.ConsentHeader {
				t.Errorf("%s: %v, want %s at %s", name, err, tc.rule, sharing.ConsentHeader)
			}
		}
		otherHolder, err := e.svc.GrantConsent(as(jiangsu), sharing.ConsentRequest{Holder: "11010519491231002X", Purpose: sharing.PurposeLicences, Bundle: json.RawMessage(`34`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.HolderLicences(as(jiangsu), uscc, otherHolder.Token, ""); refusedRule(t, err) != sharing.RuleConsentHolder {
			t.Errorf("another holder's consent: %v", err)
		}
		// Any bundle: a consent for 开饮品店 lists too.
		c := grant(t, e, jiangsu, sharing.PurposeLicences, "open-drink-shop", 0)
		list, err := e.svc.HolderLicences(as(jiangsu), uscc, c.Token, "")
		if err != nil || len(list) != 1 || list[0].Number != number {
			t.Fatalf("with a consent: %+v %v", list, err)
		}
		if list, err := e.svc.HolderLicences(as(operator), uscc, "", ""); err != nil || len(list) != 1 {
			t.Fatalf("an operator: %+v %v", list, err)
		}
		var pe *problem.Error
		if _, err := e.svc.HolderLicences(as(jiangsu), "91350100M000100Y44", c.Token, ""); !errors.As(err, &pe) || strings.Contains(err.Error(), "91350100M000100Y44") {
			t.Errorf("a malformed holder: %v", err)
		}

		granted, _ := e.audit.Entries(ctx, sharing.KindLicences, audit.Granted)
		refused, _ := e.audit.Entries(ctx, sharing.KindLicences, audit.Refused)
		if len(granted) != 2 || len(refused) != 5 {
			t.Fatalf("%d listings granted and %d refused audited, want 2 and 5", len(granted), len(refused))
		}
		var byConsent, byOperator map[string]any
		_ = json.Unmarshal(granted[0].Detail, &byConsent)
		_ = json.Unmarshal(granted[1].Detail, &byOperator)
		if byConsent["basis"] != sharing.BasisConsent || byConsent["consent"] != c.ID || byConsent["client"] != "jiangsu" || byConsent["purpose"] != sharing.PurposeLicences {
			t.Errorf("the consented listing's row: %s", granted[0].Detail)
		}
		if byOperator["basis"] != sharing.BasisOperator || byOperator["client"] != "ops" {
			t.Errorf("the operator's row: %s", granted[1].Detail)
		}
		ids, _ := byConsent["licences"].([]any)
		if len(ids) != 1 || ids[0] != list[0].ID {
			t.Errorf("the row lists licences %v, want the one id %s", ids, list[0].ID)
		}
		sum := sha256.Sum256([]byte(uscc))
		for _, r := range append(granted, refused...) {
			for _, secret := range []string{uscc, number, c.Token, hex.EncodeToString(sum[:])} {
				if strings.Contains(string(r.Detail), secret) || strings.Contains(r.Subject, secret) {
					t.Errorf("audit row %d holds a value it must not: %s %s", r.Seq, r.Subject, r.Detail)
				}
			}
			if r.Outcome == audit.Granted && !strings.HasPrefix(r.Subject, "k1:") {
				t.Errorf("audit row %d names the holder %q, want a keyed pseudonym", r.Seq, r.Subject)
			}
		}
		if _, err := e.audit.Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}

// A rotated key makes new pseudonyms; a consent given, and a prefill made, under the old key
// still count: the consent is used, and the reuse report pairs the prefill with the case.
func TestConsentsAndTheReuseReportSurviveAKeyRotation(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Migrated(open)(t)
			path := filepath.Join(t.TempDir(), pseudonym.FileName)
			before, _, err := pseudonym.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: clock, Pseudonyms: before})
			if err != nil {
				t.Fatal(err)
			}
			e := env{st: st, cases: hs.Cases, svc: hs.Sharing, audit: hs.Audit, now: &now}
			openDrinkShop(t, e)
			prefill := grant(t, e, jiangsu, sharing.PurposePrefill, "open-bar", 2)
			p, err := e.svc.Prefill(as(jiangsu), sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
				Consent: &sharing.ConsentRef{Token: prefill.Token, Purpose: sharing.PurposePrefill}})
			if err != nil {
				t.Fatal(err)
			}

			after, err := pseudonym.Rotate(path)
			if err != nil {
				t.Fatal(err)
			}
			hs, err = hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: clock, Pseudonyms: after})
			if err != nil {
				t.Fatal(err)
			}
			e = env{st: st, cases: hs.Cases, svc: hs.Sharing, audit: hs.Audit, now: &now}
			if _, err := e.svc.Prefill(as(jiangsu), sharing.PrefillRequest{Bundle: json.RawMessage(`34`), ApplicantType: "enterprise", Holder: uscc,
				Consent: &sharing.ConsentRef{Token: prefill.Token, Purpose: sharing.PurposePrefill}}); err != nil {
				t.Fatalf("a consent given before the rotation: %v", err)
			}
			rows, _ := e.audit.Entries(ctx, sharing.KindPrefill, audit.Granted)
			if len(rows) != 2 || !strings.HasPrefix(rows[0].Subject, "k1:") || !strings.HasPrefix(rows[1].Subject, "k2:") ||
				!before.Matches(rows[0].Subject, uscc) || !after.Matches(rows[0].Subject, uscc) || !after.Matches(rows[1].Subject, uscc) {
				t.Fatalf("prefill rows' subjects before and after the rotation: %+v", rows)
			}

			// The 开酒吧 case, submitted after the rotation, counts the prefill made before it.
			app, hash := example(t, "open-bar-enterprise")
			for code, f := range p.Fields {
				app.Form[code] = f.Value
			}
			if _, _, err := e.cases.Submit(ctx, app, hash, ""); err != nil {
				t.Fatal(err)
			}
			rep, err := e.svc.ReuseReport(ctx, sharing.Period{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Overall.CasesPrefilled != 1 || rep.Overall.FieldsPrefilled != len(p.Fields) {
				t.Fatalf("after the rotation the report counts %d cases prefilled, %d fields; want 1 and %d", rep.Overall.CasesPrefilled, rep.Overall.FieldsPrefilled, len(p.Fields))
			}
		})
	}
}
