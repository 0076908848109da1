package licences_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/event"
	"yjshub/hub/licences"
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
	uscc       = "91350100M000100Y43"
	residentID = "11010519491231002X"
)

// each runs a test on every backend with a library whose clock reads *now.
func each(t *testing.T, fn func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			lib, err := licences.New(licences.Config{Store: st, Catalogue: testCatalogue, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, st, lib, &now)
		})
	}
}

func foodLicence(number, holderID, holderType, validUntil string) event.Licence {
	return event.Licence{Type: "食品经营许可证", Number: number, Holder: "连云港海韵餐饮管理有限公司", HolderID: holderID, HolderIDType: holderType,
		Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2024-03-01", ValidFrom: "2024-03-01", ValidUntil: validUntil,
		File: event.LicenceFile{SHA256: strings.Repeat("ef", 32), URI: "https://licences.example.org/" + number + ".ofd", Format: "ofd", Size: 52311}}
}

func TestAnImportedLicenceJoinsTheLibraryWithoutACase(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time) {
		ctx := context.Background()
		got, created, err := lib.Import(ctx, foodLicence("JY13207070000010", uscc, "uscc", "2029-02-28"), "jszwfw-elicence")
		if err != nil || !created {
			t.Fatalf("import: %v created=%v", err, created)
		}
		if got.Source != licences.SourceImport || got.Origin != "jszwfw-elicence" || got.CaseID != "" || got.SubcaseID != "" ||
			got.Department != "admin-approval" || got.Status != licences.StatusValid || got.File.Size != 52311 {
			t.Fatalf("imported: %+v", got)
		}
		again, created, err := lib.Import(ctx, foodLicence("JY13207070000010", uscc, "uscc", "2029-02-28"), "jszwfw-elicence")
		if err != nil || created || again.ID != got.ID {
			t.Fatalf("the same licence imported again: %v created=%v", err, created)
		}
		other := foodLicence("JY13207070000010", residentID, "resident_id", "2029-02-28")
		if _, _, err := lib.Import(ctx, other, "jszwfw-elicence"); !errors.Is(err, licences.ErrConflict) {
			t.Fatalf("the same number for another holder: %v", err)
		}
		held, err := lib.List(ctx, uscc)
		if err != nil || len(held) != 1 || held[0].Number != "JY13207070000010" {
			t.Fatalf("the holder's licences: %+v %v", held, err)
		}
		if held, _ := lib.List(ctx, residentID); len(held) != 0 {
			t.Fatalf("another holder sees %d licences", len(held))
		}
	})
}

func TestImportRefusesAMalformedLicenceWithoutRepeatingIt(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time) {
		bad := foodLicence("JY1", "110105194912310021", "resident_id", "2020-01-01")
		bad.File.Format = "docx"
		_, _, err := lib.Import(context.Background(), bad, "")
		var ve *problem.Error
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v", err)
		}
		rules := map[string]string{}
		for _, p := range ve.Problems {
			rules[p.Path] = p.Rule
			if strings.Contains(p.Message, "110105194912310021") {
				t.Errorf("a problem repeats the holder's number: %+v", p)
			}
		}
		if rules["/holder_id"] != "gb11643" || rules["/valid_until"] != "order" || rules["/file/format"] != "enum" || rules["/origin"] != "required" {
			t.Fatalf("problems: %+v", ve.Problems)
		}
		var n int
		if err := st.DB().Get(&n, "SELECT COUNT(*) FROM licences"); err != nil || n != 0 {
			t.Fatalf("%d licences stored after a refused import (%v)", n, err)
		}
	})
}

