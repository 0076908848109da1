package deptsim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/deptsim"
	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/event"
	"yjshub/hub/links"
)

// linkedHub is a fake hub that also serves materials through signed links, as the real one
// does: links.Handler over blobs on disk, behind the departments' API keys.
type linkedHub struct {
	*fakeHub
	keys *links.Keyring

	mu    sync.Mutex
	reads []links.Read
}

const (
	deptAMR  = "amr"
	deptFire = "fire-rescue"
	keyAMR   = "yjk_dept_amr"
)

func newLinkedHub(t *testing.T) *linkedHub {
	t.Helper()
	h := &linkedHub{fakeHub: newFakeHub(t)}
	keys, _, err := links.Open(filepath.Join(t.TempDir(), links.FileName))
	if err != nil {
		t.Fatal(err)
	}
	h.keys = keys
	cs := auth.New()
	cs.Add(auth.Client{Name: "amr-system", Role: auth.RoleDepartment, Department: deptAMR}, auth.HashKey(keyAMR))
	disk, err := blobs.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := links.Handler(disk, keys, func(_ context.Context, r links.Read) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reads = append(h.reads, r)
		return nil
	})
	h.mux.Handle("/api/v1/files/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			c, ok := cs.Authenticate(key)
			if !ok {
				http.Error(w, "unknown key", http.StatusUnauthorized)
				return
			}
			r = r.WithContext(auth.WithClient(r.Context(), c))
		}
		files.ServeHTTP(w, r)
	}))
	for _, pdf := range samplePDFs {
		if _, err := disk.Put(t.Context(), sum(pdf), int64(len(pdf)), "application/pdf", bytes.NewReader(pdf)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

var samplePDFs = [][]byte{
	[]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n营业执照"),
	[]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n平面图"),
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// link signs a link to blob for dept; absolute says whether the message carries the hub's
// address or the path alone.
func (h *linkedHub) link(t *testing.T, blob []byte, dept, subcase string, absolute bool) string {
	t.Helper()
	l, err := h.keys.Sign(http.MethodGet, sum(blob), dept, "cs_"+subcase, subcase, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if absolute {
		return h.srv.URL + l
	}
	return l
}

func (h *linkedHub) departmentsRead() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.reads {
		out = append(out, r.Department+" "+r.SHA256)
	}
	return out
}

func TestADepartmentFetchesEachLinkedMaterialAndChecksItsSHA256BeforeApproving(t *testing.T) {
	hub := newLinkedHub(t)
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithHubKeys(map[string]string{deptAMR: keyAMR}))
	materials := []event.MaterialRef{
		{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf", SHA256: sum(samplePDFs[0]), Size: int64(len(samplePDFs[0])), URI: hub.link(t, samplePDFs[0], deptAMR, "sc_ok", true)},
		{Type: "floor-plan", Name: "经营场所平面图", Filename: "pm.pdf", SHA256: sum(samplePDFs[1]), Size: int64(len(samplePDFs[1])), URI: hub.link(t, samplePDFs[1], deptAMR, "sc_ok", false)},
		// A platform's own file server: not the hub's to vouch for, and not fetched.
		{Type: "premises-proof", Name: "场所证明", Filename: "cs.pdf", SHA256: strings.Repeat("ef", 32), Size: 10, URI: "https://files.example/cs.pdf"},
	}
	push(t, srv, deptAMR, "ev-ok", envelope(t, sub{id: "ev-ok", subcase: "sc_ok", dept: deptAMR, callback: hub.callback("sc_ok"), materials: materials}))
	waitIdle(t, sim)

	if got := hub.typesOf("sc_ok"); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Approved}) {
		t.Fatalf("events %v, want received, accepted, approved", got)
	}
	fetches := sim.Fetches()
	if len(fetches) != 2 {
		t.Fatalf("fetches %+v, want the two hub links", fetches)
	}
	for i, f := range fetches {
		if !f.OK() || f.Status != http.StatusOK || f.Got != sum(samplePDFs[i]) || f.Bytes != int64(len(samplePDFs[i])) || f.Department != deptAMR {
			t.Errorf("fetch %d = %+v, want %s's bytes, checked", i, f, materials[i].Type)
		}
	}
	want := []string{deptAMR + " " + sum(samplePDFs[0]), deptAMR + " " + sum(samplePDFs[1])}
	if got := hub.departmentsRead(); !reflect.DeepEqual(got, want) {
		t.Errorf("the hub recorded reads %v, want %v", got, want)
	}
	if st := sim.Stats().Departments[deptAMR]; st.MaterialsFetched != 2 || st.MaterialsRefused != 0 {
		t.Errorf("stats %+v, want 2 fetched, 0 refused", st)
	}
}

func TestAMaterialThatCannotBeCheckedMakesTheSubcaseRejectedWithTheReason(t *testing.T) {
	hub := newLinkedHub(t)
	good := func(subcase, dept string) event.MaterialRef {
		return event.MaterialRef{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf", SHA256: sum(samplePDFs[0]),
			Size: int64(len(samplePDFs[0])), URI: hub.link(t, samplePDFs[0], dept, subcase, true)}
	}
	for _, tc := range []struct {
		name, subcase, dept string
		material            func(sc string) event.MaterialRef
		status              int
		problem             string
	}{
		{name: "bytes whose sha256 is not the one announced", subcase: "sc_hash", dept: deptAMR,
			material: func(sc string) event.MaterialRef {
				m := good(sc, deptAMR)
				m.SHA256 = sum(samplePDFs[1]) // the message lies about the file the link names
				return m
			}, status: http.StatusOK, problem: "sha256"},
		{name: "a link signed for another department", subcase: "sc_foreign", dept: deptAMR,
			material: func(sc string) event.MaterialRef { return good(sc, deptFire) }, status: http.StatusForbidden, problem: "403"},
		{name: "a link whose signature was altered", subcase: "sc_altered", dept: deptFire,
			material: func(sc string) event.MaterialRef {
				m := good(sc, deptFire)
				m.URI = strings.Replace(m.URI, "sig=", "sig=A", 1)
				return m
			}, status: http.StatusForbidden, problem: "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newSim(t, deptsim.Config{}, deptsim.WithHubKeys(map[string]string{deptAMR: keyAMR}))
			m := tc.material(tc.subcase)
			push(t, srv, tc.dept, "ev-"+tc.subcase, envelope(t, sub{id: "ev-" + tc.subcase, subcase: tc.subcase, dept: tc.dept,
				callback: hub.callback(tc.subcase), materials: []event.MaterialRef{m}}))
			waitIdle(t, sim)

			evs := hub.eventsOf(tc.subcase)
			if got := hub.typesOf(tc.subcase); !reflect.DeepEqual(got, []string{event.Received, event.Accepted, event.Rejected}) {
				t.Fatalf("events %v, want received, accepted, rejected", got)
			}
			if r := evs[2].Reason; !strings.Contains(r, m.Type) || !strings.Contains(r, tc.problem) || strings.Contains(r, "sig=") {
				t.Errorf("reason %q, want the material type %s and %q, and not the link", r, m.Type, tc.problem)
			}
			f := sim.Fetches()
			if len(f) != 1 || f[0].OK() || f[0].Status != tc.status {
				t.Fatalf("fetches %+v, want one failed with %d", f, tc.status)
			}
			if st := sim.Stats().Departments[tc.dept]; st.MaterialsRefused != 1 || st.MaterialsFetched != 0 {
				t.Errorf("stats %+v, want 1 refused", st)
			}
		})
	}
}
