// Package tustest serves the hub's tus endpoint (hub/uploads) on its own, over HTTP, for the
// tests of the clients that upload to it: the CLI's and package tusclient's.
package tustest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/store/storetest"
	"yjshub/hub/uploads"
)

// Key is the API key of the platform client the hub knows.
const Key = "yjk_tustest_platform"

// Types are the material type codes the hub knows unless Options.Types says otherwise.
var Types = []string{"application-form", "business-licence", "legal-rep-id-card", "premises-proof", "licence"}

// Options are what a test may change of the Hub.
type Options struct {
	// Mux, when not nil, also serves the test's own paths (the uploads take
	// uploads.DefaultPrefix and uploads.DefaultMaterialsPrefix). Default: a mux of the
	// uploads alone.
	Mux *http.ServeMux
	// Types are the material type codes the hub knows. Default Types.
	Types []string
}

// Hub is the uploads service on one SQL backend with its blobs on disk.
type Hub struct {
	t *testing.T
	// Server serves Handler; its URL is the hub's base URL.
	Server *httptest.Server
	// Service is the uploads service.
	Service *uploads.Service

	mu      sync.Mutex
	patches int
	// FailPatch, when it returns true for the n-th PATCH (from 1), answers that PATCH 503
	// without passing it on, as a hub that cannot take it just now.
	FailPatch func(n int) bool
}

// New starts a Hub on the backend open opens.
func New(t *testing.T, open storetest.Opener, o Options) *Hub {
	t.Helper()
	mux, types := o.Mux, o.Types
	if types == nil {
		types = Types
	}
	cs := auth.New()
	cs.Add(auth.Client{Name: "platform", Role: auth.RolePlatform}, auth.HashKey(Key))
	disk, err := blobs.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := uploads.New(uploads.Config{
		Store:        storetest.Migrated(open)(t),
		Blobs:        disk,
		Dir:          t.TempDir(),
		Authenticate: uploads.BearerKeys(cs),
		KnownType:    func(s string) bool { return slices.Contains(types, s) },
	})
	if err != nil {
		t.Fatalf("uploads.New: %v", err)
	}
	h := &Hub{t: t, Service: svc}
	if mux == nil {
		mux = http.NewServeMux()
	}
	up := svc.Handler()
	serve := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			h.mu.Lock()
			h.patches++
			n, fail := h.patches, h.FailPatch
			h.mu.Unlock()
			if fail != nil && fail(n) {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		up.ServeHTTP(w, r)
	}
	mux.HandleFunc(uploads.DefaultPrefix, serve)
	mux.HandleFunc(uploads.DefaultPrefix+"/", serve)
	mux.HandleFunc(uploads.DefaultMaterialsPrefix+"/", serve)
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Server.Close)
	return h
}

// Endpoint is the tus endpoint's URL.
func (h *Hub) Endpoint() string { return h.Server.URL + uploads.DefaultPrefix }

// Patches is how many PATCH requests the hub received.
func (h *Hub) Patches() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.patches
}

// Material reads the record of material id through the API, as its owner.
func (h *Hub) Material(id string) uploads.Material {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, h.Server.URL+uploads.DefaultMaterialsPrefix+"/"+id, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET material %s: %d", id, resp.StatusCode)
	}
	var m uploads.Material
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		h.t.Fatal(err)
	}
	return m
}
