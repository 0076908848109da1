package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/api"
	"yjshub/hub/blobs"
	"yjshub/hub/links"
	"yjshub/hub/uploads"
)

// fileBackends are the blob stores the file tests run on: the embedded disk always, and S3
// (S3Proxy from make services) when YJSHUB_TEST_S3 names it, each under a prefix of its own,
// with the uploads in flight in the same store.
func fileBackends(t *testing.T) map[string]fileOptions {
	t.Helper()
	backends := map[string]fileOptions{"disk": {}}
	endpoint := os.Getenv("YJSHUB_TEST_S3")
	switch {
	case endpoint != "":
		f := fileOptions{blobStore: blobStoreS3}
		f.s3.Endpoint, f.s3.Region, f.s3.Bucket = endpoint, os.Getenv("YJSHUB_TEST_S3_REGION"), os.Getenv("YJSHUB_TEST_S3_BUCKET")
		f.s3.AccessKey, f.s3.SecretKey = os.Getenv("YJSHUB_TEST_S3_ACCESS_KEY"), os.Getenv("YJSHUB_TEST_S3_SECRET_KEY")
		f.s3.PathStyle, f.s3.Prefix = true, "e2e-"+strconv.FormatInt(time.Now().UnixNano(), 36)
		// A deployment on S3 keeps its uploads in flight there too (tusd's s3store).
		f.uploadStore = string(uploads.InFlightS3)
		backends["s3"] = f
	case os.Getenv("YJSHUB_REQUIRE_REAL") != "":
		t.Fatal("YJSHUB_REQUIRE_REAL is set but YJSHUB_TEST_S3 is not: run make services (scripts/s3proxy.sh) and source services.env")
	default:
		t.Log("YJSHUB_TEST_S3 unset: the files are kept on disk only")
	}
	return backends
}

