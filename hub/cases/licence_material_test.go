package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/mapping"
	"yjshub/problem"
	"yjshub/schemas"
	"yjshub/seeds"
)

const (
	enterpriseUSCC = "91350100M000100Y43"
	foodLicence    = "食品经营许可证"
)

// otherUSCC is a valid USCC of an enterprise other than the examples'.
var otherUSCC = func() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	body := "91320707MA1XYW123"
	sum, w := 0, 1
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * w
		w = w * 3 % 31
	}
	return body + string(alphabet[(31-sum%31)%31])
}()

// eachWith runs a test on every store backend with a service over cat.
func eachWith(t *testing.T, cat *catalogue.Catalogue, fn func(t *testing.T, st *store.Store, svc *cases.Service)) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			hs, err := hub.New(hub.Config{Catalogue: cat, Store: st, CallbackBase: "http://hub.test", Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			fn(t, st, svc)
		})
	}
}

// issueFoodLicence runs 开饮品店 for the example enterprise to completion and returns the food
// licence it issued.
func issueFoodLicence(t *testing.T, svc *cases.Service) cases.LicenceView {
	t.Helper()
	ctx := context.Background()
	app, hash := example(t, "open-drink-shop-enterprise")
	v, _, err := svc.Submit(ctx, app, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range v.Subcases {
		approve(t, svc, v, sc, i)
	}
	done, err := svc.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != cases.CaseCompleted {
		t.Fatalf("开饮品店 not completed: %s", done.State)
	}
	for _, l := range done.Licences {
		if l.Type == foodLicence {
			return l
		}
	}
	t.Fatalf("no %s among %+v", foodLicence, done.Licences)
	return cases.LicenceView{}
}

func withLicenceMaterial(app *cases.Application, material, typ, number string) {
	app.Materials = append(app.Materials, cases.MaterialInput{Type: material, Licence: &cases.LicenceRef{Type: typ, Number: number}})
}

func dispatchedOf(t *testing.T, st *store.Store, subcaseID string) event.SubcaseDispatched {
	t.Helper()
	pending, err := st.PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		var env event.Envelope
		if err := json.Unmarshal(p.Payload, &env); err != nil {
			t.Fatal(err)
		}
		if env.Type != event.TypeSubcaseDispatched || env.Subject != subcaseID {
			continue
		}
		var d event.SubcaseDispatched
		if err := json.Unmarshal(env.Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("no dispatched message for %s", subcaseID)
	return event.SubcaseDispatched{}
}

func TestEveryExampleApplicationIsAccepted(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(paths) < 9 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		for _, p := range paths {
			name := strings.TrimSuffix(filepath.Base(p), ".json")
			app, hash := example(t, name)
			if _, _, err := svc.Submit(context.Background(), app, hash, ""); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestAFoodLicenceFromAnEarlierCaseStandsInForTheMaterial(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		lic := issueFoodLicence(t, svc)

		app, hash := example(t, "open-bar-enterprise")
		withLicenceMaterial(&app, "food-business-licence-copy", foodLicence, lic.Number)
		app.Form["food.licence_number"] = lic.Number
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatalf("开酒吧 with the food licence as a material: %v", err)
		}
		var mv *cases.MaterialView
		for i := range v.Materials {
			if v.Materials[i].Type == "food-business-licence-copy" {
				mv = &v.Materials[i]
			}
		}
		if mv == nil || mv.Licence == nil || mv.Licence.Number != lic.Number || mv.SHA256 != lic.File.SHA256 || mv.URI != lic.File.URI || len(mv.UsedBy) != 1 {
			t.Fatalf("the material as stored: %+v", mv)
		}
		var tobacco cases.SubcaseView
		for _, sc := range v.Subcases {
			if sc.MatterCode == "tobacco-retail-licence" {
				tobacco = sc
			}
		}
		d := dispatchedOf(t, st, tobacco.ID)
		var got *event.MaterialRef
		for i := range d.Materials {
			if d.Materials[i].Type == "food-business-licence-copy" {
				got = &d.Materials[i]
			}
		}
		if got == nil || got.Licence == nil || got.Licence.Status != licences.StatusValid || got.Licence.Number != lic.Number ||
			got.Licence.Type != foodLicence || got.Licence.VerifiedAt.IsZero() || got.SHA256 != lic.File.SHA256 || got.Name == "" {
			t.Fatalf("the tobacco department's message carries %+v", got)
		}
		if d.Form["SPJYXKZH"] != lic.Number {
			t.Fatalf("the tobacco form lacks the food licence number: %v", d.Form)
		}
		// Every message, the licence material included, matches the event schemas.
		envelope, err := schemas.Compile("events/envelope.schema.json")
		if err != nil {
			t.Fatal(err)
		}
		pending, _ := st.PendingOutbox(ctx, 10000)
		for _, m := range pending {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := envelope.Validate(doc); err != nil {
				t.Errorf("%s on %s does not match the schema: %v", m.EventID, m.Topic, err)
			}
		}
		// The food licence department itself does not ask for the copy.
		for _, sc := range v.Subcases {
			if sc.MatterCode == "food-business-licence" {
				for _, m := range dispatchedOf(t, st, sc.ID).Materials {
					if m.Licence != nil {
						t.Fatalf("a department that does not ask for it got the licence material: %+v", m)
					}
				}
			}
		}
	})
}

func TestALicenceGivenAsAMaterialMustBeTheApplicantsValidOneOfTheRightType(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		lic := issueFoodLicence(t, svc)
		// The library the service reads, on the same store and clock (all its state is there).
		lib, err := licences.New(licences.Config{Store: st, Catalogue: testCatalogue, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		importFood := func(number, validUntil string) {
			t.Helper()
			_, _, err := lib.Import(ctx, event.Licence{Type: foodLicence, Number: number, Holder: "连云港海韵餐饮管理有限公司", HolderID: enterpriseUSCC,
				HolderIDType: "uscc", Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2020-01-02", ValidFrom: "2020-01-02", ValidUntil: validUntil,
				File: event.LicenceFile{SHA256: strings.Repeat("cd", 32), URI: "https://licences.example.org/" + number + ".ofd", Format: "ofd"}}, "jszwfw")
			if err != nil {
				t.Fatal(err)
			}
		}
		importFood("JY13207070000001", "2025-01-01")
		importFood("JY13207070000002", "2030-01-01")
		if _, _, err := lib.Revoke(ctx, foodLicence, "JY13207070000002", licences.Event{EventID: "rv-1", Type: licences.EventRevoked,
			Reason: "经营场所已变更，原许可注销", Department: "admin-approval"}); err != nil {
			t.Fatal(err)
		}
		casesBefore := count(t, st, "cases")

		tests := []struct {
			name     string
			edit     func(app *cases.Application)
			path     string
			rule     string
			contains string
		}{
			{"another holder's licence", func(app *cases.Application) {
				app.Form["enterprise.uscc"] = otherUSCC
				withLicenceMaterial(app, "food-business-licence-copy", foodLicence, lic.Number)
			}, "/materials/14/licence", cases.RuleLicenceHolder, "not held by the applicant"},
			{"an expired licence", func(app *cases.Application) {
				withLicenceMaterial(app, "food-business-licence-copy", foodLicence, "JY13207070000001")
			}, "/materials/14/licence", cases.RuleLicenceExpired, "2025-01-01"},
			{"a revoked licence", func(app *cases.Application) {
				withLicenceMaterial(app, "food-business-licence-copy", foodLicence, "JY13207070000002")
			}, "/materials/14/licence", cases.RuleLicenceRevoked, "经营场所已变更"},
			{"a licence the library does not have", func(app *cases.Application) {
				withLicenceMaterial(app, "food-business-licence-copy", foodLicence, "JY19999999999999")
			}, "/materials/14/licence", cases.RuleLicenceUnknown, "no 食品经营许可证"},
			{"a licence of a type that does not satisfy the material", func(app *cases.Application) {
				withLicenceMaterial(app, "food-business-licence-copy", "营业执照", lic.Number)
			}, "/materials/14/licence", cases.RuleLicenceType, "食品经营许可证 only"},
			{"a material no licence can stand in for", func(app *cases.Application) {
				app.Materials[3] = cases.MaterialInput{Type: "premises-proof", Licence: &cases.LicenceRef{Type: foodLicence, Number: lic.Number}}
			}, "/materials/3/licence", cases.RuleLicenceType, "supply the file"},
			{"a file and a licence at once", func(app *cases.Application) {
				withLicenceMaterial(app, "food-business-licence-copy", foodLicence, lic.Number)
				app.Materials[14].URI = "https://files.example.org/x.pdf"
			}, "/materials/14", "one_of", "not both"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				app, hash := example(t, "open-bar-enterprise")
				if len(app.Materials) != 14 || app.Materials[3].Type != "premises-proof" {
					t.Fatalf("the example changed: %d materials", len(app.Materials))
				}
				tc.edit(&app)
				_, _, err := svc.Submit(ctx, app, hash, "")
				var ve *problem.Error
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a *problem.Error", err)
				}
				found := false
				for _, p := range ve.Problems {
					if p.Path == tc.path && p.Rule == tc.rule && strings.Contains(p.Message, tc.contains) {
						found = true
					}
					if strings.Contains(p.Message, enterpriseUSCC) || strings.Contains(p.Message, otherUSCC) {
						t.Errorf("a problem repeats an identifier: %+v", p)
					}
				}
				if !found {
					t.Fatalf("no problem at %s with rule %s saying %q: %+v", tc.path, tc.rule, tc.contains, ve.Problems)
				}
				if n := count(t, st, "cases"); n != casesBefore {
					t.Fatalf("%d cases after a refused application, want %d", n, casesBefore)
				}
			})
		}
	})
}

