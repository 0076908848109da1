package links_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/links"
)

// clock is a settable time for a keyring.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a handler over an in-memory store holding one blob, with a keyring kept in a file
// and an audit function that records what it is given.
type fixture struct {
	t        testing.TB
	clock    *clock
	keysPath string
	keys     *links.Keyring
	store    *memStore
	blob     []byte
	sha      string
	h        http.Handler

	mu       sync.Mutex
	reads    []links.Read
	auditErr error
}

const (
	deptA = "330100-SCJ"
	deptB = "330100-GAJ"
	caseN = "ZJ20261205000123"
	subN  = "ZJ20261205000123-02"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}, store: newMemStore()}
	f.keysPath = filepath.Join(t.TempDir(), links.FileName)
	keys, created, err := links.Open(f.keysPath)
	if err != nil || !created {
		t.Fatalf("opening a new keyring: created %v, %v", created, err)
	}
	f.keys = keys.WithClock(f.clock.Now)
	f.blob = make([]byte, 1000)
	for i := range f.blob {
		f.blob[i] = byte(i*7 + i/13)
	}
	f.sha = f.put(f.blob, "application/pdf")
	f.h = links.Handler(f.store, f.keys, f.audit)
	return f
}

func (f *fixture) put(b []byte, contentType string) string {
	f.t.Helper()
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	if _, err := f.store.Put(context.Background(), sum, int64(len(b)), contentType, bytes.NewReader(b)); err != nil {
		f.t.Fatal(err)
	}
	return sum
}

func (f *fixture) audit(_ context.Context, r links.Read) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.auditErr != nil {
		return f.auditErr
	}
	f.reads = append(f.reads, r)
	return nil
}

func (f *fixture) audited() []links.Read {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]links.Read(nil), f.reads...)
}

