package api

import (
	"encoding/json"
	"strings"
	"testing"

	"yjshub/hub/cases"
	"yjshub/hub/store/storetest"
)

// The case number over HTTP: in the intake's answer, found by ?number=, refused when its check
// character is wrong; the notice says how it will read; a department's own number is kept and
// another one refused.
func TestACaseIsFoundByItsNumberAndKeepsTheDepartmentsOwn(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, keys, _ := authServices(t, open)
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], mustJSON(t, exampleApp(t, "open-bar-enterprise")))
			if code != 201 {
				t.Fatalf("submit: %d %s", code, resp)
			}
			var view cases.CaseView
			decode(t, resp, &view)
			if !cases.ValidCaseNumber(view.Number) || !strings.Contains(view.Number, "-34-") {
				t.Fatalf("the case's number %q: not a valid number of bundle 34", view.Number)
			}

			code, resp = send(t, srv, "GET", "/api/v1/cases?number="+strings.ToLower(view.Number), keys["jiangsu"], "")
			var list cases.CaseList
			decode(t, resp, &list)
			if code != 200 || len(list.Items) != 1 || list.Items[0].ID != view.ID || list.Items[0].Number != view.Number {
				t.Errorf("searching the number: %d %s", code, resp)
			}
			wrong := view.Number[:len(view.Number)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(view.Number, "0")]
			if code, resp := send(t, srv, "GET", "/api/v1/cases?number="+wrong, keys["jiangsu"], ""); code != 422 || !strings.Contains(resp, `"path":"number"`) {
				t.Errorf("a number whose check character is wrong: %d %s, want 422 at number", code, resp)
			}

			code, resp = send(t, srv, "GET", "/api/v1/bundles/open-bar/notice?applicant_type=enterprise", keys["jiangsu"], "")
			var notice Notice
			if err := json.Unmarshal([]byte(resp), &notice); err != nil || code != 200 || notice.CaseNumber.Pattern != "320707-YYYYMMDD-34-NNNNN-C" {
				t.Errorf("the notice's case number: %d %+v", code, notice.CaseNumber)
			}

			var tobacco string
			for _, sc := range view.Subcases {
				if sc.Department.Code == "tobacco" {
					tobacco = sc.ID
				}
			}
			path := "/api/v1/subcases/" + tobacco + "/events"
			if code, resp := send(t, srv, "POST", path, keys["tobacco-office"], `{"event_id":"r1","type":"received","department_ref":"赣烟受〔2026〕7号"}`); code != 200 {
				t.Fatalf("received with the department's number: %d %s", code, resp)
			}
			code, resp = send(t, srv, "POST", path, keys["tobacco-office"], `{"event_id":"a1","type":"accepted","department_ref":"另一个号"}`)
			if code != 409 || !strings.Contains(resp, "赣烟受〔2026〕7号") {
				t.Errorf("another number: %d %s, want 409 naming the kept one", code, resp)
			}
			if code, resp := send(t, srv, "POST", path, keys["tobacco-office"], `{"event_id":"a2","type":"accepted","department_ref":"a\u0007b"}`); code != 422 ||
				!strings.Contains(resp, `"path":"/department_ref"`) {
				t.Errorf("a control character: %d %s, want 422 at /department_ref", code, resp)
			}
			code, resp = send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys["jiangsu"], "")
			decode(t, resp, &view)
			for _, sc := range view.Subcases {
				if sc.ID == tobacco && (sc.DepartmentRef != "赣烟受〔2026〕7号" || sc.State != cases.StateReceived) {
					t.Errorf("the sub-case after the refused events: %s with %q (%d)", sc.State, sc.DepartmentRef, code)
				}
			}
		})
	}
}
