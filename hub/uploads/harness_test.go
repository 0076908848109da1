package uploads_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/blobs/blobstest"
	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

// memBlobs is a blobs.Store in memory that checks what Put is given as the real stores do.
type memBlobs struct {
	mu       sync.Mutex
	m        map[string][]byte
	ct       map[string]string
	failPuts int // how many Puts to come fail as an unavailable store would
}

func newMemBlobs() *memBlobs { return &memBlobs{m: map[string][]byte{}, ct: map[string]string{}} }

func (b *memBlobs) Put(_ context.Context, sum string, size int64, ct string, r io.Reader) (bool, error) {
	b.mu.Lock()
	if b.failPuts > 0 {
		b.failPuts--
		b.mu.Unlock()
		return false, errors.New("memblobs: unavailable")
	}
	b.mu.Unlock()
	data, err := io.ReadAll(r)
	if err != nil {
		return false, err
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != sum || int64(len(data)) != size {
		return false, blobs.ErrMismatch
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[sum]; ok {
		return false, nil
	}
	b.m[sum], b.ct[sum] = data, ct
	return true, nil
}

func (b *memBlobs) Open(_ context.Context, sum string, offset, length int64) (io.ReadCloser, blobs.Info, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[sum]
	if !ok {
		return nil, blobs.Info{}, blobs.ErrNotFound
	}
	end := int64(len(d))
	if length >= 0 {
		end = min(end, offset+length)
	}
	return io.NopCloser(bytes.NewReader(d[offset:end])), blobs.Info{SHA256: sum, Size: int64(len(d)), ContentType: b.ct[sum]}, nil
}

func (b *memBlobs) Stat(_ context.Context, sum string) (blobs.Info, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[sum]
	if !ok {
		return blobs.Info{}, blobs.ErrNotFound
	}
	return blobs.Info{SHA256: sum, Size: int64(len(d)), ContentType: b.ct[sum]}, nil
}

func (b *memBlobs) Delete(_ context.Context, sum string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, sum)
	return nil
}

func (b *memBlobs) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.m))
}

// Keys of the test's clients.
const (
	keyAlpha    = "yjk_alpha"
	keyBeta     = "yjk_beta"
	keyDept     = "yjk_dept"
	keyOperator = "yjk_operator"
)

// clock is a settable clock for Sweep.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a Service served over HTTP on one SQL backend, with its uploads in flight in one
// store.
type env struct {
	t     testing.TB
	fl    flightStore
	s3    *blobs.S3 // with the S3 store of uploads in flight
	s3cfg blobs.S3Config
	svc   *uploads.Service
	srv   *httptest.Server
	blobs *memBlobs
	store *store.Store
	clock *clock
	logs  *syncBuffer
	dir   string // the uploads in flight
}

// syncBuffer collects the Service's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// holderID is an applicant's resident ID number, which must never reach a log line.
const holderID = "11010519491231002X"

var knownTypes = []string{"id_card", "licence", "photo"}

func newEnv(t *testing.T, open storetest.Opener, fl flightStore, change func(*uploads.Config)) *env {
	t.Helper()
	return newEnvOn(t, storetest.Migrated(open)(t), fl, change)
}

