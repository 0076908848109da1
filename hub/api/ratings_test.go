package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store/storetest"
)

// The rating routes let only their roles through: 401 without a key, 403 to another role.
func TestTheRatingRoutesLetOnlyTheirRolesThrough(t *testing.T) {
	t.Parallel()
	srv, keys := authServer(t, storetest.OpenSQLite)
	for _, rt := range []struct {
		method, path string
		roles        []string
	}{
		{"POST", "/api/v1/cases/cs_unknown/ratings", []string{"jiangsu", "lianyungang"}},
		{"GET", "/api/v1/cases/cs_unknown/ratings", []string{"jiangsu", "lianyungang", "ops", "ops-pd"}},
		{"GET", "/api/v1/rectifications", []string{"tobacco-office", "fire-office", "ops", "ops-pd"}},
		{"POST", "/api/v1/ratings/rt_unknown/response", []string{"tobacco-office", "fire-office"}},
		{"GET", "/api/v1/reports/ratings", []string{"ops", "ops-pd"}},
		{"GET", "/api/v1/reports/agents", []string{"ops", "ops-pd"}},
	} {
		if code, body := send(t, srv, rt.method, rt.path, "", "{}"); code != 401 {
			t.Errorf("%s %s without a key: %d %s; want 401", rt.method, rt.path, code, body)
		}
		for name, key := range keys {
			code, body := send(t, srv, rt.method, rt.path, key, "{}")
			allowed := slices.Contains(rt.roles, name)
			switch {
			case allowed && (code == 401 || (code == 403 && strings.Contains(body, "this route is for"))):
				t.Errorf("%s %s as %s: %d %s; want it let through", rt.method, rt.path, name, code, body)
			case !allowed && code != 403:
				t.Errorf("%s %s as %s: %d %s; want 403", rt.method, rt.path, name, code, body)
			}
		}
	}
}

// completeCase approves every sub-case of a case as its departments would, prerequisites first.
func completeCase(t *testing.T, hs *hub.Services, caseID string) {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		v, err := hs.Cases.Get(ctx, caseID)
		if err != nil {
			t.Fatal(err)
		}
		if v.State == cases.CaseCompleted {
			return
		}
		for _, sc := range v.Subcases {
			if sc.State != cases.StateDispatched {
				continue
			}
			for _, typ := range []string{event.Received, event.Accepted, event.Approved} {
				ev := event.DepartmentEvent{EventID: sc.ID + "-" + typ, Type: typ, DecisionNumber: "赣审〔2026〕" + sc.MatterCode}
				if _, _, err := hs.Cases.ApplyEvent(ctx, sc.ID, ev); err != nil {
					t.Fatalf("%s %s: %v", sc.MatterCode, typ, err)
				}
			}
		}
	}
	t.Fatal("the case did not complete")
}

