package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/mapping"
	"yjshub/problem"
)

// agentID is a valid resident ID number that is not the examples' applicant's.
const agentID = "11010519491231002X"

func proxy() *cases.Agent {
	return &cases.Agent{Kind: cases.AgentProxy, Name: "王帮办", IDType: cases.AgentIDResident, IDNumber: agentID, Phone: "13800138000",
		Organisation: "区政务服务中心帮办服务队", Authorisation: &cases.Authorisation{Scope: "代为办理开饮品店一件事的申请、补正和领证", ValidUntil: "2027-06-30",
			Material: &cases.FileRef{Filename: "authorisation.pdf", SHA256: strings.Repeat("ab", 32), Size: 2048, URI: "https://files.example.org/authorisation.pdf"}}}
}

// A proxy (代办) with the applicant's authorisation is recorded on the case, shown in its view,
// and its 授权委托书 is a material every matter of the case carries.
func TestAProxyWithTheApplicantsAuthorisationIsRecordedOnTheCase(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		app, hash := example(t, "open-drink-shop-enterprise")
		app.Agent = proxy()
		v, _, err := svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		want := cases.AgentView{Kind: cases.AgentProxy, KindLabel: "代办", Name: app.Agent.Name, IDType: cases.AgentIDResident, IDNumber: agentID,
			Phone: app.Agent.Phone, Organisation: app.Agent.Organisation, Scope: app.Agent.Authorisation.Scope, ValidUntil: "2027-06-30"}
		got, err := svc.Get(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		for name, view := range map[string]*cases.CaseView{"the answer": v, "the case read back": got} {
			if view.Agent == nil || *view.Agent != want {
				t.Errorf("%s: agent %+v; want %+v", name, view.Agent, want)
			}
			var users []string
			for _, m := range view.Materials {
				if m.Type == cases.AuthorisationMaterial {
					users = m.UsedBy
				}
			}
			if len(users) != len(view.Subcases) {
				t.Errorf("%s: the 授权委托书 is used by %v; want every sub-case", name, users)
			}
		}
		if n := count(t, st, "case_agents"); n != 1 {
			t.Errorf("%d agents stored", n)
		}
		// Every department is told who acts for the applicant, with the authorisation's scope.
		wantRef := event.AgentRef{Kind: cases.AgentProxy, Name: app.Agent.Name, IDType: cases.AgentIDResident, IDNumber: agentID, Phone: app.Agent.Phone,
			Organisation: app.Agent.Organisation, Scope: app.Agent.Authorisation.Scope, ValidUntil: "2027-06-30"}
		for _, sc := range v.Subcases {
			if d := dispatchedOf(t, st, sc.ID); d.Agent == nil || *d.Agent != wantRef {
				t.Errorf("%s is told of agent %+v; want %+v", sc.MatterCode, d.Agent, wantRef)
			}
		}

		// A 帮办 agent helps an applicant who signs: no authorisation.
		app.Agent = &cases.Agent{Kind: cases.AgentAssistance, Name: "李帮办", IDType: cases.AgentIDPassport, IDNumber: "E12345678", Phone: "0791-86123456"}
		v, _, err = svc.Submit(ctx, app, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.Agent == nil || v.Agent.KindLabel != "帮办" || v.Agent.Scope != "" {
			t.Errorf("a 帮办 agent: %+v", v.Agent)
		}
		// Without an agent, none.
		app.Agent = nil
		if v, _, err = svc.Submit(ctx, app, hash, ""); err != nil || v.Agent != nil {
			t.Errorf("an application without an agent: %+v %v", v.Agent, err)
		}
		rep, err := svc.AgentReport(ctx, "", "")
		if err != nil || rep.Total != (cases.AgentCounts{Cases: 2, Assistance: 1, Proxy: 1}) || len(rep.Months) != 1 || rep.Months[0].AgentCounts != rep.Total {
			t.Errorf("the agent report: %+v %v", rep, err)
		}
		if rep, _ := svc.AgentReport(ctx, "2020-01-01", "2020-12-31"); rep.Total.Cases != 0 || len(rep.Months) != 0 {
			t.Errorf("a year without agents: %+v", rep)
		}
	})
}