// newEnvOn serves a Service on the migrated store st, for a test or a benchmark.
func newEnvOn(t testing.TB, st *store.Store, fl flightStore, change func(*uploads.Config)) *env {
	t.Helper()
	cs := auth.New()
	cs.Add(auth.Client{Name: "alpha", Role: auth.RolePlatform}, auth.HashKey(keyAlpha))
	cs.Add(auth.Client{Name: "beta", Role: auth.RolePlatform}, auth.HashKey(keyBeta))
	cs.Add(auth.Client{Name: "dept", Role: auth.RoleDepartment, Department: "amr"}, auth.HashKey(keyDept))
	cs.Add(auth.Client{Name: "ops", Role: auth.RoleOperator}, auth.HashKey(keyOperator))
	e := &env{t: t, fl: fl, blobs: newMemBlobs(), store: st,
		clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}, dir: t.TempDir()}
	cfg := uploads.Config{
		Store:        e.store,
		Blobs:        e.blobs,
		Dir:          e.dir,
		Authenticate: uploads.BearerKeys(cs),
		KnownType:    func(s string) bool { return slices.Contains(knownTypes, s) },
		MaxSize:      map[string]int64{"photo": 1 << 20},
		Now:          e.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	fl.configure(e, &cfg)
	if change != nil {
		change(&cfg)
	}
	svc, err := uploads.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.svc = svc
	e.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// eachBackend runs test on every SQL backend with every store of uploads in flight.
func eachBackend(t *testing.T, test func(t *testing.T, open storetest.Opener, fl flightStore)) {
	for name, open := range storetest.Backends() {
		for _, fl := range flightStores {
			t.Run(name+"/"+fl.name, func(t *testing.T) { test(t, open, fl) })
		}
	}
}

// eachStore runs test with every store of uploads in flight, on SQLite.
func eachStore(t *testing.T, test func(t *testing.T, fl flightStore)) {
	for _, fl := range flightStores {
		t.Run(fl.name, func(t *testing.T) { test(t, fl) })
	}
}

// flightStore is a store of uploads in flight as the tests see it.
type flightStore struct {
	name string
	// configure points the Service's Config at the store, skipping the test when the store's
	// server is absent.
	configure func(e *env, cfg *uploads.Config)
	// leftovers lists what the store keeps of uploads in flight, each name starting with the
	// upload's id (its object id on S3).
	leftovers func(e *env) []string
	// received reports whether the upload at loc has taken in at least n bytes of a request
	// still being received.
	received func(e *env, loc string, n int64) bool
}

var flightStores = []flightStore{
	{
		name:      string(uploads.InFlightDisk),
		configure: func(*env, *uploads.Config) {},
		leftovers: func(e *env) []string { return e.localFiles() },
		received: func(e *env, loc string, n int64) bool {
			fi, err := os.Stat(filepath.Join(e.dir, path.Base(loc))) // filestore keeps the bytes under the id
			return err == nil && fi.Size() >= n
		},
	},
	{
		name: string(uploads.InFlightS3),
		configure: func(e *env, cfg *uploads.Config) {
			e.s3, e.s3cfg = blobstest.NewS3(e.t)
			cfg.InFlight, cfg.S3 = uploads.InFlightS3, e.s3
		},
		leftovers: func(e *env) []string {
			c, prefix := blobstest.RawClient(e.s3cfg), e.s3.UploadsPrefix()
			left := blobstest.S3Objects(e.t, c, e.s3cfg.Bucket, prefix)
			for _, k := range blobstest.S3MultipartUploads(e.t, c, e.s3cfg.Bucket, prefix) {
				left = append(left, k+" (multipart upload)")
			}
			// The lock files, spooled chunks and parts on their way stay on the local disk.
			for _, f := range e.localFiles() {
				left = append(left, f+" (local)")
			}
			return left
		},
		received: func(e *env, _ string, n int64) bool {
			// s3store spools a part to a local file before it sends it.
			for _, f := range e.localFiles() {
				if fi, err := os.Stat(filepath.Join(e.dir, f)); err == nil && strings.HasPrefix(f, "tusd-s3-tmp-") && fi.Size() >= n {
					return true
				}
			}
			return false
		},
	},
}

// objectID is the part of an upload's id (the last element of its URL) that names its files
// or objects: the whole id on disk, the part before "+" on S3.
func objectID(loc string) string {
	id, _, _ := strings.Cut(path.Base(loc), "+")
	return id
}

// meta is tus Upload-Metadata.
func meta(kv map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(kv[k])))
	}
	return strings.Join(parts, ",")
}

func pdfMeta() map[string]string {
	return map[string]string{"filename": "licence.pdf", "type": "licence", "holder": holderID}
}

// request sends a tus request as the client of key ("" for none).
func (e *env) request(method, url, key string, hdr map[string]string, body []byte) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	e.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func (e *env) uploadsURL() string { return e.srv.URL + uploads.DefaultPrefix }

// create creates an upload of size bytes and returns its URL.
func (e *env) create(key string, size int, md map[string]string) string {
	e.t.Helper()
	resp := e.request(http.MethodPost, e.uploadsURL(), key, map[string]string{
		"Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta(md)}, nil)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: %d %s", resp.StatusCode, readAll(e.t, resp))
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		e.t.Fatal("create: no Location")
	}
	return loc
}

func (e *env) patch(key, url string, offset int, chunk []byte, hdr map[string]string) *http.Response {
	e.t.Helper()
	h := map[string]string{"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream"}
	maps.Copy(h, hdr)
	return e.request(http.MethodPatch, url, key, h, chunk)
}

// offset is the upload's offset as HEAD tells its owner.
func (e *env) offset(key, url string) int {
	e.t.Helper()
	resp := e.request(http.MethodHead, url, key, nil, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("HEAD %s: %d", url, resp.StatusCode)
	}
	n, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if err != nil {
		e.t.Fatalf("HEAD: Upload-Offset %q: %v", resp.Header.Get("Upload-Offset"), err)
	}
	return n
}

// material reads a material record through the API.
func (e *env) material(key, id string) (int, map[string]any) {
	e.t.Helper()
	resp := e.request(http.MethodGet, e.srv.URL+uploads.DefaultMaterialsPrefix+"/"+id, key, nil, nil)
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		e.t.Fatalf("decode material: %v", err)
	}
	return resp.StatusCode, m
}

// rows counts materials_uploaded rows.
func (e *env) rows() int {
	e.t.Helper()
	var n int
	if err := e.store.DB().GetContext(e.t.Context(), &n, "SELECT COUNT(*) FROM materials_uploaded"); err != nil {
		e.t.Fatalf("count materials: %v", err)
	}
	return n
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// errorBody decodes the hub's error body.
func errorBody(t testing.TB, resp *http.Response) (code string, rules []string) {
	t.Helper()
	var b struct {
		Error struct {
			Code     string `json:"code"`
			Problems []struct {
				Path, Rule string
			} `json:"problems"`
		} `json:"error"`
	}
	raw := readAll(t, resp)
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatalf("error body %q: %v", raw, err)
	}
	for _, p := range b.Error.Problems {
		rules = append(rules, p.Path+" "+p.Rule)
	}
	slices.Sort(rules)
	return b.Error.Code, rules
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func pdf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	copy(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

// leftovers lists what the store keeps of uploads in flight.
func (e *env) leftovers() []string {
	e.t.Helper()
	return e.fl.leftovers(e)
}

// localFiles lists what the directory of uploads in flight holds.
func (e *env) localFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}
