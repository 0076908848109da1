package keyfile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/hub/keyfile"
)

// A file is created once, with the owner's mode alone; a second Create finds it and leaves it
// as it was; Replace puts other keys in its place; Read gives them back, oldest first.
func TestAKeyFileIsCreatedOnceReplacedWholeAndReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir", "ring.key")
	if _, err := keyfile.Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of no file: %v; want fs.ErrNotExist", err)
	}
	first := []keyfile.Key{{ID: "k1", Secret: []byte("one secret")}}
	if created, err := keyfile.Create(path, "# header\n", first); err != nil || !created {
		t.Fatalf("Create: %v %v", created, err)
	}
	if created, err := keyfile.Create(path, "# header\n", []keyfile.Key{{ID: "k1", Secret: []byte("another")}}); err != nil || created {
		t.Fatalf("Create over a file: created %v, %v; want false and the file kept", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != keyfile.Mode {
		t.Fatalf("mode %v (%v); want %04o", fi.Mode(), err, keyfile.Mode)
	}
	got, err := keyfile.Read(path)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Secret, first[0].Secret) {
		t.Fatalf("Read: %v %v; want the first key", got, err)
	}
	next := []keyfile.Key{first[0], {ID: keyfile.NextID(got), Secret: []byte("two")}}
	if err := keyfile.Replace(path, "# header\n", next); err != nil {
		t.Fatal(err)
	}
	if got, err = keyfile.Read(path); err != nil || len(got) != 2 || got[1].ID != "k2" || string(got[1].Secret) != "two" {
		t.Fatalf("after Replace: %v %v; want k1 and k2", got, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ring.key.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A file others may read is refused; every malformed line is named with its number, and no
// secret appears in the error.
func TestReadRefusesAnOpenFileAndNamesEveryBadLine(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, []byte("k1 c2VjcmV0\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.Read(open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a group-readable file: %v; want it refused", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("# comment\nk1 c2VjcmV0\nk2\nk3 not*base64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := keyfile.Read(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.key:3:") || !strings.Contains(err.Error(), "bad.key:4:") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("a file with two bad lines: %v; want lines 3 and 4 named and no key", err)
	}
}

func TestNumberAndNextID(t *testing.T) {
	for id, want := range map[string]int{"k1": 1, "k12": 12, "k0": 0, "k01": 0, "x1": 0, "k": 0} {
		if n, ok := keyfile.Number(id); n != want || ok != (want > 0) {
			t.Errorf("Number(%q) = %d, %v; want %d", id, n, ok, want)
		}
	}
	if got := keyfile.NextID([]keyfile.Key{{ID: "k3"}, {ID: "k9"}, {ID: "odd"}}); got != "k10" {
		t.Errorf("NextID = %s; want k10", got)
	}
	if got := keyfile.NextID(nil); got != "k1" {
		t.Errorf("NextID of none = %s; want k1", got)
	}
}

// Open creates a file with one fresh key of the size asked the first time and reads that key
// back every time after; hubs opening the same missing file at once all end with the key of
// the one that created it.
func TestOpenCreatesOneKeyOnceAndEveryOpenerReadsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.key")
	const openers = 8
	type opened struct {
		keys    []keyfile.Key
		created bool
		err     error
	}
	results := make(chan opened, openers)
	for range openers {
		go func() {
			keys, created, err := keyfile.Open(path, "# header\n", 32)
			results <- opened{keys, created, err}
		}()
	}
	creators := 0
	var all []opened
	for range openers {
		o := <-results
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.created {
			creators++
		}
		all = append(all, o)
	}
	if creators != 1 {
		t.Errorf("%d openers created the file; want 1", creators)
	}
	onDisk, err := keyfile.Read(path)
	if err != nil || len(onDisk) != 1 || onDisk[0].ID != "k1" || len(onDisk[0].Secret) != 32 {
		t.Fatalf("the file holds %d keys (%v); want one k1 of 32 bytes", len(onDisk), err)
	}
	for i, o := range all {
		if len(o.keys) != 1 || !bytes.Equal(o.keys[0].Secret, onDisk[0].Secret) {
			t.Errorf("opener %d got another key than the file's", i)
		}
	}
	if _, created, err := keyfile.Open(path, "# header\n", 32); err != nil || created {
		t.Errorf("Open of an existing file: created %v, %v; want it read", created, err)
	}
}

// Check names every problem of a ring, each key by its id or place, and never a secret.
func TestCheckNamesEveryProblemOfARing(t *testing.T) {
	fresh, err := keyfile.Generate("k1", 32)
	if err != nil || len(fresh.Secret) != 32 || bytes.Equal(fresh.Secret, make([]byte, 32)) {
		t.Fatalf("Generate: %d bytes, %v", len(fresh.Secret), err)
	}
	if errs := keyfile.Check([]keyfile.Key{fresh, {ID: "k2", Secret: fresh.Secret}}, 32); len(errs) != 0 {
		t.Errorf("a good ring: %v", errs)
	}
	short := []byte("short secret")
	errs := keyfile.Check([]keyfile.Key{fresh, {ID: "k1", Secret: fresh.Secret}, {ID: "key3", Secret: short}}, 32)
	text := errors.Join(errs...).Error()
	for _, want := range []string{"key id k1 is given twice", "key 3: its id must be k and a number", "key key3 is 12 bytes, want 32"} {
		if !strings.Contains(text, want) {
			t.Errorf("Check: %q; want it to say %q", text, want)
		}
	}
	if len(errs) != 3 || strings.Contains(text, string(short)) {
		t.Errorf("Check: %d problems (%q); want 3 and no secret", len(errs), text)
	}
}
