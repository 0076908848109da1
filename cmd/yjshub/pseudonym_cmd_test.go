package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yjshub/hub/pseudonym"
)

// serve makes the keyring in its data directory on the first start, owner-only, and reads the
// same keys on the next; the CLI rotates and retires them.
func TestServeKeepsItsPseudonymKeysInTheDataDirAndTheCLIRotatesThem(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := openPseudonyms(serveOptions{dataDir: dir}, logger)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, pseudonym.FileName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the keyring file: %v, mode %v; want 0600", err, fi)
	}
	second, err := openPseudonyms(serveOptions{dataDir: dir}, logger)
	if err != nil || second.Of("91350100M000100Y43") != first.Of("91350100M000100Y43") {
		t.Fatalf("the second start holds other keys (%v)", err)
	}

	if code, out, errOut := runCLI(t, "pseudonym", "rotate", "--data-dir", dir); code != 0 || !strings.Contains(out, "current key k2") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}
	code, out, _ := runCLI(t, "pseudonym", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "keys k1, k2; current k2") {
		t.Fatalf("list: %d %s", code, out)
	}
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") && strings.Contains(out, f[1]) {
			t.Fatal("list shows a key")
		}
	}
	if code, _, errOut := runCLI(t, "pseudonym", "retire", "k2", "--data-dir", dir); code != 1 || !strings.Contains(errOut, "current key") {
		t.Errorf("retiring the current key: %d %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "pseudonym", "retire", "k1", "--data-dir", dir); code != 0 || !strings.Contains(out, "keys k2") {
		t.Fatalf("retire k1: %d %s %s", code, out, errOut)
	}
	third, err := openPseudonyms(serveOptions{dataDir: dir}, logger)
	if err != nil || third.Current() != "k2" || third.Matches(first.Of("91350100M000100Y43"), "91350100M000100Y43") {
		t.Fatalf("after rotate and retire, serve reads current %v and still matches k1's pseudonyms (%v)", third, err)
	}
	if code, _, _ := runCLI(t, "pseudonym", "rotate", "--data-dir", filepath.Join(dir, "elsewhere")); code != 1 {
		t.Errorf("rotating where there is no keyring: exit %d, want 1", code)
	}
	other := filepath.Join(t.TempDir(), "keys")
	if _, err := openPseudonyms(serveOptions{dataDir: dir, pseudonymKeys: other}, logger); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("--pseudonym-keys: %v", err)
	}
}
