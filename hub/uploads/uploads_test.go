package uploads_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/leaktest"
	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

func TestAFiftyMBUploadInterruptedAndResumedCompletesWithItsSHA256(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		const size = 50_000_000
		data := make([]byte, size)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		copy(data, "%PDF-1.7\n")
		start := time.Now()
		loc := e.create(keyAlpha, size, pdfMeta())

		// The first PATCH is cut off a little after 20 MB: the connection closes mid-body.
		sent := e.interruptedPatch(keyAlpha, loc, data, 20_000_000)

		// The server keeps what it received; wait until HEAD shows it (the interrupted
		// request may still be finishing).
		var offset int
		deadline := time.Now().Add(30 * time.Second)
		for offset = e.offset(keyAlpha, loc); offset == 0 && time.Now().Before(deadline); offset = e.offset(keyAlpha, loc) {
			time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
		}
		if offset == 0 || offset > sent {
			t.Fatalf("after the interruption Upload-Offset = %d, want in (0, %d]", offset, sent)
		}

		// Resume from the server's offset, in parts of 8 MB.
		resumedAt := offset
		var resp *http.Response
		for offset < size {
			end := min(offset+8_000_000, size)
			resp = e.patch(keyAlpha, loc, offset, data[offset:end], nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH at %d: %d %s", offset, resp.StatusCode, readAll(t, resp))
			}
			got, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
			if got != end {
				t.Fatalf("PATCH at %d: Upload-Offset %d, want %d", offset, got, end)
			}
			offset = end
		}
		elapsed := time.Since(start)
		id := resp.Header.Get(uploads.HeaderMaterialID)
		if !strings.HasPrefix(id, "mo_") {
			t.Fatalf("the completing PATCH has %s %q, want a mo_ id", uploads.HeaderMaterialID, id)
		}
		status, m := e.material(keyAlpha, id)
		if status != http.StatusOK {
			t.Fatalf("GET material: %d %v", status, m)
		}
		if m["sha256"] != sha(data) || m["size"] != float64(size) || m["content_type"] != "application/pdf" {
			t.Errorf("material = %v, want sha256 %s, size %d, application/pdf", m, sha(data), size)
		}
		if got := e.blobs.keys(); !slices.Equal(got, []string{sha(data)}) {
			t.Errorf("blobs hold %v, want only %s", got, sha(data))
		}
		if resp := e.request(http.MethodHead, loc, keyAlpha, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of the finished upload: %d, want 404 (removed once a material)", resp.StatusCode)
		}
		t.Logf("50 MB upload with one interruption, %s, in flight on %s: %.1f MB/s (%s; resumed from %d of %d bytes sent)",
			e.store.Dialect(), fl.name, float64(size)/1e6/elapsed.Seconds(), elapsed.Round(time.Millisecond), resumedAt, sent)
	})
}

// interruptedPatch sends a PATCH of all of data from offset 0 on a raw connection and closes
// the connection after about cut bytes of body; it returns how many body bytes were written.
func (e *env) interruptedPatch(key, loc string, data []byte, cut int) int {
	e.t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		e.t.Fatal(err)
	}
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"+
		"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, key, len(data))
	if _, err := conn.Write([]byte(head)); err != nil {
		e.t.Fatal(err)
	}
	n, err := conn.Write(data[:cut])
	if err != nil {
		e.t.Fatalf("write the first part: %v", err)
	}
	if err := conn.Close(); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestCreationWithUploadOfASmallPDFBecomesAMaterial(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		data := pdf(40_000)
		md := pdfMeta()
		md["sha256"] = sha(data)
		resp := e.request(http.MethodPost, e.uploadsURL(), keyAlpha, map[string]string{
			"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": meta(md),
			"Content-Type": "application/offset+octet-stream"}, data)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST with the upload: %d %s", resp.StatusCode, readAll(t, resp))
		}
		id := resp.Header.Get(uploads.HeaderMaterialID)
		status, m := e.material(keyAlpha, id)
		if status != http.StatusOK {
			t.Fatalf("GET material %q: %d %v", id, status, m)
		}
		want := map[string]any{"id": id, "sha256": sha(data), "size": float64(len(data)), "content_type": "application/pdf",
			"filename": "licence.pdf", "type": "licence", "owner": "alpha", "holder": md["holder"], "expires_at": nil}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("material %s = %v, want %v", k, m[k], v)
			}
		}
		if m["created_at"] != e.clock.Now().Format(time.RFC3339) {
			t.Errorf("material created_at = %v, want %s", m["created_at"], e.clock.Now().Format(time.RFC3339))
		}
		if status, _ := e.material(keyBeta, id); status != http.StatusNotFound {
			t.Errorf("GET another client's material: %d, want 404", status)
		}
		if left := e.leftovers(); len(left) != 0 {
			t.Errorf("the finished upload left %v behind", left)
		}
	})
}

