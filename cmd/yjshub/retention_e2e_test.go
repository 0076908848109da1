package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"yjshub/hub/audit"
	"yjshub/hub/links"
	"yjshub/hub/retention"
)

// serve refuses a retention file with problems before it opens anything, naming every one, and
// a retention interval that is not more than 0.
func TestServeNamesEveryProblemOfTheRetentionFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "retention.yml")
	if err := os.WriteFile(bad, []byte("unlinked: -3d\nafter_case: a year\ntypes:\n  no-such-material: 90d\n  id-card: 1.5d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"a file of four problems", []string{"--retention=" + bad},
			[]string{bad, "unlinked: -3d must be more than 0", `after_case: "a year" is not a period`, "types.no-such-material: not a material type of the catalogue", `types.id-card: "1.5d" is not a period`}},
		{"a file that is not there", []string{"--retention=" + bad + ".missing"}, []string{"retention file", "retention.yml.missing"}},
		{"a negative interval", []string{"--retention-interval=-1s"}, []string{"--retention-interval -1s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"serve", "--addr=127.0.0.1:0", "--data-dir=" + t.TempDir()}, c.args...)...)
			if code == 0 {
				t.Fatalf("serve %v: exit 0; want it refused", c.args)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("serve %v: %q does not name %q", c.args, stderr, w)
				}
			}
		})
	}
}

// The retention sweeper runs in serve: a material uploaded over tus and named by no case is
// removed once the retention file's unlinked period has passed — its record says removed_at,
// a link to its bytes answers 410 and the audit log has the removal.
func TestServeRemovesAnUploadNoCaseNamedOnceItsRetentionEnds(t *testing.T) {
	var o serveOptions
	o.clientsFile = filepath.Join(t.TempDir(), "clients.yaml")
	keys := writeClients(t, o.clientsFile, "platform", "operator", "department:market-regulation")
	o.files.linkKeys = filepath.Join(t.TempDir(), "keys", links.FileName)
	o.files.retention = filepath.Join(t.TempDir(), "retention.yml")
	if err := os.WriteFile(o.files.retention, []byte("unlinked: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.files.retentionEvery = 50 * time.Millisecond
	hub, _ := startSimulatedHub(t, o)
	platform := keys["platform"]

	content := samplePDF(20_000)
	raw := sha256.Sum256(content)
	sum := hex.EncodeToString(raw[:])
	res, b := tusRequest(t, http.MethodPost, hub+"/api/v1/uploads", platform, content, map[string]string{
		"Upload-Length":   strconv.Itoa(len(content)),
		"Upload-Metadata": tusMetadata("filename", "licence.pdf", "type", "business-licence", "holder", "91350100M000100Y43"),
		"Content-Type":    "application/offset+octet-stream",
	})
	material := res.Header.Get("Upload-Material-Id")
	if res.StatusCode != http.StatusCreated || material == "" {
		t.Fatalf("creating the upload with its bytes: %d material %q %s", res.StatusCode, material, b)
	}
	ring, err := links.Load(o.files.linkKeys)
	if err != nil {
		t.Fatal(err)
	}
	link, err := ring.Sign(http.MethodGet, sum, "market-regulation", "C"+strconv.FormatInt(time.Now().UnixNano(), 10), "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	var rec struct {
		RemovedAt *time.Time `json:"removed_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	eventually(t, "the sweeper's removal of the material named by no case", func() bool {
		getAs(t, hub+"/api/v1/material-objects/"+material, platform, http.StatusOK, &rec)
		return rec.RemovedAt != nil
	})
	if rec.ExpiresAt == nil || rec.RemovedAt.Before(*rec.ExpiresAt) {
		t.Errorf("the record says expires_at %v, removed_at %v; want it removed once due", rec.ExpiresAt, rec.RemovedAt)
	}
	if res, b := tusRequest(t, http.MethodGet, hub+link, keys["department:market-regulation"], nil, nil); res.StatusCode != http.StatusGone {
		t.Errorf("the link to the removed material's bytes: %d %s; want 410", res.StatusCode, b)
	}
	var log struct {
		Entries []struct{ Detail retention.Removal }
	}
	getAs(t, hub+"/api/v1/audit?kind="+audit.KindMaterialRemoved, keys["operator"], http.StatusOK, &log)
	if len(log.Entries) != 1 || log.Entries[0].Detail.Object != material || !log.Entries[0].Detail.BlobDeleted {
		t.Errorf("the audit log's removals: %+v; want one, of %s, its bytes deleted", log.Entries, material)
	}
}
