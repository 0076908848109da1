// Package pseudonym owns the keyed pseudonyms that stand for a holder's identifier (a USCC or
// resident ID number) wherever the hub keeps a trace of whose data it shared: the audit log's
// subject, a consent's holder, the reuse report's pairing of prefills with cases.
//
// A pseudonym is HMAC-SHA256 of the identifier under a secret key of the hub, written
// "<key id>:<64 hex digits>" (e.g. "k1:3f…"). A bare hash would not do: an 18-character
// resident ID has so few possible values (a region, a birth date, a sequence number and a check
// digit) that every SHA-256 of one is found by trying them all in minutes. Without the key, a
// pseudonym says nothing; with it, the hub finds the same holder again.
//
// # Keyring
//
// The keys are a keyring: the newest key makes new pseudonyms, and every key still in the ring
// recognises the pseudonyms it made, so rows written before a rotation stay matchable (a
// consent given an hour before still works; the reuse report still pairs a prefill with the
// case that followed it). Each pseudonym names its key, so nothing has to be rewritten when
// the key changes — the audit log, which is hash-chained, could not be. Retiring a key makes
// the pseudonyms it made unlinkable for good: that is how a suspected leak of a key is
// answered.
//
// The ring is kept in a file (serve: <data-dir>/pseudonym.key), created on first start with one
// key of 32 random bytes, mode 0600, and read on every later start; a file that others may read
// is refused. Every hub instance that shares a database must be given the same file.
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"yjshub/hub/keyfile"
)

// KeySize is the size of a key, in bytes.
const KeySize = 32

// Key is one key of a keyring. Its ID names it in the pseudonyms it makes: "k" and a number, e.g. k1.
type Key = keyfile.Key

// Keyring makes and recognises pseudonyms. It is immutable and safe for concurrent use.
type Keyring struct {
	keys []Key // oldest first; the last one makes new pseudonyms
}

// New returns a keyring of keys, oldest first: the last makes new pseudonyms. It refuses an
// empty ring, a key id not written k<number>, an id given twice and a secret of another size
// than KeySize.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("pseudonym: a keyring needs at least one key")
	}
	var errs []error
	for _, err := range keyfile.Check(keys, KeySize) {
		errs = append(errs, fmt.Errorf("pseudonym: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Keyring{keys: append([]Key(nil), keys...)}, nil
}

// NewKey returns a key of KeySize bytes from crypto/rand.
func NewKey(id string) (Key, error) {
	k, err := keyfile.Generate(id, KeySize)
	if err != nil {
		return Key{}, fmt.Errorf("pseudonym: %w", err)
	}
	return k, nil
}

// Ephemeral returns a keyring of one fresh key held in memory only: its pseudonyms cannot be
// matched once the process ends. For tests, and for a hub that keeps no pseudonym across
// restarts.
func Ephemeral() *Keyring {
	k, err := NewKey("k1")
	if err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		panic(err)
	}
	return &Keyring{keys: []Key{k}}
}

// Current returns the id of the key that makes new pseudonyms.
func (r *Keyring) Current() string { return r.keys[len(r.keys)-1].ID }

// IDs returns the ids of the ring's keys, oldest first.
func (r *Keyring) IDs() []string {
	out := make([]string, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.ID
	}
	return out
}

// Of returns the pseudonym of an identifier under the current key; "" for "".
func (r *Keyring) Of(id string) string {
	if id == "" {
		return ""
	}
	return r.under(r.keys[len(r.keys)-1], id)
}

// All returns the pseudonyms of an identifier under every key of the ring, newest first: what a
// lookup of rows written before a rotation searches for. Empty for "".
func (r *Keyring) All(id string) []string {
	if id == "" {
		return nil
	}
	out := make([]string, 0, len(r.keys))
	for i := len(r.keys) - 1; i >= 0; i-- {
		out = append(out, r.under(r.keys[i], id))
	}
	return out
}

// Matches reports whether ref is the pseudonym of id under the key it names. A pseudonym made
// by a key the ring no longer holds, or no pseudonym at all, matches nothing.
func (r *Keyring) Matches(ref, id string) bool {
	keyID, _, ok := strings.Cut(ref, ":")
	if !ok || id == "" {
		return false
	}
	for _, k := range r.keys {
		if k.ID == keyID {
			return hmac.Equal([]byte(ref), []byte(r.under(k, id)))
		}
	}
	return false
}

func (r *Keyring) under(k Key, id string) string {
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write([]byte(id))
	return k.ID + ":" + hex.EncodeToString(mac.Sum(nil))
}