func TestADeclaredSHA256ThatDoesNotMatchIsRefusedAndNothingIsStored(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		data := pdf(10_000)
		md := pdfMeta()
		md["sha256"] = sha([]byte("other bytes"))
		loc := e.create(keyAlpha, len(data), md)
		resp := e.patch(keyAlpha, loc, 0, data, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("PATCH completing a mismatched upload: %d, want 422", resp.StatusCode)
		}
		code, rules := errorBody(t, resp)
		if code != "unprocessable" || !slices.Equal(rules, []string{"/metadata/sha256 conflict"}) {
			t.Errorf("error = %s %v, want unprocessable [/metadata/sha256 conflict]", code, rules)
		}
		if e.rows() != 0 || len(e.blobs.keys()) != 0 {
			t.Errorf("after the refusal: %d rows, blobs %v; want none", e.rows(), e.blobs.keys())
		}
		if resp := e.request(http.MethodHead, loc, keyAlpha, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of the refused upload: %d, want 404 (removed)", resp.StatusCode)
		}
	})
}

func TestTheContentTypeIsSniffedFromTheBytes(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), make([]byte, 500)...)
	ofd := zipOf(t, "OFD.xml", "Doc_0/Document.xml")
	zipOnly := zipOf(t, "word/document.xml", "notes.txt")
	tests := []struct {
		name   string
		accept []string
		data   []byte
		want   string // the content type recorded; "" when refused
	}{
		{"A PNG named .pdf is accepted as image/png when PNG is accepted", nil, png, "image/png"},
		{"A PNG named .pdf is refused when only PDF is accepted", []string{uploads.ContentTypePDF}, png, ""},
		{"A text file is refused", nil, []byte("just some text, not a document\n"), ""},
		{"A zip with OFD.xml at its root is an OFD", nil, ofd, uploads.ContentTypeOFD},
		{"A zip without OFD.xml is refused", nil, zipOnly, ""},
	}
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, open, fl, func(c *uploads.Config) { c.Accept = tc.accept })
				loc := e.create(keyAlpha, len(tc.data), pdfMeta())
				resp := e.patch(keyAlpha, loc, 0, tc.data, nil)
				if tc.want == "" {
					if resp.StatusCode != http.StatusUnprocessableEntity {
						t.Fatalf("PATCH: %d, want 422", resp.StatusCode)
					}
					if _, rules := errorBody(t, resp); !slices.Equal(rules, []string{"/content enum"}) {
						t.Errorf("problems %v, want [/content enum]", rules)
					}
					if e.rows() != 0 || len(e.blobs.keys()) != 0 {
						t.Errorf("refused, yet %d rows and blobs %v", e.rows(), e.blobs.keys())
					}
					return
				}
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("PATCH: %d %s, want 204", resp.StatusCode, readAll(t, resp))
				}
				_, m := e.material(keyAlpha, resp.Header.Get(uploads.HeaderMaterialID))
				if m["content_type"] != tc.want || m["filename"] != "licence.pdf" {
					t.Errorf("material content_type %v filename %v, want %s licence.pdf", m["content_type"], m["filename"], tc.want)
				}
			})
		}
	})
}

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, n := range names {
		w, err := z.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "<content of %s/>", n)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAnUploadIsVisibleToItsOwnerOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		data := pdf(2000)
		loc := e.create(keyAlpha, len(data), pdfMeta())
		for _, key := range []string{keyBeta, keyDept} {
			for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
				var body []byte
				if method == http.MethodPatch {
					body = data
				}
				resp := e.request(method, loc, key, map[string]string{
					"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, body)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s by another client: %d, want 404", method, resp.StatusCode)
				}
			}
		}
		if got := e.offset(keyAlpha, loc); got != 0 {
			t.Errorf("after the other clients' attempts Upload-Offset = %d, want 0", got)
		}
		if resp := e.request(http.MethodDelete, loc, keyAlpha, nil, nil); resp.StatusCode != http.StatusNoContent {
			t.Errorf("DELETE by the owner: %d, want 204", resp.StatusCode)
		}
		if resp := e.request(http.MethodHead, loc, keyAlpha, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD after termination: %d, want 404", resp.StatusCode)
		}
		if left := e.leftovers(); len(left) != 0 {
			t.Errorf("the terminated upload left %v behind", left)
		}
	})
}

