package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets are the console's files, served under Prefix by their path below assets/.
//
//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under; the path without its trailing slash
// redirects to it.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every answer: the console's scripts, styles and API calls
// come from the hub alone, images may also be data: URIs (the icon), nothing inline runs and no
// other site may frame it (clickjacking an operator's pause button).
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

// contentTypes are the media types of the asset kinds the console is made of. An asset of
// another kind is refused by New, so that nothing is served with a type a browser would guess.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// asset is one file of the console, read once.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console. Create it with New; it is safe for concurrent use.
type Handler struct {
	files map[string]asset // by path below Prefix; "" is index.html
}

// New returns the console's handler with every asset read and hashed; the error names each
// asset of a kind it does not know a media type for.
func New() (*Handler, error) {
	return newHandler(assets, "assets")
}

func newHandler(fsys fs.FS, root string) (*Handler, error) {
	h := &Handler{files: map[string]asset{}}
	var problems []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			problems = append(problems, p+": no media type for "+path.Ext(p)+" files")
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.files[strings.TrimPrefix(p, root+"/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: reading the console's assets: %w", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("ui: %s", strings.Join(problems, "; "))
	}
	index, ok := h.files["index.html"]
	if !ok {
		return nil, fmt.Errorf("ui: the console has no index.html")
	}
	h.files[""] = index
	return h, nil
}

// ServeHTTP serves Prefix (the console's page), the assets below it, and redirects the path
// without its trailing slash to Prefix. Only GET and HEAD are served.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")        // frame-ancestors for browsers that predate it
	hd.Set("Referrer-Policy", "no-referrer") // case ids in the hash stay in the tab
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; allowed: GET, HEAD")
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	a, found := h.files[name]
	if !ok || !found {
		writeError(w, http.StatusNotFound, "not_found", "no such path: "+r.URL.Path)
		return
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	// no-cache is "revalidate before use", not "do not store": the names carry no version, so
	// a browser asks each time and an unchanged asset costs a 304 (ServeContent answers
	// If-None-Match against the ETag).
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// writeError answers in the hub's one error shape ({"error": {"status", "code", "message"}}),
// as the API does, so that a client reading a 404 here reads it as any other.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"status": status, "code": code, "message": message}})
}
