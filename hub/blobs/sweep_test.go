package blobs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"yjshub/hub/blobs"
)

// leaveTemp writes a temporary file as a Put that crashed would leave it, last written at mtime.
func leaveTemp(t *testing.T, dir, name string, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSweepTempRemovesTheTemporaryFilesACrashLeftOnlyOnceAnHourOld(t *testing.T) {
	root := t.TempDir()
	d, err := blobs.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("%PDF-1.7 a blob that stays")
	h := sha256.Sum256(data)
	key := hex.EncodeToString(h[:])
	if _, err := d.Put(t.Context(), key, int64(len(data)), "application/pdf", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	blobDir := filepath.Join(root, key[0:2], key[2:4])
	now := time.Now()
	stale := leaveTemp(t, blobDir, ".put-1234", now.Add(-2*time.Hour))
	staleSidecar := leaveTemp(t, blobDir, ".put-5678.json", now.Add(-90*time.Minute))
	fresh := leaveTemp(t, blobDir, ".put-9999", now.Add(-10*time.Minute))
	// An old blob is not a temporary file, however old.
	old := now.Add(-3 * time.Hour)
	if err := os.Chtimes(filepath.Join(blobDir, key), old, old); err != nil {
		t.Fatal(err)
	}

	n, err := d.SweepTemp(t.Context(), now.Add(-blobs.TempMaxAge))
	if err != nil || n != 2 {
		t.Fatalf("SweepTemp = %d, %v; want 2, nil", n, err)
	}
	for _, p := range []string{stale, staleSidecar} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (stat: %v)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the temporary file written 10 minutes ago was removed: %v", err)
	}
	rc, info, err := d.Open(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("the blob beside them: %v", err)
	}
	rc.Close()
	if info.Size != int64(len(data)) || info.ContentType != "application/pdf" {
		t.Errorf("the blob beside them is %+v", info)
	}
}

func TestNewDiskRemovesTheTemporaryFilesACrashLeft(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "ab", "cd")
	if err := os.MkdirAll(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	leaveTemp(t, sub, ".put-1", now.Add(-2*time.Hour))
	leaveTemp(t, sub, ".put-2", now)
	if _, err := blobs.NewDisk(root); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); !slices.Equal(got, []string{filepath.Join("ab", "cd", ".put-2")}) {
		t.Errorf("after NewDisk the store holds %v, want only the fresh temporary file", got)
	}
}
