package platform_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"yjshub/connectors/platform"
	"yjshub/connectors/platform/platformsim"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/licences"
	"yjshub/problem"
)

// The holders of the licences the platforms offer: the enterprise of the examples, and a
// person.
const (
	enterpriseName = "连云港海韵餐饮管理有限公司"
	enterpriseUSCC = "91350100M000100Y43" // open-bar-enterprise's enterprise.uscc
	personName     = "王丽"
	personID       = "11010519491231002X"
	badPersonID    = "110105194912310021" // a wrong check digit
	foodLicence    = "食品经营许可证"
	businessLic    = "营业执照"
	hygieneLicence = "公共场所卫生许可证"
)

var licenceFormats = map[string]platformsim.LicenceFormat{"jiangsu": platformsim.JiangsuLicence, "lianyungang": platformsim.LianyungangLicence}

// aLicence is an e-licence of the enterprise unless edit changes it.
func aLicence(typ, number string, edit func(l *event.Licence)) event.Licence {
	l := event.Licence{Type: typ, Number: number, Holder: enterpriseName, HolderID: enterpriseUSCC, HolderIDType: "uscc",
		Issuer: "连云港市赣榆区行政审批局", IssuedAt: "2024-03-01", ValidFrom: "2024-03-01", ValidUntil: "2029-02-28",
		File: event.LicenceFile{SHA256: strings.Repeat("5e", 32), URI: "https://dzzz.example.gov.cn/files/" + number + ".ofd", Format: "ofd", Size: 48213}}
	if edit != nil {
		edit(&l)
	}
	return l
}

// offerLicence puts an e-licence on the platform, in its format.
func (s *site) offerLicence(t *testing.T, licenceID string, l event.Licence) {
	t.Helper()
	body, err := licenceFormats[s.name].Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	s.sim.OfferLicence(licenceID, body)
}

// licenceFigure reads one of the licence figures of the connector's status.
func licenceFigure(c *platform.Connector, name string) int64 {
	lics, _ := c.Status().Detail["licences"].(map[string]any)
	n, _ := lics[name].(int64)
	return n
}

func licenceCursor(t *testing.T, env *hubtest.Env, platformName string) string {
	t.Helper()
	db := env.Store.DB()
	var c string
	_ = db.GetContext(env.Ctx, &c, db.Rebind(`SELECT next_cursor FROM platform_licence_cursors WHERE platform = ?`), platformName)
	return c
}

func TestTheLicencesEitherPlatformOffersEndUpInTheLibrary(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		lib := env.Services.Licences
		for _, name := range []string{"jiangsu", "lianyungang"} {
			s := newSite(t, env, name)
			offered := []event.Licence{
				aLicence(foodLicence, "JY1320707"+name[:2]+"0001", nil),
				aLicence(businessLic, "B320707"+name[:2]+"0002", func(l *event.Licence) { l.ValidUntil = "" }), // no expiry
				aLicence(hygieneLicence, "WS320707"+name[:2]+"0003", func(l *event.Licence) {
					l.Holder, l.HolderID, l.HolderIDType, l.File.Format, l.File.Size = personName, personID, "resident_id", "ofd", 0
				}),
			}
			for i, l := range offered {
				s.offerLicence(t, name+"-L"+string(rune('1'+i)), l)
			}
			c := s.connector(t, env)
			env.Start(c)
			env.WaitFor(name+"'s licences to be imported", func() bool { return licenceFigure(c, "imported") == 3 })
			// The connector stores the cursor, then shows it in its status: both are awaited.
			env.WaitFor(name+"'s cursor after the last page", func() bool {
				lics, _ := c.Status().Detail["licences"].(map[string]any)
				return licenceCursor(t, env, name) == "p3" && lics["cursor"] == "p3"
			})

			for _, want := range offered {
				got, err := lib.Get(env.Ctx, want.Type, want.Number)
				if err != nil {
					t.Fatalf("%s: %s %s: %v", name, want.Type, want.Number, err)
				}
				if got.Status != licences.StatusValid || got.Source != licences.SourceImport || got.Origin != "platform:"+name ||
					got.CaseID != "" || got.RecordedAt.IsZero() {
					t.Errorf("%s: %s is %s from %s (%s), case %q", name, want.Type, got.Status, got.Source, got.Origin, got.CaseID)
				}
				w := want
				if name == "jiangsu" {
					w.TypeCode = map[string]string{foodLicence: "JSZZ0101", businessLic: "JSZZ0001", hygieneLicence: "JSZZ0205"}[want.Type]
				} else {
					w.IssuerCode = "" // the municipal layout has none
				}
				if !reflect.DeepEqual(got.Licence, w) {
					t.Errorf("%s: imported\n%+v\nwant\n%+v", name, got.Licence, w)
				}
			}
			st := c.Status()
			lics := st.Detail["licences"].(map[string]any)
			if lics["pulled"] != int64(3) || lics["known"] != int64(0) || lics["rejected"] != int64(0) || lics["cursor"] != "p3" || lics["pulls"].(int64) < 2 {
				t.Errorf("%s: licence figures %v", name, lics)
			}
			if u := lics["url"].(string); strings.Contains(u, "key-S3cr3t") || !strings.Contains(u, "/licences") {
				t.Errorf("%s: the status shows the licences URL as %q", name, u)
			}
			if st.DeadLetters != 0 || st.LastErrorMessage != "" {
				t.Errorf("%s: dead letters %d, last error %q", name, st.DeadLetters, st.LastErrorMessage)
			}
		}
		if strings.Contains(env.Logs.String(), personID) || strings.Contains(env.Logs.String(), personName) {
			t.Errorf("the logs show a holder")
		}
	})
}

