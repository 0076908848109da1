package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"yjshub/hub/store/storetest"
)

// Every method a path of the document does not give it is 405, with an Allow header listing
// exactly the document's methods for that path, whoever asks. A path without parameters is
// never served by the templated path beside it: GET /api/v1/connectors/reload is 405 with
// Allow: POST, not a lookup of a connector named "reload".
func TestAMethodAPathDoesNotServeIs405WithTheDocumentsMethods(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, keys := authServer(t, storetest.OpenSQLite)
	all := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	checked := 0
	for template, item := range doc.Paths.Map() {
		var want []string
		for method := range item.Operations() {
			want = append(want, method)
		}
		slices.Sort(want)
		path := examplePath(t, doc, want[0], template)
		for _, method := range all {
			if slices.Contains(want, method) {
				continue
			}
			for _, key := range []string{"", keys["ops"]} {
				resp, body := exchange(t, srv, method, path, key, nil, nil)
				allow := strings.Split(resp.Header.Get("Allow"), ", ")
				slices.Sort(allow)
				if resp.StatusCode != http.StatusMethodNotAllowed || !slices.Equal(allow, want) {
					t.Errorf("%s %s: %d, Allow %q; want 405 with Allow %v\n%s", method, path, resp.StatusCode, resp.Header.Get("Allow"), want, body)
				}
				if method != http.MethodHead && !strings.Contains(string(body), `"method_not_allowed"`) {
					t.Errorf("%s %s: %s; want the error shape with code method_not_allowed", method, path, body)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d refused methods checked", checked)
	}
	resp, body := exchange(t, srv, http.MethodGet, "/api/v1/connectors/reload", keys["ops"], nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET /api/v1/connectors/reload: %d, Allow %q; want 405, Allow POST\n%s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}