// A platform rates the case it submitted once it is completed; the rated department sees the
// bad rating and answers it; operators read the report; every refusal is as documented.
func TestACaseIsRatedAndABadRatingAnsweredOverTheAPI(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys, hs := authServices(t, open)
			call := func(method, path, template, client, body string, want int) []byte {
				t.Helper()
				var b []byte
				if body != "" {
					b = []byte(body)
				}
				resp, out := exchange(t, srv, method, path, keys[client], b, nil)
				if resp.StatusCode != want {
					t.Fatalf("%s %s as %s: %d %s; want %d", method, path, client, resp.StatusCode, out, want)
				}
				conforms(t, doc, method, template, resp, out)
				return out
			}
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], mustJSON(t, exampleApp(t, "open-bar-enterprise")))
			if code != 201 {
				t.Fatalf("submit: %d %s", code, resp)
			}
			var v cases.CaseView
			decode(t, resp, &v)
			ratings := "/api/v1/cases/" + v.ID + "/ratings"
			const tmpl = "/api/v1/cases/{id}/ratings"
			rate := `{"ratings": [{"department": "tobacco", "level": "dissatisfied", "comment": "要求重复提交经营场所证明"},
				{"department": "fire-rescue", "level": "very_satisfied"}]}`
			call("POST", ratings, tmpl, "jiangsu", rate, 409) // not completed yet
			completeCase(t, hs, v.ID)

			call("POST", ratings, tmpl, "lianyungang", rate, 404)
			call("GET", ratings, tmpl, "lianyungang", "", 404)
			var bad ErrorBody
			decode(t, string(call("POST", ratings, tmpl, "jiangsu", `{"ratings": [{"department": "health", "level": "great"}, {"department": "tobacco", "level": "satisfied", "comment": "`+strings.Repeat("好", 501)+`"}]}`, 422)), &bad)
			var got []string
			for _, p := range bad.Error.Problems {
				got = append(got, p.Path+":"+p.Rule)
				if p.MessageZH == "" {
					t.Errorf("problem %+v has no Chinese message", p)
				}
			}
			slices.Sort(got)
			if want := []string{"/ratings/0/department:department_not_in_case", "/ratings/0/level:enum", "/ratings/1/comment:max_length"}; !slices.Equal(got, want) {
				t.Errorf("problems %v; want %v", got, want)
			}

			var made struct{ Ratings []cases.RatingView }
			decode(t, string(call("POST", ratings, tmpl, "jiangsu", rate, 201)), &made)
			if len(made.Ratings) != 2 || made.Ratings[0].Rectification == nil || made.Ratings[1].Rectification != nil {
				t.Fatalf("ratings %+v", made.Ratings)
			}
			call("POST", ratings, tmpl, "jiangsu", `{"ratings": [{"department": "fire-rescue", "level": "satisfied"}]}`, 409)
			for _, who := range []string{"jiangsu", "ops"} {
				var list struct{ Ratings []cases.RatingView }
				decode(t, string(call("GET", ratings, tmpl, who, "", 200)), &list)
				if len(list.Ratings) != 2 {
					t.Errorf("%s reads %d ratings; want 2", who, len(list.Ratings))
				}
			}

			// The rated department sees the rectification, another does not and cannot answer it.
			count := func(client, query string) int {
				t.Helper()
				var list struct{ Ratings []cases.RatingView }
				decode(t, string(call("GET", "/api/v1/rectifications"+query, "/api/v1/rectifications", client, "", 200)), &list)
				return len(list.Ratings)
			}
			if n, m, o := count("tobacco-office", ""), count("fire-office", ""), count("ops", "?department=tobacco"); n != 1 || m != 0 || o != 1 {
				t.Errorf("open rectifications: tobacco sees %d, fire-rescue %d, operators of tobacco %d; want 1, 0, 1", n, m, o)
			}
			call("GET", "/api/v1/rectifications?department=tobacco", "/api/v1/rectifications", "fire-office", "", 403)
			call("GET", "/api/v1/rectifications?state=pending", "/api/v1/rectifications", "ops", "", 422)
			answer := "/api/v1/ratings/" + made.Ratings[0].ID + "/response"
			const answerTmpl = "/api/v1/ratings/{id}/response"
			call("POST", answer, answerTmpl, "fire-office", `{"response": "已整改"}`, 404)
			call("POST", answer, answerTmpl, "tobacco-office", `{"response": " "}`, 422)
			var closed cases.RatingView
			decode(t, string(call("POST", answer, answerTmpl, "tobacco-office", `{"response": "已电话回访，材料改为共享获取"}`, 200)), &closed)
			if closed.Rectification == nil || closed.Rectification.State != cases.RectificationClosed || closed.Rectification.RespondedBy != "tobacco-office" {
				t.Errorf("the answered rating: %+v", closed)
			}
			call("POST", answer, answerTmpl, "tobacco-office", `{"response": "再答一次"}`, 409)
			call("POST", "/api/v1/ratings/"+made.Ratings[1].ID+"/response", answerTmpl, "fire-office", `{"response": "谢谢"}`, 409)
			if n, m := count("tobacco-office", ""), count("tobacco-office", "?state=closed"); n != 0 || m != 1 {
				t.Errorf("after the answer tobacco sees %d open and %d closed; want 0 and 1", n, m)
			}

			var rep cases.RatingReport
			decode(t, string(call("GET", "/api/v1/reports/ratings", "/api/v1/reports/ratings", "ops", "", 200)), &rep)
			byDept := map[string]cases.DepartmentRatings{}
			for _, d := range rep.Departments {
				byDept[d.Department.Code] = d
			}
			tob, fire := byDept["tobacco"], byDept["fire-rescue"]
			if len(rep.Departments) != 2 || tob.Levels[cases.LevelDissatisfied] != 1 || tob.Bad != 1 || *tob.SatisfactionRate != 0 ||
				fire.Levels[cases.LevelVerySatisfied] != 1 || *fire.SatisfactionRate != 1 || rep.Total.Ratings != 2 || rep.Total.OpenRectifications != 0 {
				t.Errorf("the report: %+v", rep)
			}
			call("GET", "/api/v1/reports/ratings?from=&department=nowhere", "/api/v1/reports/ratings", "ops", "", 422)

			// Audited without the comment.
			var audited struct {
				Entries []struct {
					Detail json.RawMessage `json:"detail"`
				} `json:"entries"`
			}
			decode(t, string(call("GET", "/api/v1/audit?kind=rating", "/api/v1/audit", "ops", "", 200)), &audited)
			if len(audited.Entries) != 2 {
				t.Errorf("%d ratings audited; want 2", len(audited.Entries))
			}
			for _, e := range audited.Entries {
				if strings.Contains(string(e.Detail), "经营场所") {
					t.Errorf("the audit row holds the comment: %s", e.Detail)
				}
			}
		})
	}
}

