package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"yjshub/format"
	"yjshub/hub/audit"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/deadletter"
	"yjshub/hub/event"
	"yjshub/hub/inbox"
	"yjshub/hub/licences"
	"yjshub/hub/sharing"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
	"yjshub/schemas"
)

// apiDoc loads and validates the OpenAPI document of the API.
func apiDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(schemas.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc
}

// exchange sends a request with a bearer key (none when empty) and headers, and returns the
// response, its headers included, and its body.
func exchange(t *testing.T, srv *httptest.Server, method, path, key string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// conforms reports an answer that the document does not describe for the operation at
// template: an undocumented status, a missing required header, a body off its schema.
func conforms(t *testing.T, doc *openapi3.T, method, template string, resp *http.Response, body []byte) {
	t.Helper()
	item := doc.Paths.Value(template)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not an operation of the document", method, template)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: resp.Request,
			Route: &routers.Route{Spec: doc, Path: template, PathItem: item, Method: method, Operation: item.GetOperation(method)}},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, not as documented: %v\nbody: %.600s", method, template, resp.StatusCode, err, body)
	}
}

// operations lists the document's operations as "METHOD path", sorted.
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// Every method and path the router serves, with every optional part configured, is an
// operation of the document, and every operation of the document is served.
func TestTheDocumentDescribesExactlyTheRoutesServed(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, _ := authServer(t, storetest.OpenSQLite)
	var served []string
	err := chi.Walk(srv.Config.Handler.(*Server).router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	documented := operations(doc)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not documented in schemas/openapi.yaml", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s is documented but not served", op)
		}
	}
	if len(served) < 30 || len(served) != len(documented) {
		t.Errorf("%d routes served, %d operations documented", len(served), len(documented))
	}
}

