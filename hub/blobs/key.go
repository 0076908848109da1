package blobs

import (
	"errors"
	"fmt"
	"io"
)

var (
	// ErrBadKey: the key given is not a SHA-256 in lower-case hex. It steers a caller to
	// answer 400 rather than 500, and is checked before a key comes near a path or an
	// object name, so a key can never name anything outside the store.
	ErrBadKey = errors.New("blobs: the key is not a sha256 of 64 lower-case hex digits")
	// ErrBadRange: an Open asked for bytes outside the blob (a negative offset, or one past
	// its end); an HTTP handler answers 416 to it.
	ErrBadRange = errors.New("blobs: the range asked for is outside the blob")
)

// checkKey returns nil for 64 lower-case hex digits, and otherwise an error wrapping
// ErrBadKey that names every problem. The key itself is not quoted: it is caller input that
// may be anything, and its length and the position of the first wrong character say enough.
func checkKey(key string) error {
	var problems []error
	if len(key) != 64 {
		problems = append(problems, fmt.Errorf("it has %d bytes, not 64", len(key)))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			problems = append(problems, fmt.Errorf("byte %d is not one of 0-9a-f", i))
			break
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBadKey, errors.Join(problems...))
}

// checkPut returns the problems of a Put's arguments other than its bytes, all at once.
func checkPut(key string, size int64) error {
	var problems []error
	if err := checkKey(key); err != nil {
		problems = append(problems, err)
	}
	if size < 0 {
		problems = append(problems, fmt.Errorf("blobs: size %d is negative", size))
	}
	return errors.Join(problems...)
}

// checkRange returns an error wrapping ErrBadRange when offset is not within a blob of size
// bytes (offset == size is the empty tail, which is allowed), and otherwise how many bytes
// from offset the read covers: length, cut at the end of the blob, or all of the rest when
// length is negative.
func checkRange(offset, length, size int64) (int64, error) {
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("%w: offset %d of a blob of %d bytes", ErrBadRange, offset, size)
	}
	rest := size - offset
	if length < 0 || length > rest {
		return rest, nil
	}
	return length, nil
}

// readCloser joins a reader to the closer of what it reads from.
type readCloser struct {
	io.Reader
	io.Closer
}