// A case's agent is shown in full to the platform that submitted it and to operators granted
// personal data (who are audited), masked for other operators; a proxy without an
// authorisation is refused naming each missing part.
func TestACasesAgentIsPersonalData(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys, _ := authServices(t, open)
			agent := map[string]any{"kind": "proxy", "name": "王帮办", "id_type": "resident_id", "id_number": "11010519491231002X",
				"phone": "13800138000", "organisation": "区政务服务中心帮办服务队",
				"authorisation": map[string]any{"scope": "代为办理开饮品店一件事", "valid_until": "2099-12-31",
					"material": map[string]any{"filename": "authorisation.pdf", "sha256": strings.Repeat("cd", 32), "size": 1024,
						"uri": "https://files.example.org/authorisation.pdf"}}}
			app := exampleApp(t, "open-drink-shop-enterprise")
			app["agent"] = agent
			resp, b := exchange(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], []byte(mustJSON(t, app)), nil)
			if resp.StatusCode != 201 {
				t.Fatalf("submit with a proxy: %d %s", resp.StatusCode, b)
			}
			conforms(t, doc, "POST", "/api/v1/cases", resp, b)
			var v cases.CaseView
			decode(t, string(b), &v)
			read := func(client string) *cases.AgentView {
				t.Helper()
				resp, b := exchange(t, srv, "GET", "/api/v1/cases/"+v.ID, keys[client], nil, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("GET as %s: %d %s", client, resp.StatusCode, b)
				}
				conforms(t, doc, "GET", "/api/v1/cases/{id}", resp, b)
				var got cases.CaseView
				decode(t, string(b), &got)
				if got.Agent == nil {
					t.Fatalf("%s is not shown the agent", client)
				}
				return got.Agent
			}
			for _, client := range []string{"jiangsu", "ops-pd"} {
				if a := read(client); a.Name != agent["name"] || a.IDNumber != agent["id_number"] || a.Phone != agent["phone"] || a.KindLabel != "代办" {
					t.Errorf("%s reads the agent %+v; want it whole", client, a)
				}
			}
			masked := read("ops")
			if masked.Name != "王**" || masked.IDNumber != "110*************2X" || masked.Phone != "138****8000" || masked.Organisation != agent["organisation"] {
				t.Errorf("an operator without the grant reads %+v; want the personal data masked", masked)
			}
			if code, _ := send(t, srv, "GET", "/api/v1/cases/"+v.ID, keys["lianyungang"], ""); code != 404 {
				t.Errorf("another platform reads the case: %d; want 404", code)
			}

			delete(agent, "authorisation")
			resp, b = exchange(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], []byte(mustJSON(t, app)), nil)
			if resp.StatusCode != 422 {
				t.Fatalf("a proxy without an authorisation: %d %s; want 422", resp.StatusCode, b)
			}
			conforms(t, doc, "POST", "/api/v1/cases", resp, b)
			var refused ErrorBody
			decode(t, string(b), &refused)
			var paths []string
			for _, p := range refused.Error.Problems {
				paths = append(paths, p.Path)
				if strings.Contains(p.Message, "13800138000") || strings.Contains(p.MessageZH, "王") {
					t.Errorf("problem %+v repeats the agent's data", p)
				}
			}
			slices.Sort(paths)
			if want := []string{"/agent/authorisation/material", "/agent/authorisation/scope", "/agent/authorisation/valid_until"}; !slices.Equal(paths, want) {
				t.Errorf("problems at %v; want %v", paths, want)
			}

			resp, b = exchange(t, srv, "GET", "/api/v1/reports/agents", keys["ops"], nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("the agent report: %d %s", resp.StatusCode, b)
			}
			conforms(t, doc, "GET", "/api/v1/reports/agents", resp, b)
			var rep cases.AgentReport
			decode(t, string(b), &rep)
			if rep.Total != (cases.AgentCounts{Cases: 1, Proxy: 1}) || len(rep.Months) != 1 {
				t.Errorf("the agent report: %+v", rep)
			}
			resp, b = exchange(t, srv, "GET", "/api/v1/reports/agents?from=2026-12-31&to=2026-12-01", keys["ops"], nil, nil)
			if resp.StatusCode != 422 {
				t.Errorf("a period ending before it starts: %d %s", resp.StatusCode, b)
			}
			conforms(t, doc, "GET", "/api/v1/reports/agents", resp, b)
		})
	}
}
