package platform_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/connectors/platform"
	"yjshub/connectors/platform/platformsim"
	"yjshub/connectors/signing"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/hubtest"
)

// site is one simulated platform and the configuration that reaches it.
type site struct {
	name   string
	sim    *platformsim.Sim
	format platformsim.Format
	cfg    platform.Config
}

var formats = map[string]platformsim.Format{"jiangsu": platformsim.Jiangsu, "lianyungang": platformsim.Lianyungang}

// newSite starts a simulator and configures the platform from testdata/platforms.yaml to reach
// it, with waits short enough for tests.
func newSite(t *testing.T, env *hubtest.Env, name string) *site {
	t.Helper()
	b, err := os.ReadFile("testdata/platforms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Platforms map[string]platform.Config `yaml:"platforms"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	s := &site{name: name, sim: platformsim.New(), format: formats[name], cfg: f.Platforms[name]}
	srv := httptest.NewServer(s.sim)
	t.Cleanup(srv.Close)
	s.cfg.Name = name
	s.cfg.PullURL = srv.URL + "/applications?appkey=key-S3cr3t"
	s.cfg.PushURL = srv.URL + "/progress"
	if s.cfg.LicencesURL != "" {
		s.cfg.LicencesURL = srv.URL + "/licences?appkey=key-S3cr3t"
	}
	s.cfg.PollInterval = 20 * time.Millisecond
	s.cfg.Limit = 2
	s.cfg.Timeout = 5 * time.Second
	s.cfg.Retry = delivery.RetryConfig{InitialInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
	s.cfg.GroupID = env.Group("yjshub-platform-" + name)
	return s
}

func (s *site) connector(t *testing.T, env *hubtest.Env) *platform.Connector {
	t.Helper()
	c, err := platform.New(s.cfg, platform.Deps{Bus: env.Bus, Store: env.Store, Catalogue: env.Services.Catalogue, Cases: env.Cases,
		Licences: env.Services.Licences, Recorder: env.Rec}, platform.WithLogger(env.Log))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// offer puts an example application on the platform, in its format.
func (s *site) offer(t *testing.T, appID string, edit func(app *cases.Application)) {
	t.Helper()
	app, _ := hubtest.Example(t, "open-drink-shop-individual")
	if edit != nil {
		edit(&app)
	}
	body, err := s.format.Encode(app)
	if err != nil {
		t.Fatal(err)
	}
	s.sim.Offer(appID, time.Now(), body)
}

// caseOf returns the case a platform application became, "" while there is none.
func caseOf(env *hubtest.Env, platformName, appID string) string {
	db := env.Store.DB()
	var id string
	_ = db.GetContext(env.Ctx, &id, db.Rebind(`SELECT case_id FROM platform_applications WHERE platform = ? AND app_id = ?`), platformName, appID)
	return id
}

func count(t *testing.T, env *hubtest.Env, q string, args ...any) int {
	t.Helper()
	db := env.Store.DB()
	var n int
	if err := db.GetContext(env.Ctx, &n, db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// taken returns the documents the platform took for a case, by Idempotency-Key.
func taken(s *site, caseID string) map[string]platformsim.Push {
	out := map[string]platformsim.Push{}
	for _, p := range s.sim.Taken() {
		if strings.Contains(p.Key, ":"+caseID+":") {
			out[strings.TrimPrefix(p.Key, "platform:"+s.name+":"+caseID+":")] = p
		}
	}
	return out
}

func TestAnApplicationOnEitherPlatformBecomesOneCaseWhoseProgressAndLicencesGoBack(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		sites := []*site{newSite(t, env, "jiangsu"), newSite(t, env, "lianyungang")}
		conns := map[string]*platform.Connector{}
		for _, s := range sites {
			s.offer(t, s.name+"-2026-0001", nil)
			conns[s.name] = s.connector(t, env)
			env.Start(conns[s.name])
		}
		for _, s := range sites {
			env.WaitFor(s.name+"'s application to become a case", func() bool { return caseOf(env, s.name, s.name+"-2026-0001") != "" })
		}
		if n := count(t, env, `SELECT COUNT(*) FROM cases`); n != 2 {
			t.Fatalf("%d cases, want one per platform", n)
		}

		for _, s := range sites {
			caseID := caseOf(env, s.name, s.name+"-2026-0001")
			v := env.Case(caseID)
			if v.Bundle.Code != "open-drink-shop" || v.ApplicantType != "individual" || len(v.Subcases) != 2 || len(v.Materials) != 11 {
				t.Fatalf("%s: case %+v", s.name, v)
			}
			for _, sc := range v.Subcases {
				env.Approve(v, sc)
			}
			env.WaitFor(s.name+" to get 受理, both results and 办结", func() bool {
				return len(taken(s, caseID)) == 4 && conns[s.name].Status().Delivered == 4
			})
			got := taken(s, caseID)
			v = env.Case(caseID)
			for _, step := range []string{"accepted", "result:" + v.Subcases[0].ID, "result:" + v.Subcases[1].ID, "completed"} {
				p, ok := got[step]
				if !ok {
					t.Errorf("%s: no %s push; got %v", s.name, step, slices.Collect(mapsKeys(got)))
					continue
				}
				if k := p.Header.Get("Idempotency-Key"); k != "platform:"+s.name+":"+caseID+":"+step {
					t.Errorf("%s %s: Idempotency-Key %q", s.name, step, k)
				}
				if p.Header.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("%s %s: Content-Type %q", s.name, step, p.Header.Get("Content-Type"))
				}
			}
			switch s.name {
			case "jiangsu": // renamed fields, the rest under the hub's names, a constant
				acc := got["accepted"].Doc
				if acc["sblsh"] != "jiangsu-2026-0001" || acc["yjsbjbh"] != caseID || acc["blzt"] != "受理" || acc["xzqhdm"] != "320707" || acc["step"] != "accepted" {
					t.Errorf("jiangsu 受理 = %v", acc)
				}
				if _, err := time.Parse(time.RFC3339, acc["blsj"].(string)); err != nil || !strings.HasSuffix(acc["blsj"].(string), "+08:00") {
					t.Errorf("jiangsu 受理 time %v, want RFC 3339 in China Standard Time", acc["blsj"])
				}
				// 受理时间, 受理部门 (the sub-case accepted first: the first approved here), 承诺办结日期.
				dept, _ := acc["department"].(map[string]any)
				if acc["accepted_at"] != acc["blsj"] || acc["promised_date"] != v.Deadline.Promised || v.Deadline.Promised == "" ||
					dept["code"] != v.Subcases[0].Department.Code || dept["name"] != v.Subcases[0].Department.Name || acc["resubmission"] != nil {
					t.Errorf("jiangsu 受理 = %v, want accepted_at, the first department and the promised date %s", acc, v.Deadline.Promised)
				}
				done := got["completed"].Doc
				if done["blzt"] != "办结" || done["bjjg"] != "1" {
					t.Errorf("jiangsu 办结 = %v, want outcome approved as \"1\"", done)
				}
				for step, p := range got {
					if v.Number == "" || p.Doc["case_number"] != v.Number {
						t.Errorf("jiangsu %s carries case number %v, want %q", step, p.Doc["case_number"], v.Number)
					}
				}
				res := got["result:"+v.Subcases[0].ID].Doc
				ccxx, _ := res["ccxx"].(map[string]any)
				lics, _ := ccxx["dzzz"].([]any)
				if res["blzt"] != "出件" || ccxx["wh"] != v.Subcases[0].DecisionNumber || len(lics) != 1 {
					t.Fatalf("jiangsu 出件 = %v", res)
				}
				lic := lics[0].(map[string]any)
				if lic["zzbh"] != v.Licences[0].Number || lic["zzwjdz"] != v.Licences[0].File.URI || lic["holder_id_type"] != "uscc" || lic["valid_until"] == "" { // the example is an individual business: its licences are its credit code's
					t.Errorf("jiangsu e-licence = %v, want %+v", lic, v.Licences[0])
				}
			case "lianyungang": // only the mapped fields, status codes, its own time layout
				acc := got["accepted"].Doc
				if acc["YWLSH"] != "lianyungang-2026-0001" || acc["BJZT"] != "02" || acc["CNBJRQ"] != v.Deadline.Promised || acc["SLSJ"] != acc["BJSJ"] ||
					len(acc) != 6 {
					t.Errorf("lianyungang 受理 = %v, want only YWLSH, BJZT, BJSJ, SLSJ, SLBM and CNBJRQ", acc)
				}
				if slbm, _ := acc["SLBM"].(map[string]any); slbm["BMMC"] == nil || slbm["BMMC"] == "" || len(slbm) != 1 {
					t.Errorf("lianyungang 受理 department %v, want its name only", acc["SLBM"])
				}
				if _, err := time.Parse("2006-01-02 15:04:05", acc["BJSJ"].(string)); err != nil {
					t.Errorf("lianyungang time %v: %v", acc["BJSJ"], err)
				}
				if d := got["completed"].Doc; d["BJZT"] != "09" || d["BJJG"] != "approved" {
					t.Errorf("lianyungang 办结 = %v", d)
				}
				var withLicence map[string]any
				for _, sc := range v.Subcases {
					jg := got["result:"+sc.ID].Doc["JG"].(map[string]any)
					if zz, _ := jg["ZZ"].([]any); len(zz) > 0 {
						withLicence = zz[0].(map[string]any)
					}
				}
				if withLicence["ZZBH"] == nil || withLicence["ZZDZ"] == nil || withLicence["ZZZY"] == nil || withLicence["YXQZ"] == nil || withLicence["holder_id"] != nil {
					t.Errorf("lianyungang e-licence = %v, want number, uri, hash and expiry only", withLicence)
				}
			}
			st := conns[s.name].Status()
			if st.Name != "platform:"+s.name || st.Kind != "platform" || st.Topic != bus.TopicCaseEvent || st.Group != s.cfg.GroupID ||
				st.Delivered != 4 || st.Detail["submitted"] != int64(1) || st.Detail["cursor"] != "p1" {
				t.Errorf("%s status %+v", s.name, st)
			}
			if u := st.Detail["pull_url"].(string); strings.Contains(u, "key-S3cr3t") {
				t.Errorf("the status shows the pull URL's key: %s", u)
			}
		}
	})
}

// foodOnly leaves out the optional matter (户外广告), its fields and its materials.
func foodOnly(app *cases.Application) {
	app.Matters = []string{"food-business-licence"}
	for k := range app.Form {
		if strings.HasPrefix(k, "ad.") {
			delete(app.Form, k)
		}
	}
	app.Materials = slices.DeleteFunc(app.Materials, func(m cases.MaterialInput) bool { return strings.HasPrefix(m.Type, "ad-") })
}

func mapsKeys(m map[string]platformsim.Push) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestAnInvalidApplicationIsRejectedReportedAndDoesNotHoldBackTheNext(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		const badID = "110105194912310021" // a wrong check digit
		s.offer(t, "JS-1", nil)
		s.offer(t, "JS-2", func(app *cases.Application) {
			app.Form["applicant.id_number"] = badID
			app.Materials = app.Materials[1:] // the application form is missing
		})
		s.offer(t, "JS-3", foodOnly)
		c := s.connector(t, env)
		env.Start(c)
		env.WaitFor("the applications after the rejected one to be taken in", func() bool { return caseOf(env, "jiangsu", "JS-3") != "" })
		env.WaitFor("the rejection to be reported to the platform", func() bool {
			for _, p := range s.sim.Taken() {
				if p.Key == "platform:jiangsu:app:JS-2:rejected" {
					return true
				}
			}
			return false
		})
		if caseOf(env, "jiangsu", "JS-1") == "" || caseOf(env, "jiangsu", "JS-2") != "" {
			t.Errorf("JS-1 %q, JS-2 %q: want a case for the first only", caseOf(env, "jiangsu", "JS-1"), caseOf(env, "jiangsu", "JS-2"))
		}
		var report platformsim.Push
		for _, p := range s.sim.Taken() {
			if p.Key == "platform:jiangsu:app:JS-2:rejected" {
				report = p
			}
		}
		if report.Doc["sblsh"] != "JS-2" || report.Doc["blzt"] != "退件" || report.Doc["step"] != "rejected" {
			t.Errorf("report = %v", report.Doc)
		}
		paths := map[string]string{}
		for _, p := range report.Doc["thyy"].([]any) {
			pm := p.(map[string]any)
			paths[pm["hub_path"].(string)] = pm["zd"].(string) + " " + pm["rule"].(string)
		}
		if paths["/form/applicant.id_number"] != "sqr.zjhm gb11643" || !strings.HasPrefix(paths["/materials"], "clxx required_material") {
			t.Errorf("problems reported %v, want the ID number at sqr.zjhm and the missing material at clxx", paths)
		}
		if bytes.Contains(report.Raw, []byte(badID)) {
			t.Errorf("the report repeats the applicant's ID number")
		}

		failures := env.Rec.Failures(func(f connector.Failure) bool { return f.Connector == "platform:jiangsu" })
		if len(failures) != 1 {
			t.Fatalf("%d dead letters, want the rejected application's", len(failures))
		}
		f := failures[0]
		if string(f.Key) != "JS-2" || f.EventID != "platform:jiangsu:JS-2" || f.Topic != "platform:jiangsu" ||
			!strings.Contains(f.Reason, "sqr.zjhm (/form/applicant.id_number): gb11643") || !bytes.Contains(f.Payload, []byte(`"JS-2"`)) {
			t.Errorf("dead letter %+v: %s", f.Delivery, f.Reason)
		}
		if strings.Contains(f.Reason, badID) || strings.Contains(env.Logs.String(), badID) {
			t.Errorf("the reason or the logs repeat the ID number")
		}
		env.WaitFor("the status to count two applications submitted and one rejected", func() bool {
			st := c.Status()
			return st.Detail["rejected"] == int64(1) && st.Detail["submitted"] == int64(2) && st.DeadLetters == 1
		})
	})
}

