package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/catalogue"
	"yjshub/hub"
	"yjshub/hub/cases"
	"yjshub/hub/store/storetest"
	"yjshub/seeds"
)

func newCaseServer(t *testing.T) *httptest.Server {
	t.Helper()
	cat, err := catalogue.Load(seeds.FS, "seeds")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := hub.New(hub.Config{Catalogue: cat, Store: storetest.Migrated(storetest.OpenSQLite)(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(t, servicesConfig(hs)))
	t.Cleanup(srv.Close)
	return srv
}

func TestTheOneFormOfABundle(t *testing.T) {
	srv := newCaseServer(t)
	var all, chosen struct {
		Schema struct {
			Properties map[string]struct {
				Title    string   `json:"title"`
				Type     string   `json:"type"`
				Format   string   `json:"format"`
				Examples []any    `json:"examples"`
				Matters  []string `json:"x-matters"`
			} `json:"properties"`
		} `json:"schema"`
		Materials []struct {
			Code    string   `json:"code"`
			Matters []string `json:"matters"`
		} `json:"materials"`
		Reuse struct {
			FieldsAsked     int `json:"fields_asked"`
			FieldsSummed    int `json:"fields_summed"`
			MaterialsAsked  int `json:"materials_asked"`
			MaterialsSummed int `json:"materials_summed"`
		} `json:"reuse"`
	}
	if resp := get(t, srv, "GET", "/api/v1/bundles/34/form?applicant_type=enterprise", &all); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	uscc := all.Schema.Properties["enterprise.uscc"]
	if uscc.Format != "gb32100" || uscc.Title == "" || len(uscc.Examples) == 0 || len(uscc.Matters) < 2 {
		t.Fatalf("enterprise.uscc property: %+v", uscc)
	}
	if all.Reuse.FieldsAsked >= all.Reuse.FieldsSummed || all.Reuse.MaterialsAsked >= all.Reuse.MaterialsSummed {
		t.Fatalf("reuse figures show no reuse: %+v", all.Reuse)
	}
	if resp := get(t, srv, "GET", "/api/v1/bundles/open-bar/form?applicant_type=enterprise&matters=food-business-licence,tobacco-retail-licence,public-venue-fire-safety-inspection", &chosen); resp.StatusCode != 200 {
		t.Fatalf("the form of a choice: %d", resp.StatusCode)
	}
	var both ErrorBody
	if resp := get(t, srv, "GET", "/api/v1/bundles/open-bar/form?applicant_type=enterprise&matters=food-business-licence,prepackaged-food-sales-filing,tobacco-retail-licence,public-venue-fire-safety-inspection", &both); resp.StatusCode != 422 ||
		len(both.Error.Problems) != 1 || both.Error.Problems[0].Rule != "either_or" {
		t.Fatalf("the form of both either-or matters: %d %+v", resp.StatusCode, both)
	}
	for code, p := range chosen.Schema.Properties {
		for _, m := range p.Matters {
			if m == "outdoor-advertising-approval" {
				t.Errorf("%s is tagged with the unchosen optional matter", code)
			}
		}
	}
	if len(chosen.Schema.Properties) >= len(all.Schema.Properties) {
		t.Errorf("dropping a matter did not shrink the form: %d vs %d", len(chosen.Schema.Properties), len(all.Schema.Properties))
	}
	var e ErrorBody
	if resp := get(t, srv, "GET", "/api/v1/bundles/34/form?applicant_type=robot", &e); resp.StatusCode != 422 || len(e.Error.Problems) == 0 {
		t.Fatalf("bad applicant type: %d %+v", resp.StatusCode, e)
	}
}

func post(t *testing.T, srv *httptest.Server, path string, body []byte, headers map[string]string, out any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp
}

func TestIntakeOverHTTP(t *testing.T) {
	srv := newCaseServer(t)
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-bar-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var chosen struct{ Matters []string }
	if err := json.Unmarshal(body, &chosen); err != nil || len(chosen.Matters) < 2 {
		t.Fatalf("the example chooses %v (%v)", chosen.Matters, err)
	}
	var first cases.CaseView
	resp := post(t, srv, "/api/v1/cases", body, map[string]string{"Idempotency-Key": "k1"}, &first)
	if resp.StatusCode != 201 || first.ID == "" || len(first.Subcases) != len(chosen.Matters) || first.Deadline.Promised == "" {
		t.Fatalf("201 expected: %d %+v", resp.StatusCode, first)
	}
	if resp.Header.Get("Location") != "/api/v1/cases/"+first.ID {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	var again cases.CaseView
	resp = post(t, srv, "/api/v1/cases", body, map[string]string{"Idempotency-Key": "k1"}, &again)
	if resp.StatusCode != 201 || again.ID != first.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", resp.StatusCode, again.ID)
	}
	var conflict ErrorBody
	changed := bytes.Replace(body, []byte(`"applicant_type": "individual"`), []byte(`"applicant_type": "enterprise"`), 1)
	if resp := post(t, srv, "/api/v1/cases", changed, map[string]string{"Idempotency-Key": "k1"}, &conflict); resp.StatusCode != 409 || conflict.Error.Code != CodeConflict {
		t.Fatalf("same key, other body: %d %+v", resp.StatusCode, conflict)
	}
	var bad ErrorBody
	if resp := post(t, srv, "/api/v1/cases", []byte(`{"bundle": 34, "applicant_type": "individual", "colour": "red"}`), nil, &bad); resp.StatusCode != 422 {
		t.Fatalf("unknown key: %d", resp.StatusCode)
	}
	if bad.Error.Problems[0].Path != "/colour" || bad.Error.Problems[0].Rule != "unknown_field" {
		t.Fatalf("problems %+v", bad.Error.Problems)
	}
	if resp := post(t, srv, "/api/v1/cases", []byte(`{not json`), nil, &bad); resp.StatusCode != 422 || bad.Error.Problems[0].Rule != "json" {
		t.Fatalf("malformed JSON: %d %+v", resp.StatusCode, bad)
	}

	// Department events over HTTP: a legal one, an illegal one (409), a repeat.
	sc := first.Subcases[0]
	var res cases.EventResult
	ev := []byte(`{"event_id": "d1", "type": "accepted"}`)
	if resp := post(t, srv, "/api/v1/subcases/"+sc.ID+"/events", ev, nil, &res); resp.StatusCode != 200 || res.Subcase.State != "accepted" {
		t.Fatalf("accepted: %d %+v", resp.StatusCode, res)
	}
	if resp := post(t, srv, "/api/v1/subcases/"+sc.ID+"/events", ev, nil, &res); resp.StatusCode != 200 || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat: %d", resp.StatusCode)
	}
	var ill ErrorBody
	if resp := post(t, srv, "/api/v1/subcases/"+sc.ID+"/events", []byte(`{"event_id": "d2", "type": "resumed"}`), nil, &ill); resp.StatusCode != 409 || !strings.Contains(ill.Error.Message, "cannot follow") {
		t.Fatalf("illegal: %d %+v", resp.StatusCode, ill)
	}
	if resp := post(t, srv, "/api/v1/subcases/nope/events", []byte(`{"event_id": "d3", "type": "received"}`), nil, &ill); resp.StatusCode != 404 {
		t.Fatalf("unknown sub-case: %d", resp.StatusCode)
	}
	var got cases.CaseView
	if resp := get(t, srv, "GET", "/api/v1/cases/"+first.ID, &got); resp.StatusCode != 200 || got.Subcases[0].State != "accepted" || len(got.Timeline) < 5 {
		t.Fatalf("GET case: %d %+v", resp.StatusCode, got.Subcases[0])
	}
	if resp := get(t, srv, "GET", "/api/v1/cases/cs_nope", &ill); resp.StatusCode != 404 {
		t.Fatalf("unknown case: %d", resp.StatusCode)
	}
}
