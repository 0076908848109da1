package platform_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/platform"
	"yjshub/connectors/platform/platformsim"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/hubtest"
	"yjshub/hub/licences"
)

var revocationFormats = map[string]platformsim.RevocationFormat{
	"jiangsu": platformsim.JiangsuRevocation, "lianyungang": platformsim.LianyungangRevocation,
}

// A reason as a department may write it, with a mobile in it that must not travel.
const (
	revokeReason  = "经营场所与申报不符（举报人15105181234），依法撤销"
	maskedReason  = "经营场所与申报不符（举报人***********），依法撤销"
	reporterPhone = "15105181234"
)

// completed waits for the platform application appID (food only, offered and its connector
// started) to become a case, approves it and waits for its 受理, 出件 and 办结 to reach the
// platform; it returns the case and the e-licence it issued.
func completed(t *testing.T, env *hubtest.Env, s *site, appID string) (string, cases.LicenceView) {
	t.Helper()
	env.WaitFor(s.name+"'s application to become a case", func() bool { return caseOf(env, s.name, appID) != "" })
	caseID := caseOf(env, s.name, appID)
	v := env.Case(caseID)
	for _, sc := range v.Subcases {
		env.Approve(v, sc)
	}
	env.WaitFor(s.name+" to get 受理, 出件 and 办结", func() bool { return len(taken(s, caseID)) == 3 })
	v = env.Case(caseID)
	if len(v.Licences) != 1 {
		t.Fatalf("case %s issued %d e-licences, want 1", caseID, len(v.Licences))
	}
	return caseID, v.Licences[0]
}

// revoke has the issuing department revoke lic through the e-licence library, as
// POST /api/v1/licences/{type}/{number}/events does.
func revoke(t *testing.T, env *hubtest.Env, lic cases.LicenceView, eventID string, at time.Time) (replayed bool) {
	t.Helper()
	lib := env.Services.Licences
	cur, err := lib.Get(env.Ctx, lic.Type, lic.Number)
	if err != nil {
		t.Fatal(err)
	}
	_, replayed, err = lib.Revoke(env.Ctx, lic.Type, lic.Number, licences.Event{EventID: eventID, Type: licences.EventRevoked,
		Reason: revokeReason, Department: cur.Department, Time: at})
	if err != nil {
		t.Fatalf("revoke %s: %v", lic.Number, err)
	}
	return replayed
}

// revokedKey is the Idempotency-Key of a revocation: the type by its code, or else by its name.
func revokedKey(platformName, caseID string, lic cases.LicenceView) string {
	typ := lic.TypeCode
	if typ == "" {
		typ = lic.Type
	}
	return "platform:" + platformName + ":" + caseID + ":revoked:" + url.QueryEscape(typ) + ":" + url.QueryEscape(lic.Number)
}

