package pseudonym

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the keyring's file name in serve's data directory.
const FileName = "pseudonym.key"

// fileMode is the keyring file's mode: its owner alone reads it.
const fileMode = 0o600

const fileHeader = `# yjshub pseudonym keyring: HMAC-SHA256 keys (base64), oldest first; the last makes new
# pseudonyms, every one recognises its own. Keep it secret (mode 0600), give every hub instance
# on the same database the same file, and change it only with 'yjshub pseudonym'.
`

// Open reads the keyring file at path, or creates it with one fresh key when there is none
// (created = true), its directory too. A file that its owner's group or others may read or
// write is refused, as is one that does not parse; errors never contain a key.
func Open(path string) (r *Keyring, created bool, err error) {
	r, err = Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, false, err
	}
	k, err := NewKey("k1")
	if err != nil {
		return nil, false, err
	}
	r = &Keyring{keys: []Key{k}}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("pseudonym: %w", err)
	}
	// Written beside and linked into place, so that a hub starting at the same moment finds
	// either no file or the whole of it, and one of the two keeps the other's key.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, false, fmt.Errorf("pseudonym: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeRing(tmp, r); err != nil {
		return nil, false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			r, err = Load(path)
			return r, false, err
		}
		return nil, false, fmt.Errorf("pseudonym: %w", err)
	}
	return r, true, nil
}

// Load reads the keyring file at path; a missing file is an error wrapping fs.ErrNotExist.
func Load(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("pseudonym: %s may be read or written by others than its owner (mode %04o): chmod 600 it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: %w", err)
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
		keys = append(keys, Key{ID: id, secret: secret})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pseudonym: %w", err)
	}
	r, err := New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Rotate adds a fresh key to the keyring file at path and makes it the current one; the older
// keys stay, so that the pseudonyms they made are still recognised. It returns the new ring.
// A hub reads the file when it starts: rotate, then restart every instance.
func Rotate(path string) (*Keyring, error) {
	r, err := Load(path)
	if err != nil {
		return nil, err
	}
	last := 0
	for _, k := range r.keys {
		if n, _ := keyNumber(k.ID); n > last {
			last = n
		}
	}
	k, err := NewKey(fmt.Sprintf("k%d", last+1))
	if err != nil {
		return nil, err
	}
	next := &Keyring{keys: append(append([]Key(nil), r.keys...), k)}
	return next, replace(path, next)
}

// Retire removes a key from the keyring file at path: the pseudonyms it made are matched by
// nothing any more. The current key cannot be retired (rotate first).
func Retire(path, id string) (*Keyring, error) {
	r, err := Load(path)
	if err != nil {
		return nil, err
	}
	if id == r.Current() {
		return nil, fmt.Errorf("pseudonym: %s is the current key; rotate before retiring it", id)
	}
	var keep []Key
	for _, k := range r.keys {
		if k.ID != id {
			keep = append(keep, k)
		}
	}
	if len(keep) == len(r.keys) {
		return nil, fmt.Errorf("pseudonym: the keyring has no key %s (it has %s)", id, strings.Join(r.IDs(), ", "))
	}
	next := &Keyring{keys: keep}
	return next, replace(path, next)
}

// replace writes r to a new file beside path and renames it over path, so that a reader sees
// the old ring or the new one, never half of either.
func replace(path string, r *Keyring) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("pseudonym: %w", err)
	}
	if err := writeRing(f, r); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("pseudonym: %w", err)
	}
	return nil
}

// writeRing writes the ring to f, syncs and closes it.
func writeRing(f *os.File, r *Keyring) error {
	var b strings.Builder
	b.WriteString(fileHeader)
	for _, k := range r.keys {
		b.WriteString(k.ID + " " + base64.StdEncoding.EncodeToString(k.secret) + "\n")
	}
	_, err := f.WriteString(b.String())
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pseudonym: writing the keyring: %w", err)
	}
	return nil
}
