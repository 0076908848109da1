package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"yjshub/hub/api"
	"yjshub/hub/auth"
)

// assetPaths lists the console's files as served, below Prefix.
func assetPaths(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, "assets/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("only %d assets: %v", len(out), out)
	}
	return out
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, method, target string, header http.Header) *http.Response {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// strictHeaders checks what every answer of the console carries, whatever its status.
func strictHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy %q", what, got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
	if got := resp.Header.Get("Set-Cookie"); got != "" {
		t.Errorf("%s: sets a cookie %q", what, got)
	}
}

func TestEveryAssetIsServedWithItsTypeAndStrictHeaders(t *testing.T) {
	h := newTestHandler(t)
	want := map[string]string{".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	for _, p := range append(assetPaths(t), "") {
		resp := do(h, http.MethodGet, Prefix+p, nil)
		body, _ := io.ReadAll(resp.Body)
		name := p
		if p == "" {
			name = "index.html"
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", Prefix+p, resp.StatusCode)
			continue
		}
		strictHeaders(t, Prefix+p, resp)
		if ct, ok := want[path.Ext(name)]; ok && resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: Content-Type %q, want %q", Prefix+p, resp.Header.Get("Content-Type"), ct)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" || !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(resp.Header.Get("ETag")) {
			t.Errorf("%s: Cache-Control %q, ETag %q", Prefix+p, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
		}
		file, _ := fs.ReadFile(assets, "assets/"+name)
		if !bytes.Equal(body, file) {
			t.Errorf("%s: the body is not the embedded %s", Prefix+p, name)
		}
	}
}

// An unchanged asset costs a 304; a changed one (another ETag) is sent whole; HEAD sends no body.
func TestAssetsAreRevalidatedByTheirETag(t *testing.T) {
	h := newTestHandler(t)
	first := do(h, http.MethodGet, Prefix+"app.css", nil)
	etag := first.Header.Get("ETag")
	again := do(h, http.MethodGet, Prefix+"app.css", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag: %d", again.StatusCode)
	}
	strictHeaders(t, "304", again)
	stale := do(h, http.MethodGet, Prefix+"app.css", http.Header{"If-None-Match": {`"0123456789abcdef01234567"`}})
	if stale.StatusCode != http.StatusOK {
		t.Fatalf("If-None-Match with another ETag: %d", stale.StatusCode)
	}
	if do(h, http.MethodGet, Prefix+"index.html", nil).Header.Get("ETag") == etag {
		t.Fatal("two different assets share an ETag")
	}
	head := do(h, http.MethodHead, Prefix+"app.css", nil)
	if b, _ := io.ReadAll(head.Body); head.StatusCode != http.StatusOK || len(b) != 0 || head.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("HEAD: %d, %d bytes, %q", head.StatusCode, len(b), head.Header.Get("Content-Type"))
	}
}

