package uploads_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/blobs/blobstest"
	"yjshub/hub/leaktest"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

func TestConfigNamesEveryProblemOfTheInFlightStore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight uploads.InFlightStore
		want     string
	}{
		{"S3 without the store whose bucket keeps them", uploads.InFlightS3, "InFlight s3 needs S3"},
		{"A store that is neither disk nor S3", "nfs", `InFlight "nfs" is neither disk nor s3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := uploads.New(uploads.Config{InFlight: tc.inFlight})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Store is required") {
				t.Errorf("New: %v; want it to name %q among the other problems", err, tc.want)
			}
		})
	}
}

// s3Flight is the S3 store of uploads in flight of flightStores.
func s3Flight() flightStore {
	i := slices.IndexFunc(flightStores, func(f flightStore) bool { return f.name == string(uploads.InFlightS3) })
	return flightStores[i]
}

// An upload whose finishing failed stays assembled in its S3 object until it is finished again;
// that object carries none of the upload's metadata (s3store would copy the holder into it).
func TestAnUploadInS3KeepsItsMetadataOutOfItsObject(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite, s3Flight(), nil)
	e.blobs.failPuts = 1
	data := pdf(20_000)
	loc := e.create(keyAlpha, len(data), pdfMeta())
	if resp := e.patch(keyAlpha, loc, 0, data, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("completing PATCH with the blob store down: %d, want 503", resp.StatusCode)
	}
	key := e.s3.UploadsPrefix() + objectID(loc)
	out, err := blobstest.RawClient(e.s3cfg).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(e.s3cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HEAD the assembled upload %s: %v", key, err)
	}
	if aws.ToInt64(out.ContentLength) != int64(len(data)) || len(out.Metadata) != 0 {
		t.Errorf("the assembled upload: %d bytes, metadata %v; want %d bytes and no metadata", aws.ToInt64(out.ContentLength), out.Metadata, len(data))
	}
	if resp := e.patch(keyAlpha, loc, len(data), nil, nil); resp.StatusCode != http.StatusNoContent || resp.Header.Get(uploads.HeaderMaterialID) == "" {
		t.Fatalf("PATCH at the end: %d, material %q", resp.StatusCode, resp.Header.Get(uploads.HeaderMaterialID))
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("the finished upload left %v behind", left)
	}
}

// The sweeper finds uploads in flight in the bucket, not on its own disk: an instance sweeps
// the expired uploads another instance created.
func TestTheSweeperOfAnotherInstanceRemovesExpiredUploadsFromS3(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite, s3Flight(), nil)
	loc := e.create(keyAlpha, 7<<20, pdfMeta())
	if resp := e.patch(keyAlpha, loc, 0, pdf(6<<20), nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	if left := e.leftovers(); !slices.Contains(left, objectID(loc)+".info") || !slices.Contains(left, objectID(loc)+" (multipart upload)") {
		t.Fatalf("in flight the store holds %v; want the upload's .info and multipart upload", left)
	}
	other, err := uploads.New(uploads.Config{Store: e.store, Blobs: e.blobs, Dir: t.TempDir(), InFlight: uploads.InFlightS3, S3: e.s3,
		Authenticate: func(*http.Request) (auth.Client, bool) { return auth.Client{}, false },
		KnownType:    func(string) bool { return true }, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(uploads.DefaultMaxAge + time.Second)
	if n, err := other.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("the other instance's Sweep = %d, %v; want 1, nil", n, err)
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("the swept upload left %v behind", left)
	}
}

// BenchmarkUpload50MB measures a 50 MB upload through the tus endpoint, created and sent in one
// PATCH until the material is made, with uploads in flight on disk and in S3 (finished blobs
// in memory, so that the store of uploads in flight is what differs), and in S3 with the blobs
// in the same bucket, as a deployment on S3 has it.
func BenchmarkUpload50MB(b *testing.B) {
	const size = 50 << 20
	cases := []struct {
		name   string
		fl     flightStore
		change func(*uploads.Config)
	}{
		{"inflight=disk", flightStores[0], nil},
		{"inflight=s3", s3Flight(), nil},
		{"inflight=s3,blobs=s3", s3Flight(), func(c *uploads.Config) { c.Blobs = c.S3 }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			st, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "hub.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			if err := st.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			e := newEnvOn(b, st, tc.fl, tc.change)
			data := pdf(size)
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				binary.LittleEndian.PutUint64(data[100:], uint64(i)) // new bytes: a new blob every time
				loc := e.create(keyAlpha, size, pdfMeta())
				resp := e.patch(keyAlpha, loc, 0, data, nil)
				if resp.StatusCode != http.StatusNoContent || resp.Header.Get(uploads.HeaderMaterialID) == "" {
					b.Fatalf("PATCH of %d bytes: %d %s", size, resp.StatusCode, readAll(b, resp))
				}
				_ = resp.Body.Close()
				for _, k := range e.blobs.keys() {
					_ = e.blobs.Delete(b.Context(), k)
				}
				if tc.change != nil {
					_ = e.s3.Delete(b.Context(), sha(data))
				}
			}
		})
	}
}

// An upload whose multipart upload S3 failed to complete (tusd completes it only in the request
// that sends the last byte) is completed when its owner resumes at its end, and becomes the
// material.
func TestAnUploadThatS3FailedToAssembleIsAssembledWhenResumedAtItsEnd(t *testing.T) {
	cfg := blobstest.S3Config(t)
	target, err := url.Parse(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy in front of the S3 server that fails CompleteMultipartUpload while failing is set
	// (every attempt of the SDK's retries); the requests keep their Host, so their signatures
	// still verify.
	var failing atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
			http.Error(w, "<Error><Code>InternalError</Code><Message>injected</Message></Error>", http.StatusInternalServerError)
			return
		}
		// The request's body is read whole before it is forwarded. S3Proxy answers a
		// CompleteMultipartUpload's headers at once and its XML later; once those headers
		// reach the SDK, net/http refuses further reads of the request's body, and a forward
		// still copying it (only its EOF left to read) would break the connection the answer
		// comes on.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	behind := flightStore{
		name: "s3 behind a proxy",
		configure: func(e *env, c *uploads.Config) {
			s3Flight().configure(e, c) // the prefix of the test's own, and its cleanup
			pcfg := e.s3cfg
			pcfg.Endpoint = srv.URL
			st, err := blobs.NewS3(e.t.Context(), pcfg)
			if err != nil {
				e.t.Fatal(err)
			}
			c.S3 = st
		},
		leftovers: s3Flight().leftovers,
	}
	e := newEnv(t, storetest.OpenSQLite, behind, nil)
	data := pdf(6<<20 + 999)
	loc := e.create(keyAlpha, len(data), pdfMeta())
	failing.Store(true)
	if resp := e.patch(keyAlpha, loc, 0, data, nil); resp.StatusCode < 500 || resp.Header.Get(uploads.HeaderMaterialID) != "" {
		t.Fatalf("the completing PATCH while S3 fails to complete: %d, material %q; want a 5xx and none", resp.StatusCode, resp.Header.Get(uploads.HeaderMaterialID))
	}
	failing.Store(false)
	if got := e.offset(keyAlpha, loc); got != len(data) {
		t.Fatalf("Upload-Offset after the failed completion = %d, want %d (every part kept)", got, len(data))
	}
	resp := e.patch(keyAlpha, loc, len(data), nil, nil)
	id := resp.Header.Get(uploads.HeaderMaterialID)
	if resp.StatusCode != http.StatusNoContent || id == "" {
		t.Fatalf("PATCH at the end: %d, material %q %s; want 204 and a material\nthe hub's log:\n%s", resp.StatusCode, id, readAll(t, resp), e.logs.String())
	}
	if status, m := e.material(keyAlpha, id); status != http.StatusOK || m["sha256"] != sha(data) {
		t.Errorf("material: %d %v; want sha256 %s", status, m, sha(data))
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("the finished upload left %v behind", left)
	}
	leaktest.AssertNoLeak(t, e.logs.String(), holderID)
}
