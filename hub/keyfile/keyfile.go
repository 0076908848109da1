// Package keyfile keeps a ring of secret keys in a file that only its owner may read or write:
// a header of comments, then one key a line, "<id> <base64 of the secret>", oldest first. The
// hub's pseudonym keys (hub/pseudonym) and link keys (hub/links) are kept so; each package
// decides what its keys are and how many it holds, this one only reads and writes the file.
//
// Errors never contain a secret. They carry no package prefix: the caller adds its own.
package keyfile

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mode is the file's mode: its owner alone reads and writes it.
const Mode = 0o600

// Key is one line of the file.
type Key struct {
	ID     string
	Secret []byte
}

// Read reads the keys of the file at path, oldest first. A file its owner's group or others may
// read or write is refused, and every line that is not an id, a space and base64 is named with
// its number; a missing file is an error wrapping fs.ErrNotExist.
func Read(path string) ([]Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s may be read or written by others than its owner (mode %04o): chmod 600 it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []Key
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, enc, ok := strings.Cut(line, " ")
		secret, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if !ok || derr != nil {
			errs = append(errs, fmt.Errorf("%s:%d: want a key id, a space and the key in base64", path, n))
			continue
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// Open reads the keys of the file at path as Read does or, when there is no file, creates it
// (its directory too) with one fresh key "k1" of size bytes; created tells which. When another
// process created the file first, Open reads and returns that process's keys.
func Open(path, header string, size int) (keys []Key, created bool, err error) {
	keys, err = Read(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return keys, false, err
	}
	k, err := Generate("k1", size)
	if err != nil {
		return nil, false, err
	}
	if created, err = Create(path, header, []Key{k}); err != nil || !created {
		if err == nil {
			keys, err = Read(path)
		}
		return keys, false, err
	}
	return []Key{k}, true, nil
}

// Generate returns a key named id of size bytes from crypto/rand.
func Generate(id string, size int) (Key, error) {
	secret := make([]byte, size)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("making a key: %w", err)
	}
	return Key{ID: id, Secret: secret}, nil
}

// Check names every problem of keys as a ring of secrets of size bytes: an id not written
// k<number>, an id given twice, a secret of another size. No problem names a secret. How many
// keys a ring may hold is the caller's to check.
func Check(keys []Key, size int) []error {
	var errs []error
	seen := map[string]bool{}
	for i, k := range keys {
		if _, ok := Number(k.ID); !ok {
			errs = append(errs, fmt.Errorf("key %d: its id must be k and a number, e.g. k1", i+1))
		}
		if seen[k.ID] {
			errs = append(errs, fmt.Errorf("key id %s is given twice", k.ID))
		}
		seen[k.ID] = true
		if len(k.Secret) != size {
			errs = append(errs, fmt.Errorf("key %s is %d bytes, want %d", k.ID, len(k.Secret), size))
		}
	}
	return errs
}

// Create writes header and keys to a new file at path, its directory too, unless a file is
// there already: then it writes nothing and answers created false, and the caller reads the
// file that is there. The file is written beside path and linked into place, so that two hubs
// starting at the same moment see either no file or the whole of one, and both keep the same.
func Create(path, header string, keys []Key) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp, header, keys); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Replace writes header and keys to a new file beside path and renames it over path, so that a
// reader sees the old keys or the new ones, never half of either.
func Replace(path, header string, keys []Key) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return err
	}
	if err := write(f, header, keys); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// write writes header and keys to f, syncs and closes it.
func write(f *os.File, header string, keys []Key) error {
	var b strings.Builder
	b.WriteString(header)
	for _, k := range keys {
		b.WriteString(k.ID + " " + base64.StdEncoding.EncodeToString(k.Secret) + "\n")
	}
	_, err := f.WriteString(b.String())
	if err == nil {
		err = f.Chmod(Mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the keyring: %w", err)
	}
	return nil
}

// Number reads the number of a key id written k<n> (n from 1, no leading zero).
func Number(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, "k")
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n > 0
}

// NextID is the id of a key made after keys: k and one more than the largest number among them.
func NextID(keys []Key) string {
	last := 0
	for _, k := range keys {
		if n, _ := Number(k.ID); n > last {
			last = n
		}
	}
	return "k" + strconv.Itoa(last+1)
}