func TestTheConsoleRedirectsToItsSlashAndRefusesTheRest(t *testing.T) {
	h := newTestHandler(t)
	resp := do(h, http.MethodGet, "/ui", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != Prefix {
		t.Fatalf("/ui: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	strictHeaders(t, "/ui", resp)
	for _, p := range []string{"/ui/nope.js", "/ui/js/pages/nope.js", "/ui/assets/index.html", "/ui/js", "/ui/js/", "/uix", "/ui//app.css"} {
		resp := do(h, http.MethodGet, p, nil)
		var body struct {
			Error struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			} `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusNotFound || body.Error.Code != "not_found" {
			t.Errorf("%s: %d %+v %v; want the hub's 404", p, resp.StatusCode, body, err)
		}
		strictHeaders(t, p, resp)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		resp := do(h, m, Prefix, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: %d Allow %q", m, Prefix, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// The console works without internet access: no asset names another origin. The SVG namespace
// is a name, never fetched.
func TestNoAssetReachesAnotherOrigin(t *testing.T) {
	url := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+`)
	allowed := []string{"http://www.w3.org"} // document.createElementNS's SVG namespace
	for _, p := range assetPaths(t) {
		b, _ := fs.ReadFile(assets, "assets/"+p)
		for _, m := range url.FindAllString(string(b), -1) {
			if !slices.Contains(allowed, m) {
				t.Errorf("%s names another origin: %s", p, m)
			}
		}
	}
	// And the scan finds one where there is one.
	if !url.MatchString(`<script src="https://cdn.example.com/x.js">`) || !url.MatchString(`@import url(//fonts.example.org/a.css)`) {
		t.Fatal("the scan misses an external URL")
	}
}

// The page runs under the CSP: no inline script or style, nothing written as HTML from data.
func TestThePagesNeedNothingTheCSPForbids(t *testing.T) {
	index, _ := fs.ReadFile(assets, "assets/index.html")
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllSubmatch(index, -1)
	if len(scripts) == 0 {
		t.Error("index.html loads no script")
	}
	for _, script := range scripts {
		if !bytes.Contains(script[1], []byte("src=")) || len(bytes.TrimSpace(script[2])) > 0 {
			t.Errorf("index.html has an inline script: %s", script[0])
		}
	}
	for _, p := range assetPaths(t) {
		b, _ := fs.ReadFile(assets, "assets/"+p)
		for _, bad := range []string{"style=", "<style", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "console.log", "localStorage"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s uses %q", p, bad)
			}
		}
	}
}

// Every module index.html loads and every module imports is an asset: a missing one would be a
// console that loads blank.
func TestEveryReferenceIsAnAsset(t *testing.T) {
	paths := assetPaths(t)
	ref := regexp.MustCompile(`(?m)(?:^import [^;]*? from |^export [^;]*? from |import\()'([^']+)'`)
	checked := 0
	for _, p := range paths {
		b, _ := fs.ReadFile(assets, "assets/"+p)
		var refs []string
		switch path.Ext(p) {
		case ".js":
			for _, m := range ref.FindAllSubmatch(b, -1) {
				refs = append(refs, path.Join(path.Dir(p), string(m[1])))
			}
		case ".html":
			for _, m := range regexp.MustCompile(`(?:href|src)="([^":]+)"`).FindAllSubmatch(b, -1) {
				refs = append(refs, path.Join(path.Dir(p), string(m[1])))
			}
		}
		for _, r := range refs {
			checked++
			if !slices.Contains(paths, r) {
				t.Errorf("%s refers to %s, which is not an asset", p, r)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d references checked", checked)
	}
}

// Every JavaScript module parses (node --check, as a module), when node is present. A broken
// module is refused by the same check, so the check itself is known to work.
func TestEveryModuleParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("YJSHUB_REQUIRE_REAL") != "" {
			t.Fatal("node is not installed and YJSHUB_REQUIRE_REAL is set")
		}
		t.Skip("node is not installed")
	}
	// --input-type=module on stdin: `node --check file.js` passes a module with a syntax error
	// when it holds import statements (it retries the file as a module and drops the error).
	check := func(src []byte) error {
		cmd := exec.Command(node, "--check", "--input-type=module")
		cmd.Stdin = bytes.NewReader(src)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &checkError{err: err, out: string(out)}
		}
		return nil
	}
	if err := check([]byte("import {a} from './b.js';\nexport const x = ;\n")); err == nil {
		t.Fatal("node --check passed a module with a syntax error")
	}
	n := 0
	for _, p := range assetPaths(t) {
		if path.Ext(p) != ".js" {
			continue
		}
		n++
		b, _ := fs.ReadFile(assets, "assets/"+p)
		if err := check(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if n < 8 {
		t.Fatalf("only %d modules", n)
	}
}

type checkError struct {
	err error
	out string
}

func (e *checkError) Error() string { return e.err.Error() + "\n" + e.out }

// New refuses a console with an asset it has no media type for, naming each, and one without a
// page.
func TestNewRefusesAssetsOfUnknownKinds(t *testing.T) {
	_, err := newHandler(fstest.MapFS{
		"assets/index.html":  {Data: []byte("<!doctype html>")},
		"assets/font.woff":   {Data: []byte("x")},
		"assets/data/a.json": {Data: []byte("{}")},
	}, "assets")
	if err == nil || !strings.Contains(err.Error(), "assets/font.woff") || !strings.Contains(err.Error(), "assets/data/a.json") {
		t.Fatalf("err = %v; want both files named", err)
	}
	_, err = newHandler(fstest.MapFS{"assets/app.css": {Data: []byte("")}}, "assets")
	if err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("err = %v; want the missing index.html named", err)
	}
}

// Mounted on the API, the console is served outside /api/v1 under the hub's guard: a first load
// of every asset without a key fits within what the guard allows an anonymous address, and a key
// the hub does not know is refused there as everywhere.
func TestTheConsoleOnTheAPI(t *testing.T) {
	clients := auth.New()
	key, hash := auth.NewKey()
	clients.Add(auth.Client{Name: "ops", Role: auth.RoleOperator}, hash)
	srv, err := api.New(api.Config{UI: newTestHandler(t), Clients: clients})
	if err != nil {
		t.Fatal(err)
	}
	get := func(p, key string) *http.Response {
		h := http.Header{}
		if key != "" {
			h.Set("Authorization", "Bearer "+key)
		}
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.RemoteAddr = "192.0.2.7:5000"
		req.Header = h
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Result()
	}
	if resp := get("/ui", ""); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != Prefix {
		t.Fatalf("/ui: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range append([]string{""}, assetPaths(t)...) {
		if resp := get(Prefix+p, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s without a key: %d", Prefix+p, resp.StatusCode)
		}
	}
	if resp := get(Prefix, key); resp.StatusCode != http.StatusOK {
		t.Fatalf("%s with the operator's key: %d", Prefix, resp.StatusCode)
	}
	if resp := get(Prefix, "yjk_unknown"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("%s with an unknown key: %d", Prefix, resp.StatusCode)
	}
	if resp := get("/uinfo", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/uinfo: %d", resp.StatusCode)
	}
	if resp := get("/api/v1/nope", ""); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Security-Policy") != "" {
		t.Fatalf("/api/v1/nope: %d, CSP %q: the console's headers belong to the console", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
