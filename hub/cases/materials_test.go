package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/mapping"
	"yjshub/problem"
	"yjshub/seeds"
)

// dropMaterial removes every entry of a material type from an application.
func dropMaterial(app *cases.Application, typ string) bool {
	n := 0
	for _, m := range app.Materials {
		if m.Type != typ {
			app.Materials[n] = m
			n++
		}
	}
	dropped := n < len(app.Materials)
	app.Materials = app.Materials[:n]
	return dropped
}

func refusal(t *testing.T, err error) []problem.Problem {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *problem.Error", err)
	}
	return pe.Problems
}

func TestTheCommitmentLetterIsRequiredExactlyWhenTheApplicantChoosesCommitment(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		t.Run("告知承诺 without the letter is refused, naming the material", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			if app.Form["fire.commitment"] != true || !dropMaterial(&app, "fire-safety-commitment") {
				t.Fatal("the example should choose commitment and carry the letter")
			}
			problems := refusal(t, func() error { _, _, err := svc.Submit(context.Background(), app, hash, ""); return err }())
			if len(problems) != 1 || problems[0].Path != "/materials" || problems[0].Rule != cases.RuleRequiredMaterial ||
				problems[0].Material != "fire-safety-commitment" || !strings.Contains(problems[0].Message, "public-venue-fire-safety-inspection") {
				t.Fatalf("problems = %+v", problems)
			}
			if n := count(t, st, "cases"); n != 0 {
				t.Fatalf("%d cases stored after a refusal", n)
			}
		})
		t.Run("inspection before licensing needs no letter", func(t *testing.T) {
			app, hash := example(t, "open-bar-enterprise")
			app.Form["fire.commitment"] = false
			dropMaterial(&app, "fire-safety-commitment")
			v, _, err := svc.Submit(context.Background(), app, hash+"-no-commitment", "")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range v.Materials {
				if m.Type == "fire-safety-commitment" {
					t.Fatal("the letter was stored although none was given")
				}
			}
		})
	})
}