func TestALicencePulledAgainIsNotImportedTwice(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "lianyungang")
		for i, n := range []string{"JY13207070000011", "JY13207070000012", "JY13207070000013"} {
			s.offerLicence(t, "LYG-L"+string(rune('1'+i)), aLicence(foodLicence, n, nil))
		}
		first := s.connector(t, env)
		running := env.Start(first)
		env.WaitFor("the licences to be imported and the cursor stored", func() bool {
			return licenceFigure(first, "imported") == 3 && licenceCursor(t, env, "lianyungang") == "p3"
		})
		running.Stop(t)
		imported := count(t, env, `SELECT COUNT(*) FROM licences`)

		// The cursor is lost (a crash before it was stored, a restore): the pages come again.
		db := env.Store.DB()
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_licence_cursors`); err != nil {
			t.Fatal(err)
		}
		pulls := s.sim.LicencePulls()
		second := s.connector(t, env)
		running = env.Start(second)
		env.WaitFor("the licences to be pulled again", func() bool { return licenceFigure(second, "repeated") == 3 })
		running.Stop(t)
		if s.sim.LicencePulls() <= pulls {
			t.Fatalf("the connector did not pull again; the check proves nothing")
		}
		if n := licenceFigure(second, "imported") + licenceFigure(second, "known") + licenceFigure(second, "rejected"); n != 0 {
			t.Errorf("%d licences imported, known or rejected on the second pull, want every one skipped", n)
		}

		// And a crash between the import and its record: the library answers that it has them.
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_licences`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_licence_cursors`); err != nil {
			t.Fatal(err)
		}
		third := s.connector(t, env)
		env.Start(third)
		env.WaitFor("the licences to be known", func() bool { return licenceFigure(third, "known") == 3 })
		if n := licenceFigure(third, "imported"); n != 0 {
			t.Errorf("%d licences imported again", n)
		}
		if n := count(t, env, `SELECT COUNT(*) FROM licences`); n != imported || n != 3 {
			t.Errorf("%d licences in the library, want still 3", n)
		}
		if n := count(t, env, `SELECT COUNT(*) FROM platform_licences WHERE platform = ? AND state = 'known'`, "lianyungang"); n != 3 {
			t.Errorf("%d licences recorded as known, want 3", n)
		}

		// A licence offered again with a changed document is taken again: the library keeps the
		// one it has for the same holder, and refuses it for another.
		s.offerLicence(t, "LYG-L1", aLicence(foodLicence, "JY13207070000011", func(l *event.Licence) { l.File.URI += "?v=2" }))
		s.offerLicence(t, "LYG-L2", aLicence(foodLicence, "JY13207070000012", func(l *event.Licence) {
			l.Holder, l.HolderID, l.HolderIDType = personName, personID, "resident_id"
		}))
		env.WaitFor("the changed documents to be taken", func() bool {
			return licenceFigure(third, "known") == 4 && licenceFigure(third, "rejected") == 1
		})
		var state, libraryID string
		row := db.QueryRowxContext(env.Ctx, db.Rebind(`SELECT state, library_id FROM platform_licences WHERE platform = ? AND licence_id = ?`), "lianyungang", "LYG-L2")
		if err := row.Scan(&state, &libraryID); err != nil || state != "rejected" || libraryID == "" {
			t.Errorf("LYG-L2 recorded as %q with library id %q (%v), want rejected, still linked to the licence imported first", state, libraryID, err)
		}
		got, err := env.Services.Licences.Get(env.Ctx, foodLicence, "JY13207070000012")
		if err != nil || got.HolderID != enterpriseUSCC {
			t.Errorf("the library's licence changed holder: %v", err)
		}
		conflicts := env.Rec.Failures(func(f connector.Failure) bool { return string(f.Key) == "LYG-L2" })
		if len(conflicts) != 1 {
			t.Fatalf("%d dead letters of LYG-L2, want its conflict", len(conflicts))
		}
		if r := conflicts[0].Reason; !strings.Contains(r, "conflict") || strings.Contains(r, "JY13207070000012") || strings.Contains(r, personID) {
			t.Errorf("the conflict's reason %q", r)
		}
		if n := count(t, env, `SELECT COUNT(*) FROM licences`); n != 3 {
			t.Errorf("%d licences in the library, want still 3", n)
		}
	})
}

func TestALicenceThatCannotBeImportedIsRejectedAndTheNextAreImported(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.offerLicence(t, "JS-L1", aLicence(foodLicence, "JY13207070000021", nil))
		s.offerLicence(t, "JS-L2", aLicence("JSZZ9999", "JY13207070000022", nil)) // a type code the mapping does not know
		s.offerLicence(t, "JS-L3", aLicence(hygieneLicence, "WS3207070000023", func(l *event.Licence) {
			l.Holder, l.HolderID, l.HolderIDType = personName, badPersonID, "resident_id"
		}))
		s.offerLicence(t, "JS-L4", aLicence(businessLic, "B3207070000024", nil))
		c := s.connector(t, env)
		running := env.Start(c)
		env.WaitFor("two licences imported and two rejected", func() bool {
			return licenceFigure(c, "imported") == 2 && licenceFigure(c, "rejected") == 2
		})
		env.WaitFor("the cursor past the rejected ones", func() bool { return licenceCursor(t, env, "jiangsu") == "p4" })

		lib := env.Services.Licences
		if _, err := lib.Get(env.Ctx, businessLic, "B3207070000024"); err != nil {
			t.Errorf("the licence after the rejected ones: %v", err)
		}
		if _, err := lib.Get(env.Ctx, hygieneLicence, "WS3207070000023"); !errors.Is(err, licences.ErrNotFound) {
			t.Errorf("the licence with an invalid holder id: %v, want not found", err)
		}

		ours := func(f connector.Failure) bool { return f.Connector == "platform:jiangsu" }
		failures := env.Rec.Failures(ours)
		if len(failures) != 2 {
			t.Fatalf("%d dead letters, want the two rejected licences'", len(failures))
		}
		reasons := map[string]string{}
		for _, f := range failures {
			if f.Topic != "platform:jiangsu:licences" || f.EventID != "platform:jiangsu:licence:"+string(f.Key) || !json.Valid(f.Payload) {
				t.Errorf("dead letter %+v (topic %s)", f.Delivery, f.Topic)
			}
			reasons[string(f.Key)] = f.Reason
		}
		if r := reasons["JS-L2"]; !strings.Contains(r, "zzxx.zzlxdm (/type): value_map") {
			t.Errorf("JS-L2's reason %q, want the type code's path and rule", r)
		}
		if r := reasons["JS-L3"]; !strings.Contains(r, "czzt.dm (/holder_id): gb11643") {
			t.Errorf("JS-L3's reason %q, want the holder id's path and rule", r)
		}
		st := c.Status()
		if !strings.Contains(st.LastErrorMessage, "(/type): value_map") && !strings.Contains(st.LastErrorMessage, "(/holder_id): gb11643") {
			t.Errorf("last error %q, want a rejection's path and rule", st.LastErrorMessage)
		}
		if st.DeadLetters != 2 {
			t.Errorf("status counts %d dead letters, want 2", st.DeadLetters)
		}
		var problems string
		db := env.Store.DB()
		if err := db.GetContext(env.Ctx, &problems, db.Rebind(`SELECT problems FROM platform_licences WHERE platform = ? AND licence_id = ? AND state = 'rejected'`),
			"jiangsu", "JS-L3"); err != nil || !strings.Contains(problems, `"rule":"gb11643"`) {
			t.Errorf("JS-L3 recorded with problems %s (%v)", problems, err)
		}
		stJSON, _ := json.Marshal(st)
		hay := env.Logs.String() + string(stJSON) + problems + reasons["JS-L2"] + reasons["JS-L3"]
		for _, value := range []string{badPersonID, personName, "JSZZ9999", "WS3207070000023"} {
			if strings.Contains(hay, value) {
				t.Errorf("logs, status, records or reasons repeat %q", value)
			}
		}

		// Pulled again, a rejected licence is not rejected (nor dead-lettered) twice.
		running.Stop(t)
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_licence_cursors`); err != nil {
			t.Fatal(err)
		}
		again := s.connector(t, env)
		env.Start(again)
		env.WaitFor("the licences to be pulled again", func() bool { return licenceFigure(again, "repeated") == 4 })
		if n := len(env.Rec.Failures(ours)); n != 2 || licenceFigure(again, "rejected") != 0 {
			t.Errorf("%d dead letters and %d rejections after pulling again, want 2 and 0", n, licenceFigure(again, "rejected"))
		}
	})
}