// examplePath fills an operation's path parameters and required query parameters with the
// examples the document gives them.
func examplePath(t *testing.T, doc *openapi3.T, method, template string) string {
	t.Helper()
	item := doc.Paths.Value(template)
	path, q := template, url.Values{}
	for _, p := range append(slices.Clone(item.Parameters), item.GetOperation(method).Parameters...) {
		if p.Value.Example == nil {
			if p.Value.In == "path" || p.Value.Required {
				t.Fatalf("%s %s: parameter %s has no example", method, template, p.Value.Name)
			}
			continue
		}
		v := fmt.Sprint(p.Value.Example)
		switch {
		case p.Value.In == "path":
			path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", url.PathEscape(v))
		case p.Value.In == "query" && p.Value.Required:
			q.Set(p.Value.Name, v)
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}

// xRoles returns an operation's x-roles.
func xRoles(t *testing.T, op *openapi3.Operation) []string {
	t.Helper()
	raw, _ := op.Extensions["x-roles"].([]any)
	var out []string
	for _, r := range raw {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 || len(out) != len(raw) {
		t.Fatalf("%s: x-roles %v", op.OperationID, op.Extensions["x-roles"])
	}
	return out
}

// The x-roles of every operation are what the router enforces: each operation, called
// without a key and with a key of each role (the department's for its own department, the one
// the document's examples name), lets exactly its roles through (public: everyone) and
// refuses the others, 401 without a key and 403 to another role (a route a link authorises lets
// every caller through to its link's check). Every answer, whatever its
// status, is one the document describes.
func TestEveryOperationLetsThroughExactlyItsXRoles(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, keys := authServer(t, storetest.OpenSQLite)
	callers := []struct{ role, client string }{
		{"", ""}, {"platform", "jiangsu"}, {"operator", "ops"}, {"department", "tobacco-office"},
	}
	for _, o := range operations(doc) {
		method, template, _ := strings.Cut(o, " ")
		op := doc.Paths.Value(template).GetOperation(method)
		roles := xRoles(t, op)
		path := examplePath(t, doc, method, template)
		for _, c := range callers {
			var body []byte
			if method == http.MethodPost {
				body = []byte("{}")
			}
			resp, b := exchange(t, srv, method, path, keys[c.client], body, nil)
			conforms(t, doc, method, template, resp, b)
			// A route a link authorises (x-roles link) has no guard of roles: whoever holds the
			// link may use it, and the example's link, signed by no key, is refused (403) to all.
			open := slices.Contains(roles, "public") || slices.Contains(roles, "link")
			// A HEAD answer has no body to say why it was refused: a 403 to one of an operation
			// that is not open is taken as the role's refusal.
			head := method == http.MethodHead && !open
			refusedForRole := resp.StatusCode == 401 || (resp.StatusCode == 403 && (head || strings.Contains(string(b), "this route is for")))
			allowed := open || slices.Contains(roles, c.role)
			switch {
			case allowed && refusedForRole:
				t.Errorf("%s as %q (x-roles %v): %d %s; want it let through", o, c.role, roles, resp.StatusCode, b)
			case !allowed && c.role == "" && (resp.StatusCode != 401 || (!head && !strings.Contains(string(b), `"unauthenticated"`))):
				t.Errorf("%s without a key (x-roles %v): %d %s; want 401", o, roles, resp.StatusCode, b)
			case !allowed && c.role != "" && !refusedForRole:
				t.Errorf("%s as %q (x-roles %v): %d %s; want 403", o, c.role, roles, resp.StatusCode, b)
			}
		}
	}
}

// The main answers of a whole story match the document: health and readiness, the catalogue,
// one forms, examples/open-bar-enterprise.json submitted, replayed, refused with 422 when
// spoiled, and followed; a drink shop's sub-cases reported on to approval with an e-licence,
// the licence verified and listed, a consent and a prefill, a bar giving the licence as a
// material and the inbox items of its sub-cases, the revocation, the report and the audit log.
func TestTheMainAnswersMatchTheDocument(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, st := sharingServer(t, storetest.OpenSQLite)
	answer := func(method, template, path string, body []byte, headers map[string]string, want int) []byte {
		t.Helper()
		resp, b := exchange(t, srv, method, path, "", body, headers)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s; want %d", method, path, resp.StatusCode, b, want)
		}
		conforms(t, doc, method, template, resp, b)
		return b
	}
	for _, r := range [][2]string{
		{"/healthz", "/healthz"}, {"/readyz", "/readyz"}, {"/api/v1/openapi.json", "/api/v1/openapi.json"},
		{"/api/v1/bundles", "/api/v1/bundles"}, {"/api/v1/bundles/{code}", "/api/v1/bundles/34"},
		{"/api/v1/bundles/{code}/form", "/api/v1/bundles/open-bar/form?applicant_type=enterprise"},
		{"/api/v1/bundles/{code}/form", "/api/v1/bundles/open-barbershop/form?applicant_type=individual"},
		{"/api/v1/matters", "/api/v1/matters"}, {"/api/v1/matters/{code}", "/api/v1/matters/food-business-licence"},
		{"/api/v1/departments", "/api/v1/departments"}, {"/api/v1/catalogue", "/api/v1/catalogue"},
	} {
		answer("GET", r[0], r[1], nil, nil, 200)
	}
	down := newTestServer(t, Check{Name: "store", Ping: func(context.Context) error { return errors.New("connection refused") }})
	if resp, b := exchange(t, down, "GET", "/readyz", "", nil, nil); resp.StatusCode != 503 {
		t.Fatalf("readiness with the store down: %d %s", resp.StatusCode, b)
	} else {
		conforms(t, doc, "GET", "/readyz", resp, b)
	}
	answer("GET", "/api/v1/bundles/{code}/form", "/api/v1/bundles/34/form?applicant_type=robot", nil, nil, 422)
	answer("GET", "/api/v1/bundles/{code}", "/api/v1/bundles/open-pub", nil, nil, 404)

	// examples/open-bar-enterprise.json as it is: created, replayed, refused when spoiled, followed.
	example := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	app := example("open-bar-enterprise")
	var first cases.CaseView
	decode(t, string(answer("POST", "/api/v1/cases", "/api/v1/cases", app, map[string]string{"Idempotency-Key": "bar-1"}, 201)), &first)
	answer("POST", "/api/v1/cases", "/api/v1/cases", app, map[string]string{"Idempotency-Key": "bar-1"}, 201)
	answer("POST", "/api/v1/cases", "/api/v1/cases", bytes.Replace(app, []byte("海韵小酒馆"), []byte("海韵酒馆"), 1), map[string]string{"Idempotency-Key": "bar-1"}, 409)
	answer("POST", "/api/v1/cases", "/api/v1/cases", app, map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}, 400)
	for _, bad := range [][]byte{
		bytes.Replace(app, []byte(testUSCC), []byte("91350100M000100Y44"), 1),
		bytes.Replace(app, []byte(`"bundle"`), []byte(`"colour": "red", "bundle"`), 1),
		[]byte(`{not json`),
	} {
		var refused ErrorBody
		decode(t, string(answer("POST", "/api/v1/cases", "/api/v1/cases", bad, nil, 422)), &refused)
		if len(refused.Error.Problems) == 0 {
			t.Fatalf("a 422 without problems: %+v", refused)
		}
	}
	answer("GET", "/api/v1/cases/{id}", "/api/v1/cases/"+first.ID, nil, nil, 200)

	// 开饮品店, every matter approved, the food licence issued.
	var drink cases.CaseView
	decode(t, string(answer("POST", "/api/v1/cases", "/api/v1/cases", example("open-drink-shop-enterprise"), nil, 201)), &drink)
	number := "JY13207070054321"
	for _, sc := range drink.Subcases {
		path := "/api/v1/subcases/" + sc.ID + "/events"
		for _, typ := range []string{"received", "accepted"} {
			answer("POST", "/api/v1/subcases/{id}/events", path, []byte(`{"event_id":"`+typ+`","type":"`+typ+`","department_ref":"赣审受字第0042号"}`), nil, 200)
		}
		ev := event.DepartmentEvent{EventID: "ok", Type: "approved", DecisionNumber: "赣审〔2026〕1号"}
		if sc.MatterCode == "food-business-licence" {
			issuer, err := format.CompleteUSCC("11320707MB1234567")
			if err != nil {
				t.Fatal(err)
			}
			ev.Licences = []event.Licence{{Type: foodLicence, Number: number, Holder: "连云港海韵餐饮管理有限公司",
				HolderID: testUSCC, HolderIDType: "uscc", Issuer: "连云港市赣榆区行政审批局", IssuerCode: issuer,
				IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
				File:  event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://licences.example.org/jy.ofd", Format: "ofd", Size: 48213},
				Items: map[string]string{"经营场所": "连云港市赣榆区青口镇黄海路1号", "主体业态": "餐饮服务经营者"},
				Seal:  &event.Seal{Name: "连云港市赣榆区行政审批局行政审批专用章", Algorithm: "SM2", CertificateSerial: "4c2a0f"}}}
		}
		answer("POST", "/api/v1/subcases/{id}/events", path, []byte(mustJSON(t, ev)), nil, 200)
		answer("POST", "/api/v1/subcases/{id}/events", path, []byte(`{"event_id":"late","type":"received"}`), nil, 409)
	}
	answer("GET", "/api/v1/cases/{id}", "/api/v1/cases/"+drink.ID, nil, nil, 200)
	answer("GET", "/api/v1/cases/{id}", "/api/v1/cases/cs_unknown", nil, nil, 404)
	var listing sharing.Consent
	decode(t, string(answer("POST", "/api/v1/consents", "/api/v1/consents",
		[]byte(`{"holder": "`+testUSCC+`", "purpose": "licences", "bundle": "open-bar", "uses": 1}`), nil, 201)), &listing)
	answer("GET", "/api/v1/licences", "/api/v1/licences?holder="+testUSCC, nil, nil, 403)
	answer("GET", "/api/v1/licences", "/api/v1/licences?holder="+testUSCC, nil, map[string]string{"X-Consent-Token": listing.Token}, 200)
	answer("GET", "/api/v1/licences", "/api/v1/licences?holder="+testUSCC, nil, map[string]string{"X-Consent-Token": listing.Token}, 403)
	answer("GET", "/api/v1/licences", "/api/v1/licences?holder=91350100M000100Y44", nil, nil, 422)
	answer("GET", "/api/v1/licences/{type}/{number}", licencePath(number), nil, nil, 200)

	// Consent, prefill, and 开酒吧 (examples/open-bar-enterprise.json) with the licence as a material.
	var consent sharing.Consent
	decode(t, string(answer("POST", "/api/v1/consents", "/api/v1/consents",
		[]byte(`{"holder": "`+testUSCC+`", "purpose": "prefill", "bundle": "open-bar", "ttl": "15m"}`), nil, 201)), &consent)
	answer("DELETE", "/api/v1/consents/{id}", "/api/v1/consents/"+listing.ID, nil, nil, 204)
	answer("DELETE", "/api/v1/consents/{id}", "/api/v1/consents/0000000000000000", nil, nil, 404)
	answer("POST", "/api/v1/prefill", "/api/v1/prefill", []byte(`{"bundle": 34, "applicant_type": "enterprise", "holder": "`+testUSCC+`"}`), nil, 403)
	var pre sharing.Prefill
	decode(t, string(answer("POST", "/api/v1/prefill", "/api/v1/prefill", []byte(mustJSON(t, map[string]any{"bundle": 34,
		"applicant_type": "enterprise", "holder": testUSCC, "consent": map[string]string{"token": consent.Token, "purpose": "prefill"}})), nil, 200)), &pre)
	if len(pre.Materials) != 1 || len(pre.Licences) != 1 {
		t.Fatalf("the prefill satisfies %d materials from %d licences; want 1 and 1", len(pre.Materials), len(pre.Licences))
	}
	bar := exampleApp(t, "open-bar-enterprise")
	bar["materials"] = append(bar["materials"].([]any), pre.Materials[0].Supply)
	var barCase cases.CaseView
	decode(t, string(answer("POST", "/api/v1/cases", "/api/v1/cases", []byte(mustJSON(t, bar)), nil, 201)), &barCase)
	answer("GET", "/api/v1/cases/{id}", "/api/v1/cases/"+barCase.ID, nil, nil, 200)

	// The restpull inbox item that carries one of its sub-cases: the envelope exactly as queued.
	pending, err := st.PendingOutbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	items := 0
	for _, m := range pending {
		var env event.Envelope
		if json.Unmarshal(m.Payload, &env) != nil || env.Type != event.TypeSubcaseDispatched ||
			!slices.ContainsFunc(barCase.Subcases, func(sc cases.SubcaseView) bool { return sc.ID == env.Subject }) {
			continue
		}
		items++
		matchesSchema(t, doc, "InboxItem", inbox.Item{ID: env.ID, Lease: "ls_1", LeaseUntil: time.Now(), Attempts: 1, Message: m.Payload})
	}
	if items != len(barCase.Subcases) {
		t.Fatalf("%d dispatched envelopes of the case queued; want %d", items, len(barCase.Subcases))
	}

	// Revocation, the report, the audit log.
	revoke := []byte(`{"event_id": "rv-1", "type": "revoked", "reason": "经营场所已变更", "department": "admin-approval"}`)
	answer("POST", "/api/v1/licences/{type}/{number}/events", licencePath(number)+"/events", revoke, nil, 200)
	answer("POST", "/api/v1/licences/{type}/{number}/events", licencePath(number)+"/events", bytes.Replace(revoke, []byte("rv-1"), []byte("rv-2"), 1), nil, 409)
	answer("GET", "/api/v1/cases/{id}", "/api/v1/cases/"+drink.ID, nil, nil, 200)
	answer("GET", "/api/v1/reports/reuse", "/api/v1/reports/reuse", nil, nil, 200)
	answer("GET", "/api/v1/audit", "/api/v1/audit?kind=prefill", nil, nil, 200)
	answer("GET", "/api/v1/audit", "/api/v1/audit?outcome=maybe", nil, nil, 422)
	answer("GET", "/api/v1/audit/verify", "/api/v1/audit/verify", nil, nil, 200)
}

// matchesSchema checks a Go value, as JSON, against one of the document's component schemas.
func matchesSchema(t *testing.T, doc *openapi3.T, name string, v any) {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil {
		t.Fatalf("no schema %s", name)
	}
	var value any
	if err := json.Unmarshal([]byte(mustJSON(t, v)), &value); err != nil {
		t.Fatal(err)
	}
	if err := ref.Value.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		t.Errorf("%T does not match components/schemas/%s: %v", v, name, err)
	}
}

