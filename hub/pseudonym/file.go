package pseudonym

import (
	"fmt"
	"strings"
	"yjshub/hub/keyfile"
)

// FileName is the keyring's file name in serve's data directory.
const FileName = "pseudonym.key"

const fileHeader = `# yjshub pseudonym keyring: HMAC-SHA256 keys (base64), oldest first; the last makes new
# pseudonyms, every one recognises its own. Keep it secret (mode 0600), give every hub instance
# on the same database the same file, and change it only with 'yjshub pseudonym'.
`

// Open reads the keyring file at path, or creates it with one fresh key when there is none
// (created = true), its directory too. A file that its owner's group or others may read or
// write is refused, as is one that does not parse; errors never contain a key.
func Open(path string) (r *Keyring, created bool, err error) {
	entries, created, err := keyfile.Open(path, fileHeader, KeySize)
	if err != nil {
		return nil, false, fmt.Errorf("pseudonym: %w", err)
	}
	r, err = fromFile(path, entries)
	return r, created, err
}

// Load reads the keyring file at path; a missing file is an error wrapping fs.ErrNotExist.
func Load(path string) (*Keyring, error) {
	entries, err := keyfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: %w", err)
	}
	return fromFile(path, entries)
}

// fromFile makes the keyring of the keys read from the file at path.
func fromFile(path string, keys []Key) (*Keyring, error) {
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
	k, err := NewKey(keyfile.NextID(r.keys))
	if err != nil {
		return nil, err
	}
	next := &Keyring{keys: append(append([]Key(nil), r.keys...), k)}
	return next, write(path, next)
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
	return next, write(path, next)
}

// write puts r in the keyring file at path in place of what it held.
func write(path string, r *Keyring) error {
	if err := keyfile.Replace(path, fileHeader, r.keys); err != nil {
		return fmt.Errorf("pseudonym: %w", err)
	}
	return nil
}