func TestAStoreThatFailsStopsThePageWhichIsTakenAgainFromItsStart(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.offerLicence(t, "JS-F1", aLicence("JSZZ9999", "JY13207070000031", nil)) // rejected: a dead letter to record
		s.offerLicence(t, "JS-F2", aLicence(foodLicence, "JY13207070000032", nil))
		env.Rec.FailNext(errors.New("the dead-letter store is down"))
		c := s.connector(t, env)
		running := env.Start(c)
		env.WaitFor("the page to be taken whole", func() bool {
			return licenceFigure(c, "rejected") == 1 && licenceFigure(c, "imported") == 1 && licenceCursor(t, env, "jiangsu") == "p2"
		})
		errs := running.RunErrors()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "the dead-letter store is down") {
			t.Errorf("Run returned %v, want the store's error once", errs)
		}
		if n := len(env.Rec.Failures(nil)); n != 1 {
			t.Errorf("%d dead letters, want JS-F1's once", n)
		}
		// The item that failed was pulled again, as was the one after it, which the failure had held back.
		if n := licenceFigure(c, "pulled"); n != 3 {
			t.Errorf("%d items pulled, want JS-F1 twice and JS-F2 once", n)
		}
	})
}

func TestAnImportedLicenceStandsInForAMaterialAtIntake(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		const number = "JY13207070000041"
		lic := aLicence(foodLicence, number, nil)
		app, hash := hubtest.Example(t, "open-bar-enterprise")
		if app.Form["enterprise.uscc"] != enterpriseUSCC {
			t.Fatalf("the example's enterprise changed: the licence would not be its own")
		}
		app.Materials = append(app.Materials, cases.MaterialInput{Type: "food-business-licence-copy", Licence: &cases.LicenceRef{Type: foodLicence, Number: number}})
		app.Form["food.licence_number"] = number

		// Before the import the library does not have it.
		_, _, err := env.Cases.Submit(env.Ctx, app, hash, "")
		var ve *problem.Error
		if !errors.As(err, &ve) || !hasRule(ve, cases.RuleLicenceUnknown) {
			t.Fatalf("before the import: %v, want the licence unknown", err)
		}

		s.offerLicence(t, "JS-M1", lic)
		c := s.connector(t, env)
		env.Start(c)
		env.WaitFor("the licence to be imported", func() bool { return licenceFigure(c, "imported") == 1 })
		v, _, err := env.Cases.Submit(env.Ctx, app, hash, "")
		if err != nil {
			t.Fatalf("开酒吧 with the imported licence as a material: %v", err)
		}
		var mv *cases.MaterialView
		for i := range v.Materials {
			if v.Materials[i].Type == "food-business-licence-copy" {
				mv = &v.Materials[i]
			}
		}
		if mv == nil || mv.Licence == nil || mv.Licence.Number != number || mv.Licence.VerifiedAt.IsZero() ||
			mv.SHA256 != lic.File.SHA256 || mv.URI != lic.File.URI {
			t.Fatalf("the material as stored: %+v", mv)
		}
	})
}

func hasRule(ve *problem.Error, rule string) bool {
	for _, p := range ve.Problems {
		if p.Rule == rule {
			return true
		}
	}
	return false
}
