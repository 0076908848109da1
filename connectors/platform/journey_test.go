package platform_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"yjshub/connectors/platform/platformsim"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
)

// pushed returns the documents the platform took whose Idempotency-Key has the prefix.
func pushed(s *site, prefix string) []platformsim.Push {
	var out []platformsim.Push
	for _, p := range s.sim.Taken() {
		if strings.HasPrefix(p.Key, prefix) {
			out = append(out, p)
		}
	}
	return out
}

func appState(t *testing.T, env *hubtest.Env, platformName, appID string) string {
	t.Helper()
	db := env.Store.DB()
	var state string
	_ = db.GetContext(env.Ctx, &state, db.Rebind(`SELECT state FROM platform_applications WHERE platform = ? AND app_id = ?`), platformName, appID)
	return state
}

func TestAMappingFaultIsHeldForTheOperatorsNeverRejectedAndTakenInOnceMended(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.offer(t, "JS-F", nil) // both matters: the 户外广告 one's code is missing from the mapping below
		s.offer(t, "JS-OK", foodOnly)
		full := s.cfg
		broken := s.cfg
		broken.Inbound = append(broken.Inbound[:0:0], s.cfg.Inbound...)
		for i, r := range broken.Inbound {
			if r.To == "matters" {
				r.Values = maps.Clone(r.Values)
				delete(r.Values, "320707-HWGGSZ-02")
				broken.Inbound[i] = r
			}
		}
		s.cfg = broken
		c := s.connector(t, env)
		first := env.Start(c)
		env.WaitFor("the next application to be taken in", func() bool { return caseOf(env, "jiangsu", "JS-OK") != "" })
		env.WaitFor("the faulty application to be held", func() bool { return appState(t, env, "jiangsu", "JS-F") == "fault" })
		env.WaitFor("a second round of retries to have run", func() bool { return s.sim.Pulls() >= 4 })
		first.Stop(t)

		if got := pushed(s, "platform:jiangsu:app:JS-F"); len(got) != 0 {
			t.Errorf("the platform was told of a fault of the hub's: %v", got[0].Doc)
		}
		failures := env.Rec.Failures(func(f connector.Failure) bool { return string(f.Key) == "JS-F" })
		if len(failures) != 1 {
			t.Fatalf("%d dead letters of the held application, want 1 (not one per retry)", len(failures))
		}
		if r := failures[0].Reason; !strings.HasPrefix(r, "fault") || !strings.Contains(r, "sxxx.sxlb.1.sxbm (/matters/1): value_map") {
			t.Errorf("dead letter reason %q, want a fault naming the path and rule", r)
		}
		st := c.Status()
		if st.Detail["faults"] != int64(1) || st.Detail["rejected"] != int64(0) || st.Detail["submitted"] != int64(1) {
			t.Errorf("status %v, want one fault, none rejected", st.Detail)
		}

		// The operator mends the mapping and reloads the connector. The platform sends nothing
		// again: the stored cursor is past the application.
		if n := count(t, env, `SELECT COUNT(*) FROM platform_cursors WHERE platform = ? AND next_cursor = 'p2'`, "jiangsu"); n != 1 {
			t.Fatalf("the cursor is not past the held application; the recovery would prove nothing")
		}
		s.cfg = full
		c = s.connector(t, env)
		env.Start(c)
		env.WaitFor("the held application to be taken in", func() bool { return caseOf(env, "jiangsu", "JS-F") != "" })
		if v := env.Case(caseOf(env, "jiangsu", "JS-F")); len(v.Subcases) != 2 {
			t.Errorf("the recovered case has %d sub-cases, want both matters", len(v.Subcases))
		}
		if n := count(t, env, `SELECT COUNT(*) FROM platform_applications WHERE platform = ? AND body <> ''`, "jiangsu"); n != 0 {
			t.Errorf("%d applications still keep their document after being taken in", n)
		}
		env.WaitFor("the status to count the recovery", func() bool { return c.Status().Detail["recovered"] == int64(1) })
		if got := pushed(s, "platform:jiangsu:app:JS-F"); len(got) != 0 {
			t.Errorf("the platform was told of the fault after all")
		}
	})
}

