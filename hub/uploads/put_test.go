package uploads_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

// licenceType is a licence type department amr (the client dept) issues in these tests.
const licenceType = "食品经营许可证"

// withLicences lets department amr upload the files of licenceType.
func withLicences(c *uploads.Config) {
	c.IssuedLicenceType = func(dept, typ string) bool { return dept == "amr" && typ == licenceType }
}

// putURL is the URL of PUT /api/v1/files/{sum} with the query md.
func (e *env) putURL(sum string, md map[string]string) string {
	q := url.Values{}
	for k, v := range md {
		q.Set(k, v)
	}
	return e.srv.URL + uploads.DefaultFilesPrefix + "/" + sum + "?" + q.Encode()
}

// put PUTs data as the client of key, named by sum.
func (e *env) put(key, sum string, md map[string]string, data []byte) *http.Response {
	e.t.Helper()
	return e.request(http.MethodPut, e.putURL(sum, md), key, map[string]string{"Content-Type": "application/pdf"}, data)
}

// putRecord decodes a PUT's material record.
func putRecord(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode the PUT's record: %v", err)
	}
	return m
}

// A file PUT whole becomes a material object, answered as its record is; the same owner PUTting
// the same bytes, type and holder again gets that object, and the bytes are kept once.
func TestAFilePutWholeBecomesAMaterialOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		data := pdf(40_000)
		resp := e.put(keyAlpha, sha(data), pdfMeta(), data)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %d %s, want 201", resp.StatusCode, readAll(t, resp))
		}
		rec := putRecord(t, resp)
		id, _ := rec["id"].(string)
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(id, "mo_") || loc != uploads.DefaultMaterialsPrefix+"/"+id {
			t.Fatalf("PUT: id %q Location %q, want mo_… at %s/<id>", id, loc, uploads.DefaultMaterialsPrefix)
		}
		status, m := e.material(keyAlpha, id)
		if status != http.StatusOK {
			t.Fatalf("GET the record: %d", status)
		}
		for _, k := range []string{"id", "sha256", "size", "content_type", "filename", "type", "owner", "holder", "created_at"} {
			if rec[k] != m[k] {
				t.Errorf("the PUT's %s is %v, the record's %v: want the same JSON", k, rec[k], m[k])
			}
		}
		if m["sha256"] != sha(data) || m["size"] != float64(len(data)) || m["content_type"] != uploads.ContentTypePDF || m["owner"] != "alpha" {
			t.Errorf("record %v", m)
		}

		again := e.put(keyAlpha, sha(data), pdfMeta(), data)
		if again.StatusCode != http.StatusOK || putRecord(t, again)["id"] != id || again.Header.Get("Location") != uploads.DefaultMaterialsPrefix+"/"+id {
			t.Errorf("the same PUT again: %d, want 200 and the same material %s", again.StatusCode, id)
		}
		other := e.put(keyBeta, sha(data), pdfMeta(), data)
		if other.StatusCode != http.StatusCreated || putRecord(t, other)["id"] == id {
			t.Errorf("the same bytes by another client: %d, want 201 and a material of its own", other.StatusCode)
		}
		if got := e.blobs.keys(); !slices.Equal(got, []string{sha(data)}) {
			t.Errorf("blobs %v, want the one file once", got)
		}
		if n := e.rows(); n != 2 {
			t.Errorf("%d material rows, want 2 (one per owner)", n)
		}
	})
}

// A PUT that cannot be taken keeps nothing, and says why: bytes that do not hash to the path's
// sha256 (460), a file larger than a PUT may be (413), a type not accepted, metadata wrong in
// every way at once (422).
func TestAFilePutWholeIsRefusedWithNothingKept(t *testing.T) {
	text := []byte("just some text, not a document\n")
	data := pdf(3000)
	tests := []struct {
		name   string
		sum    string
		md     map[string]string
		body   []byte
		status int
		code   string
		rules  []string
	}{
		{"Bytes that do not hash to the path's sha256 are 460", sha(data[:2999]), pdfMeta(), data,
			uploads.StatusChecksumMismatch, "checksum_mismatch", nil},
		{"A file over the PUT's limit is 413", sha(pdf(5000)), pdfMeta(), pdf(5000),
			http.StatusRequestEntityTooLarge, "too_large", []string{"/body max_size"}},
		{"A text file is refused", sha(text), pdfMeta(), text,
			http.StatusUnprocessableEntity, "unprocessable", []string{"/content enum"}},
		{"Every problem of the query and the path is named", "ABC", map[string]string{"type": "passport", "filename": "../x"}, data,
			http.StatusUnprocessableEntity, "unprocessable",
			[]string{"/path/sha256 sha256", "/query/filename filename", "/query/holder required", "/query/type enum"}},
	}
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, func(c *uploads.Config) { c.PutMaxSize = 4096 })
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.put(keyAlpha, tc.sum, tc.md, tc.body)
				code, rules := errorBody(t, resp)
				if resp.StatusCode != tc.status || code != tc.code || !slices.Equal(rules, tc.rules) {
					t.Errorf("PUT: %d %s %v, want %d %s %v", resp.StatusCode, code, rules, tc.status, tc.code, tc.rules)
				}
				if e.rows() != 0 || len(e.blobs.keys()) != 0 {
					t.Errorf("refused, yet %d rows and blobs %v", e.rows(), e.blobs.keys())
				}
				if left := e.leftovers(); len(left) != 0 {
					t.Errorf("refused, yet the directory holds %v", left)
				}
			})
		}
	})
}

