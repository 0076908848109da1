package supervision_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/delivery"
	"yjshub/connectors/supervision"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/hubtest"
)

// platform is the supervision platform: it keeps every record posted and answers with
// respond (200 when it returns 0).
type platform struct {
	srv     *httptest.Server
	mu      sync.Mutex
	posts   []post
	respond func(n int, key string) int
}

type post struct {
	key    string
	header http.Header
	record map[string]any
	status int
}

func newPlatform(t *testing.T) *platform {
	p := &platform{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		ps := post{key: r.Header.Get("Idempotency-Key"), header: r.Header.Clone(), status: http.StatusOK}
		_ = json.Unmarshal(raw, &ps.record)
		p.mu.Lock()
		n := len(p.posts) + 1
		respond := p.respond
		p.mu.Unlock()
		if respond != nil {
			if s := respond(n, ps.key); s != 0 {
				ps.status = s
			}
		}
		p.mu.Lock()
		p.posts = append(p.posts, ps)
		p.mu.Unlock()
		w.WriteHeader(ps.status)
		if ps.status >= 400 {
			_, _ = io.WriteString(w, `{"message":"记录不完整"}`)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *platform) setRespond(f func(n int, key string) int) {
	p.mu.Lock()
	p.respond = f
	p.mu.Unlock()
}

// taken returns the records taken, by Idempotency-Key, for the given cases.
func (p *platform) taken(caseIDs ...string) map[string]post {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]post{}
	for _, ps := range p.posts {
		if id, _ := ps.record["case_id"].(string); ps.status/100 == 2 && slices.Contains(caseIDs, id) {
			if _, seen := out[ps.key]; !seen {
				out[ps.key] = ps
			}
		}
	}
	return out
}

func (p *platform) attempts(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ps := range p.posts {
		if ps.key == key {
			n++
		}
	}
	return n
}

func config(env *hubtest.Env, p *platform) supervision.Config {
	cfg := supervision.Config{
		Endpoint:    p.srv.URL + "/records?token=tok-S3cr3t",
		Headers:     map[string]string{"X-Api-Key": "key-S3cr3t"},
		Supervising: map[string]string{"food-business-licence": "market-regulation"},
		Retry:       delivery.RetryConfig{InitialInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond},
		GroupID:     env.Group(supervision.DefaultGroupID),
	}
	return cfg
}

func start(t *testing.T, env *hubtest.Env, cfg supervision.Config) *supervision.Connector {
	t.Helper()
	c, err := supervision.New(cfg, supervision.Deps{Bus: env.Bus, Store: env.Store, Catalogue: env.Services.Catalogue, Cases: env.Cases,
		Recorder: env.Rec}, supervision.WithLogger(env.Log))
	if err != nil {
		t.Fatal(err)
	}
	env.Start(c)
	return c
}

// submitPerson submits an individual example as a natural person's application: the individual
// business's subject, name and code taken out, so that the holder is the person's ID number,
// which supervision masks.
func submitPerson(t *testing.T, env *hubtest.Env, example string) *cases.CaseView {
	t.Helper()
	app, hash := hubtest.Example(t, example)
	for _, k := range []string{cases.SubjectField, "individual_business.name", "individual_business.uscc"} {
		delete(app.Form, k)
	}
	return env.SubmitApplication(app, hash+"-person")
}

func TestEachApprovalBecomesOneSupervisionRecord(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		p := newPlatform(t)
		c := start(t, env, config(env, p))
		enterprise := env.Submit("open-bar-enterprise")
		person := submitPerson(t, env, "open-drink-shop-individual")
		for _, v := range []*cases.CaseView{enterprise, person} {
			for _, sc := range v.Subcases {
				env.Approve(v, sc) // every approval emits case events that show the earlier ones again
			}
		}
		want := len(enterprise.Subcases) + len(person.Subcases)
		env.WaitFor("a record per approval", func() bool {
			return len(p.taken(enterprise.ID, person.ID)) == want && c.Status().Delivered == int64(want)
		})
		records := p.taken(enterprise.ID, person.ID)
		for _, v := range []*cases.CaseView{enterprise, person} {
			v = env.Case(v.ID)
			holder, _ := env.Cases.Holder(env.Ctx, v.ID)
			for _, sc := range v.Subcases {
				key := supervision.RecordID(sc.ID)
				r, ok := records[key]
				if !ok {
					t.Errorf("no record for %s %s", v.ID, sc.MatterCode)
					continue
				}
				if n := p.attempts(key); n != 1 {
					t.Errorf("record %s posted %d times, want once", key, n)
				}
				rec := r.record
				if rec["record_id"] != key || rec["decision_number"] != sc.DecisionNumber || rec["subcase_id"] != sc.ID {
					t.Errorf("record %v", rec)
				}
				if m := rec["matter"].(map[string]any); m["code"] != sc.MatterCode || m["name"] != sc.MatterName {
					t.Errorf("matter %v", m)
				}
				if d := rec["department"].(map[string]any); d["code"] != sc.Department.Code || !strings.HasPrefix(d["name"].(string), "连云港市") {
					t.Errorf("department %v, want %s by its full name", d, sc.Department.Code)
				}
				var numbers []string
				for _, l := range v.Licences {
					if l.SubcaseID == sc.ID {
						numbers = append(numbers, l.Number)
					}
				}
				got, _ := json.Marshal(rec["licence_numbers"])
				if w, _ := json.Marshal(append([]string{}, numbers...)); string(got) != string(w) {
					t.Errorf("licence numbers %s, want %s", got, w)
				}
				if at, err := time.Parse(time.RFC3339, rec["approved_at"].(string)); err != nil || at.IsZero() {
					t.Errorf("approved_at %v: %v", rec["approved_at"], err)
				}
				h := rec["holder"].(map[string]any)
				switch v.ApplicantType {
				case "individual":
					if h["id_number"] != "110105********002X" || h["id_masked"] != true || h["id_type"] != "resident_id" || h["name"] != holder.Name {
						t.Errorf("individual holder %v, want the ID number masked", h)
					}
				case "enterprise":
					if h["id_number"] != holder.ID || h["id_masked"] != false || h["id_type"] != "uscc" {
						t.Errorf("enterprise holder %v, want the USCC", h)
					}
				}
				sup := rec["supervising_department"].(map[string]any)["code"]
				wantSup := sc.Department.Code
				if sc.MatterCode == "food-business-licence" {
					wantSup = "market-regulation" // 审管衔接: approved by 行政审批局, supervised by 市场监管局
				}
				if sup != wantSup {
					t.Errorf("%s supervised by %v, want %s", sc.MatterCode, sup, wantSup)
				}
				if r.header.Get("X-Api-Key") != "key-S3cr3t" || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("headers %v", r.header)
				}
			}
		}
		// The enterprise's food licence was approved by 行政审批局 and is supervised by 市场监管局.
		found := false
		for _, sc := range enterprise.Subcases {
			found = found || (sc.MatterCode == "food-business-licence" && sc.Department.Code == "admin-approval")
		}
		if !found {
			t.Errorf("the example no longer shows 审管衔接 (food licence at admin-approval); the supervising check proves less")
		}
		st, _ := json.Marshal(c.Status())
		for _, secret := range []string{"11010519491231002X", "tok-S3cr3t", "key-S3cr3t"} {
			if strings.Contains(env.Logs.String()+string(st), secret) {
				t.Errorf("logs or status contain %q", secret)
			}
		}
	})
}