func TestACorrectedApplicationAfterItsRejectionIsTakenAsANewSubmission(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		bad := func(app *cases.Application) {
			foodOnly(app)
			app.Form["applicant.id_number"] = "110105194912310021" // a wrong check digit
		}
		s.offer(t, "JS-C", bad)
		s.offer(t, "JS-D", bad)
		c := s.connector(t, env)
		env.Start(c)
		env.WaitFor("both rejections to be reported", func() bool { return len(pushed(s, "platform:jiangsu:app:")) == 2 })
		first := pushed(s, "platform:jiangsu:app:JS-C")[0]
		if first.Key != "platform:jiangsu:app:JS-C:rejected" || first.Doc["resubmission"] != nil {
			t.Errorf("first 退件 %s %v", first.Key, first.Doc)
		}
		reasons, _ := first.Doc["reasons"].(map[string]any)
		if paths, _ := reasons["gb11643"].([]any); len(paths) != 1 || paths[0] != "sqr.zjhm" {
			t.Errorf("reasons %v, want gb11643: [sqr.zjhm]", first.Doc["reasons"])
		}

		// The applicant corrects JS-C on the platform; JS-D comes again unchanged.
		s.offer(t, "JS-C", foodOnly)
		s.offer(t, "JS-D", bad)
		env.WaitFor("the corrected application to become a case", func() bool { return caseOf(env, "jiangsu", "JS-C") != "" })
		env.WaitFor("the unchanged one to be counted a duplicate", func() bool { return c.Status().Detail["duplicates"] == int64(1) })
		st := c.Status()
		if st.Detail["retaken"] != int64(1) || st.Detail["rejected"] != int64(2) || st.Detail["submitted"] != int64(1) {
			t.Errorf("status %v, want one retaken, two rejected", st.Detail)
		}
		if caseOf(env, "jiangsu", "JS-D") != "" || len(pushed(s, "platform:jiangsu:app:JS-D")) != 1 {
			t.Errorf("the unchanged application was taken again")
		}
		if !strings.Contains(env.Logs.String(), "resubmission=true") {
			t.Errorf("the logs do not say the application was a resubmission")
		}
		caseID := caseOf(env, "jiangsu", "JS-C")
		v := env.Case(caseID)
		env.Approve(v, v.Subcases[0])
		env.WaitFor("受理", func() bool { _, ok := taken(s, caseID)["accepted"]; return ok })
		if acc := taken(s, caseID)["accepted"].Doc; acc["resubmission"] != true || acc["sblsh"] != "JS-C" {
			t.Errorf("受理 of the corrected application = %v, want resubmission true", acc)
		}
	})
}

func TestASupplementRequestIsPushedOncePerRequestWithWhatIsMissing(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "lianyungang")
		s.offer(t, "LYG-S", foodOnly)
		env.Start(s.connector(t, env))
		env.WaitFor("the case", func() bool { return caseOf(env, "lianyungang", "LYG-S") != "" })
		caseID := caseOf(env, "lianyungang", "LYG-S")
		sc := env.Case(caseID).Subcases[0]
		at := time.Now().UTC().Truncate(time.Second)
		apply := func(ev event.DepartmentEvent) {
			t.Helper()
			if _, _, err := env.Cases.ApplyEvent(env.Ctx, sc.ID, ev); err != nil {
				t.Fatalf("%s: %v", ev.Type, err)
			}
		}
		missing := []event.Missing{{Material: "food-equipment-layout", Note: "比例尺不清"}, {Field: "business.area_m2"}}
		apply(event.DepartmentEvent{EventID: "e1", Type: event.Received, Time: at})
		apply(event.DepartmentEvent{EventID: "e2", Type: event.Accepted, Time: at.Add(time.Second)})
		apply(event.DepartmentEvent{EventID: "e3", Type: event.SupplementRequested, Time: at.Add(2 * time.Second), Missing: missing})
		prefix := "platform:lianyungang:" + caseID + ":supplement:" + sc.ID + ":"
		env.WaitFor("补正", func() bool { return len(pushed(s, prefix)) == 1 })
		p := pushed(s, prefix)[0]
		if p.Key != prefix+"1" || p.Doc["BJZT"] != "05" {
			t.Errorf("补正 %s %v", p.Key, p.Doc)
		}
		bz, _ := p.Doc["BZ"].(map[string]any)
		items, _ := bz["BZNR"].([]any)
		if bz["HFDZ"] != "/api/v1/cases/"+caseID+"/supplements" || bz["SXMC"] != sc.MatterName || len(items) != 2 {
			t.Fatalf("补正 document %v", p.Doc)
		}
		if first := items[0].(map[string]any); first["CLMC"] != "food-equipment-layout" || first["SM"] != "比例尺不清" {
			t.Errorf("missing item %v", first)
		}
		// The applicant supplements; the department asks again: a second document.
		apply(event.DepartmentEvent{EventID: "e4", Type: event.Resubmitted, Time: at.Add(3 * time.Second)})
		apply(event.DepartmentEvent{EventID: "e5", Type: event.SupplementRequested, Time: at.Add(4 * time.Second), Missing: missing[:1]})
		env.WaitFor("the second 补正", func() bool { return len(pushed(s, prefix)) == 2 })
		if p := pushed(s, prefix)[1]; p.Key != prefix+"2" {
			t.Errorf("second 补正 key %s, want %s2", p.Key, prefix)
		}
	})
}