// catalogueWithFoodPrerequisite is the seed catalogue with the food licence made a
// prerequisite of the tobacco retail licence, whose form takes its number: 开烟酒店 (32) does
// not include the food licence, so the prerequisite is always outside the case.
func catalogueWithFoodPrerequisite(t *testing.T) *catalogue.Catalogue {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(seeds.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(seeds.FS, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tobacco := string(m["matters/tobacco.yaml"].Data)
	edited := strings.Replace(tobacco, "    prerequisites: []", "    prerequisites: [food-business-licence]", 1)
	edited = strings.Replace(edited, "      - field: SPJYXKZH", `      - field: SPXKYXQ
        title: 食品经营许可有效期至
        from_result: {matter: food-business-licence, field: valid_until}
      - field: SPJYXKZH`, 1)
	if edited == tobacco {
		t.Fatal("the tobacco matter changed: the edit does not apply")
	}
	m["matters/tobacco.yaml"] = &fstest.MapFile{Data: []byte(edited)}
	cat, err := catalogue.Load(m, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// tobaccoShop is 开烟酒店 for the example enterprise, built from the 开酒吧 example.
func tobaccoShop(t *testing.T, cat *catalogue.Catalogue) (cases.Application, string) {
	t.Helper()
	bar, _ := example(t, "open-bar-enterprise")
	b, _ := cat.Bundle("open-tobacco-liquor-shop")
	of, err := mapping.BuildOneForm(cat, b, catalogue.Enterprise, []string{"tobacco-retail-licence"})
	if err != nil {
		t.Fatal(err)
	}
	app := cases.Application{Bundle: json.RawMessage(`32`), ApplicantType: catalogue.Enterprise, Matters: []string{"tobacco-retail-licence"}, Form: map[string]any{}}
	for _, f := range of.Fields {
		if v, ok := bar.Form[f.Code]; ok {
			app.Form[f.Code] = v
		}
	}
	for _, m := range bar.Materials {
		for _, mi := range of.Materials {
			if mi.Code == m.Type {
				app.Materials = append(app.Materials, m)
			}
		}
	}
	return app, "tobacco-shop"
}

func TestAPrerequisiteOutsideTheCaseIsFedFromTheHoldersLicences(t *testing.T) {
	cat := catalogueWithFoodPrerequisite(t)
	eachWith(t, cat, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		formOf := func(v *cases.CaseView) map[string]any {
			t.Helper()
			if len(v.Subcases) != 1 || v.Subcases[0].State != cases.StateDispatched {
				t.Fatalf("the tobacco sub-case waits for a prerequisite that is not in the case: %+v", v.Subcases)
			}
			return dispatchedOf(t, st, v.Subcases[0].ID).Form
		}
		app, hash := tobaccoShop(t, cat)
		before, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if f := formOf(before); f["SPXKYXQ"] != nil {
			t.Fatalf("a result with no licence in the library: %v", f["SPXKYXQ"])
		}

		lic := issueFoodLicence(t, svc)
		app, hash = tobaccoShop(t, cat)
		after, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if f := formOf(after); f["SPXKYXQ"] != lic.ValidUntil || lic.ValidUntil == "" {
			t.Fatalf("the tobacco form did not take the food licence's validity %q from the library: %v", lic.ValidUntil, f)
		}
	})
}
