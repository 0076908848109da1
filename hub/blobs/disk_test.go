package blobs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/hub/blobs"
	"yjshub/hub/blobs/blobstest"
)

func diskHarness() blobstest.Harness {
	return blobstest.Harness{
		New: func(t testing.TB) blobs.Store {
			d, err := blobs.NewDisk(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		List: func(t testing.TB, st blobs.Store) []string {
			return files(t, st.(*blobs.Disk).Dir())
		},
		ExactlyOneCreated: true,
	}
}

// files lists every file under dir, by its path relative to dir.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiskConformance(t *testing.T) { blobstest.Run(t, diskHarness()) }

func BenchmarkDisk(b *testing.B) { blobstest.Bench(b, diskHarness(), 4<<20) }

func TestDiskKeepsABlobUnderItsHashWithItsContentTypeBeside(t *testing.T) {
	dir := t.TempDir()
	d, err := blobs.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := blobstest.NewBlob(1, 1000)
	if _, err := d.Put(context.Background(), b.Key, 1000, "application/ofd", bytes.NewReader(b.Data)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, b.Key[:2], b.Key[2:4], b.Key)
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, b.Data) {
		t.Fatalf("the blob's file %s: %d bytes, error %v", p, len(got), err)
	}
	side, err := os.ReadFile(p + ".json")
	if err != nil || !strings.Contains(string(side), `"application/ofd"`) {
		t.Fatalf("the sidecar %s.json: %q, error %v", p, side, err)
	}
}

func TestNewDiskNeedsADirectory(t *testing.T) {
	if _, err := blobs.NewDisk(""); err == nil {
		t.Fatal("NewDisk(\"\") made a store")
	}
}

func TestABadKeyErrorNamesItsProblemsNotTheKey(t *testing.T) {
	d, err := blobs.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const key = "110101199003071234-NOT-A-HASH"
	_, err = d.Stat(context.Background(), key)
	if !errors.Is(err, blobs.ErrBadKey) {
		t.Fatalf("stat: %v; want ErrBadKey", err)
	}
	msg := err.Error()
	for _, want := range []string{"29 bytes, not 64", "byte 18"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "110101199003071234") {
		t.Errorf("error %q repeats the key, which may be anything a caller sent", msg)
	}
}

// FuzzDiskKey: whatever the key, the disk store answers ErrBadKey or, for a well-formed key
// of a blob it does not hold, ErrNotFound, and leaves no file anywhere.
func FuzzDiskKey(f *testing.F) {
	good := blobstest.NewBlob(1, 10).Key
	for _, k := range []string{"", good, strings.ToUpper(good), "../" + good[3:], good[:2] + "/" + good[3:], "\x00" + good[1:]} {
		f.Add(k)
	}
	root := f.TempDir()
	d, err := blobs.NewDisk(filepath.Join(root, "blobs"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		_, err := d.Stat(context.Background(), key)
		wellFormed := len(key) == 64 && strings.Trim(key, "0123456789abcdef") == ""
		switch {
		case wellFormed && !errors.Is(err, blobs.ErrNotFound):
			t.Fatalf("stat of a well-formed key: %v; want ErrNotFound", err)
		case !wellFormed && !errors.Is(err, blobs.ErrBadKey):
			t.Fatalf("stat of a malformed key: %v; want ErrBadKey", err)
		}
		if err := d.Delete(context.Background(), key); wellFormed != (err == nil) {
			t.Fatalf("delete: %v (well formed: %v)", err, wellFormed)
		}
		if _, err := d.Put(context.Background(), key, 1, "", strings.NewReader("x")); err == nil {
			t.Fatal("a put of one byte under a key that is not its hash succeeded")
		}
		if left := files(t, root); len(left) != 0 {
			t.Fatalf("the store's directory holds %v", left)
		}
	})
}
