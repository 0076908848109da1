// Package blobs keeps the files of materials and e-licences by content: a blob's key is the
// SHA-256 of its bytes (hex, lower case), so the same bytes are stored once however many cases
// use them. Two stores implement it: Disk, the embedded default under the hub's data directory,
// and S3, any S3-compatible object storage for deployments.
package blobs

import (
	"context"
	"errors"
	"io"
	"time"
)

// Info describes a stored blob.
type Info struct {
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	Created     time.Time `json:"created"`
}

// Store is a content-addressed blob store. It is safe for concurrent use.
type Store interface {
	// Put stores size bytes read from r, which must hash to sha256. A blob already stored is
	// not written again (created false, and r is not read to the end). Bytes that do not hash
	// to sha256, or are not size long, are ErrMismatch and nothing is kept.
	Put(ctx context.Context, sha256 string, size int64, contentType string, r io.Reader) (created bool, err error)
	// Open returns the blob's bytes from offset, length of them (length < 0: to the end), and
	// its Info; ErrNotFound when there is no such blob.
	Open(ctx context.Context, sha256 string, offset, length int64) (io.ReadCloser, Info, error)
	// Stat returns the blob's Info; ErrNotFound when there is no such blob.
	Stat(ctx context.Context, sha256 string) (Info, error)
	// Delete removes the blob; deleting a blob that is not there is not an error.
	Delete(ctx context.Context, sha256 string) error
}

var (
	// ErrNotFound: no blob has that hash.
	ErrNotFound = errors.New("blobs: no such blob")
	// ErrMismatch: the bytes given do not hash to the key, or are not as long as said.
	ErrMismatch = errors.New("blobs: the bytes do not match their sha256 or size")
)
