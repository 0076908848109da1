package links

import (
	"errors"
	"fmt"
	"time"
	"yjshub/hub/keyfile"
)

// FileName is the link keyring's file name in serve's data directory.
const FileName = "links.key"

// KeySize is the size of a link key, in bytes: as long as HMAC-SHA256's output, so that the
// key is never the weaker part.
const KeySize = 32

// MaxKeys is how many keys a ring holds at most: the current one, which signs, and the
// previous one, which still verifies the links signed before the last rotation. A third would
// keep alive links that a rotation was meant to end.
const MaxKeys = 2

const fileHeader = `# yjshub link keyring: HMAC-SHA256 keys (base64) that sign links to materials, oldest first;
# the last signs, both verify. Keep it secret (mode 0600), give every hub instance the same
# file, and change it only with a rotation (links.Rotate), which keeps two keys at most.
`

// Key is one key of a keyring. Its ID names it in the links it signs (their kid): "k" and a number, e.g. k1.
type Key = keyfile.Key

// Keyring signs and verifies links. It is immutable and safe for concurrent use.
type Keyring struct {
	keys []Key // oldest first; the last one signs
	now  func() time.Time
}

// NewKey returns a key of KeySize bytes from crypto/rand.
func NewKey(id string) (Key, error) {
	k, err := keyfile.Generate(id, KeySize)
	if err != nil {
		return Key{}, fmt.Errorf("links: %w", err)
	}
	return k, nil
}

// New returns a keyring of keys, oldest first: the last signs. It refuses an empty ring, more
// than MaxKeys keys, a key id not written k<number>, an id given twice and a secret of another
// size than KeySize, naming every problem and never a secret.
func New(keys ...Key) (*Keyring, error) {
	var errs []error
	switch {
	case len(keys) == 0:
		errs = append(errs, errors.New("links: a keyring needs at least one key"))
	case len(keys) > MaxKeys:
		errs = append(errs, fmt.Errorf("links: a keyring holds %d keys at most (the current and the previous), not %d", MaxKeys, len(keys)))
	}
	for _, err := range keyfile.Check(keys, KeySize) {
		errs = append(errs, fmt.Errorf("links: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Keyring{keys: append([]Key(nil), keys...), now: time.Now}, nil
}

// Ephemeral returns a keyring of one fresh key held in memory only: its links stop verifying
// when the process ends. For tests, and for a hub whose links need not outlive it.
func Ephemeral() *Keyring {
	k, err := NewKey("k1")
	if err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		panic(err)
	}
	return &Keyring{keys: []Key{k}, now: time.Now}
}

// WithClock returns a copy of the ring that reads the time from now: when links are signed to
// expire, and whether they have.
func (r *Keyring) WithClock(now func() time.Time) *Keyring {
	c := *r
	c.now = now
	return &c
}

// Current returns the id of the key that signs new links.
func (r *Keyring) Current() string { return r.keys[len(r.keys)-1].ID }

// IDs returns the ids of the ring's keys, oldest first.
func (r *Keyring) IDs() []string {
	out := make([]string, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.ID
	}
	return out
}

// key returns the ring's key of that id.
func (r *Keyring) key(id string) (Key, bool) {
	for _, k := range r.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Open reads the keyring file at path, or creates it with one fresh key when there is none
// (created = true), its directory too. A file that its owner's group or others may read or
// write is refused, as is one that does not parse; errors never contain a key.
func Open(path string) (r *Keyring, created bool, err error) {
	entries, created, err := keyfile.Open(path, fileHeader, KeySize)
	if err != nil {
		return nil, false, fmt.Errorf("links: %w", err)
	}
	r, err = fromFile(path, entries)
	return r, created, err
}

// Load reads the keyring file at path; a missing file is an error wrapping fs.ErrNotExist.
func Load(path string) (*Keyring, error) {
	entries, err := keyfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
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

// Rotate adds a fresh key to the keyring file at path and makes it the one that signs; the key
// that signed until now stays to verify the links it signed, and any older key is dropped, so
// that the links it signed are refused from then on. It returns the new ring. A hub reads the
// file when it starts: rotate, then restart every instance. Rotating less often than
// MaxTTL would let a link outlive its key.
func Rotate(path string) (*Keyring, error) {
	r, err := Load(path)
	if err != nil {
		return nil, err
	}
	k, err := NewKey(keyfile.NextID(r.keys))
	if err != nil {
		return nil, err
	}
	next := &Keyring{keys: []Key{r.keys[len(r.keys)-1], k}, now: time.Now}
	if err := keyfile.Replace(path, fileHeader, next.keys); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return next, nil
}