func TestOnlyAuthenticatedPlatformsAndDepartmentsMayUpload(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, nil)
		hdr := map[string]string{"Upload-Length": "100", "Upload-Metadata": meta(pdfMeta())}
		tests := []struct {
			name string
			key  string
			want int
		}{
			{"No key is 401", "", http.StatusUnauthorized},
			{"An unknown key is 401", "yjk_nobody", http.StatusUnauthorized},
			{"An operator is 403", keyOperator, http.StatusForbidden},
			{"A department may upload", keyDept, http.StatusCreated},
			{"A platform may upload", keyAlpha, http.StatusCreated},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.request(http.MethodPost, e.uploadsURL(), tc.key, hdr, nil)
				if resp.StatusCode != tc.want {
					t.Errorf("POST: %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	})
}

func TestCreationIsRefusedWithEveryProblemNamed(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, nil)
		tests := []struct {
			name   string
			size   string
			md     map[string]string
			status int
			rules  []string
		}{
			{"An unknown type and a missing holder are both reported", "100",
				map[string]string{"filename": "a.pdf", "type": "passport"}, 422,
				[]string{"/metadata/holder required", "/metadata/type enum"}},
			{"Missing type, file name and a malformed sha256 are all reported", "100",
				map[string]string{"holder": holderID, "sha256": "ABC"}, 422,
				[]string{"/metadata/filename required", "/metadata/sha256 sha256", "/metadata/type required"}},
			{"A holder that is neither a USCC nor an ID number is refused", "100",
				map[string]string{"filename": "a.pdf", "type": "licence", "holder": "110105194912310021"}, 422,
				[]string{"/metadata/holder holder"}},
			{"A size above the type's limit is 413", strconv.Itoa(1<<20 + 1),
				map[string]string{"filename": "a.png", "type": "photo", "holder": holderID}, 413,
				[]string{"/headers/Upload-Length max_size"}},
			{"A file name with a directory is refused", "100",
				map[string]string{"filename": "../etc/passwd", "type": "photo", "holder": holderID}, 422,
				[]string{"/metadata/filename filename"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.request(http.MethodPost, e.uploadsURL(), keyAlpha,
					map[string]string{"Upload-Length": tc.size, "Upload-Metadata": meta(tc.md)}, nil)
				if resp.StatusCode != tc.status {
					t.Fatalf("POST: %d, want %d", resp.StatusCode, tc.status)
				}
				if _, rules := errorBody(t, resp); !slices.Equal(rules, tc.rules) {
					t.Errorf("problems %v, want %v", rules, tc.rules)
				}
			})
		}
		t.Run("The same size within the default limit is accepted for a type without its own", func(t *testing.T) {
			md := pdfMeta()
			e.create(keyAlpha, 1<<20+1, md)
		})
	})
}