// link signs a GET link to sha for department dept for an hour.
func (f *fixture) link(sha, dept string) string {
	f.t.Helper()
	l, err := f.keys.SignLink(links.Link{Method: http.MethodGet, SHA256: sha, Department: dept, Case: caseN, Subcase: subN, Via: "frontdb", TTL: time.Hour})
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// do sends a request for target through the handler, as client when one is given.
func (f *fixture) do(method, target string, client *auth.Client, header ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if client != nil {
		r = r.WithContext(auth.WithClient(r.Context(), *client))
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func department(code string) *auth.Client {
	return &auth.Client{Name: "backoffice-" + code, Role: auth.RoleDepartment, Department: code}
}

func TestALinkRoundTripsToTheBlobWithItsHeadersAndOneAuditedRead(t *testing.T) {
	f := newFixture(t)
	link := f.link(f.sha, deptA)
	if !strings.HasPrefix(link, links.PathPrefix+f.sha+"?") {
		t.Fatalf("link %q: want it under %s%s", link, links.PathPrefix, f.sha)
	}
	w := f.do(http.MethodGet, link, department(deptA))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body)
	}
	if !bytes.Equal(w.Body.Bytes(), f.blob) {
		t.Errorf("the body is %d bytes and not the blob's", w.Body.Len())
	}
	for name, want := range map[string]string{
		"Content-Type":   "application/pdf",
		"Content-Length": strconv.Itoa(len(f.blob)),
		"ETag":           `"` + f.sha + `"`,
		"Accept-Ranges":  "bytes",
		"Cache-Control":  "private",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	reads := f.audited()
	if len(reads) != 1 {
		t.Fatalf("%d reads audited, want 1", len(reads))
	}
	want := links.Read{At: f.clock.Now(), SHA256: f.sha, Case: caseN, Subcase: subN, Department: deptA, Client: "backoffice-" + deptA,
		Connector: "frontdb", Status: http.StatusOK, KeyID: "k1"}
	if reads[0] != want {
		t.Errorf("audited %+v, want %+v", reads[0], want)
	}
}

func TestAReadMapsOntoOneAuditRowWithoutItsTimeInTheDetail(t *testing.T) {
	r := links.Read{At: time.Now(), SHA256: strings.Repeat("a", 64), Case: caseN, Subcase: subN, Department: deptA, Client: "bo",
		Connector: "restpull", Status: 206, Range: "bytes 0-9/1000", KeyID: "k2"}
	e := r.Entry()
	if e.Kind != links.AuditKind || e.Outcome != audit.Granted || e.Subject != "" {
		t.Errorf("entry %+v: want kind %s, outcome granted, no subject", e, links.AuditKind)
	}
	b, err := json.Marshal(e.Detail)
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if err := json.Unmarshal(b, &detail); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sha256": r.SHA256, "case": caseN, "subcase": subN, "department": deptA, "client": "bo",
		"connector": "restpull", "status": float64(206), "range": "bytes 0-9/1000", "kid": "k2"}
	if len(detail) != len(want) {
		t.Errorf("detail %s: want exactly %d fields", b, len(want))
	}
	for k, v := range want {
		if detail[k] != v {
			t.Errorf("detail[%s] = %v, want %v", k, detail[k], v)
		}
	}
}

func TestEveryRefusedLinkGetsTheSameForbiddenAnswerWhetherOrNotTheMaterialExists(t *testing.T) {
	f := newFixture(t)
	other := f.put([]byte("another material of the same case"), "image/png")
	missing := strings.Repeat("0", 64)
	good := f.link(f.sha, deptA)
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	with := func(name, value string) string {
		q := u.Query()
		q.Set(name, value)
		return u.Path + "?" + q.Encode()
	}
	without := func(name string) string {
		q := u.Query()
		q.Del(name)
		return u.Path + "?" + q.Encode()
	}
	exp, _ := strconv.ParseInt(u.Query().Get("exp"), 10, 64)
	sig := u.Query().Get("sig")
	flipped := []byte(sig)
	flipped[3] ^= 'A' ^ 'B'
	if flipped[3] == sig[3] {
		t.Fatal("the signature did not change")
	}

	// A link signed by a key two rotations newer than the handler's ring: its kid is unknown.
	if _, err := links.Rotate(f.keysPath); err != nil {
		t.Fatal(err)
	}
	later, err := links.Rotate(f.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	unknownKid, err := later.WithClock(f.clock.Now).Sign(http.MethodGet, f.sha, deptA, caseN, subN, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreignRing, err := links.Ephemeral().WithClock(f.clock.Now).Sign(http.MethodGet, f.sha, deptA, caseN, subN, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	putLink, err := f.keys.Sign(http.MethodPut, f.sha, deptA, caseN, subN, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		target string
		client *auth.Client
	}{
		{"another department's client presents the link", good, department(deptB)},
		{"the link is altered to another material that exists", strings.Replace(good, f.sha, other, 1), nil},
		{"the link is altered to a material that does not exist", strings.Replace(good, f.sha, missing, 1), nil},
		{"the case is altered", with("case", caseN+"9"), nil},
		{"the sub-case is altered", with("subcase", caseN+"-03"), nil},
		{"the sub-case is removed", without("subcase"), nil},
		{"the department is altered", with("dept", deptB), department(deptB)},
		{"the connector is altered", with("via", "restpull"), nil},
		{"the expiry is moved later", with("exp", strconv.FormatInt(exp+3600, 10)), nil},
		{"the expiry is written with a leading zero", with("exp", "0"+strconv.FormatInt(exp, 10)), nil},
		{"the key id is altered", with("kid", "k2"), nil},
		{"the signature is altered", with("sig", string(flipped)), nil},
		{"the signature is removed", without("sig"), nil},
		{"a parameter is added", good + "&x=1", nil},
		{"a parameter is repeated", good + "&case=" + caseN, nil},
		{"the link names a key the ring does not hold", unknownKid, nil},
		{"the link is signed by another hub's key", foreignRing, nil},
		{"a PUT link is used to GET", putLink, nil},
		{"the path is not a link's", "/api/v1/files/" + f.sha + "/x?" + u.RawQuery, nil},
	}
	var first *httptest.ResponseRecorder
	for _, c := range cases {
		w := f.do(http.MethodGet, c.target, c.client)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, w.Code)
			continue
		}
		if first == nil {
			first = w
			var body struct {
				Error struct {
					Status int    `json:"status"`
					Code   string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Status != 403 || body.Error.Code != "forbidden" {
				t.Errorf("%s: body %s is not the hub's error shape for 403 forbidden (%v)", c.name, w.Body, err)
			}
			continue
		}
		if w.Body.String() != first.Body.String() || !sameHeaders(w.Header(), first.Header()) {
			t.Errorf("%s: answered %v %q, unlike the first refusal %v %q", c.name, w.Header(), w.Body, first.Header(), first.Body)
		}
	}

	f.clock.Advance(time.Hour)
	w := f.do(http.MethodGet, good, nil)
	if w.Code != http.StatusForbidden || w.Body.String() != first.Body.String() {
		t.Errorf("an expired link: %d %q, want the same 403", w.Code, w.Body)
	}
	if n := len(f.audited()); n != 0 {
		t.Errorf("%d refused reads were audited as reads", n)
	}
}

func sameHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if strings.Join(a[k], ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

func TestALinkIsServedOnItsOwnAndToPlatformsAndOperatorsButADepartmentOnlyItsOwn(t *testing.T) {
	f := newFixture(t)
	link := f.link(f.sha, deptA)
	for _, c := range []struct {
		name   string
		client *auth.Client
		want   int
	}{
		{"no credentials", nil, http.StatusOK},
		{"the link's department", department(deptA), http.StatusOK},
		{"a platform", &auth.Client{Name: "zwfw", Role: auth.RolePlatform}, http.StatusOK},
		{"an operator", &auth.Client{Name: "ops", Role: auth.RoleOperator}, http.StatusOK},
		{"another department", department(deptB), http.StatusForbidden},
	} {
		if w := f.do(http.MethodGet, link, c.client); w.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, w.Code, c.want)
		}
	}
	reads := f.audited()
	if len(reads) != 4 || reads[0].Client != "" || reads[2].Client != "zwfw" {
		t.Errorf("audited %+v: want four reads, the first without a client, the third by zwfw", reads)
	}
}

func TestThePreviousKeyStillVerifiesAfterARotationAndAKeyTwoRotationsOldDoesNot(t *testing.T) {
	f := newFixture(t)
	old := f.link(f.sha, deptA)

	once, err := links.Rotate(f.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(once.IDs(), ","); got != "k1,k2" || once.Current() != "k2" {
		t.Fatalf("after one rotation the ring is %s signing with %s, want k1,k2 signing with k2", got, once.Current())
	}
	h := links.Handler(f.store, once.WithClock(f.clock.Now), f.audit)
	serve := func(h http.Handler, target string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w.Code
	}
	if code := serve(h, old); code != http.StatusOK {
		t.Errorf("a link of the previous key after one rotation: %d, want 200", code)
	}
	newer, err := once.WithClock(f.clock.Now).Sign(http.MethodGet, f.sha, deptA, caseN, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(newer, "kid=k2") || serve(h, newer) != http.StatusOK {
		t.Errorf("a link of the new key %s is not served", newer)
	}

	twice, err := links.Rotate(f.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(twice.IDs(), ","); got != "k2,k3" {
		t.Fatalf("after two rotations the ring is %s, want k2,k3", got)
	}
	reloaded, err := links.Load(f.keysPath)
	if err != nil || strings.Join(reloaded.IDs(), ",") != "k2,k3" {
		t.Fatalf("the file holds %v (%v), want k2,k3", reloaded, err)
	}
	h = links.Handler(f.store, reloaded.WithClock(f.clock.Now), f.audit)
	if code := serve(h, old); code != http.StatusForbidden {
		t.Errorf("a link of a key two rotations old: %d, want 403", code)
	}
	if code := serve(h, newer); code != http.StatusOK {
		t.Errorf("a link of the previous key after the second rotation: %d, want 200", code)
	}
}

func TestOneRangeIsServedFromTheStoreAtItsOffsetAndAnInvalidOneIs416(t *testing.T) {
	size := 1000
	for _, c := range []struct {
		name         string
		rangeHeader  string
		status       int
		from, to     int // the bytes wanted, to exclusive
		contentRange string
	}{
		{"the first bytes", "bytes=0-99", 206, 0, 100, "bytes 0-99/1000"},
		{"bytes in the middle", "bytes=400-499", 206, 400, 500, "bytes 400-499/1000"},
		{"the last bytes", "bytes=900-999", 206, 900, 1000, "bytes 900-999/1000"},
		{"a range past the end is cut at the end", "bytes=950-5000", 206, 950, 1000, "bytes 950-999/1000"},
		{"a suffix", "bytes=-10", 206, 990, 1000, "bytes 990-999/1000"},
		{"an open-ended range", "bytes=990-", 206, 990, 1000, "bytes 990-999/1000"},
		{"a range beyond the blob", "bytes=1000-1100", 416, 0, 0, "bytes */1000"},
		{"a range backwards", "bytes=500-400", 416, 0, 0, ""},
		{"a range not of bytes", "pages=1-2", 416, 0, 0, ""},
		{"several ranges are served whole", "bytes=0-9,20-29", 200, 0, size, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.do(http.MethodGet, f.link(f.sha, deptA), nil, "Range", c.rangeHeader)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d (body %.100q)", w.Code, c.status, w.Body)
			}
			if got := w.Header().Get("Content-Range"); got != c.contentRange {
				t.Errorf("Content-Range %q, want %q", got, c.contentRange)
			}
			reads := f.audited()
			if c.status == 416 {
				if len(reads) != 0 || len(f.store.openedAt()) != 0 {
					t.Errorf("a refused range audited %d reads and opened the store %v", len(reads), f.store.openedAt())
				}
				return
			}
			if !bytes.Equal(w.Body.Bytes(), f.blob[c.from:c.to]) {
				t.Errorf("body of %d bytes is not bytes %d-%d of the blob", w.Body.Len(), c.from, c.to)
			}
			if got := w.Header().Get("Content-Length"); got != strconv.Itoa(c.to-c.from) {
				t.Errorf("Content-Length %s, want %d", got, c.to-c.from)
			}
			if opens := f.store.openedAt(); len(opens) != 1 || opens[0] != int64(c.from) {
				t.Errorf("the store was opened at %v, want once at %d", opens, c.from)
			}
			if len(reads) != 1 || reads[0].Status != c.status || reads[0].Range != c.contentRange {
				t.Errorf("audited %+v, want one read of status %d and range %q", reads, c.status, c.contentRange)
			}
		})
	}
}

func TestIfNoneMatchWithTheETagIs304AndNoRead(t *testing.T) {
	f := newFixture(t)
	link := f.link(f.sha, deptA)
	w := f.do(http.MethodGet, link, nil, "If-None-Match", `"`+f.sha+`"`)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("status %d with %d bytes, want 304 and none", w.Code, w.Body.Len())
	}
	w = f.do(http.MethodGet, link, nil, "If-None-Match", `"`+strings.Repeat("1", 64)+`"`)
	if w.Code != http.StatusOK {
		t.Errorf("another ETag: status %d, want 200", w.Code)
	}
	if n := len(f.audited()); n != 1 {
		t.Errorf("%d reads audited, want 1 (the 200 only)", n)
	}
}

func TestHEADSaysTheSizeTypeAndETagAndSendsNoMaterial(t *testing.T) {
	f := newFixture(t)
	w := f.do(http.MethodHead, f.link(f.sha, deptA), nil)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("status %d with %d bytes, want 200 and none", w.Code, w.Body.Len())
	}
	if w.Header().Get("Content-Length") != strconv.Itoa(len(f.blob)) || w.Header().Get("ETag") != `"`+f.sha+`"` ||
		w.Header().Get("Content-Type") != "application/pdf" {
		t.Errorf("headers %v", w.Header())
	}
	if n := len(f.audited()); n != 0 {
		t.Errorf("%d reads audited for a HEAD, want 0", n)
	}
	if w := f.do(http.MethodHead, f.link(f.sha, deptA), department(deptB)); w.Code != http.StatusForbidden {
		t.Errorf("HEAD of another department's link: %d, want 403", w.Code)
	}
}

func TestAValidLinkToARemovedMaterialIsGone(t *testing.T) {
	f := newFixture(t)
	link := f.link(f.sha, deptA)
	if err := f.store.Delete(context.Background(), f.sha); err != nil {
		t.Fatal(err)
	}
	w := f.do(http.MethodGet, link, nil)
	if w.Code != http.StatusGone || !strings.Contains(w.Body.String(), `"code":"gone"`) {
		t.Errorf("status %d, body %s: want 410 gone", w.Code, w.Body)
	}
	if n := len(f.audited()); n != 0 {
		t.Errorf("%d reads audited, want 0", n)
	}
}

func TestAReadThatCannotBeAuditedSendsNoMaterial(t *testing.T) {
	f := newFixture(t)
	f.auditErr = errors.New("the database is down")
	for _, rng := range []string{"", "bytes=0-99"} {
		w := f.do(http.MethodGet, f.link(f.sha, deptA), nil, "Range", rng)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("range %q: status %d, want 503", rng, w.Code)
		}
		if bytes.Contains(w.Body.Bytes(), f.blob[:50]) || w.Header().Get("Content-Range") != "" || w.Header().Get("ETag") != "" {
			t.Errorf("range %q: the refusal carries material or its headers: %v %q", rng, w.Header(), w.Body)
		}
		if strings.Contains(w.Body.String(), "database") {
			t.Errorf("the refusal tells the audit log's error: %s", w.Body)
		}
	}
}

func TestOnlyGETAndHEADAreAnswered(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		w := f.do(m, f.link(f.sha, deptA), nil)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q; want 405 and GET, HEAD", m, w.Code, w.Header().Get("Allow"))
		}
	}
}
