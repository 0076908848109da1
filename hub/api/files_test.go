package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/links"
	"yjshub/hub/store/storetest"
)

// filePDF is n bytes the hub sniffs as a PDF.
func filePDF(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i/509)
	}
	copy(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// A platform's upload through the API, from creation to the material object, answers as the
// document says at every step: a chunk over the guard's 1 MiB is taken on the upload routes
// (and still refused elsewhere), tusd's own refusals come in the API's error body, the record
// is the owner's alone, and a link the hub signed serves the department it names — whose read
// is then in the audit log — while another department's key, an altered link and a link
// without its signature are refused alike.
func TestFilesFromUploadToAuditedReadAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	srv, keys, hs := authServices(t, storetest.OpenSQLite)
	platform := keys["jiangsu"]
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"Tus-Resumable": "1.0.0"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}

	resp, b := exchange(t, srv, http.MethodPost, "/api/v1/uploads", platform, nil, nil)
	conforms(t, doc, http.MethodPost, "/api/v1/uploads", resp, b)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"code":"bad_request"`) || !strings.Contains(string(b), "Tus-Resumable") {
		t.Errorf("POST without Tus-Resumable: %d %s; want 400 in the API's error body naming the header", resp.StatusCode, b)
	}
	resp, b = exchange(t, srv, http.MethodPost, "/api/v1/uploads", platform, nil, map[string]string{"Tus-Resumable": "0.2.2"})
	conforms(t, doc, http.MethodPost, "/api/v1/uploads", resp, b)
	if resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(b), "ERR_UNSUPPORTED_VERSION") {
		t.Errorf("POST with a tus version not spoken: %d %s; want 412 in the API's error body with tusd's code", resp.StatusCode, b)
	}

	content := filePDF(1<<20 + 300<<10)
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	resp, b = exchange(t, srv, http.MethodPost, "/api/v1/uploads", platform, nil, with(map[string]string{
		"Upload-Length":   strconv.Itoa(len(content)),
		"Upload-Metadata": tusMeta("filename", "form.pdf", "type", "application-form", "holder", "11010519491231002X", "sha256", want),
	}))
	conforms(t, doc, http.MethodPost, "/api/v1/uploads", resp, b)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(loc, "/api/v1/uploads/up_") {
		t.Fatalf("creating the upload: %d Location %q %s", resp.StatusCode, loc, b)
	}
	path := loc[strings.Index(loc, "/api/v1/uploads/"):]

	resp, b = exchange(t, srv, http.MethodPatch, path, platform, content, with(map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": "1"}))
	conforms(t, doc, http.MethodPatch, "/api/v1/uploads/{id}", resp, b)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"code":"conflict"`) {
		t.Errorf("PATCH at the wrong offset: %d %s; want 409 in the API's error body", resp.StatusCode, b)
	}
	resp, b = exchange(t, srv, http.MethodPatch, path, platform, content, with(map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}))
	conforms(t, doc, http.MethodPatch, "/api/v1/uploads/{id}", resp, b)
	material := resp.Header.Get("Upload-Material-Id")
	if resp.StatusCode != http.StatusNoContent || !strings.HasPrefix(material, "mo_") {
		t.Fatalf("PATCH of %d bytes (over the guard's %d): %d material %q %s", len(content), maxRequestBody, resp.StatusCode, material, b)
	}
	resp, b = exchange(t, srv, http.MethodPost, "/api/v1/cases", platform, bytes.Repeat([]byte(" "), maxRequestBody+1), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /api/v1/cases over %d bytes: %d %s; want 413 still", maxRequestBody, resp.StatusCode, b)
	}

	resp, b = exchange(t, srv, http.MethodGet, "/api/v1/material-objects/"+material, platform, nil, nil)
	conforms(t, doc, http.MethodGet, "/api/v1/material-objects/{id}", resp, b)
	var rec struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		ContentType string `json:"content_type"`
		Owner       string `json:"owner"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || resp.StatusCode != http.StatusOK || rec.SHA256 != want || rec.Size != len(content) ||
		rec.ContentType != "application/pdf" || rec.Owner != "jiangsu" {
		t.Errorf("the material's record: %d %s; want sha256 %s, size %d, application/pdf, owner jiangsu", resp.StatusCode, b, want, len(content))
	}
	for _, other := range []string{"lianyungang", "tobacco-office"} {
		resp, b = exchange(t, srv, http.MethodGet, "/api/v1/material-objects/"+material, keys[other], nil, nil)
		conforms(t, doc, http.MethodGet, "/api/v1/material-objects/{id}", resp, b)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "11010519491231002X") {
			t.Errorf("the record as %s: %d %s; want 404 without the holder", other, resp.StatusCode, b)
		}
	}
	resp, b = exchange(t, srv, http.MethodGet, "/api/v1/materials/id-card", "", nil, nil)
	conforms(t, doc, http.MethodGet, "/api/v1/materials/{code}", resp, b)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"code":"id-card"`) {
		t.Errorf("a catalogue material beside the material objects: %d %s", resp.StatusCode, b)
	}

	link, err := hs.LinkKeys.Sign(http.MethodGet, want, "tobacco", "cs_files_test", "sc_files_test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, b = exchange(t, srv, http.MethodGet, link, keys["tobacco-office"], nil, nil)
	conforms(t, doc, http.MethodGet, "/api/v1/files/{sha256}", resp, b)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, content) || resp.Header.Get("ETag") != `"`+want+`"` {
		t.Fatalf("the link as its department: %d, %d bytes, ETag %q; want 200, the file, \"%s\"", resp.StatusCode, len(b), resp.Header.Get("ETag"), want)
	}
	resp, b = exchange(t, srv, http.MethodGet, link, "", nil, map[string]string{"Range": "bytes=0-9"})
	conforms(t, doc, http.MethodGet, "/api/v1/files/{sha256}", resp, b)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, content[:10]) {
		t.Errorf("a range on the link alone: %d %q; want 206 and the first 10 bytes", resp.StatusCode, b)
	}
	refusals := map[string]struct{ path, key string }{
		"another department's key": {link, keys["fire-office"]},
		"an altered case":          {strings.Replace(link, "cs_files_test", "cs_files_tesT", 1), ""},
		"no signature":             {link[:strings.Index(link, "&sig=")], ""},
	}
	var first []byte
	for name, r := range refusals {
		resp, b = exchange(t, srv, http.MethodGet, r.path, r.key, nil, nil)
		conforms(t, doc, http.MethodGet, "/api/v1/files/{sha256}", resp, b)
		if resp.StatusCode != http.StatusForbidden || (first != nil && !bytes.Equal(b, first)) {
			t.Errorf("%s: %d %s; want 403, the same answer as every refused link", name, resp.StatusCode, b)
		}
		first = b
	}

	resp, b = exchange(t, srv, http.MethodGet, "/api/v1/audit?kind="+links.AuditKind, keys["ops"], nil, nil)
	conforms(t, doc, http.MethodGet, "/api/v1/audit", resp, b)
	var log struct {
		Entries []struct {
			Detail links.Read `json:"detail"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log.Entries {
		got = append(got, e.Detail.Department+"/"+e.Detail.Client+"/"+strconv.Itoa(e.Detail.Status)+"/"+e.Detail.Case)
	}
	if strings.Join(got, " ") != "tobacco/tobacco-office/200/cs_files_test tobacco//206/cs_files_test" {
		t.Errorf("the audit log's reads: %v; want the department's 200 and the link alone's 206, nothing of the refusals", got)
	}
}

// The file route needs its store, its keys and the audit log together: a wiring that lacks
// one stops the start naming each, rather than serving links that cannot be read or audited.
func TestNewRefusesTheFileRouteWithoutItsStoreOrAuditLog(t *testing.T) {
	_, err := New(Config{LinkKeys: links.Ephemeral()})
	if err == nil {
		t.Fatal("New with link keys alone: no error")
	}
	for _, want := range []string{"Blobs and LinkKeys go together", "Audit is required with LinkKeys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
