package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"yjshub/hub/cases"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/store/storetest"
)

// tobaccoLicence is the licence type tobacco issues for 烟草专卖零售许可证核发, a matter of 开酒吧.
const tobaccoLicence = "烟草专卖零售许可证"

// An e-licence's file comes back the way materials go: the department PUTs it before its
// approval, the approval names it by object_id and the hub fills in its hash, size and format;
// an approval naming another department's file, another holder's or an image is refused with
// every problem named and changes nothing; the library's answers carry a link signed for the
// caller, which serves the bytes with their ETag, is audited, and is refused to another party.
func TestALicenceFileIsUploadedNamedAndServedThroughTheLibrary(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := apiDoc(t)
			srv, keys, _ := authServices(t, open)
			app := exampleApp(t, "open-bar-enterprise")
			holder, _ := app["form"].(map[string]any)["enterprise.uscc"].(string)
			code, resp := send(t, srv, "POST", "/api/v1/cases", keys["jiangsu"], mustJSON(t, app))
			if code != 201 || holder == "" {
				t.Fatalf("submit as the platform: %d %s (holder %q)", code, resp, holder)
			}
			var view cases.CaseView
			decode(t, resp, &view)
			var tobacco string
			for _, sc := range view.Subcases {
				if sc.Department.Code == "tobacco" {
					tobacco = sc.ID
				}
			}
			if tobacco == "" {
				t.Fatalf("开酒吧 has no tobacco sub-case: %+v", view.Subcases)
			}
			events := "/api/v1/subcases/" + tobacco + "/events"
			for _, ev := range []string{`{"event_id":"r","type":"received"}`, `{"event_id":"a","type":"accepted"}`} {
				if code, resp := send(t, srv, "POST", events, keys["tobacco-office"], ev); code != 200 {
					t.Fatalf("%s: %d %s", ev, code, resp)
				}
			}

			put := func(key string, data []byte, typ, holder string) (int, map[string]any) {
				t.Helper()
				sum := sha256.Sum256(data)
				q := url.Values{"type": {typ}, "holder": {holder}, "filename": {"file.pdf"}}
				resp, b := exchange(t, srv, http.MethodPut, "/api/v1/files/"+hex.EncodeToString(sum[:])+"?"+q.Encode(), key, data,
					map[string]string{"Content-Type": "application/octet-stream"})
				conforms(t, doc, http.MethodPut, "/api/v1/files/{sha256}", resp, b)
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				if resp.StatusCode < 300 && resp.Header.Get("Location") != "/api/v1/material-objects/"+m["id"].(string) {
					t.Errorf("PUT: Location %q for %v", resp.Header.Get("Location"), m["id"])
				}
				return resp.StatusCode, m
			}
			content := filePDF(20_000)
			sum := sha256.Sum256(content)
			want := hex.EncodeToString(sum[:])
			if code, _ := put("", content, tobaccoLicence, holder); code != http.StatusUnauthorized {
				t.Errorf("PUT without a key (a link's holder): %d, want 401", code)
			}
			code, good := put(keys["tobacco-office"], content, tobaccoLicence, holder)
			if code != http.StatusCreated || good["sha256"] != want || good["type"] != tobaccoLicence {
				t.Fatalf("the department's PUT of its licence's file: %d %v", code, good)
			}
			if code, again := put(keys["tobacco-office"], content, tobaccoLicence, holder); code != http.StatusOK || again["id"] != good["id"] {
				t.Errorf("the same PUT again: %d %v, want 200 and %v", code, again["id"], good["id"])
			}
			_, foreign := put(keys["fire-office"], filePDF(3000), "application-form", holder)
			_, otherHolder := put(keys["tobacco-office"], filePDF(4000), tobaccoLicence, "11010519491231002X")
			png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), make([]byte, 500)...)
			_, image := put(keys["tobacco-office"], png, "id-card", holder)
			for what, m := range map[string]map[string]any{"fire-rescue's": foreign, "another holder's": otherHolder, "an image": image} {
				if id, _ := m["id"].(string); !strings.HasPrefix(id, "mo_") {
					t.Fatalf("uploading %s file: %v", what, m)
				}
			}

			licence := func(number, objectID string, file map[string]any) map[string]any {
				f := map[string]any{"object_id": objectID}
				for k, v := range file {
					f[k] = v
				}
				return map[string]any{"type": tobaccoLicence, "number": number, "holder": "某某酒吧", "holder_id": holder, "holder_id_type": "uscc",
					"issuer": "tobacco", "issued_at": "2026-12-01", "valid_from": "2026-12-01", "valid_until": "2031-11-30", "file": f}
			}
			approval := func(id string, lics ...map[string]any) string {
				return mustJSON(t, map[string]any{"event_id": id, "type": "approved", "licences": lics})
			}
			refused := approval("refused",
				licence("YC-1", foreign["id"].(string), nil),
				licence("YC-2", otherHolder["id"].(string), nil),
				licence("YC-3", image["id"].(string), nil),
				licence("YC-4", good["id"].(string), map[string]any{"sha256": strings.Repeat("0", 64), "size": 1, "format": "ofd"}))
			resp2, b := exchange(t, srv, http.MethodPost, events, keys["tobacco-office"], []byte(refused), map[string]string{"Content-Type": "application/json"})
			conforms(t, doc, http.MethodPost, "/api/v1/subcases/{id}/events", resp2, b)
			var body struct {
				Error struct {
					Problems []struct{ Path, Rule string } `json:"problems"`
				} `json:"error"`
			}
			decode(t, string(b), &body)
			var rules []string
			for _, p := range body.Error.Problems {
				rules = append(rules, p.Path+" "+p.Rule)
			}
			slices.Sort(rules)
			wantRules := []string{
				"/licences/0/file/object_id " + licences.RuleFileObject,
				"/licences/1/file/object_id " + licences.RuleFileHolder,
				"/licences/2/file/object_id " + licences.RuleFileFormat,
				"/licences/3/file/format conflict",
				"/licences/3/file/sha256 conflict",
				"/licences/3/file/size conflict",
			}
			if resp2.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, wantRules) {
				t.Errorf("the approval naming wrong files: %d %v, want 422 %v", resp2.StatusCode, rules, wantRules)
			}
			if strings.Contains(string(b), holder) || strings.Contains(string(b), "11010519491231002X") {
				t.Errorf("the refusal quotes a holder: %s", b)
			}
			if code, _ := send(t, srv, "GET", "/api/v1/licences/"+url.PathEscape(tobaccoLicence)+"/YC-4", keys["jiangsu"], ""); code != http.StatusNotFound {
				t.Errorf("after the refused approval the library answers %d for its licence, want 404", code)
			}
			if code, resp = send(t, srv, "GET", "/api/v1/cases/"+view.ID, keys["jiangsu"], ""); code != 200 {
				t.Fatalf("the case after the refused approval: %d %s", code, resp)
			}
			var after cases.CaseView
			decode(t, resp, &after)
			for _, sc := range after.Subcases {
				if sc.ID == tobacco && sc.State != cases.StateAccepted {
					t.Errorf("after the refused approval the sub-case is %s, want accepted", sc.State)
				}
			}

			if code, resp := send(t, srv, "POST", events, keys["tobacco-office"],
				approval("approved", licence("YC-5", good["id"].(string), map[string]any{"format": "pdf"}))); code != 200 {
				t.Fatalf("the approval naming the department's own file: %d %s", code, resp)
			}
			lic := func(key string) licences.Licence {
				t.Helper()
				resp, b := exchange(t, srv, http.MethodGet, "/api/v1/licences/"+url.PathEscape(tobaccoLicence)+"/YC-5", key, nil, nil)
				conforms(t, doc, http.MethodGet, "/api/v1/licences/{type}/{number}", resp, b)
				var l licences.Licence
				decode(t, string(b), &l)
				return l
			}
			asPlatform := lic(keys["jiangsu"])
			f := asPlatform.File
			if f.SHA256 != want || f.Size != int64(len(content)) || f.Format != "pdf" || f.ObjectID != good["id"] || f.URI != "" || f.Link == "" {
				t.Fatalf("the licence's file as the library keeps it: %+v; want sha256 %s, size %d, pdf, the object, a link", f, want, len(content))
			}
			if !strings.Contains(f.Link, "dept=jiangsu") || !strings.Contains(f.Link, "via=library") || !strings.Contains(f.Link, "case="+view.ID) {
				t.Errorf("the platform's link %s: want it signed for jiangsu, the case and the library", f.Link)
			}
			resp3, got := exchange(t, srv, http.MethodGet, f.Link, keys["jiangsu"], nil, nil)
			conforms(t, doc, http.MethodGet, "/api/v1/files/{sha256}", resp3, got)
			if resp3.StatusCode != http.StatusOK || !bytes.Equal(got, content) || resp3.Header.Get("ETag") != `"`+want+`"` {
				t.Errorf("the platform's link: %d, %d bytes, ETag %q; want 200, the file, \"%s\"", resp3.StatusCode, len(got), resp3.Header.Get("ETag"), want)
			}
			if resp, _ := exchange(t, srv, http.MethodGet, f.Link, keys["tobacco-office"], nil, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("the platform's link with a department's key: %d, want 403", resp.StatusCode)
			}
			asTobacco := lic(keys["tobacco-office"]).File.Link
			if !strings.Contains(asTobacco, "dept=tobacco&") {
				t.Errorf("the department's link %s: want it signed for tobacco", asTobacco)
			}
			if resp, _ := exchange(t, srv, http.MethodGet, asTobacco, keys["fire-office"], nil, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("tobacco's link with fire-rescue's key: %d, want 403", resp.StatusCode)
			}

			code, resp = send(t, srv, "GET", "/api/v1/licences?holder="+holder+"&case="+view.ID, keys["jiangsu"], "")
			var list struct {
				Licences []licences.Licence `json:"licences"`
			}
			decode(t, resp, &list)
			if code != 200 || len(list.Licences) != 1 || list.Licences[0].File.Link == "" || list.Licences[0].File.SHA256 != want {
				t.Errorf("the holder's licences: %d %s; want the one licence with its link", code, resp)
			}

			resp4, b := exchange(t, srv, http.MethodGet, "/api/v1/audit?kind="+links.AuditKind, keys["ops"], nil, nil)
			var log struct {
				Entries []struct {
					Detail links.Read `json:"detail"`
				} `json:"entries"`
			}
			if err := json.Unmarshal(b, &log); err != nil || resp4.StatusCode != 200 {
				t.Fatalf("the audit log: %d %s", resp4.StatusCode, b)
			}
			var reads []string
			for _, e := range log.Entries {
				reads = append(reads, e.Detail.Department+"/"+e.Detail.Client+"/"+e.Detail.Connector+"/"+e.Detail.Case+"/"+e.Detail.SHA256)
			}
			if wantRead := "jiangsu/jiangsu/library/" + view.ID + "/" + want; !slices.Equal(reads, []string{wantRead}) {
				t.Errorf("the audit log's reads %v, want [%s] (nothing of the refused links)", reads, wantRead)
			}
		})
	}
}