// Intake refuses a proxy without the applicant's authorisation, naming each missing part,
// and every other problem of the agent at once; no message repeats what was given.
func TestIntakeRefusesAnAgentWithEveryProblemNamed(t *testing.T) {
	each(t, func(t *testing.T, st *store.Store, svc *cases.Service) {
		ctx := context.Background()
		for _, tc := range []struct {
			name  string
			agent func(a *cases.Agent)
			want  []string
		}{
			{"a proxy without an authorisation", func(a *cases.Agent) { a.Authorisation = nil },
				[]string{"/agent/authorisation/material:agent_authorisation", "/agent/authorisation/scope:agent_authorisation", "/agent/authorisation/valid_until:agent_authorisation"}},
			{"a proxy whose authorisation lacks its parts", func(a *cases.Agent) { a.Authorisation = &cases.Authorisation{} },
				[]string{"/agent/authorisation/material:agent_authorisation", "/agent/authorisation/scope:required", "/agent/authorisation/valid_until:required"}},
			{"an authorisation that has ended", func(a *cases.Agent) { a.Authorisation.ValidUntil = "2026-11-26" },
				[]string{"/agent/authorisation/valid_until:agent_authorisation"}},
			{"an authorisation's file that is no file", func(a *cases.Agent) {
				a.Authorisation.Material.SHA256, a.Authorisation.Material.Size, a.Authorisation.ValidUntil = "abc", 0, "30/06/2027"
			}, []string{"/agent/authorisation/material/sha256:sha256", "/agent/authorisation/material/size:minimum", "/agent/authorisation/valid_until:date"}},
			{"a 帮办 agent with an authorisation", func(a *cases.Agent) { a.Kind = cases.AgentAssistance },
				[]string{"/agent/authorisation:not_allowed"}},
			{"an agent of no known kind, with bad identity and phone", func(a *cases.Agent) {
				a.Kind, a.IDNumber, a.Phone, a.Name, a.Authorisation = "friend", "110105194912310021", "12345", "", nil
			}, []string{"/agent/id_number:gb11643", "/agent/kind:enum", "/agent/name:required", "/agent/phone:mobile"}},
			{"an agent with an unknown document, a control character and a long organisation", func(a *cases.Agent) {
				a.IDType, a.Name, a.Organisation = "driving_licence", "王\n帮办", strings.Repeat("队", 101)
			}, []string{"/agent/id_type:enum", "/agent/name:control_character", "/agent/organisation:max_length"}},
			{"a passport number of the wrong shape", func(a *cases.Agent) { a.IDType, a.IDNumber = cases.AgentIDPassport, "e1" },
				[]string{"/agent/id_number:pattern"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				app, hash := example(t, "open-drink-shop-enterprise")
				app.Agent = proxy()
				tc.agent(app.Agent)
				_, _, err := svc.Submit(ctx, app, hash, "")
				got := problemKeys(t, err)
				if !slices.Equal(got, tc.want) {
					t.Errorf("problems\n got %v\nwant %v", got, tc.want)
				}
				pe := err.(*problem.Error)
				for _, p := range pe.Problems {
					for _, secret := range []string{app.Agent.IDNumber, app.Agent.Phone, "王"} {
						if secret != "" && (strings.Contains(p.Message, secret) || strings.Contains(problem.MessageZH(p, testCatalogue), secret)) {
							t.Errorf("problem %+v repeats what was given", p)
						}
					}
				}
			})
		}
		if n := count(t, st, "cases") + count(t, st, "case_agents"); n != 0 {
			t.Errorf("refused applications stored %d rows", n)
		}
	})
}

// An agent is decoded strictly: a key the agent has not is a problem, as in the rest of an
// application.
func TestAnAgentIsDecodedStrictly(t *testing.T) {
	_, _, err := cases.DecodeApplication(strings.NewReader(`{"bundle": 30, "applicant_type": "enterprise", "form": {}, "materials": [],
		"agent": {"kind": "proxy", "nickname": "x"}}`))
	got := problemKeys(t, err)
	if len(got) != 1 || got[0] != "/agent:type" {
		t.Errorf("an agent with an unknown key: %v", got)
	}
}