// settled reports whether every case event the hub wrote is on the bus and committed by each
// of groups: whatever a connector was to do about them, it has done.
func settled(t *testing.T, env *hubtest.Env, groups ...string) bool {
	t.Helper()
	if count(t, env, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`) > 0 {
		return false
	}
	for _, g := range groups {
		l, err := env.Bus.Lag(env.Ctx, g, bus.TopicCaseEvent)
		if err != nil {
			t.Fatalf("lag of %s: %v", g, err)
		}
		if l.Total > 0 {
			return false
		}
	}
	return true
}

// pushesOf counts the pushes (repeats and refusals included) under key.
func pushesOf(s *site, key string) int {
	n := 0
	for _, p := range s.sim.Pushes() {
		if p.Key == key {
			n++
		}
	}
	return n
}

func revocations(t *testing.T, s *site) []platformsim.Revocation {
	t.Helper()
	rs, err := s.sim.Revocations(revocationFormats[s.name])
	if err != nil {
		t.Fatalf("%s cannot read a revocation: %v", s.name, err)
	}
	return rs
}

func TestARevokedLicenceIsPushedOnceToThePlatformThatWasSentIt(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		sites := []*site{newSite(t, env, "jiangsu"), newSite(t, env, "lianyungang")}
		conns := map[string]*platform.Connector{}
		for _, s := range sites {
			s.offer(t, s.name+"-RV-1", foodOnly)
			conns[s.name] = s.connector(t, env)
			env.Start(conns[s.name])
		}
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		caseIDs, lics := map[string]string{}, map[string]cases.LicenceView{}
		for _, s := range sites {
			caseIDs[s.name], lics[s.name] = completed(t, env, s, s.name+"-RV-1")
			if revoke(t, env, lics[s.name], "rv-"+s.name, at) {
				t.Fatalf("%s: the first revocation was taken for a replay", s.name)
			}
		}
		for _, s := range sites {
			env.WaitFor(s.name+" to take the revocation", func() bool { return len(revocations(t, s)) > 0 })
		}

		for _, s := range sites {
			caseID, lic := caseIDs[s.name], lics[s.name]
			rs := revocations(t, s)
			if len(rs) != 1 {
				t.Fatalf("%s took %d revocations, want one: its own case's, not the other platform's", s.name, len(rs))
			}
			r := rs[0]
			if want := revokedKey(s.name, caseID, lic); r.Key != want {
				t.Errorf("%s: revocation under %q, want %q", s.name, r.Key, want)
			}
			// Every licence type of the catalogue has its code: the key names the type by it.
			if lic.TypeCode == "" || !strings.Contains(r.Key, ":revoked:"+url.QueryEscape(lic.TypeCode)+":") {
				t.Errorf("%s: key %q: the type is not named by its code %q", s.name, r.Key, lic.TypeCode)
			}
			if r.AppID != s.name+"-RV-1" || r.Number != lic.Number || r.Reason != maskedReason || !r.At.Equal(at) {
				t.Errorf("%s: revocation %+v, want app %s-RV-1, number %s, reason %q, at %v", s.name, r, s.name, lic.Number, maskedReason, at)
			}
			switch s.name {
			case "jiangsu": // the type by the platform's code, the rest of the document under the hub's names
				dzzz := r.Doc["dzzz"].(map[string]any)
				if r.Type != "JSZZ0101" || r.Doc["yjsbjbh"] != caseID || r.Doc["step"] != "revoked" || r.Doc["xzqhdm"] != "320707" ||
					dzzz["subcase_id"] != lic.SubcaseID || dzzz["matter_code"] != "food-business-licence" {
					t.Errorf("jiangsu 撤销 = %v", r.Doc)
				}
				if !strings.HasSuffix(r.Doc["blsj"].(string), "+08:00") {
					t.Errorf("jiangsu time %v, want China Standard Time", r.Doc["blsj"])
				}
			case "lianyungang": // only the mapped fields
				keys := slices.Sorted(func(yield func(string) bool) {
					for k := range r.Doc {
						if !yield(k) {
							return
						}
					}
				})
				zz := r.Doc["ZZ"].(map[string]any)
				if r.Type != "食品经营许可证" || !slices.Equal(keys, []string{"BJSJ", "BJZT", "CXYY", "YWLSH", "ZZ"}) || len(zz) != 3 {
					t.Errorf("lianyungang 撤销 = %v, want YWLSH, BJZT, BJSJ, CXYY and ZZ with ZZLX, ZZLXDM, ZZBH", r.Doc)
				}
			}
		}

		// The department sends its revocation again (the same event id): the hub announces
		// nothing, and the announcement delivered again changes nothing either.
		jiangsu := sites[0]
		caseID := caseIDs["jiangsu"]
		announced := count(t, env, `SELECT COUNT(*) FROM outbox WHERE msg_key = ?`, caseID)
		if !revoke(t, env, lics["jiangsu"], "rv-jiangsu", at) {
			t.Fatalf("the repeated revocation was not taken for a replay")
		}
		if n := count(t, env, `SELECT COUNT(*) FROM outbox WHERE msg_key = ?`, caseID); n != announced {
			t.Errorf("the repeated revocation announced the case again (%d announcements, was %d)", n, announced)
		}
		var last []byte
		db := env.Store.DB()
		if err := db.GetContext(env.Ctx, &last, db.Rebind(`SELECT payload FROM outbox WHERE msg_key = ? ORDER BY id DESC LIMIT 1`), caseID); err != nil {
			t.Fatal(err)
		}
		if err := env.Bus.Publish(env.Ctx, bus.Message{Topic: bus.TopicCaseEvent, Key: []byte(caseID), Value: last}); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("both connectors to have handled every case event", func() bool {
			return settled(t, env, jiangsu.cfg.GroupID, sites[1].cfg.GroupID)
		})
		for _, s := range sites {
			if n := pushesOf(s, revokedKey(s.name, caseIDs[s.name], lics[s.name])); n != 1 {
				t.Errorf("%s: the revocation was pushed %d times, want once", s.name, n)
			}
			if d := conns[s.name].Status().Detail["documents"]; !slices.Contains(d.([]string), "revoked") {
				t.Errorf("%s status documents %v, want revoked among them", s.name, d)
			}
		}

		for _, s := range sites {
			for _, p := range s.sim.Pushes() {
				if bytes.Contains(p.Raw, []byte(reporterPhone)) {
					t.Errorf("%s: push %s carries the number in the reason", s.name, p.Key)
				}
			}
		}
		if strings.Contains(env.Logs.String(), reporterPhone) {
			t.Errorf("the logs carry the number in the reason")
		}
	})
}

func TestAPlatformWithoutARevokedDocumentIsNotToldOfRevocations(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		lyg, js := newSite(t, env, "lianyungang"), newSite(t, env, "jiangsu")
		lyg.cfg.Outbound.Revoked = nil
		lyg.offer(t, "LYG-NR", foodOnly)
		c := lyg.connector(t, env)
		env.Start(c)
		env.Start(js.connector(t, env)) // told of revocations, but this case is not its platform's
		caseID, lic := completed(t, env, lyg, "LYG-NR")
		revoke(t, env, lic, "rv-nr", time.Now())
		env.WaitFor("both connectors to have handled the revocation's announcement", func() bool {
			return settled(t, env, lyg.cfg.GroupID, js.cfg.GroupID)
		})
		if v := env.Case(caseID); v.Licences[0].Status != licences.StatusRevoked {
			t.Fatalf("the licence is %s; the check would prove nothing", v.Licences[0].Status)
		}
		for _, s := range []*site{lyg, js} {
			for _, p := range s.sim.Pushes() {
				if strings.Contains(p.Key, ":revoked:") {
					t.Errorf("%s was told of a revocation: %s", s.name, p.Key)
				}
			}
		}
		if n := len(js.sim.Pushes()); n != 0 {
			t.Errorf("jiangsu took %d pushes of another platform's case", n)
		}
		if d := c.Status().Detail["documents"]; slices.Contains(d.([]string), "revoked") {
			t.Errorf("status documents %v: revoked without outbound.revoked", d)
		}
	})
}

func TestARefusedRevocationIsADeadLetterAndAReplayPushesItOnce(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		s := newSite(t, env, "jiangsu")
		s.offer(t, "JS-RV-X", foodOnly)
		var refuse atomic.Bool
		refuse.Store(true)
		s.sim.RespondToPush(func(_ int, p platformsim.Push) int {
			if strings.Contains(p.Key, ":revoked:") && refuse.Load() {
				return http.StatusUnprocessableEntity
			}
			return 0
		})
		c := s.connector(t, env)
		env.Start(c)
		caseID, lic := completed(t, env, s, "JS-RV-X")
		revoke(t, env, lic, "rv-x", time.Now())

		key := revokedKey("jiangsu", caseID, lic)
		ours := func(f connector.Failure) bool { return f.Connector == "platform:jiangsu" && f.CaseID == caseID }
		env.WaitFor("the refused revocation's dead letter", func() bool { return len(env.Rec.Failures(ours)) == 1 })
		f := env.Rec.Failures(ours)[0]
		if f.Topic != bus.TopicCaseEvent || f.Status != 422 || !strings.Contains(f.Reason, "revoked ("+key+"): HTTP 422 Unprocessable Entity") {
			t.Errorf("dead letter %+v: %q", f.Delivery, f.Reason)
		}
		// The runner writes the dead letter before it marks the step refused in its ledger.
		db := env.Store.DB()
		env.WaitFor("the revocation to be recorded as refused", func() bool {
			var state string
			err := db.GetContext(env.Ctx, &state, db.Rebind(`SELECT state FROM connector_pushes WHERE connector = ? AND push_key = ?`), "platform:jiangsu", key)
			return err == nil && state == "refused"
		})
		if n := pushesOf(s, key); n != 1 {
			t.Errorf("the refused revocation was posted %d times, want once (a 4xx is not retried)", n)
		}

		refuse.Store(false)
		if err := env.Bus.Publish(env.Ctx, bus.Message{Topic: f.Topic, Key: f.Key, Value: f.Payload,
			Headers: map[string]string{"dlq_replay_of": "dl_test"}}); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the revocation to get through on the replay", func() bool { return len(revocations(t, s)) == 1 })
		env.WaitFor("the connector to have handled the replay", func() bool { return settled(t, env, s.cfg.GroupID) })
		if n := pushesOf(s, key); n != 2 {
			t.Errorf("the revocation was posted %d times, want twice: refused, then once on the replay", n)
		}
		if n := len(taken(s, caseID)); n != 4 {
			t.Errorf("%d documents taken, want 4: the replay pushes only what was refused", n)
		}
		if strings.Contains(f.Reason, reporterPhone) {
			t.Errorf("the dead letter's reason carries the number")
		}
	})
}