func TestAChunkWhoseChecksumDoesNotMatchIsDiscarded(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, nil)
		data := pdf(5000)
		loc := e.create(keyAlpha, len(data), pdfMeta())
		sum := func(b []byte) string {
			h := sha256.Sum256(b)
			return "sha256 " + base64.StdEncoding.EncodeToString(h[:])
		}

		resp := e.patch(keyAlpha, loc, 0, data[:3000], map[string]string{"Upload-Checksum": sum(data[:2999])})
		if resp.StatusCode != uploads.StatusChecksumMismatch {
			t.Fatalf("PATCH with a wrong checksum: %d, want 460", resp.StatusCode)
		}
		if got := e.offset(keyAlpha, loc); got != 0 {
			t.Fatalf("after a mismatched chunk Upload-Offset = %d, want 0", got)
		}
		resp = e.patch(keyAlpha, loc, 0, data[:3000], map[string]string{"Upload-Checksum": "md5 AAAA"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PATCH with an unsupported algorithm: %d, want 400", resp.StatusCode)
		}
		resp = e.patch(keyAlpha, loc, 0, data[:3000], map[string]string{"Upload-Checksum": sum(data[:3000])})
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != "3000" {
			t.Fatalf("PATCH with the right checksum: %d offset %q, want 204 3000", resp.StatusCode, resp.Header.Get("Upload-Offset"))
		}
		resp = e.patch(keyAlpha, loc, 3000, data[3000:], map[string]string{"Upload-Checksum": sum(data[3000:])})
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get(uploads.HeaderMaterialID) == "" {
			t.Fatalf("completing PATCH: %d material %q", resp.StatusCode, resp.Header.Get(uploads.HeaderMaterialID))
		}
		if got := e.blobs.keys(); !slices.Equal(got, []string{sha(data)}) {
			t.Errorf("blobs %v, want [%s]", got, sha(data))
		}

		opts := e.request(http.MethodOptions, e.uploadsURL(), "", nil, nil)
		if ext := opts.Header.Get("Tus-Extension"); !slices.Contains(strings.Split(ext, ","), "checksum") ||
			!slices.Contains(strings.Split(ext, ","), "termination") || opts.Header.Get("Tus-Checksum-Algorithm") != "sha256" {
			t.Errorf("OPTIONS: Tus-Extension %q, Tus-Checksum-Algorithm %q", ext, opts.Header.Get("Tus-Checksum-Algorithm"))
		}
	})
}

func TestTheSweeperRemovesUnfinishedUploadsOlderThanMaxAge(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, func(c *uploads.Config) { c.MaxAge = 24 * time.Hour })
		old := e.create(keyAlpha, 1000, pdfMeta())
		if resp := e.patch(keyAlpha, old, 0, pdf(1000)[:400], nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", resp.StatusCode)
		}
		e.clock.Add(20 * time.Hour)
		fresh := e.create(keyBeta, 1000, pdfMeta())

		if n, err := e.svc.Sweep(t.Context()); err != nil || n != 0 {
			t.Fatalf("Sweep at 20 h = %d, %v; want 0, nil", n, err)
		}
		e.clock.Add(4*time.Hour + time.Second)
		if n, err := e.svc.Sweep(t.Context()); err != nil || n != 1 {
			t.Fatalf("Sweep at 24 h = %d, %v; want 1, nil", n, err)
		}
		if resp := e.request(http.MethodHead, old, keyAlpha, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of the swept upload: %d, want 404", resp.StatusCode)
		}
		if got := e.offset(keyBeta, fresh); got != 0 {
			t.Errorf("the fresh upload's offset = %d, want 0 (kept)", got)
		}
		left := e.leftovers()
		for _, l := range left {
			if !strings.HasPrefix(l, objectID(fresh)) {
				t.Errorf("after the sweep %s is left, which is not the fresh upload's", l)
			}
		}
		if !slices.Contains(left, objectID(fresh)+".info") {
			t.Errorf("after the sweep the store holds %v, without the fresh upload's .info", left)
		}
	})
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	_, err := uploads.New(uploads.Config{MaxSize: map[string]int64{"photo": 0}, Accept: []string{}, Prefix: "api"})
	if err == nil {
		t.Fatal("New with an empty config succeeded")
	}
	for _, want := range []string{"Store", "Blobs", "Dir", "Authenticate", "KnownType", "photo", "Accept", "Prefix"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestAnUploadWhoseFinishingFailedIsFinishedWhenResumedAtItsEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, open storetest.Opener, fl flightStore) {
		e := newEnv(t, open, fl, nil)
		e.blobs.failPuts = 1
		data := pdf(30_000)
		loc := e.create(keyAlpha, len(data), pdfMeta())
		resp := e.patch(keyAlpha, loc, 0, data, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(uploads.HeaderMaterialID) != "" {
			t.Fatalf("completing PATCH with the blob store down: %d, material %q; want 503 and none",
				resp.StatusCode, resp.Header.Get(uploads.HeaderMaterialID))
		}
		if e.rows() != 0 {
			t.Fatalf("%d material rows after a failed finish, want 0", e.rows())
		}
		if got := e.offset(keyAlpha, loc); got != len(data) {
			t.Fatalf("Upload-Offset after the failed finish = %d, want %d (kept, to retry)", got, len(data))
		}
		if resp := e.patch(keyBeta, loc, len(data), nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another client's PATCH at the end: %d, want 404", resp.StatusCode)
		}
		resp = e.patch(keyAlpha, loc, len(data), nil, nil)
		id := resp.Header.Get(uploads.HeaderMaterialID)
		if resp.StatusCode != http.StatusNoContent || id == "" || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
			t.Fatalf("PATCH at the end: %d, material %q, offset %q; want 204, a material, %d",
				resp.StatusCode, id, resp.Header.Get("Upload-Offset"), len(data))
		}
		if status, m := e.material(keyAlpha, id); status != http.StatusOK || m["sha256"] != sha(data) {
			t.Errorf("material: %d %v", status, m)
		}
		if e.rows() != 1 {
			t.Errorf("%d material rows, want 1", e.rows())
		}
		leaktest.AssertNoLeak(t, e.logs.String(), holderID)
		if !strings.Contains(e.logs.String(), "memblobs: unavailable") {
			t.Errorf("the failure is not logged: %q", e.logs.String())
		}
	})
}

