package api

import (
	"context"
	"strings"
	"testing"

	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/store/storetest"
)

// The journey's routes over HTTP: each platform reaches only its own cases — another's is the
// 404 of one that does not exist — and is shown the applicant's steps only.
func TestAPlatformFollowsSupplementsAndWithdrawsOnlyItsOwnCases(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys, hs := authServices(t, open)
			app := exampleApp(t, "open-bar-enterprise")
			app["external_ref"] = "JS-2026-000777"
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], mustJSON(t, app))
			if code != 201 {
				t.Fatalf("submit: %d %s", code, resp)
			}
			var view cases.CaseView
			decode(t, resp, &view)

			// Found by the platform's own number, by that platform and the operators only.
			for client, want := range map[string]int{"jiangsu": 1, "lianyungang": 0, "ops": 1} {
				code, resp := send(t, srv, "GET", "/api/v1/cases?external_ref=JS-2026-000777", keys[client], "")
				var list cases.CaseList
				decode(t, resp, &list)
				if code != 200 || len(list.Items) != want || (want == 1 && list.Items[0].ID != view.ID) {
					t.Errorf("%s looking up the number: %d %s; want %d case(s)", client, code, resp, want)
				}
			}
			if code, _ := send(t, srv, "GET", "/api/v1/cases", keys["tobacco-office"], ""); code != 403 {
				t.Errorf("a department listing cases: %d", code)
			}
			if code, resp := send(t, srv, "GET", "/api/v1/cases?limit=0&state=x", keys["jiangsu"], ""); code != 422 || !strings.Contains(resp, "message_zh") {
				t.Errorf("a bad list query: %d %s", code, resp)
			}
			if code, resp := send(t, srv, "GET", "/api/v1/cases?to=&bundle=nope&department=police", keys["ops"], ""); code != 422 ||
				!strings.Contains(resp, `"path":"to"`) || !strings.Contains(resp, `"path":"bundle"`) || !strings.Contains(resp, `"path":"department"`) {
				t.Errorf("a list query with an empty date and an unknown bundle and department: %d %s; want each named", code, resp)
			}

			// The feed: jiangsu's steps; lianyungang sees none of them.
			for client, want := range map[string]bool{"jiangsu": true, "lianyungang": false} {
				code, resp := send(t, srv, "GET", "/api/v1/events?wait=0", keys[client], "")
				if code != 200 || strings.Contains(resp, view.ID) != want {
					t.Errorf("%s reading the feed: %d %s; want jiangsu's case %v", client, code, resp, want)
				}
			}

			for _, q := range []string{"wait=61", "wait=-1", "wait=5s", "after=x", "limit=0", "limit=1001"} {
				if code, resp := send(t, srv, "GET", "/api/v1/events?"+q, keys["jiangsu"], ""); code != 422 {
					t.Errorf("the feed with %s: %d %s; want 422", q, code, resp)
				}
			}

			// The department asks for a supplement; the platform answers it.
			food := ""
			for _, sc := range view.Subcases {
				if sc.MatterCode == "food-business-licence" {
					food = sc.ID
				}
			}
			ctx := context.Background()
			if _, _, err := hs.Cases.ApplyEvent(ctx, food, event.DepartmentEvent{EventID: "r1", Type: event.Received}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := hs.Cases.ApplyEvent(ctx, food, event.DepartmentEvent{EventID: "s1", Type: event.SupplementRequested,
				Missing: []event.Missing{{Material: "food-safety-rules", Note: "未盖章"}}}); err != nil {
				t.Fatal(err)
			}
			sup := `{"materials": [{"type": "food-safety-rules", "filename": "rules-v2.pdf", "size": 10,
				"sha256": "2222222222222222222222222222222222222222222222222222222222222222", "uri": "https://files.example.org/rules-v2.pdf"}]}`
			_, unknown := send(t, srv, "POST", "/api/v1/cases/cs_unknown/supplements", keys["lianyungang"], sup)
			for _, c := range []struct {
				client string
				status int
			}{{"lianyungang", 404}, {"ops", 403}, {"tobacco-office", 403}, {"jiangsu", 200}} {
				code, resp := send(t, srv, "POST", "/api/v1/cases/"+view.ID+"/supplements", keys[c.client], sup)
				if code != c.status {
					t.Errorf("%s supplementing jiangsu's case: %d %s; want %d", c.client, code, resp, c.status)
				}
				if c.status == 404 && resp != strings.Replace(unknown, "cs_unknown", view.ID, 1) {
					t.Errorf("%s: %s; want the answer for a case that does not exist: %s", c.client, resp, unknown)
				}
				if c.status == 200 && (!strings.Contains(resp, `"state":"resubmitted"`) || strings.Contains(resp, `"detail"`)) {
					t.Errorf("the supplemented case as the platform sees it: %s", resp)
				}
			}
			if code, resp := send(t, srv, "POST", "/api/v1/cases/"+view.ID+"/supplements", keys["jiangsu"], `{"materials": [], "x": 1}`); code != 422 {
				t.Errorf("a supplement with an unknown key: %d %s", code, resp)
			}

			// A platform reads its case without the operators' detail; an operator with it.
			_, mine := send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys["jiangsu"], "")
			_, ops := send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys["ops"], "")
			if strings.Contains(mine, `"detail"`) || !strings.Contains(mine, `"text"`) || !strings.Contains(ops, `"detail"`) {
				t.Errorf("the timeline: the platform's has detail %v, the operator's %v", strings.Contains(mine, `"detail"`), strings.Contains(ops, `"detail"`))
			}
			if !strings.Contains(mine, "+08:00") {
				t.Errorf("times are not in China time: %.300s", mine)
			}

			// Withdrawal: the optional matter, by its platform only.
			w := `{"reason": "不再设置户外广告", "matters": ["outdoor-advertising-approval"]}`
			if code, _ := send(t, srv, "POST", "/api/v1/cases/"+view.ID+"/withdrawal", keys["lianyungang"], w); code != 404 {
				t.Errorf("lianyungang withdrawing jiangsu's case: %d", code)
			}
			code, resp = send(t, srv, "POST", "/api/v1/cases/"+view.ID+"/withdrawal", keys["jiangsu"], w)
			if code != 200 || !strings.Contains(resp, `"state":"withdrawn"`) {
				t.Errorf("jiangsu withdrawing its optional matter: %d %s", code, resp)
			}
			if code, resp := send(t, srv, "POST", "/api/v1/cases/"+view.ID+"/withdrawal", keys["jiangsu"], `{"reason": ""}`); code != 422 || !strings.Contains(resp, "message_zh") {
				t.Errorf("a withdrawal without a reason: %d %s", code, resp)
			}
		})
	}
}
