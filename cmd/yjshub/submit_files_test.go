package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/leaktest"
	"yjshub/hub/store/storetest"
	"yjshub/tusclient"
	"yjshub/tusclient/tustest"
)

// filesHub is a hub that serves the one forms, the uploads (hub/uploads on SQLite) and takes
// submissions, keeping the last body submitted.
type filesHub struct {
	*tustest.Hub
	mu   sync.Mutex
	sent []byte
}

func newFilesHub(t *testing.T, types []string) *filesHub {
	t.Helper()
	h := &filesHub{}
	mux, _ := formMux(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.sent = b
		h.mu.Unlock()
		created(w, r)
	})
	h.Hub = tustest.New(t, storetest.OpenSQLite, tustest.Options{Mux: mux, Types: types})
	t.Setenv(apiKeyEnv, tustest.Key)
	return h
}

func (h *filesHub) submitted() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

const filesExample = "../../examples/files/open-bar-enterprise.json"

// The example that names its materials as local files is uploaded file by file, and sent
// naming the materials the hub made of them.
func TestSubmitUploadsTheFilesAnApplicationNamesAndSendsTheirIDs(t *testing.T) {
	raw, err := os.ReadFile(filesExample)
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Form      map[string]any `json:"form"`
		Materials []struct{ Type, File string }
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range app.Materials {
		types = append(types, m.Type)
	}
	hub := newFilesHub(t, types)
	state := filepath.Join(t.TempDir(), "uploads.json")

	code, out, stderr := runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", state, filesExample)
	if code != 0 || strings.TrimSpace(out) != "cs_1" {
		t.Fatalf("exit %d: %s\n%s", code, out, stderr)
	}
	var sent struct {
		Form      map[string]any      `json:"form"`
		Materials []map[string]string `json:"materials"`
	}
	if err := json.Unmarshal(hub.submitted(), &sent); err != nil {
		t.Fatalf("the submission: %v", err)
	}
	if len(sent.Materials) != len(app.Materials) {
		t.Fatalf("%d materials sent, want %d", len(sent.Materials), len(app.Materials))
	}
	for i, m := range sent.Materials {
		want := app.Materials[i]
		if len(m) != 2 || m["type"] != want.Type || !strings.HasPrefix(m["id"], "mo_") {
			t.Errorf("material %d sent as %v, want {type %s, id mo_…}", i, m, want.Type)
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(filesExample), want.File))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		got := hub.Material(m["id"])
		if got.SHA256 != hex.EncodeToString(s[:]) || got.Type != want.Type || got.Holder != app.Form["enterprise.uscc"] || got.Filename != want.Type+".pdf" {
			t.Errorf("material %d at the hub: %s %s %s; want the sha256 of %s, its type and the applicant's USCC",
				i, got.SHA256, got.Type, got.Filename, want.File)
		}
		if !strings.Contains(stderr, want.File) {
			t.Errorf("no progress of %s on stderr", want.File)
		}
	}
	if sent.Form["enterprise.uscc"] != app.Form["enterprise.uscc"] || len(sent.Form) != len(app.Form) {
		t.Errorf("the form was not sent as written")
	}
	if !strings.Contains(stderr, "100%") {
		t.Errorf("no progress bar reached 100%%:\n%s", stderr)
	}
	if b, _ := os.ReadFile(state); strings.Contains(string(b), `"url"`) {
		t.Errorf("the state still holds uploads in flight after they finished: %s", b)
	}

	// Sent again (as after a refusal of the application, fixed), the files the hub still has
	// are not uploaded again.
	patches := hub.Patches()
	code, out, stderr = runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", state, filesExample)
	if code != 0 || strings.TrimSpace(out) != "cs_1" {
		t.Fatalf("the second run: exit %d: %s\n%s", code, out, stderr)
	}
	if hub.Patches() != patches || strings.Count(stderr, "uploaded by an earlier run") != len(app.Materials) {
		t.Errorf("the second run sent %d PATCHes; want none, every file reused:\n%s", hub.Patches()-patches, stderr)
	}
	var again struct {
		Materials []map[string]string `json:"materials"`
	}
	if err := json.Unmarshal(hub.submitted(), &again); err != nil || !reflect.DeepEqual(again.Materials, sent.Materials) {
		t.Errorf("the second run sent materials %v (%v), want the first run's %v", again.Materials, err, sent.Materials)
	}
}