func TestNoLogLineOrErrorBodyCarriesTheHolder(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, nil)
		md := pdfMeta()
		md["type"] = "passport"
		resp := e.request(http.MethodPost, e.uploadsURL(), keyAlpha,
			map[string]string{"Upload-Length": "10", "Upload-Metadata": meta(md)}, nil)
		body := readAll(t, resp)
		loc := e.create(keyAlpha, 20, pdfMeta())
		resp = e.patch(keyAlpha, loc, 0, []byte("plain text, refused."), nil)
		body += readAll(t, resp)
		e.clock.Add(48 * time.Hour)
		e.create(keyAlpha, 20, pdfMeta())
		e.clock.Add(48 * time.Hour)
		if _, err := e.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		leaktest.AssertNoLeak(t, body+e.logs.String(), holderID)
	})
}

func TestTheSweeperStopsAnExpiredUploadThatIsBeingWritten(t *testing.T) {
	eachStore(t, func(t *testing.T, fl flightStore) {
		e := newEnv(t, storetest.OpenSQLite, fl, nil)
		const size = 1 << 20
		loc := e.create(keyAlpha, size, pdfMeta())
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, loc, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+keyAlpha)
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		done := make(chan int, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			_ = resp.Body.Close()
			done <- resp.StatusCode
		}()
		// The PATCH holds the upload's lock while its body trickles in.
		if _, err := pw.Write(pdf(size)[:1000]); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !fl.received(e, loc, 1000) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
		}
		if !fl.received(e, loc, 1000) {
			t.Fatal("the PATCH's first bytes never reached the upload")
		}
		e.clock.Add(uploads.DefaultMaxAge + time.Minute)
		n, err := e.svc.Sweep(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("Sweep during a PATCH = %d, %v; want 1, nil", n, err)
		}
		_ = pw.CloseWithError(io.ErrClosedPipe)
		select {
		case status := <-done:
			// The PATCH was stopped (tusd's ERR_UPLOAD_INTERRUPTED) before the upload went, not
			// ended by its client.
			if status != http.StatusBadRequest {
				t.Errorf("the PATCH of the swept upload ended %d, want 400", status)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the PATCH of the swept upload did not end")
		}
		if resp := e.request(http.MethodHead, loc, keyAlpha, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of the swept upload: %d, want 404", resp.StatusCode)
		}
		deadline = time.Now().Add(10 * time.Second)
		for len(e.leftovers()) != 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
		}
		if left := e.leftovers(); len(left) != 0 {
			t.Errorf("the swept upload left %v behind", left)
		}
	})
}