func TestAVerificationSaysValidExpiredOrRevoked(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time) {
		ctx := context.Background()
		if _, _, err := lib.Import(ctx, foodLicence("JY13207070000011", uscc, "uscc", "2026-11-30"), "jszwfw"); err != nil {
			t.Fatal(err)
		}
		status := func() string {
			t.Helper()
			l, err := lib.Get(ctx, "食品经营许可证", "JY13207070000011")
			if err != nil {
				t.Fatal(err)
			}
			return l.Status
		}
		if got := status(); got != licences.StatusValid {
			t.Fatalf("before its last day: %s", got)
		}
		// 2026-11-30 23:30 in China is still the last day: valid.
		*now = time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC)
		if got := status(); got != licences.StatusValid {
			t.Fatalf("on its last day in China: %s", got)
		}
		// 2026-12-01 00:30 in China: expired, though it is still 30 November in UTC.
		*now = time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC)
		if got := status(); got != licences.StatusExpired {
			t.Fatalf("the day after, in China: %s", got)
		}
		if _, _, err := lib.Revoke(ctx, "食品经营许可证", "JY13207070000011", licences.Event{EventID: "r1", Type: "revoked", Reason: "吊销", Department: "admin-approval"}); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != licences.StatusRevoked {
			t.Fatalf("after the revocation: %s", got)
		}
		if _, err := lib.Get(ctx, "食品经营许可证", "JY00000000000000"); !errors.Is(err, licences.ErrNotFound) {
			t.Fatalf("an unknown number: %v", err)
		}
	})
}

func TestOnlyTheIssuingDepartmentRevokesAndOnlyOnce(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, lib *licences.Library, now *time.Time) {
		ctx := context.Background()
		if _, _, err := lib.Import(ctx, foodLicence("JY13207070000012", uscc, "uscc", "2030-01-01"), "jszwfw"); err != nil {
			t.Fatal(err)
		}
		revoke := func(id, dept string) (*licences.Licence, bool, error) {
			return lib.Revoke(ctx, "食品经营许可证", "JY13207070000012", licences.Event{EventID: id, Type: licences.EventRevoked, Reason: "以欺骗手段取得许可，依法撤销", Department: dept})
		}
		var fe *licences.ForbiddenError
		if _, _, err := revoke("r1", "market-regulation"); !errors.Is(err, licences.ErrForbidden) || !errors.As(err, &fe) ||
			fe.Rule != licences.RuleIssuer || fe.Path != "/department" {
			t.Fatalf("another department: %v, want a refusal with rule issuer at /department", err)
		}
		lic, replayed, err := revoke("r1", "admin-approval")
		if err != nil || replayed || lic.Status != licences.StatusRevoked || lic.RevokedReason == "" || lic.RevokedAt == nil {
			t.Fatalf("the issuer: %+v replayed=%v %v", lic, replayed, err)
		}
		again, replayed, err := revoke("r1", "admin-approval")
		if err != nil || !replayed || again.Status != licences.StatusRevoked {
			t.Fatalf("the same event again: replayed=%v %v", replayed, err)
		}
		if _, _, err := revoke("r2", "admin-approval"); !errors.Is(err, licences.ErrConflict) {
			t.Fatalf("revoking a revoked licence: %v", err)
		}
		_, _, err = lib.Revoke(ctx, "食品经营许可证", "JY13207070000012", licences.Event{EventID: "r3", Type: "suspended"})
		var ve *problem.Error
		if !errors.As(err, &ve) || len(ve.Problems) != 3 {
			t.Fatalf("an event of another type, without reason or department: %v", err)
		}
		var events int
		if err := st.DB().Get(&events, "SELECT COUNT(*) FROM licence_events"); err != nil || events != 1 {
			t.Fatalf("%d licence events recorded, want 1 (%v)", events, err)
		}
		// A licence whose issuer is not a department of the hub cannot be revoked through it.
		foreign := foodLicence("JY13207070000013", uscc, "uscc", "2030-01-01")
		foreign.Issuer = "南京市市场监督管理局"
		if _, _, err := lib.Import(ctx, foreign, "jszwfw"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := lib.Revoke(ctx, "食品经营许可证", "JY13207070000013", licences.Event{EventID: "r4", Type: "revoked", Reason: "注销", Department: "admin-approval"}); !errors.Is(err, licences.ErrForbidden) {
			t.Fatalf("a foreign licence: %v", err)
		}
	})
}

func TestMaskedHidesAResidentIDButNotAUSCC(t *testing.T) {
	l := licences.Licence{Licence: event.Licence{HolderID: residentID, HolderIDType: "resident_id"}}
	if got := l.Masked().HolderID; got != "110*************2X" {
		t.Fatalf("masked resident ID: %s", got)
	}
	l = licences.Licence{Licence: event.Licence{HolderID: uscc, HolderIDType: "uscc"}}
	if got := l.Masked().HolderID; got != uscc {
		t.Fatalf("masked USCC: %s", got)
	}
}