// Files that cannot be uploaded are all named, with what is wrong, before anything is sent.
func TestSubmitNamesEveryLocalFileThatCannotBeUploadedAndSendsNothing(t *testing.T) {
	hub := newFilesHub(t, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.pdf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filesExample)
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	ms := app["materials"].([]any)
	ms[0] = map[string]any{"type": "application-form", "file": "missing.pdf"}
	ms[1] = map[string]any{"type": "business-licence", "file": "empty.pdf"}
	ms[2] = map[string]any{"type": "legal-rep-id-card", "file": filepath.Join(dir, "missing-too.pdf"), "sha256": strings.Repeat("0", 64)}
	ms[3] = map[string]any{"type": "premises-proof", "file": 7}
	b, _ := json.Marshal(app)
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", filepath.Join(dir, "state.json"), path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for _, want := range []string{
		"/materials/0/file: missing.pdf: no such file",
		"/materials/1/file: empty.pdf: the file is empty",
		"/materials/2: a material given as a file has only type, file and filename",
		"/materials/2/file: " + filepath.Join(dir, "missing-too.pdf") + ": no such file",
		"/materials/3/file: a file is the path of a local file",
		"5 problem(s); nothing was sent",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if hub.Patches() != 0 || hub.submitted() != nil {
		t.Errorf("%d PATCHes and a submission %q, want nothing sent", hub.Patches(), hub.submitted())
	}
}

// A file the hub refuses is named with the hub's reason, and the application is not sent.
func TestSubmitReportsAnUploadTheHubRefusesAndSendsNothing(t *testing.T) {
	hub := newFilesHub(t, []string{"application-form"}) // the hub knows no other material type
	code, _, stderr := runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", filepath.Join(t.TempDir(), "s.json"), filesExample)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "/materials/1: uploading pdf/business-licence.pdf: create: the hub answered 422") {
		t.Errorf("stderr does not name the refused file and the hub's answer:\n%s", stderr)
	}
	if strings.Contains(stderr, "run the command again") {
		t.Errorf("a refusal is not worth running again:\n%s", stderr)
	}
	// The uploads carry the applicant's credit code and the hub's answers may echo metadata;
	// none of it reaches the terminal.
	leaktest.AssertNoLeak(t, stderr, "91350100M000100Y43", "11010519491231002X", "15105181234")
	if hub.submitted() != nil {
		t.Errorf("the application was sent")
	}
}

// An upload cut off (the hub answers 503 more often than the run retries) is resumed by the
// next run from where the hub holds it, and the application is then sent.
func TestSubmitResumesAnUploadCutOffInAnEarlierRun(t *testing.T) {
	old := retryBase
	retryBase = time.Millisecond
	t.Cleanup(func() { retryBase = old })
	dir := t.TempDir()
	big := make([]byte, 10_000_000)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	copy(big, "%PDF-1.7\n")
	if err := os.WriteFile(filepath.Join(dir, "scan.pdf"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "open-drink-shop-individual.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	ms := app["materials"].([]any)
	typ := ms[0].(map[string]any)["type"].(string)
	ms[0] = map[string]any{"type": typ, "file": "scan.pdf"}
	b, _ := json.Marshal(app)
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	hub := newFilesHub(t, []string{typ})
	// The first part goes through; the next is refused 503 on the first try and its retries.
	hub.FailPatch = func(n int) bool { return n >= 2 && n <= 2+tusclient.DefaultRetries }
	state := filepath.Join(dir, "state.json")

	code, _, stderr := runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", state, "--chunk-mib", "4", path)
	if code != 1 || !strings.Contains(stderr, "uploading scan.pdf: send at 4194304: the hub answered 503") || !strings.Contains(stderr, "run the command again to resume it") {
		t.Fatalf("the first run: exit %d, want 1 naming the file, the 503 and how to resume:\n%s", code, stderr)
	}
	if hub.submitted() != nil {
		t.Fatal("the application was sent without its file")
	}
	code, out, stderr := runCLI(t, "submit", "--hub", hub.Server.URL, "--upload-state", state, path)
	if code != 0 || strings.TrimSpace(out) != "cs_1" {
		t.Fatalf("the second run: exit %d: %s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "scan.pdf: resumed at 4194304 of 10000000 bytes") {
		t.Errorf("the second run does not say it resumed:\n%s", stderr)
	}
	var sent struct {
		Materials []map[string]any `json:"materials"`
	}
	if err := json.Unmarshal(hub.submitted(), &sent); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(big)
	if m := hub.Material(fmt.Sprint(sent.Materials[0]["id"])); m.SHA256 != hex.EncodeToString(s[:]) || m.Size != int64(len(big)) {
		t.Errorf("the material at the hub: %s %d, want %x %d", m.SHA256, m.Size, s, len(big))
	}
}
