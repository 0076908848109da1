package api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/problem"
)

func TestEveryProblemOfAnAnswerCarriesItsChineseMessageNamedByTheCatalogue(t *testing.T) {
	srv := newCaseServer(t)
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-bar-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(body, &app); err != nil {
		t.Fatal(err)
	}
	form := app["form"].(map[string]any)
	const badID = "110105194912310021" // the check character of 11010519491231002X changed
	form["applicant.id_number"] = badID
	delete(form, "contact.mobile")
	body, _ = json.Marshal(app)

	var bad ErrorBody
	if resp := post(t, srv, "/api/v1/cases", body, nil, &bad); resp.StatusCode != 422 {
		t.Fatalf("status %d: %+v", resp.StatusCode, bad)
	}
	got := map[string]problem.Problem{}
	for _, p := range bad.Error.Problems {
		got[p.Path+" "+p.Rule] = p
		if p.MessageZH == "" || strings.Contains(p.MessageZH, badID) {
			t.Errorf("problem %+v: message_zh missing or holding the value", p)
		}
	}
	for key, want := range map[string]string{
		"/form/applicant.id_number gb11643": "申请人证件号码有误（位数、出生日期或校验位不正确），请核对",
		"/form/contact.mobile required":     "请填写联系人手机号码",
	} {
		if got[key].MessageZH != want {
			t.Errorf("%s: message_zh %q, want %q (problems %+v)", key, got[key].MessageZH, want, bad.Error.Problems)
		}
	}

	// Problems written before routing (the guard's query check) and refusals (403) carry it too.
	var q ErrorBody
	if resp := get(t, srv, "GET", "/api/v1/bundles?x=%01", &q); resp.StatusCode != 422 || len(q.Error.Problems) == 0 || q.Error.Problems[0].MessageZH == "" {
		t.Errorf("query with a control character: %d %+v", resp.StatusCode, q)
	}
	var refused ErrorBody
	prefill := []byte(`{"bundle": "open-bar", "applicant_type": "individual", "holder": "11010519491231002X", "consent": {"token": "yjc_nope", "purpose": "prefill"}}`)
	if resp := post(t, srv, "/api/v1/prefill", prefill, nil, &refused); resp.StatusCode != 403 || len(refused.Error.Problems) != 1 ||
		refused.Error.Problems[0].MessageZH != "授权凭证无效，请重新取得申请人授权" {
		t.Errorf("refused prefill: %d %+v", resp.StatusCode, refused)
	}
}

func TestWriteErrorWordsProblemsWithoutACatalogueAndKeepsWhatTheProducerSet(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, 422, CodeUnprocessable, "bad",
		problem.Problem{Path: "/form/applicant.id_number", Rule: problem.RuleRequired},
		problem.Problem{Path: "/materials", Rule: problem.RuleRequired, Material: "premises-proof", MessageZH: "请提交经营场所使用证明"})
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	ps := body.Error.Problems
	if len(ps) != 2 || ps[0].MessageZH != "请填写该填写项" || ps[1].MessageZH != "请提交经营场所使用证明" || ps[1].Material != "premises-proof" {
		t.Errorf("problems %+v", ps)
	}
}