// The answers' Go types, with every field set (so that an omitempty field shows), match their
// schemas: a field added to one of them and not to the document fails here.
func TestEveryFieldOfTheAnswersIsDocumented(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	licence := event.Licence{Type: foodLicence, TypeCode: "11100000MB0143", Number: "JY13207070054321", Holder: "连云港海韵餐饮管理有限公司",
		HolderID: testUSCC, HolderIDType: "uscc", Issuer: "连云港市赣榆区行政审批局", IssuerCode: "11320707MB1234567X",
		IssuedAt: "2026-12-01", ValidFrom: "2026-12-01", ValidUntil: "2031-11-30",
		File: event.LicenceFile{SHA256: strings.Repeat("ab", 32), URI: "https://licences.example.org/jy.ofd", Format: "ofd", Size: 48213}}
	subcase := cases.SubcaseView{ID: "sc_1", MatterCode: "tobacco-retail-licence", MatterName: "烟草专卖零售许可证核发", Optional: true,
		Department: cases.DepartmentRef{Code: "tobacco", Name: "区烟草局"}, State: "supplement_requested", StateLabel: "待补正", SupplementDeadline: "2026-12-20", WaitingFor: []string{"food-business-licence"},
		Deadlines: event.Deadlines{Promised: "2026-12-11", Statutory: "2026-12-25"}, Limits: cases.Limits{Promised: cases.LimitView{Days: 10, Unit: "working", Label: "10个工作日"}, Statutory: cases.LimitView{Days: 20, Unit: "calendar", Label: "20日"}},
		Paused: true, DispatchedAt: &at, DeliveredAt: &at, DeliveryError: "503 from the back office", DecisionNumber: "赣烟许〔2026〕1号",
		Reason: "材料不全", Missing: []event.Missing{{Material: "premises-proof", Field: "business.address", Note: "请补正"}}, Materials: []string{"premises-proof"},
		Delivery: &cases.DeliveryView{State: cases.DeliveryFailed, StateLabel: "推送失败", Attempts: 3, Status: 400, NextAttemptAt: &at,
			LastError: "HTTP 400", DeadLetterID: "dl_1", At: &at}}
	caseView := cases.CaseView{ID: "cs_1", ExternalRef: "JS-2026-000123", State: "completed", StateLabel: "已办结", Outcome: "partially_approved", OutcomeLabel: "部分准予", Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"},
		ApplicantType: "enterprise", CatalogueVersion: strings.Repeat("0", 64), SubmittedAt: at, CompletedAt: &at,
		Deadline: event.Deadlines{Promised: "2026-12-11", Statutory: "2026-12-25"}, Subcases: []cases.SubcaseView{subcase},
		Materials: []cases.MaterialView{{ID: "mt_1", Type: "food-business-licence-copy", Name: "食品经营许可证", Filename: "jy.ofd", SHA256: strings.Repeat("ab", 32),
			Size: 48213, URI: "https://licences.example.org/jy.ofd", UsedBy: []string{"sc_1"},
			Licence: &cases.MaterialLicence{Type: foodLicence, Number: "JY13207070054321", VerifiedAt: at}}},
		Licences: []cases.LicenceView{{Licence: licence, SubcaseID: "sc_1", MatterCode: "food-business-licence", Status: "revoked"}},
		Timeline: []cases.TimelineEntry{{Seq: 1, At: at, SubcaseID: "sc_1", Type: "accepted", Label: "已受理", Text: "区烟草局「烟草专卖零售许可证核发」已受理",
			Detail: "x", Data: map[string]any{"accepted_at": "2026-12-01T09:30:00+08:00", "promised_date": "2026-12-11"}}},
		Supplements: []cases.SupplementView{{ID: "sp_1", ReceivedAt: at, Subcases: []string{"sc_1"}, Fields: []string{"business.address"}, Note: "已补正",
			Materials: []cases.MaterialView{{Type: "premises-proof", Name: "经营场所使用证明", Filename: "p.pdf", SHA256: strings.Repeat("ab", 32), Size: 1,
				URI: "https://files.example.org/p.pdf", UsedBy: []string{}}}}}}
	result := cases.EventResult{Subcase: subcase, TimeClamped: true}
	result.Case.ID, result.Case.State, result.Case.Outcome = "cs_1", "completed", "approved"
	library := licences.Licence{Licence: licence, ID: "lic_1", Status: "revoked", CheckedOn: "2026-12-02", Source: "import", Origin: "platform:jiangsu",
		Department: "admin-approval", CaseID: "cs_1", SubcaseID: "sc_1", MatterCode: "food-business-licence", RevokedAt: &at, RevokedReason: "x", RecordedAt: at}
	dispatched, err := event.New("ev_1", event.TypeSubcaseDispatched, "cs_1", at, event.SubcaseDispatched{CaseID: "cs_1", SubcaseID: "sc_1",
		Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"}, Department: "tobacco", ApplicantType: "enterprise",
		Matter:    event.MatterRef{Code: "tobacco-retail-licence", Name: "烟草专卖零售许可证核发", Result: event.ResultRef{Kind: "licence", Name: "烟草专卖零售许可证"}},
		Applicant: &event.ApplicantRef{Name: "连云港海韵餐饮管理有限公司", ID: testUSCC, IDType: "uscc"}, Form: map[string]any{"QYMC": "连云港海韵餐饮管理有限公司"},
		Materials: []event.MaterialRef{{Type: "food-business-licence-copy", Name: "食品经营许可证", Filename: "jy.ofd", SHA256: strings.Repeat("ab", 32),
			URI: "https://licences.example.org/jy.ofd", Licence: &event.LicenceMaterial{Type: foodLicence, Number: "JY1", Status: "valid", VerifiedAt: at}}},
		Deadlines: event.Deadlines{Promised: "2026-12-11", Statutory: "2026-12-25"}, SubmittedAt: at, Callback: "https://hub.example.org/api/v1/subcases/sc_1/events"})
	if err != nil {
		t.Fatal(err)
	}
	envelope := json.RawMessage(mustJSON(t, dispatched))
	matter := event.MatterRef{Code: "tobacco-retail-licence", Name: "烟草专卖零售许可证核发", Result: event.ResultRef{Kind: "licence", Name: "烟草专卖零售许可证"}}
	resubmitted, err := event.New("ev_2", event.TypeSubcaseResubmitted, "sc_1", at, event.SubcaseResubmitted{CaseID: "cs_1", SubcaseID: "sc_1", SupplementID: "sp_1",
		Matter: matter, Department: "tobacco", Asked: []event.Missing{{Material: "premises-proof", Note: "缺页"}},
		Materials: []event.MaterialRef{{Type: "premises-proof", Name: "经营场所使用证明", Filename: "p.pdf", SHA256: strings.Repeat("ab", 32), Size: 1, URI: "https://files.example.org/p.pdf"}},
		Fields:    map[string]any{}, Form: map[string]any{"QYMC": "x"}, Note: "已补正", Callback: "https://hub.example.org/api/v1/subcases/sc_1/events"})
	if err != nil {
		t.Fatal(err)
	}
	withdrawn, err := event.New("ev_3", event.TypeSubcaseWithdrawn, "sc_1", at, event.SubcaseWithdrawn{CaseID: "cs_1", SubcaseID: "sc_1", Matter: matter,
		Department: "tobacco", Reason: "暂不开业", WithdrawnAt: at})
	if err != nil {
		t.Fatal(err)
	}
	letter := deadletter.Letter{ID: "dl_1", Connector: "restpush:tobacco", Department: "tobacco", EventID: "ev_1", CaseID: "cs_1", SubcaseID: "sc_1",
		Topic: "yjs.subcase.tobacco", Partition: 1, Offset: 42, Key: "cs_1", Reason: "422 from the back office", Status: 422, Attempts: 3,
		State: deadletter.StateReplayed, CreatedAt: at, ReplayedAt: &at, ReplayCount: 1}
	figures := sharing.ReuseFigures{Cases: 2, CasesPrefilled: 1, FieldsAsked: 80, FieldsPrefilled: 20, MaterialsAsked: 30, MaterialsFromLicences: 1,
		PrefillsGranted: 1, PrefillsRefused: 2, FieldsPrefilledPercent: 25, MaterialsFromLicencesPercent: 3.3}
	for _, tc := range []struct {
		schema string
		value  any
	}{
		{"Case", caseView},
		{"CaseList", cases.CaseList{Items: []cases.CaseSummary{{ID: "cs_1", ExternalRef: "JS-1", State: "withdrawn", StateLabel: "已撤回", Outcome: "approved",
			OutcomeLabel: "全部准予", Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"}, Deadline: event.Deadlines{Promised: "2026-12-11"}, SubmittedAt: at,
			CompletedAt: &at, Departments: []string{"tobacco"}, Subcases: cases.SubcaseCounts{Total: 1, Decided: 1, DeliveryFailed: 1}}},
			Next: "cs_1"}},
		{"Feed", cases.Feed{Items: []cases.FeedEntry{{Cursor: "7", CaseID: "cs_1", ExternalRef: "JS-1", SubcaseID: "sc_1", Type: "supplement_requested",
			Label: "要求补正", Text: "区烟草局「烟草专卖零售许可证核发」要求补正：经营场所使用证明", At: at, Data: map[string]any{"deadline": "2026-12-20"}}}, Next: "7"}},
		{"Withdrawal", cases.Withdrawal{Reason: "暂不开业", Matters: []string{"outdoor-ad"}}},
		{"Supplement", cases.Supplement{Materials: []cases.MaterialInput{{Type: "premises-proof", Filename: "p.pdf", SHA256: strings.Repeat("ab", 32), Size: 1,
			URI: "https://files.example.org/p.pdf"}}, Form: map[string]any{"business.address": "x"}, Note: "n"}},
		{"EventResult", result},
		{"LibraryLicence", library},
		{"LibraryLicence", library.Masked()},
		{"InboxItem", inbox.Item{ID: "ev_1", Lease: "ls_1", LeaseUntil: at, Attempts: 2, Message: envelope}},
		{"InboxItem", inbox.Item{ID: "ev_2", Lease: "ls_2", LeaseUntil: at, Attempts: 1, Message: json.RawMessage(mustJSON(t, resubmitted))}},
		{"InboxItem", inbox.Item{ID: "ev_3", Lease: "ls_3", LeaseUntil: at, Attempts: 1, Message: json.RawMessage(mustJSON(t, withdrawn))}},
		{"DeadLetter", letter},
		{"DeadLetterWithPayload", DeadLetterView{Letter: letter, Payload: envelope}},
		{"ConnectorStatus", connector.Status{Name: "restpush:tobacco", Kind: "restpush", Department: "tobacco", State: connector.StatePaused,
			Breaker: "half-open", Topic: "yjs.subcase.tobacco", Group: "yjshub-restpush-tobacco", Lag: 3, Delivered: 10, Retries: 2, Failed: 1,
			DeadLetters: 1, InFlight: 1, LastSuccess: &at, LastError: &at, LastErrorMessage: "503", Detail: map[string]any{"inbox": 2},
			History: &connector.History{StepSeconds: 60, End: at.Truncate(time.Minute), Delivered: [connector.HistoryMinutes]int64{59: 3}}}},
		{"Consent", sharing.Consent{ID: "3f9a1c0e5b7d2468", Token: "yjc_x", ExpiresAt: at, Purpose: "prefill", Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"}, Uses: 2}},
		{"Prefill", sharing.Prefill{Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"}, ApplicantType: "enterprise",
			Fields: map[string]sharing.PrefilledField{"enterprise.name": {Title: "企业名称", Value: "连云港海韵餐饮管理有限公司",
				Source: sharing.Source{Kind: sharing.SourceLicence, ID: "lic_1", Date: "2026-12-01"}}},
			Materials: []sharing.SatisfiedMaterial{{Code: "food-business-licence-copy", Name: "食品经营许可证", Required: true, Matters: []string{"tobacco-retail-licence"},
				Licence: sharing.LicenceSummary{ID: "lic_1", Type: foodLicence, Number: "JY1", Issuer: "连云港市赣榆区行政审批局", ValidUntil: "2031-11-30"},
				Supply:  map[string]any{"type": "food-business-licence-copy"}}},
			Licences: []licences.Licence{library},
			AlreadyHeld: []sharing.HeldLicence{{Matter: "food-business-licence", MatterName: "食品经营许可", Status: licences.StatusValid,
				Licence: sharing.LicenceSummary{ID: "lic_1", Type: foodLicence, Number: "JY1", Issuer: "连云港市赣榆区行政审批局", ValidUntil: "2031-11-30"}}},
			Reuse:    sharing.PrefillReuse{FieldsAsked: 41, FieldsPrefilled: 8, MaterialsAsked: 15, MaterialsSatisfied: 1},
			AuditSeq: 7}},
		{"ReuseReport", sharing.ReuseReport{GeneratedAt: at, Overall: figures,
			Bundles: []sharing.BundleReuse{{Bundle: event.BundleRef{Seq: 34, Code: "open-bar", Name: "开酒吧"}, ReuseFigures: figures}}}},
		{"AuditRecord", audit.Record{Seq: 2, At: at, Kind: "prefill", Outcome: audit.Refused, Subject: "k1:" + strings.Repeat("c", 64),
			Detail: json.RawMessage(`{"reason":"consent_missing"}`), PrevHash: strings.Repeat("a", 64), Hash: strings.Repeat("b", 64)}},
		{"AuditVerification", AuditVerification{Intact: false, Rows: 3, BrokenAt: 4, Reason: "hash mismatch"}},
		{"ErrorBody", ErrorBody{Error: ErrorDetail{Status: 422, Code: CodeUnprocessable, Message: "x", Problems: []problem.Problem{{Path: "/a", Rule: problem.RuleRequired, Message: "y", MessageZH: "请填写该项"}}}}},
	} {
		matchesSchema(t, doc, tc.schema, tc.value)
	}
}

// GET /api/v1/openapi.json answers the document, as JSON, without a key.
func TestTheDocumentIsServed(t *testing.T) {
	t.Parallel()
	srv, _ := authServer(t, storetest.OpenSQLite)
	resp, body := exchange(t, srv, "GET", "/api/v1/openapi.json", "", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want, err := schemas.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Fatal("the served document is not schemas/openapi.yaml as JSON")
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil || doc.Paths.Value("/api/v1/openapi.json") == nil {
		t.Fatalf("the served document: %v", err)
	}
}

// Every operation but the two health probes (which skip the guard, so that a probe is never
// refused) documents the refusals the guard gives before routing, and they are true: with a
// clients file, a key the hub does not know is 401 on every operation, public ones included;
// a control character in the query is 422 on every operation, whatever parameters it takes.
// A generator reading the document therefore meets no status it was not told of.
func TestEveryOperationDocumentsTheGuardsRefusals(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, _ := authServer(t, storetest.OpenSQLite)
	probes := []string{"GET /healthz", "GET /readyz"}
	for _, o := range operations(doc) {
		method, template, _ := strings.Cut(o, " ")
		op := doc.Paths.Value(template).GetOperation(method)
		if slices.Contains(probes, o) {
			for code := range op.Responses.Map() {
				if code[0] == '4' {
					t.Errorf("%s documents %s, yet the probes skip the guard and refuse nothing", o, code)
				}
			}
			continue
		}
		path := examplePath(t, doc, method, template)
		var body []byte
		if method == http.MethodPost {
			body = []byte("{}")
		}
		resp, b := exchange(t, srv, method, path, "yjs_"+strings.Repeat("0", 40), body, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with an unknown key: %d %s; want 401", o, resp.StatusCode, b)
		}
		conforms(t, doc, method, template, resp, b)
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		resp, b = exchange(t, srv, method, path+sep+"note=%01", "", body, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s with a control character in the query: %d %s; want 422", o, resp.StatusCode, b)
		}
		conforms(t, doc, method, template, resp, b)
	}
}

// Client generators make one type per component and per operation's parameters, answers and
// body, and stop at the first clash (oapi-codegen: "duplicate typename"); they also cannot
// follow a $ref into the inside of another component. So every component name is used once
// across schemas, parameters, responses, headers and request bodies, none is a name a
// generator derives from an operationId, and every $ref names a whole component.
func TestTheDocumentsNamesAreOnesGeneratorsCanUse(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	c := doc.Components
	kinds := map[string][]string{}
	add := func(kind string, names []string) {
		for _, n := range names {
			kinds[strings.ToLower(n)] = append(kinds[strings.ToLower(n)], kind+" "+n)
		}
	}
	keys := func(m any) []string {
		var out []string
		b, _ := json.Marshal(m)
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(b, &raw)
		for k := range raw {
			out = append(out, k)
		}
		return out
	}
	add("schema", keys(c.Schemas))
	add("parameter", keys(c.Parameters))
	add("response", keys(c.Responses))
	add("header", keys(c.Headers))
	add("requestBody", keys(c.RequestBodies))
	for _, o := range operations(doc) {
		method, template, _ := strings.Cut(o, " ")
		id := doc.Paths.Value(template).GetOperation(method).OperationID
		if id == "" {
			t.Fatalf("%s has no operationId", o)
		}
		id = strings.ToUpper(id[:1]) + id[1:]
		add("operation "+o+" makes", []string{id + "Params", id + "Response", id + "JSONRequestBody", id + "JSONBody"})
	}
	if len(kinds) < 100 {
		t.Fatalf("%d names; the components did not load", len(kinds))
	}
	for _, all := range kinds {
		if len(all) > 1 {
			sort.Strings(all)
			t.Errorf("one name, %d uses: %s", len(all), strings.Join(all, "; "))
		}
	}
	ref := regexp.MustCompile(`"\$ref":"([^"]*)"`)
	b, err := schemas.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	whole := regexp.MustCompile(`^#/components/[A-Za-z]+/[A-Za-z0-9_.-]+$`)
	for _, m := range ref.FindAllSubmatch(b, -1) {
		if !whole.Match(m[1]) {
			t.Errorf("$ref %s points inside a component: generators take only whole ones", m[1])
		}
	}
}