// catalogueWith loads the seed catalogue with one edit of one file.
func catalogueWith(t *testing.T, file, old, new string) *catalogue.Catalogue {
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
	if !bytes.Contains(m[file].Data, []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	m[file].Data = bytes.Replace(m[file].Data, []byte(old), []byte(new), 1)
	cat, err := catalogue.Load(m, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// withFiles returns the application with n files of a material type in place of the one it has.
func withFiles(t *testing.T, app cases.Application, typ string, n int) cases.Application {
	t.Helper()
	var one *cases.MaterialInput
	for i := range app.Materials {
		if app.Materials[i].Type == typ {
			one = &app.Materials[i]
		}
	}
	if one == nil {
		t.Fatalf("the example has no %s", typ)
	}
	base := *one
	dropMaterial(&app, typ)
	for i := 0; i < n; i++ {
		f := base
		f.Filename = strings.Replace(f.Filename, ".pdf", "-"+string(rune('a'+i))+".pdf", 1)
		f.SHA256 = strings.Repeat(string(rune('a'+i)), 64)
		f.URI = strings.Replace(f.URI, ".pdf", "-"+string(rune('a'+i))+".pdf", 1)
		app.Materials = append(app.Materials, f)
	}
	return app
}

func TestAMaterialTakesUpToItsMaxFiles(t *testing.T) {
	const typ = "staff-health-certificates"
	cat := catalogueWith(t, "materials/business.yaml", "max_files: 200", "max_files: 2")
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			hs, err := hub.New(hub.Config{Catalogue: cat, Store: st, CallbackBase: "http://hub.test",
				Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			svc := hs.Cases
			app, hash := example(t, "open-barbershop-enterprise")

			three := withFiles(t, app, typ, 3)
			problems := refusal(t, func() error { _, _, err := svc.Submit(context.Background(), three, hash+"-3", ""); return err }())
			last := len(three.Materials) - 1
			if len(problems) != 1 || problems[0].Rule != cases.RuleMaxFiles || problems[0].Material != typ ||
				!strings.HasPrefix(problems[0].Path, "/materials/"+strconv.Itoa(last)) {
				t.Fatalf("three certificates where two are allowed: problems = %+v", problems)
			}

			two := withFiles(t, app, typ, 2)
			v, _, err := svc.Submit(context.Background(), two, hash+"-2", "")
			if err != nil {
				t.Fatalf("two certificates where two are allowed: %v", err)
			}
			var files []string
			for _, m := range v.Materials {
				if m.Type == typ {
					files = append(files, m.SHA256)
				}
			}
			if len(files) != 2 || files[0] == files[1] {
				t.Fatalf("the case lists %v of %s, want both files", files, typ)
			}
			for _, sc := range v.Subcases {
				n := 0
				for _, m := range sc.Materials {
					if m == typ {
						n++
					}
				}
				if n > 1 {
					t.Errorf("sub-case %s lists %s %d times", sc.MatterCode, typ, n)
				}
			}
			dispatched := 0
			pending, _ := st.PendingOutbox(context.Background(), 1000)
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
				n := 0
				for _, m := range d.Materials {
					if m.Type == typ {
						n++
					}
				}
				if n != 0 && n != 2 {
					t.Errorf("%s was dispatched with %d of the 2 files", d.Matter.Code, n)
				}
				dispatched += n
			}
			if dispatched == 0 {
				t.Error("no department received the certificates")
			}
		})
	}
}

// TestTheApplicationSchemaAgreesWithIntake checks applications against the one form's
// application schema, as a platform would before sending them, and submits them: the schema
// must accept exactly those intake accepts.
func TestTheApplicationSchemaAgreesWithIntake(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-bar-enterprise.json"))
	if err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		name string
		edit func(doc map[string]any)
	}{
		{"the example as it is", func(map[string]any) {}},
		{"a required field left out", func(d map[string]any) { delete(form(d), "enterprise.name") }},
		{"a bad unified social credit code", func(d map[string]any) { form(d)["enterprise.uscc"] = "91350100M000100Y44" }},
		{"a number given as text", func(d map[string]any) { form(d)["business.area_m2"] = "120" }},
		{"a field no chosen matter asks", func(d map[string]any) { form(d)["no.such_field"] = "x" }},
		{"an enum value not offered", func(d map[string]any) { form(d)["fire.venue_type"] = "酒吧" }},
		{"告知承诺 without the letter", func(d map[string]any) { d["materials"] = without(d, "fire-safety-commitment") }},
		{"inspection first, without the letter", func(d map[string]any) {
			form(d)["fire.commitment"] = false
			d["materials"] = without(d, "fire-safety-commitment")
		}},
		{"the outdoor sign not chosen but its fields given", func(d map[string]any) { d["matters"] = without(d, "outdoor-advertising-approval", "matters") }},
		{"the outdoor sign not chosen, its fields and materials left out", func(d map[string]any) {
			d["matters"] = without(d, "outdoor-advertising-approval", "matters")
			for k := range form(d) {
				if strings.HasPrefix(k, "ad.") {
					delete(form(d), k)
				}
			}
			for _, typ := range []string{"ad-design-drawing", "ad-site-photo", "ad-site-consent", "ad-structure-safety"} {
				d["materials"] = without(d, typ)
			}
		}},
		{"a required matter dropped", func(d map[string]any) { d["matters"] = without(d, "tobacco-retail-licence", "matters") }},
		{"a material given twice", func(d map[string]any) { d["materials"] = append(d["materials"].([]any), d["materials"].([]any)[0]) }},
		{"a material with a bad hash", func(d map[string]any) { d["materials"].([]any)[0].(map[string]any)["sha256"] = "abc" }},
	}
	cat := testCatalogue
	bar, _ := cat.Bundle("open-bar")
	offered, err := mapping.BuildOneForm(cat, bar, catalogue.Enterprise, nil)
	if err != nil {
		t.Fatal(err)
	}
	offeredSchema, err := mapping.CompileSchema(offered.ApplicationSchema)
	if err != nil {
		t.Fatalf("the offered form's application schema does not compile: %v", err)
	}
	accepted, refused := 0, 0
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		for i, c := range edits {
			t.Run(c.name, func(t *testing.T) {
				var doc map[string]any
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatal(err)
				}
				c.edit(doc)
				body, _ := json.Marshal(doc)
				app, hash, err := cases.DecodeApplication(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = svc.Submit(context.Background(), app, hash, "k"+strconv.Itoa(i))
				var pe *problem.Error
				if err != nil && !errors.As(err, &pe) {
					t.Fatal(err)
				}
				intakeTakes := err == nil
				if intakeTakes {
					accepted++
				} else {
					refused++
				}

				inst, err := jsonschemaValue(body)
				if err != nil {
					t.Fatal(err)
				}
				if verr := offeredSchema.Validate(inst); (verr == nil) != intakeTakes {
					t.Errorf("the offered form's schema says valid=%v, intake says %v (%v): %v", verr == nil, intakeTakes, pe, verr)
				}
				// The form of exactly the application's selection agrees too.
				selected, sp := mapping.CheckSelection(cat, bar, app.ApplicantType, app.Matters, mapping.BodyPaths)
				if len(sp) > 0 {
					if intakeTakes {
						t.Errorf("intake took a selection the shared check refuses: %v", sp)
					}
					return
				}
				fixed, err := mapping.BuildOneForm(cat, bar, app.ApplicantType, selected)
				if err != nil {
					t.Fatal(err)
				}
				sch, err := mapping.CompileSchema(fixed.ApplicationSchema)
				if err != nil {
					t.Fatal(err)
				}
				if verr := sch.Validate(inst); (verr == nil) != intakeTakes {
					t.Errorf("the selection's schema says valid=%v, intake says %v (%v): %v", verr == nil, intakeTakes, pe, verr)
				}
			})
		}
	})
	if accepted < 3 || refused < 8 {
		t.Errorf("intake accepted %d and refused %d: the cases do not test both answers", accepted, refused)
	}
}

func form(doc map[string]any) map[string]any { return doc["form"].(map[string]any) }

// without returns a list of the document (materials by type, or matters) without one entry.
func without(doc map[string]any, code string, key ...string) []any {
	k := "materials"
	if len(key) > 0 {
		k = key[0]
	}
	var out []any
	for _, v := range doc[k].([]any) {
		if m, ok := v.(map[string]any); ok && m["type"] == code || v == code {
			continue
		}
		out = append(out, v)
	}
	return out
}

func jsonschemaValue(body []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(body))
}
