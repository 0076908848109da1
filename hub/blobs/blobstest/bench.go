package blobstest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
)

// Bench measures the throughput of Put (new blobs, each hashed ahead outside the timer) and
// of Open (the whole of one blob, read to the end) on the stores h makes, with blobs of size
// bytes; go test -bench reports it as MB/s.
func Bench(b *testing.B, h Harness, size int) {
	b.Run("put", func(b *testing.B) {
		st := h.New(b)
		data := NewBlob(100, size).Data
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			binary.LittleEndian.PutUint64(data, uint64(i)) // new bytes each time: a new blob
			key := Hash(data)
			b.StartTimer()
			if _, err := st.Put(context.Background(), key, int64(size), "application/pdf", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		st := h.New(b)
		blob := NewBlob(101, size)
		mustPut(b, st, blob, "application/pdf")
		b.SetBytes(int64(size))
		b.ResetTimer()
		for b.Loop() {
			rc, _, err := st.Open(context.Background(), blob.Key, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			_ = rc.Close()
		}
	})
}