// The limit of a PUT is also read from the body, not only from a Content-Length that a client
// may leave out.
func TestAFilePutWholeWithoutALengthIsBoundedAsItIsRead(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite, flightStores[0], func(c *uploads.Config) { c.PutMaxSize = 4096 })
	data := pdf(5000)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.putURL(sha(data), pdfMeta()), strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Authorization", "Bearer "+keyAlpha)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || !slices.Equal(rules, []string{"/body max_size"}) {
		t.Errorf("a chunked PUT over the limit: %d %v, want 413 [/body max_size]", resp.StatusCode, rules)
	}
	if e.rows() != 0 || len(e.blobs.keys()) != 0 {
		t.Errorf("refused, yet %d rows and blobs %v", e.rows(), e.blobs.keys())
	}
}

// Only platform and department clients PUT files.
func TestOnlyPlatformsAndDepartmentsPutFiles(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite, flightStores[0], nil)
	data := pdf(1000)
	for key, want := range map[string]int{"": http.StatusUnauthorized, keyOperator: http.StatusForbidden, keyDept: http.StatusCreated} {
		if resp := e.put(key, sha(data), pdfMeta(), data); resp.StatusCode != want {
			t.Errorf("PUT with key %q: %d, want %d", key, resp.StatusCode, want)
		}
	}
}

// A department uploads the file of an e-licence it issues under the licence's type, by tus or
// by PUT, as a PDF or an OFD only; a platform may not use a licence type, nor a department one
// it does not issue.
func TestADepartmentUploadsTheFileOfALicenceItIssues(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), make([]byte, 500)...)
	lic := map[string]string{"filename": "licence.pdf", "type": licenceType, "holder": holderID}
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, withLicences)
		data := pdf(2000)
		resp := e.put(keyDept, sha(data), lic, data)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("a department's PUT of its licence's PDF: %d %s", resp.StatusCode, readAll(t, resp))
		}
		if rec := putRecord(t, resp); rec["type"] != licenceType || rec["owner"] != "dept" {
			t.Errorf("record %v, want type %s owned by dept", rec, licenceType)
		}
		resp = e.put(keyDept, sha(png), lic, png)
		if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, []string{"/content enum"}) {
			t.Errorf("a licence's file as a PNG (accepted for materials): %d %v, want 422 [/content enum]", resp.StatusCode, rules)
		}
		resp = e.put(keyAlpha, sha(data), lic, data)
		if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, []string{"/query/type enum"}) {
			t.Errorf("a platform using a licence type: %d %v, want 422 [/query/type enum]", resp.StatusCode, rules)
		}

		loc := e.create(keyDept, len(png), lic)
		resp = e.patch(keyDept, loc, 0, png, nil)
		if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, []string{"/content enum"}) {
			t.Errorf("a licence's file uploaded by tus as a PNG: %d %v, want 422 [/content enum]", resp.StatusCode, rules)
		}
		ofd := zipOf(t, "OFD.xml", "Doc_0/Document.xml")
		loc = e.create(keyDept, len(ofd), lic)
		if resp = e.patch(keyDept, loc, 0, ofd, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("a licence's OFD by tus: %d %s", resp.StatusCode, readAll(t, resp))
		}
		if _, m := e.material(keyDept, resp.Header.Get(uploads.HeaderMaterialID)); m["content_type"] != uploads.ContentTypeOFD || m["type"] != licenceType {
			t.Errorf("the OFD's record %v", m)
		}
		resp = e.request(http.MethodPost, e.uploadsURL(), keyAlpha, map[string]string{"Upload-Length": "100", "Upload-Metadata": meta(lic)}, nil)
		if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, []string{"/metadata/type enum"}) {
			t.Errorf("a platform's tus upload of a licence type: %d %v", resp.StatusCode, rules)
		}
	})
	t.Run("Without IssuedLicenceType a department uploads materials only", func(t *testing.T) {
		e := newEnv(t, storetest.OpenSQLite, flightStores[0], nil)
		data := pdf(2000)
		resp := e.put(keyDept, sha(data), lic, data)
		if _, rules := errorBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(rules, []string{"/query/type enum"}) {
			t.Errorf("PUT: %d %v, want 422 [/query/type enum]", resp.StatusCode, rules)
		}
	})
}