// samplePDF is n bytes that the hub sniffs as a PDF, different from one test run to the next
// so that a blob left by an earlier run cannot stand in for this one's.
func samplePDF(n int) []byte {
	b := make([]byte, n)
	seed := time.Now().UnixNano()
	for i := range b {
		b[i] = byte(int64(i)*7 + seed>>(i%8))
	}
	copy(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

// tusRequest makes a tus 1.0 request with the client's key.
func tusRequest(t *testing.T, method, url, key string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func tusMetadata(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// A platform uploads a PDF over tus in two chunks larger than the API's 1 MiB body limit,
// resuming from the offset the hub reports; the material's record names the sha256, size and
// type the hub found; a link the hub's own keyring signed for a department serves that
// department the bytes with the sha256 as ETag, and another department's key is refused; the
// read is in the audit log, whose chain still verifies. On the disk store and, when the
// environment names one, on S3.
func TestFilesUploadedOverTusAreReadThroughSignedLinksAndAudited(t *testing.T) {
	for name, files := range fileBackends(t) {
		t.Run(name, func(t *testing.T) {
			var o serveOptions
			o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
			keys := writeClients(t, o.clientsFile, "platform", "operator", "department:market-regulation", "department:agriculture")
			o.files = files
			o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
			hub, _ := startSimulatedHub(t, o)
			platform, dept, other := keys["platform"], keys["department:market-regulation"], keys["department:agriculture"]

			content := samplePDF(3<<20 + 12345)
			sum := sha256.Sum256(content)
			want := hex.EncodeToString(sum[:])
			if files.blobStore == blobStoreS3 {
				// The bucket outlives the test; its prefix is this run's alone.
				t.Cleanup(func() {
					if st, err := blobs.NewS3(context.Background(), files.s3); err == nil {
						_ = st.Delete(context.Background(), want)
					}
				})
			}
			res, b := tusRequest(t, http.MethodPost, hub+"/api/v1/uploads", platform, nil, map[string]string{
				"Upload-Length":   strconv.Itoa(len(content)),
				"Upload-Metadata": tusMetadata("filename", "form.pdf", "type", "application-form", "holder", "11010519491231002X", "sha256", want),
			})
			if res.StatusCode != http.StatusCreated || res.Header.Get("Location") == "" {
				t.Fatalf("creating the upload: %d %s", res.StatusCode, b)
			}
			upload := res.Header.Get("Location")
			if !strings.HasPrefix(upload, "http") {
				upload = hub + upload
			}
			half := 2<<20 + 1
			uploadStart := time.Now()
			res, b = tusRequest(t, http.MethodPatch, upload, platform, content[:half], map[string]string{
				"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
			if res.StatusCode != http.StatusNoContent || res.Header.Get("Upload-Offset") != strconv.Itoa(half) {
				t.Fatalf("the first chunk (%d bytes, over the API's 1 MiB): %d offset %q %s", half, res.StatusCode, res.Header.Get("Upload-Offset"), b)
			}
			if res, _ = tusRequest(t, http.MethodHead, upload, dept, nil, nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD of the platform's upload by a department: %d; want 404", res.StatusCode)
			}
			res, _ = tusRequest(t, http.MethodHead, upload, platform, nil, nil)
			offset, err := strconv.Atoi(res.Header.Get("Upload-Offset"))
			if res.StatusCode != http.StatusOK || err != nil || offset != half {
				t.Fatalf("HEAD to resume: %d offset %q; want 200 and %d", res.StatusCode, res.Header.Get("Upload-Offset"), half)
			}
			res, b = tusRequest(t, http.MethodPatch, upload, platform, content[offset:], map[string]string{
				"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(offset)})
			material := res.Header.Get("Upload-Material-Id")
			if res.StatusCode != http.StatusNoContent || material == "" {
				t.Fatalf("the last chunk: %d material %q %s", res.StatusCode, material, b)
			}
			uploadTook := time.Since(uploadStart)

			var rec struct {
				ID, SHA256, ContentType, Type, Owner string
				Size                                 int64
			}
			getAs(t, hub+"/api/v1/material-objects/"+material, platform, http.StatusOK, &rec)
			if rec.ID != material || rec.SHA256 != want || rec.Size != int64(len(content)) || rec.Type != "application-form" || rec.Owner != "platform-0" {
				t.Errorf("the material's record: %+v; want id %s, sha256 %s, size %d, type application-form, owner platform-0", rec, material, want, len(content))
			}
			var ct struct {
				ContentType string `json:"content_type"`
			}
			getAs(t, hub+"/api/v1/material-objects/"+material, platform, http.StatusOK, &ct)
			if ct.ContentType != "application/pdf" {
				t.Errorf("content_type %q; want application/pdf, sniffed from the bytes", ct.ContentType)
			}
			getAs(t, hub+"/api/v1/material-objects/"+material, dept, http.StatusNotFound, nil)

			ring, err := links.Load(o.files.linkKeys)
			if err != nil {
				t.Fatalf("the hub's link keyring at --link-keys: %v", err)
			}
			caseID := "C" + strconv.FormatInt(time.Now().UnixNano(), 10)
			link, err := ring.Sign(http.MethodGet, want, "market-regulation", caseID, "", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			readStart := time.Now()
			res, got := tusRequest(t, http.MethodGet, hub+link, dept, nil, nil)
			t.Logf("%s: %.1f MiB uploaded in two chunks with a HEAD between in %s (%.0f MiB/s), read through its link in %s (%.0f MiB/s)",
				name, float64(len(content))/(1<<20), uploadTook.Round(time.Millisecond), float64(len(content))/(1<<20)/uploadTook.Seconds(),
				time.Since(readStart).Round(time.Millisecond), float64(len(content))/(1<<20)/time.Since(readStart).Seconds())
			if res.StatusCode != http.StatusOK || !bytes.Equal(got, content) || res.Header.Get("ETag") != `"`+want+`"` ||
				res.Header.Get("Content-Type") != "application/pdf" || res.Header.Get("Content-Length") != strconv.Itoa(len(content)) {
				t.Fatalf("GET the link as its department: %d, %d bytes (same: %v), ETag %q, type %q, length %q",
					res.StatusCode, len(got), bytes.Equal(got, content), res.Header.Get("ETag"), res.Header.Get("Content-Type"), res.Header.Get("Content-Length"))
			}
			if res, b = tusRequest(t, http.MethodGet, hub+link, other, nil, nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("GET the link as another department: %d %s; want 403", res.StatusCode, b)
			}
			if res, b = tusRequest(t, http.MethodGet, hub+strings.Replace(link, "dept=market-regulation", "dept=agriculture", 1), other, nil, nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("GET an altered link: %d %s; want 403", res.StatusCode, b)
			}

			var log struct {
				Entries []struct {
					Outcome string
					Detail  links.Read
				}
			}
			getAs(t, hub+"/api/v1/audit?kind="+links.AuditKind, keys["operator"], http.StatusOK, &log)
			var reads []links.Read
			for _, e := range log.Entries {
				if e.Detail.Case == caseID {
					reads = append(reads, e.Detail)
				}
			}
			if len(reads) != 1 || reads[0].SHA256 != want || reads[0].Department != "market-regulation" || reads[0].Client != "department-2" || reads[0].Status != http.StatusOK {
				t.Errorf("the audit log's reads of case %s: %+v; want one, of %s by department-2 for market-regulation, 200", caseID, reads, want)
			}
			var verified api.AuditVerification
			getAs(t, hub+"/api/v1/audit/verify", keys["operator"], http.StatusOK, &verified)
			if !verified.Intact || verified.Rows < 1 {
				t.Errorf("the audit chain after the read: %+v; want intact, the read among its rows", verified)
			}
		})
	}
}

// getAs GETs url with key, wants status, and decodes the answer into out when given.
func getAs(t *testing.T, url, key string, status int, out any) {
	t.Helper()
	res, b := tusRequest(t, http.MethodGet, url, key, nil, nil)
	if res.StatusCode != status {
		t.Fatalf("GET %s: %d %s; want %d", url, res.StatusCode, b, status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
}

// serve refuses a bad combination of the file flags before it starts anything, naming every
// problem at once, and never shows the S3 secret it was given.
func TestServeNamesEveryProblemOfTheFileFlags(t *testing.T) {
	const secret = "s3-secret-that-must-not-show"
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"an unknown store, a negative age and a negative PUT size", []string{"--blob-store=nfs", "--upload-max-age=-1s", "--put-max-size=-1"}, nil,
			[]string{`--blob-store "nfs"`, "--upload-max-age -1s", "--put-max-size -1"}},
		{"S3 without a bucket, with half the keys and a bad endpoint", []string{"--blob-store=s3", "--s3-endpoint=ftp://x"},
			map[string]string{envS3SecretKey: secret}, []string{"bucket is required", "access_key and secret_key go together", `endpoint scheme "ftp"`}},
		{"S3 flags and keys on the disk store", []string{"--s3-bucket=b", "--s3-path-style"},
			map[string]string{envS3AccessKey: "a", envS3SecretKey: secret}, []string{"--s3-bucket is for --blob-store=s3", "--s3-path-style is for --blob-store=s3", envS3AccessKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envS3AccessKey, "")
			t.Setenv(envS3SecretKey, "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			args := append([]string{"serve", "--addr=127.0.0.1:0", "--data-dir=" + t.TempDir()}, c.args...)
			code, _, stderr := runCLI(t, args...)
			if code == 0 {
				t.Fatalf("serve %v: exit 0; want it refused", c.args)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("serve %v: %q does not name %q", c.args, stderr, w)
				}
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("serve %v shows the S3 secret: %s", c.args, stderr)
			}
		})
	}
}

// The zero value of the file options is the disk store with uploads kept a day: what a test
// that calls serve without the command line gets.
func TestFileOptionsZeroValueIsTheDiskStore(t *testing.T) {
	o := fileOptions{}.withDefaults()
	if err := o.validate(); err != nil || o.blobStore != blobStoreDisk || o.maxAge != 24*time.Hour {
		t.Errorf("fileOptions{}.withDefaults(): %+v, %v; want disk, 24h, valid", o, err)
	}
}

// slowReader hands out its bytes a piece every tick: a client on a slow link.
type slowReader struct {
	b    []byte
	tick *time.Ticker
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	<-s.tick.C
	n := copy(p[:min(len(p), 64<<10)], s.b)
	s.b = s.b[n:]
	return n, nil
}

// An upload's body may take longer than the server's bound on reading a request (tusd moves
// the deadline on while bytes keep coming, through every writer the API puts in front): a chunk
// sent over a slow link for three times that bound still completes the upload, while any other
// request is still cut at it.
func TestAnUploadOnASlowLinkOutlastsTheServersReadTimeout(t *testing.T) {
	var o serveOptions
	o.serverLimits.ReadTimeout = time.Second
	hub, _ := startSimulatedHub(t, o)
	content := samplePDF(640 << 10)
	sum := sha256.Sum256(content)
	res, b := tusRequest(t, http.MethodPost, hub+"/api/v1/uploads", "", nil, map[string]string{
		"Upload-Length":   strconv.Itoa(len(content)),
		"Upload-Metadata": tusMetadata("filename", "scan.pdf", "type", "id-card", "holder", "11010519491231002X", "sha256", hex.EncodeToString(sum[:])),
	})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("creating the upload: %d %s", res.StatusCode, b)
	}
	upload := res.Header.Get("Location")
	if !strings.HasPrefix(upload, "http") {
		upload = hub + upload
	}
	// Ten pieces 300ms apart: 3s for the body, three times the server's bound.
	slow := func(body []byte) *slowReader {
		return &slowReader{b: body, tick: time.NewTicker(300 * time.Millisecond)}
	}
	req, _ := http.NewRequest(http.MethodPatch, upload, slow(content))
	req.ContentLength = int64(len(content))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PATCH on a slow link: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Material-Id") == "" || time.Since(start) < 2*time.Second {
		t.Fatalf("PATCH on a slow link: %d material %q after %s; want 204 with the material, after more than the 1s bound",
			resp.StatusCode, resp.Header.Get("Upload-Material-Id"), time.Since(start))
	}

	body := bytes.Repeat([]byte(" "), 640<<10)
	req, _ = http.NewRequest(http.MethodPost, hub+"/api/v1/cases", slow(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("a case on the same slow link: %d; want it cut at the server's 1s bound", resp.StatusCode)
		}
	}
}