func TestAnAuthorisedEndpointGetsTheWholeIDNumber(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		p := newPlatform(t)
		cfg := config(env, p)
		authorised := false
		cfg.MaskHolderID = &authorised
		start(t, env, cfg)
		v := submitPerson(t, env, "open-drink-shop-individual")
		env.Approve(v, v.Subcases[0])
		env.WaitFor("the record", func() bool { return len(p.taken(v.ID)) == 1 })
		for _, r := range p.taken(v.ID) {
			if h := r.record["holder"].(map[string]any); h["id_number"] != "11010519491231002X" || h["id_masked"] != false {
				t.Errorf("holder %v, want the whole ID number", h)
			}
		}
	})
}

func TestRecordsAreRetriedOn5xxAndARefusedOneWaitsForItsReplay(t *testing.T) {
	hubtest.Each(t, func(t *testing.T, env *hubtest.Env) {
		p := newPlatform(t)
		v := env.Submit("open-drink-shop-individual")
		refusedKey := supervision.RecordID(v.Subcases[1].ID)
		var refuse atomic.Bool
		refuse.Store(true)
		p.setRespond(func(n int, key string) int {
			switch {
			case n <= 2:
				return http.StatusBadGateway
			case key == refusedKey && refuse.Load():
				return http.StatusUnprocessableEntity
			}
			return 0
		})
		c := start(t, env, config(env, p))
		env.Approve(v, v.Subcases[0])
		env.Approve(v, v.Subcases[1])
		ours := func(f connector.Failure) bool { return f.CaseID == v.ID && f.Connector == supervision.Name }
		env.WaitFor("the first attempt", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.posts) > 0 })
		env.WaitWithin(connectortest.RetryWithin, "the first record and the refusal", func() bool {
			return len(p.taken(v.ID)) == 1 && len(env.Rec.Failures(ours)) == 1
		})
		f := env.Rec.Failures(ours)[0]
		if f.Topic != bus.TopicCaseEvent || f.Status != 422 || !strings.Contains(f.Reason, "HTTP 422 Unprocessable Entity: 记录不完整") || len(f.Payload) == 0 {
			t.Errorf("dead letter %+v %q", f.Delivery, f.Reason)
		}
		env.WaitFor("the status to count 2 retries and 1 dead letter", func() bool {
			st := c.Status()
			return st.Retries == 2 && st.DeadLetters == 1
		})
		// The case completes: more case events, which must not push the refused record again.
		env.WaitFor("the case to complete", func() bool { return env.Case(v.ID).State == cases.CaseCompleted })
		env.WaitFor("every case event to be handled", func() bool {
			l, err := env.Bus.Lag(env.Ctx, c.Status().Group, bus.TopicCaseEvent)
			return err == nil && l.Total == 0
		})
		before := p.attempts(refusedKey)

		refuse.Store(false)
		if err := env.Bus.Publish(env.Ctx, bus.Message{Topic: f.Topic, Key: f.Key, Value: f.Payload,
			Headers: map[string]string{"dlq_replay_of": "dl_test"}}); err != nil {
			t.Fatal(err)
		}
		env.WaitFor("the replayed record to get through", func() bool { _, ok := p.taken(v.ID)[refusedKey]; return ok })
		if before != 1 {
			t.Errorf("the refused record was posted %d times before the replay, want once", before)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  supervision.Config
		want []string
	}{
		{"an endpoint is enough", supervision.Config{Endpoint: "https://jg.lyg.example/api/records"}, nil},
		{"one case event at a time", supervision.Config{Endpoint: "https://jg.lyg.example/api/records", Concurrency: 1}, nil},
		{"every problem at once", supervision.Config{Endpoint: "mailto:x@y", Timeout: -1, Headers: map[string]string{"Host": "x"},
			Supervising: map[string]string{"food-business-licence": ""}, GroupID: " g", SigningSecret: "whsec_c2hvcnQ=", Concurrency: -1},
			[]string{"endpoint:", "timeout:", `headers["Host"]`, "supervising:", "group_id:", "signing_secret: must hold at least 24 bytes",
				"concurrency: -1 is not from 1 to 64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want %q", err, w)
				}
			}
		})
	}
}

func TestMaskIDHidesTheBirthDate(t *testing.T) {
	for in, want := range map[string]string{"11010519491231002X": "110105********002X", "110105491231002": "110105*****1002", "123": "***"} {
		if got := supervision.MaskID(in); got != want {
			t.Errorf("MaskID(%s) = %s, want %s", in, got, want)
		}
	}
}
