package pseudonym_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"yjshub/hub/pseudonym"
)

const residentID = "11010519491231002X"

func TestTheSameIdentifierUnderTheSameKeyIsTheSamePseudonymAndUnderAnotherKeyAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), pseudonym.FileName)
	a, _, err := pseudonym.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pseudonym.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Of(residentID)
	if p != a.Of(residentID) || p != again.Of(residentID) {
		t.Errorf("the same identifier and key give %q and %q", p, again.Of(residentID))
	}
	if !strings.HasPrefix(p, "k1:") || len(p) != len("k1:")+64 {
		t.Errorf("pseudonym %q: want k1: and 64 hex digits", p)
	}
	if p == a.Of("11010519491231003X") {
		t.Error("two identifiers have one pseudonym")
	}
	other := pseudonym.Ephemeral()
	if other.Of(residentID) == p {
		t.Error("another key gives the same pseudonym")
	}
	sum := sha256.Sum256([]byte(residentID))
	if strings.Contains(p, hex.EncodeToString(sum[:])) {
		t.Error("the pseudonym is the identifier's bare SHA-256")
	}
	if a.Of("") != "" || a.All("") != nil {
		t.Error("no identifier has a pseudonym")
	}
	if !a.Matches(p, residentID) || a.Matches(p, "11010519491231003X") || other.Matches(p, residentID) || a.Matches("nothing", residentID) {
		t.Error("Matches recognises another identifier's or another key's pseudonym")
	}
}

func TestTheKeyringFileIsCreatedOnceOwnerOnlyAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", pseudonym.FileName)
	first, created, err := pseudonym.Open(path)
	if err != nil || !created {
		t.Fatalf("first Open: created %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the keyring file has mode %04o, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	second, created, err := pseudonym.Open(path)
	if err != nil || created {
		t.Fatalf("second Open: created %v, %v", created, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Error("opening the keyring again rewrote it")
	}
	if first.Of(residentID) != second.Of(residentID) {
		t.Error("the key read back makes other pseudonyms than the key made")
	}
}

func TestHubsStartingAtOnceShareOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), pseudonym.FileName)
	rings := make([]*pseudonym.Keyring, 8)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Go(func() {
			r, _, err := pseudonym.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			rings[i] = r
		})
	}
	wg.Wait()
	for _, r := range rings[1:] {
		if r != nil && rings[0] != nil && r.Of(residentID) != rings[0].Of(residentID) {
			t.Fatal("processes opening the keyring at once hold different keys")
		}
	}
}

func TestAKeyringOthersMayReadOrThatDoesNotParseIsRefusedWithoutShowingAKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, pseudonym.FileName)
	if _, _, err := pseudonym.Open(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	secret := strings.Fields(string(b))[len(strings.Fields(string(b)))-1]
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pseudonym.Open(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable keyring: %v", err)
	}
	for name, content := range map[string]string{
		"a short key":           "k1 " + strings.Repeat("A", 8) + "\n",
		"a key without an id":   secret + "\n",
		"an id given twice":     "k1 " + secret + "\nk1 " + secret + "\n",
		"an id of another kind": "key1 " + secret + "\n",
		"no key at all":         "# empty\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := pseudonym.Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
	if _, err := pseudonym.Load(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing keyring: %v, want fs.ErrNotExist", err)
	}
}

func TestARotationMakesNewPseudonymsAndStillRecognisesTheOldUntilTheKeyIsRetired(t *testing.T) {
	path := filepath.Join(t.TempDir(), pseudonym.FileName)
	before, _, err := pseudonym.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := before.Of(residentID)
	after, err := pseudonym.Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("the rotated keyring has mode %04o, want 0600", fi.Mode().Perm())
	}
	reread, err := pseudonym.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*pseudonym.Keyring{after, reread} {
		if r.Current() != "k2" || !strings.HasPrefix(r.Of(residentID), "k2:") || r.Of(residentID) == old {
			t.Errorf("after rotation: current %s, pseudonym %q (before %q)", r.Current(), r.Of(residentID), old)
		}
		if !r.Matches(old, residentID) {
			t.Error("after rotation the old key's pseudonym is not recognised")
		}
		if all := r.All(residentID); len(all) != 2 || all[0] != r.Of(residentID) || all[1] != old {
			t.Errorf("All = %q, want the new pseudonym then the old", all)
		}
	}
	if _, err := pseudonym.Retire(path, "k2"); err == nil {
		t.Error("the current key was retired")
	}
	if _, err := pseudonym.Retire(path, "k7"); err == nil {
		t.Error("an unknown key was retired")
	}
	retired, err := pseudonym.Retire(path, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if retired.Matches(old, residentID) || !retired.Matches(after.Of(residentID), residentID) {
		t.Error("after retiring k1: its pseudonym still matches, or k2's does not")
	}
	if third, err := pseudonym.Rotate(path); err != nil || third.Current() != "k3" {
		t.Errorf("rotating after a retirement: %v, current %v", err, third)
	}
	if _, err := pseudonym.Rotate(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("rotating a keyring that does not exist made one")
	}
}
