package links_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"yjshub/hub/blobs"
)

// memStore is a blobs.Store in memory that records where each Open began, so that a test can
// tell that a range was read from the store as a range.
type memStore struct {
	mu    sync.Mutex
	blobs map[string]memBlob
	opens []openCall
}

type memBlob struct {
	data []byte
	info blobs.Info
}

type openCall struct{ offset, length int64 }

func newMemStore() *memStore { return &memStore{blobs: map[string]memBlob{}} }

var _ blobs.Store = (*memStore)(nil)

func (m *memStore) Put(_ context.Context, sum string, size int64, contentType string, r io.Reader) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[sum]; ok {
		return false, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return false, err
	}
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != sum || int64(len(b)) != size {
		return false, blobs.ErrMismatch
	}
	m.blobs[sum] = memBlob{data: b, info: blobs.Info{SHA256: sum, Size: size, ContentType: contentType, Created: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}}
	return true, nil
}

func (m *memStore) Open(_ context.Context, sum string, offset, length int64) (io.ReadCloser, blobs.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[sum]
	if !ok {
		return nil, blobs.Info{}, blobs.ErrNotFound
	}
	if offset < 0 || offset > int64(len(b.data)) {
		return nil, blobs.Info{}, fmt.Errorf("offset %d outside a blob of %d bytes", offset, len(b.data))
	}
	end := int64(len(b.data))
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	m.opens = append(m.opens, openCall{offset, length})
	return io.NopCloser(bytes.NewReader(b.data[offset:end])), b.info, nil
}

func (m *memStore) Stat(_ context.Context, sum string) (blobs.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[sum]
	if !ok {
		return blobs.Info{}, blobs.ErrNotFound
	}
	return b.info, nil
}

func (m *memStore) Delete(_ context.Context, sum string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, sum)
	return nil
}

// openedAt returns the offsets of every Open so far.
func (m *memStore) openedAt() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int64, len(m.opens))
	for i, o := range m.opens {
		out[i] = o.offset
	}
	return out
}
