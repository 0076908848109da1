package deptsim_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gabriel-vasile/mimetype"

	"yjshub/deptsim"
	"yjshub/hub/event"
)

// Before it approves a licence matter, a department uploads the licence's file to the hub (a
// PDF, PUT whole under its sha256, the licence type as its type and the holder as its holder,
// with its key) and names it in the approval by object_id, with no made-up uri.
func TestAnApprovalNamesTheLicenceFileItUploadedFirst(t *testing.T) {
	hub := newFakeHub(t)
	type put struct {
		sum, typ, holder, filename, auth, contentType string
		hashed                                        bool
	}
	var puts []put
	hub.mux.HandleFunc("PUT /api/v1/files/{sha256}", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		h := sha256.Sum256(data)
		q := r.URL.Query()
		hub.mu.Lock()
		puts = append(puts, put{sum: r.PathValue("sha256"), typ: q.Get("type"), holder: q.Get("holder"), filename: q.Get("filename"),
			auth: r.Header.Get("Authorization"), contentType: mimetype.Detect(data).String(), hashed: hex.EncodeToString(h[:]) == r.PathValue("sha256")})
		hub.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"mo_0123456789abcdef0123456789abcdef","sha256":"`+hex.EncodeToString(h[:])+`"}`)
	})
	sim, srv := newSim(t, deptsim.Config{}, deptsim.WithHubKeys(map[string]string{"admin-approval": "yjk_aa"}))
	body := envelope(t, sub{id: "ev-1", subcase: "sc_1", dept: "admin-approval", callback: hub.callback("sc_1"),
		applicant: &applicantJSON{Name: "连云港海韵餐饮管理有限公司", ID: "91350100M000100Y43", IDType: "uscc"}})
	if a := push(t, srv, "admin-approval", "ev-1", body); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	// A department without a key gives its licence's file by uri: the hub would not let its
	// approval name a file.
	body = envelope(t, sub{id: "ev-2", subcase: "sc_2", dept: "market-regulation", callback: hub.callback("sc_2"),
		applicant: &applicantJSON{Name: "连云港海韵餐饮管理有限公司", ID: "91350100M000100Y43", IDType: "uscc"}})
	if a := push(t, srv, "market-regulation", "ev-2", body); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	waitIdle(t, sim)
	if evs := hub.eventsOf("sc_2"); len(evs) != 3 || len(evs[2].Licences) != 1 || evs[2].Licences[0].File.ObjectID != "" ||
		!strings.HasPrefix(evs[2].Licences[0].File.URI, "sim://licences/") {
		t.Errorf("the keyless department's events %+v, want an approval whose licence file is a sim:// uri", evs)
	}

	evs := hub.eventsOf("sc_1")
	if len(evs) != 3 || evs[2].Type != event.Approved || len(evs[2].Licences) != 1 {
		t.Fatalf("events %+v, want received, accepted and an approval with one licence", evs)
	}
	l := evs[2].Licences[0]
	if l.File != (event.LicenceFile{ObjectID: "mo_0123456789abcdef0123456789abcdef"}) {
		t.Errorf("the licence's file %+v, want the uploaded object alone (the hub fills in the rest)", l.File)
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if len(puts) != 1 {
		t.Fatalf("%d PUTs, want 1", len(puts))
	}
	p := puts[0]
	if !p.hashed || p.typ != "食品经营许可证" || p.holder != "91350100M000100Y43" || p.auth != "Bearer yjk_aa" ||
		!strings.HasPrefix(p.contentType, "application/pdf") || p.filename != l.Number+".pdf" {
		t.Errorf("the PUT %+v: want the PDF under its sha256, the licence type, the holder, the department's key, %s.pdf", p, l.Number)
	}
	if n := sim.Stats().Departments["admin-approval"].LicenceFilesUploaded; n != 1 {
		t.Errorf("LicenceFilesUploaded = %d, want 1", n)
	}
}