func TestARepulledApplicationIsNeverSubmittedTwice(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "lianyungang")
		for _, id := range []string{"LYG-1", "LYG-2", "LYG-3"} {
			s.offer(t, id, nil)
		}
		first := env.Start(s.connector(t, env))
		env.WaitFor("every application to be taken in", func() bool { return caseOf(env, "lianyungang", "LYG-3") != "" })
		env.WaitFor("the cursor after the last page to be stored", func() bool {
			return count(t, env, `SELECT COUNT(*) FROM platform_cursors WHERE platform = ? AND next_cursor = 'p3'`, "lianyungang") == 1
		})
		first.Stop(t)

		// The platform's cursor is lost (a restore, an operator's reset): everything comes again.
		db := env.Store.DB()
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_cursors`); err != nil {
			t.Fatal(err)
		}
		pulls := s.sim.Pulls()
		c := s.connector(t, env)
		second := env.Start(c)
		env.WaitFor("the applications to be pulled again", func() bool { d, _ := c.Status().Detail["duplicates"].(int64); return d == 3 })
		second.Stop(t)
		if n := count(t, env, `SELECT COUNT(*) FROM cases`); n != 3 {
			t.Errorf("%d cases after pulling the applications again, want 3", n)
		}
		if s.sim.Pulls() <= pulls {
			t.Errorf("the connector did not pull again")
		}
		// And the crash between Submit and recording the application: Submit's idempotency key
		// answers with the same case.
		if _, err := db.ExecContext(env.Ctx, db.Rebind(`DELETE FROM platform_applications WHERE app_id = ?`), "LYG-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(env.Ctx, `DELETE FROM platform_cursors`); err != nil {
			t.Fatal(err)
		}
		env.Start(s.connector(t, env))
		env.WaitFor("LYG-2 to be recorded again", func() bool { return caseOf(env, "lianyungang", "LYG-2") != "" })
		if n := count(t, env, `SELECT COUNT(*) FROM cases`); n != 3 {
			t.Errorf("%d cases, want still 3", n)
		}
	})
}

func TestPushesAreRetriedOn5xxAndARefusalIsADeadLetterUntilReplayed(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.offer(t, "JS-R", foodOnly)
		var refuse atomic.Bool
		refuse.Store(true)
		s.sim.RespondToPush(func(n int, p platformsim.Push) int {
			switch {
			case n <= 2:
				return http.StatusServiceUnavailable
			case strings.HasSuffix(p.Key, ":accepted") && refuse.Load():
				return http.StatusUnprocessableEntity
			}
			return 0
		})
		secret := signing.NewSecret()
		s.cfg.SigningSecret = secret
		c := s.connector(t, env)
		env.Start(c)
		env.WaitFor("the case", func() bool { return caseOf(env, "jiangsu", "JS-R") != "" })
		caseID := caseOf(env, "jiangsu", "JS-R")
		v := env.Case(caseID)
		env.Approve(v, v.Subcases[0])
		env.WaitFor("the first push", func() bool { return len(s.sim.Pushes()) > 0 })
		env.WaitWithin(connectortest.RetryWithin, "the result and 办结 to get through", func() bool { return len(taken(s, caseID)) == 2 })

		keys := map[string]int{}
		for _, p := range s.sim.Pushes() {
			keys[p.Key]++
			// Every attempt is signed under its Idempotency-Key, over the exact body.
			if err := signing.Verify(secret, p.Raw, p.Header); err != nil || p.Header.Get("Webhook-Id") != p.Key {
				t.Errorf("push %s: the platform cannot verify it: %v", p.Key, err)
			}
		}
		acceptedKey := "platform:jiangsu:" + caseID + ":accepted"
		if keys[acceptedKey] != 3 {
			t.Errorf("受理 was posted %d times, want 3 (two 503s, then the 422)", keys[acceptedKey])
		}
		ours := func(f connector.Failure) bool { return f.Connector == "platform:jiangsu" && f.CaseID == caseID }
		env.WaitFor("the refusal's dead letter", func() bool { return len(env.Rec.Failures(ours)) == 1 })
		f := env.Rec.Failures(ours)[0]
		if f.Topic != bus.TopicCaseEvent || f.Status != 422 || !strings.Contains(f.Reason, "accepted ("+acceptedKey+"): HTTP 422 Unprocessable Entity: simulated 422") {
			t.Errorf("dead letter %+v: %q", f.Delivery, f.Reason)
		}
		// The runner writes the dead letter before it marks the step refused in its ledger.
		db := env.Store.DB()
		env.WaitFor("受理 to be recorded as refused", func() bool {
			var state string
			err := db.GetContext(env.Ctx, &state, db.Rebind(`SELECT state FROM connector_pushes WHERE connector = ? AND push_key = ?`), "platform:jiangsu", acceptedKey)
			return err == nil && state == "refused"
		})
		env.WaitFor("the status to count the retries and the dead letter", func() bool {
			st := c.Status()
			return st.Retries >= 2 && st.DeadLetters >= 1
		})

		// The operator has the platform mended and replays the dead letter.
		refuse.Store(false)
		if err := env.Bus.Publish(env.Ctx, bus.Message{Topic: f.Topic, Key: f.Key, Value: f.Payload,
			Headers: map[string]string{"dlq_replay_of": "dl_test"}}); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("受理 to get through on the replay", func() bool { _, ok := taken(s, caseID)["accepted"]; return ok })
		if n := len(taken(s, caseID)); n != 3 {
			t.Errorf("%d documents taken, want 3: the replay pushes only what was refused", n)
		}
	})
}

func TestADocumentRefusedForGoodIsNotPushedAgainByLaterEvents(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "lianyungang")
		s.offer(t, "LYG-X", nil)
		s.sim.RespondToPush(func(_ int, p platformsim.Push) int {
			if strings.HasSuffix(p.Key, ":accepted") {
				return http.StatusBadRequest
			}
			return 0
		})
		env.Start(s.connector(t, env))
		env.WaitFor("the case", func() bool { return caseOf(env, "lianyungang", "LYG-X") != "" })
		caseID := caseOf(env, "lianyungang", "LYG-X")
		v := env.Case(caseID)
		for _, sc := range v.Subcases {
			env.Approve(v, sc) // each approval is a few more case events
		}
		env.WaitFor("办结", func() bool { _, ok := taken(s, caseID)["completed"]; return ok })
		n := 0
		for _, p := range s.sim.Pushes() {
			if p.Key == "platform:lianyungang:"+caseID+":accepted" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the refused 受理 was posted %d times, want once", n)
		}
	})
}

func TestNoSecretOrPersonalDataInLogsStatusOrDeadLetters(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.cfg.Headers = map[string]string{"X-Api-Key": "hdr-S3cr3t"}
		app, _ := hubtest.Example(t, "open-drink-shop-individual")
		s.offer(t, "JS-P", func(a *cases.Application) { a.Form["contact.mobile"] = "1510518123" }) // too short: rejected
		s.sim.RespondToPush(func(_ int, p platformsim.Push) int { return http.StatusBadRequest })
		c := s.connector(t, env)
		env.Start(c)
		env.WaitFor("the rejection to be reported and refused", func() bool { return len(s.sim.Pushes()) >= 1 })
		env.WaitFor("the dead letter", func() bool { return len(env.Rec.Failures(nil)) >= 1 })
		st, _ := json.Marshal(c.Status())
		hay := env.Logs.String() + string(st)
		for _, f := range env.Rec.Failures(nil) {
			hay += f.Reason
		}
		if got := s.sim.Pushes()[0]; got.Header.Get("X-Api-Key") != "hdr-S3cr3t" {
			t.Fatalf("the header did not travel; the check would prove nothing")
		}
		for _, secret := range []string{"hdr-S3cr3t", "key-S3cr3t", app.Form["applicant.id_number"].(string), app.Form["applicant.name"].(string), "1510518123"} {
			if strings.Contains(hay, secret) {
				t.Errorf("logs, status or dead letters contain %q", secret)
			}
		}
	})
}