// The one form's application schema describes the agent as intake takes it: a proxy with its
// authorisation and an assistant without one are valid; a proxy without an authorisation, an
// assistant with one and an unknown kind are not.
func TestTheApplicationSchemaDescribesTheAgent(t *testing.T) {
	app, _ := example(t, "open-drink-shop-enterprise")
	b, ok := testCatalogue.Bundle("open-drink-shop")
	if !ok {
		t.Fatal("no bundle open-drink-shop")
	}
	f, err := mapping.BuildOneForm(testCatalogue, b, app.ApplicantType, app.Matters)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(f.ApplicationSchema)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("https://yjshub.test/application.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("https://yjshub.test/application.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		agent func(a *cases.Agent)
		valid bool
	}{
		{"a proxy with its authorisation", func(a *cases.Agent) {}, true},
		{"an assistant without an authorisation", func(a *cases.Agent) { a.Kind, a.Authorisation = cases.AgentAssistance, nil }, true},
		{"a proxy without an authorisation", func(a *cases.Agent) { a.Authorisation = nil }, false},
		{"an assistant with an authorisation", func(a *cases.Agent) { a.Kind = cases.AgentAssistance }, false},
		{"an authorisation without its file", func(a *cases.Agent) { a.Authorisation.Material = nil }, false},
		{"an unknown kind", func(a *cases.Agent) { a.Kind = "friend" }, false},
		{"a blank name", func(a *cases.Agent) { a.Name = "  " }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := proxy()
			tc.agent(a)
			app.Agent = a
			body, err := json.Marshal(app)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); (err == nil) != tc.valid {
				t.Errorf("valid = %v; want %v: %v", err == nil, tc.valid, err)
			}
		})
	}
}

// Whatever agent an application names, intake either takes it as given or refuses it with
// problems under /agent that never repeat its name, ID number or phone.
func FuzzAgentIntake(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(f.TempDir(), "hub.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: testCatalogue, Store: st, Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-drink-shop-enterprise.json"))
	if err != nil {
		f.Fatal(err)
	}
	seed, err := json.Marshal(proxy())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{
		`{}`,
		`{"kind": "assistance", "name": "李帮办", "id_type": "passport", "id_number": "E12345678", "phone": "0791-86123456"}`,
		`{"kind": "proxy", "name": "王帮办", "id_type": "resident_id", "id_number": "110105194912310021", "phone": "13800138000"}`,
		`{"kind": "proxy", "name": " ", "id_type": "resident_id", "id_number": "11010519491231002X", "phone": "13800138000",
		  "authorisation": {"scope": "\u0007", "valid_until": "2026-02-30", "material": {"filename": "a/b", "sha256": "", "size": -1, "uri": "ftp://x"}}}`,
		`{"kind": "assistance", "name": "赵六六六六", "id_type": "passport", "id_number": "AB1234567", "phone": "+8613800138000", "organisation": "\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, agentJSON []byte) {
		var a cases.Agent
		dec := json.NewDecoder(bytes.NewReader(agentJSON))
		dec.DisallowUnknownFields()
		if dec.Decode(&a) != nil {
			return // DecodeApplication refuses it before intake (FuzzDecodeApplication)
		}
		app, hash, err := cases.DecodeApplication(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		app.Agent = &a
		v, _, err := hs.Cases.Submit(ctx, app, hash, "")
		if err == nil {
			if v.Agent == nil || v.Agent.Kind != a.Kind || v.Agent.Name != a.Name || v.Agent.IDNumber != a.IDNumber || v.Agent.Phone != a.Phone {
				t.Fatalf("the case's agent %+v is not the one given %+v", v.Agent, a)
			}
			return
		}
		var pe *problem.Error
		if !errors.As(err, &pe) {
			t.Fatalf("refused with %v: want problems", err)
		}
		for _, p := range pe.Problems {
			if p.Rule == "" || !strings.HasPrefix(p.Path, "/agent") {
				t.Errorf("problem %+v: want a rule and a path under /agent", p)
			}
			zh := problem.MessageZH(p, testCatalogue)
			for _, secret := range []string{a.IDNumber, a.Phone, a.Name} {
				if distinctive(secret) && (strings.Contains(p.Message, secret) || strings.Contains(zh, secret)) {
					t.Errorf("problem %+v repeats what was given", p)
				}
			}
		}
	})
}

// distinctive reports whether a value is unlike any words of the problems' own text, so that
// finding it in a message means the message repeats it: six characters or more, no space, a
// digit or a character beyond ASCII among them (ID numbers, phones, Chinese names). A name such
// as "port" is in "passport" without having been repeated.
func distinctive(s string) bool {
	if utf8.RuneCountInString(s) < 6 || strings.ContainsFunc(s, unicode.IsSpace) {
		return false
	}
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsDigit(r) || r > unicode.MaxASCII })
}
