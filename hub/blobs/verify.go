package blobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// verifier hands on at most size bytes of r while hashing and counting them, so that a store
// can stream the bytes to where they are kept and decide only afterwards, with match, whether
// they may become the blob: nothing is held in memory.
type verifier struct {
	r    io.Reader
	src  io.Reader
	h    hash.Hash
	n    int64
	size int64
	// short: the source ended before size bytes.
	short bool
}

func newVerifier(r io.Reader, size int64) *verifier {
	return &verifier{r: io.LimitReader(r, size), src: r, h: sha256.New(), size: size}
}

// Read implements io.Reader.
func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	_, _ = v.h.Write(p[:n])
	if err == io.EOF && v.n < v.size {
		v.short = true
	}
	return n, err
}

// match reports whether the bytes read were size long, the source has nothing beyond them,
// and they hash to key; an error wraps ErrMismatch and says which of these failed. A source
// that fails while being probed for more bytes is that error, not a mismatch.
func (v *verifier) match(key string) error {
	if v.n != v.size {
		return fmt.Errorf("%w: %d bytes were given, %d were declared", ErrMismatch, v.n, v.size)
	}
	var one [1]byte
	n, err := io.ReadFull(v.src, one[:])
	if n > 0 {
		return fmt.Errorf("%w: more than the %d bytes declared were given", ErrMismatch, v.size)
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("blobs: reading the bytes: %w", err)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != key {
		return fmt.Errorf("%w: the bytes hash to %s", ErrMismatch, got)
	}
	return nil
}
