// Package blobstest is the conformance suite every blobs.Store passes (Run), and the
// throughput benchmarks run on each (Bench). A store is brought under it with a Harness: how
// to make an empty one, and how to list everything it keeps, so that the suite can tell that a
// refused Put leaves nothing behind.
package blobstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"yjshub/hub/blobs"
)

// Harness brings a store under the suite.
type Harness struct {
	// New returns an empty store of the test's own, gone when the test ends.
	New func(t testing.TB) blobs.Store
	// List returns the name of everything st keeps: files, objects, temporary ones included,
	// in any order. A store holding one blob may list more than one name (a sidecar); the
	// suite compares listings, never counts names per blob.
	List func(t testing.TB, st blobs.Store) []string
	// ExactlyOneCreated: of concurrent Puts of the same new blob, exactly one reports created.
	// Off for S3, which has no create-if-absent copy: there several may say so.
	ExactlyOneCreated bool
}

// Blob is a test blob: its bytes and their hash.
type Blob struct {
	Data []byte
	Key  string
}

// NewBlob returns n pseudo-random bytes from seed and their SHA-256.
func NewBlob(seed uint64, n int) Blob {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seedOf(seed)).Read(b)
	return Blob{Data: b, Key: Hash(b)}
}

// Hash returns the lower-case hex SHA-256 of b.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func seedOf(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

// stream is n pseudo-random bytes from a seed, made as they are read: a large blob that is
// never in memory.
type stream struct {
	r    *rand.ChaCha8
	left int64
	// sample, when set, is told how many bytes each read gave, to watch the heap while they
	// flow.
	sample func(int)
}

func newStream(seed uint64, n int64) *stream {
	return &stream{r: rand.NewChaCha8(seedOf(seed)), left: n}
}

// Read implements io.Reader.
func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, _ := s.r.Read(p)
	s.left -= int64(n)
	if s.sample != nil {
		s.sample(n)
	}
	return n, nil
}

// streamHash returns the SHA-256 of the n bytes of seed's stream, by reading it once.
func streamHash(seed uint64, n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, newStream(seed, n))
	return hex.EncodeToString(h.Sum(nil))
}

// heapWatch records the largest live heap seen while bytes flow through a store.
type heapWatch struct {
	base, peak uint64
	unseen     int
}

func newHeapWatch() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapWatch{base: ms.HeapAlloc, peak: ms.HeapAlloc}
}

// sampleEvery is how many bytes may flow between two looks at the heap: ReadMemStats stops
// the world, and once a megabyte still sees a store that holds the blob.
const sampleEvery = 1 << 20

// sample is told that n more bytes flowed, and looks at the heap once a megabyte.
func (h *heapWatch) sample(n int) {
	h.unseen += n
	if h.unseen < sampleEvery {
		return
	}
	h.unseen = 0
	h.look()
}

func (h *heapWatch) look() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapAlloc)
}

func (h *heapWatch) growth() int64 { return int64(h.peak) - int64(h.base) }

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustPut(t testing.TB, st blobs.Store, b Blob, contentType string) bool {
	t.Helper()
	created, err := st.Put(ctx(t), b.Key, int64(len(b.Data)), contentType, bytes.NewReader(b.Data))
	if err != nil {
		t.Fatalf("put %d bytes: %v", len(b.Data), err)
	}
	return created
}

func readAll(t testing.TB, st blobs.Store, key string, offset, length int64) ([]byte, blobs.Info) {
	t.Helper()
	rc, info, err := st.Open(ctx(t), key, offset, length)
	if err != nil {
		t.Fatalf("open at %d, %d bytes: %v", offset, length, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read at %d, %d bytes: %v", offset, length, err)
	}
	return got, info
}

// failReader fails the test if it is read: a Put of a blob already there must not read it.
type failReader struct{ t testing.TB }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the bytes of a blob already stored were read again")
	return 0, errors.New("read")
}

// Run runs the conformance suite on the stores h makes.
func Run(t *testing.T, h Harness) {
	t.Run("a blob put comes back whole with its description", func(t *testing.T) {
		st := h.New(t)
		b := NewBlob(1, 100_000)
		before := time.Now().Add(-2 * time.Second) // S3 times have a second's precision
		if !mustPut(t, st, b, "application/pdf") {
			t.Error("a new blob was not reported created")
		}
		after := time.Now().Add(2 * time.Second)
		got, info := readAll(t, st, b.Key, 0, -1)
		if !bytes.Equal(got, b.Data) {
			t.Fatalf("read %d bytes that differ from the %d put", len(got), len(b.Data))
		}
		want := blobs.Info{SHA256: b.Key, Size: int64(len(b.Data)), ContentType: "application/pdf"}
		checkInfo(t, "open", info, want, before, after)
		stat, err := st.Stat(ctx(t), b.Key)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		checkInfo(t, "stat", stat, want, before, after)
	})

	t.Run("the same bytes put twice are stored once and not read again", func(t *testing.T) {
		st := h.New(t)
		b := NewBlob(2, 10_000)
		mustPut(t, st, b, "image/png")
		first := listing(t, h, st)
		created, err := st.Put(ctx(t), b.Key, int64(len(b.Data)), "image/png", failReader{t})
		if err != nil || created {
			t.Fatalf("second put: created %v, error %v; want false, nil", created, err)
		}
		if again := listing(t, h, st); !slices.Equal(first, again) {
			t.Fatalf("the second put changed what is stored: %v, then %v", first, again)
		}
	})

	t.Run("bytes that do not match their hash or size are refused and nothing is left", func(t *testing.T) {
		b := NewBlob(3, 50_000)
		other := NewBlob(4, 50_000)
		n := int64(len(b.Data))
		for _, tc := range []struct {
			name string
			key  string
			size int64
			data []byte
		}{
			{"another blob's hash", other.Key, n, b.Data},
			{"a size one byte short of the bytes", b.Key, n - 1, b.Data},
			{"a size one byte more than the bytes", b.Key, n + 1, b.Data},
			{"no bytes at all", b.Key, n, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := h.New(t)
				created, err := st.Put(ctx(t), tc.key, tc.size, "application/pdf", bytes.NewReader(tc.data))
				if !errors.Is(err, blobs.ErrMismatch) || created {
					t.Fatalf("put: created %v, error %v; want ErrMismatch", created, err)
				}
				if _, err := st.Stat(ctx(t), tc.key); !errors.Is(err, blobs.ErrNotFound) {
					t.Errorf("stat after a refused put: %v; want ErrNotFound", err)
				}
				// A size longer than the bytes aborts the request midway: as for a cancelled
				// put, the server may take a moment to discard what it had received.
				if left := eventuallyEmpty(t, h, st, 10*time.Second); len(left) != 0 {
					t.Errorf("a refused put left %v", left)
				}
			})
		}
	})

	t.Run("a put whose caller gives up midway leaves nothing", func(t *testing.T) {
		st := h.New(t)
		const size = 8 << 20
		key := streamHash(12, size)
		c, cancel := context.WithCancel(ctx(t))
		src := newStream(12, size)
		var flowed int
		src.sample = func(n int) {
			if flowed += n; flowed >= 1<<20 {
				cancel()
			}
		}
		created, err := st.Put(c, key, size, "application/pdf", src)
		if err == nil || created {
			t.Fatalf("put cancelled after 1 MB: created %v, error %v; want an error", created, err)
		}
		if _, err := st.Stat(ctx(t), key); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("stat after a cancelled put: %v; want ErrNotFound", err)
		}
		// The server may still be discarding the aborted request's bytes (S3Proxy's filesystem
		// backend shows them as an object for a moment): wait for it, up to a deadline.
		if left := eventuallyEmpty(t, h, st, 10*time.Second); len(left) != 0 {
			t.Errorf("a cancelled put left %v", left)
		}
	})

	t.Run("a range reads exactly the bytes asked for", func(t *testing.T) {
		st := h.New(t)
		b := NewBlob(5, 1<<20+7)
		mustPut(t, st, b, "application/pdf")
		n := int64(len(b.Data))
		for _, tc := range []struct {
			name           string
			offset, length int64
		}{
			{"the first byte", 0, 1},
			{"bytes in the middle", n/2 - 100, 333},
			{"the last byte", n - 1, 1},
			{"from the middle to the end", n / 3, -1},
			{"the whole blob", 0, -1},
			{"a length past the end is cut at the end", n - 10, 100},
			{"nothing, at the start", 0, 0},
			{"the empty tail", n, -1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, info := readAll(t, st, b.Key, tc.offset, tc.length)
				end := n
				if tc.length >= 0 {
					end = min(n, tc.offset+tc.length)
				}
				if want := b.Data[tc.offset:end]; !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes at %d; want the %d bytes there", len(got), tc.offset, len(want))
				}
				if info.Size != n {
					t.Errorf("a range's Info says size %d; want the blob's, %d", info.Size, n)
				}
			})
		}
		for _, offset := range []int64{-1, n + 1} {
			if _, _, err := st.Open(ctx(t), b.Key, offset, -1); !errors.Is(err, blobs.ErrBadRange) {
				t.Errorf("open at offset %d of %d bytes: %v; want ErrBadRange", offset, n, err)
			}
		}
	})

	t.Run("a deleted blob is gone and deleting it again is no error", func(t *testing.T) {
		st := h.New(t)
		b := NewBlob(6, 4096)
		keep := NewBlob(7, 4096)
		mustPut(t, st, keep, "image/jpeg")
		kept := listing(t, h, st)
		mustPut(t, st, b, "image/jpeg")
		for i := range 2 {
			if err := st.Delete(ctx(t), b.Key); err != nil {
				t.Fatalf("delete #%d: %v", i+1, err)
			}
		}
		if _, err := st.Stat(ctx(t), b.Key); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("stat after delete: %v; want ErrNotFound", err)
		}
		if _, _, err := st.Open(ctx(t), b.Key, 0, -1); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("open after delete: %v; want ErrNotFound", err)
		}
		if left := listing(t, h, st); !slices.Equal(left, kept) {
			t.Errorf("after the delete the store keeps %v; want what it kept before the put, %v", left, kept)
		}
		if got, _ := readAll(t, st, keep.Key, 0, -1); !bytes.Equal(got, keep.Data) {
			t.Error("deleting one blob changed another")
		}
	})

	t.Run("a blob never stored is not found", func(t *testing.T) {
		st := h.New(t)
		key := NewBlob(8, 10).Key
		if _, err := st.Stat(ctx(t), key); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("stat: %v; want ErrNotFound", err)
		}
		if _, _, err := st.Open(ctx(t), key, 0, -1); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("open: %v; want ErrNotFound", err)
		}
		if _, _, err := st.Open(ctx(t), key, 5, 10); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("open of a range: %v; want ErrNotFound", err)
		}
	})

	t.Run("a key that is not a sha256 in lower-case hex is refused everywhere", func(t *testing.T) {
		st := h.New(t)
		good := NewBlob(9, 10).Key
		for _, tc := range []struct{ name, key string }{
			{"empty", ""},
			{"upper case", strings.ToUpper(good)},
			{"one digit short", good[:63]},
			{"one digit more", good + "0"},
			{"a path climbing out", "../../../../etc/passwd" + good[22:]},
			{"a slash inside", good[:2] + "/" + good[3:]},
			{"not hex", "z" + good[1:]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := st.Put(ctx(t), tc.key, 3, "text/plain", strings.NewReader("abc"))
				if !errors.Is(err, blobs.ErrBadKey) {
					t.Errorf("put: %v; want ErrBadKey", err)
				}
				if _, _, err := st.Open(ctx(t), tc.key, 0, -1); !errors.Is(err, blobs.ErrBadKey) {
					t.Errorf("open: %v; want ErrBadKey", err)
				}
				if _, err := st.Stat(ctx(t), tc.key); !errors.Is(err, blobs.ErrBadKey) {
					t.Errorf("stat: %v; want ErrBadKey", err)
				}
				if err := st.Delete(ctx(t), tc.key); !errors.Is(err, blobs.ErrBadKey) {
					t.Errorf("delete: %v; want ErrBadKey", err)
				}
			})
		}
		if left := listing(t, h, st); len(left) != 0 {
			t.Errorf("refused keys left %v", left)
		}
	})

	t.Run("eight concurrent puts of the same 5 MB blob store it once", func(t *testing.T) {
		st := h.New(t)
		b := NewBlob(10, 5<<20)
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			errs    []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				c, err := st.Put(ctx(t), b.Key, int64(len(b.Data)), "application/pdf", bytes.NewReader(b.Data))
				mu.Lock()
				defer mu.Unlock()
				if c {
					created++
				}
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent puts: %v", err)
		}
		switch {
		case h.ExactlyOneCreated && created != 1:
			t.Errorf("%d of %d puts reported created; want exactly one", created, n)
		case created < 1:
			t.Errorf("none of %d puts reported created", n)
		}
		if got, _ := readAll(t, st, b.Key, 0, -1); !bytes.Equal(got, b.Data) {
			t.Fatal("the blob read back differs from the one put")
		}
		stored := listing(t, h, st)
		if err := st.Delete(ctx(t), b.Key); err != nil {
			t.Fatal(err)
		}
		if left := listing(t, h, st); len(left) != 0 {
			t.Errorf("after the blob's delete the store still keeps %v (of %v): temporary files of the puts?", left, stored)
		}
	})

	t.Run("a 50 MB blob is streamed in and out without being held in memory", func(t *testing.T) {
		if testing.Short() {
			t.Skip("50 MB through the store: not in -short")
		}
		st := h.New(t)
		const size = 50 << 20
		key := streamHash(11, size)
		src := newStream(11, size)
		w := newHeapWatch()
		src.sample = w.sample
		created, err := st.Put(ctx(t), key, size, "application/pdf", src)
		w.look()
		if err != nil || !created {
			t.Fatalf("put 50 MB: created %v, error %v", created, err)
		}
		checkGrowth(t, "put", w)

		rc, info, err := st.Open(ctx(t), key, 0, -1)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer rc.Close()
		if info.Size != size {
			t.Errorf("size %d; want %d", info.Size, size)
		}
		w = newHeapWatch()
		h := sha256.New()
		n, err := io.Copy(h, sampling{rc, w.sample})
		w.look()
		if err != nil || n != size {
			t.Fatalf("read back %d bytes, error %v; want %d", n, err, size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != key {
			t.Errorf("the bytes read back hash to %s; want %s", got, key)
		}
		checkGrowth(t, "open", w)
	})
}

// maxGrowth is how much the heap may grow while 50 MB flow: buffers of a few hundred
// kilobytes, an HTTP client's pools; a store holding the blob would grow by 50 MB.
const maxGrowth = 12 << 20

func checkGrowth(t *testing.T, op string, w *heapWatch) {
	t.Helper()
	t.Logf("%s: the heap grew by at most %.1f MB while 50 MB flowed", op, float64(w.growth())/(1<<20))
	if w.growth() > maxGrowth {
		t.Errorf("%s: the heap grew by %d bytes while 50 MB flowed; want under %d", op, w.growth(), maxGrowth)
	}
}

// sampling tells sample how many bytes each read of r gave.
type sampling struct {
	r      io.Reader
	sample func(int)
}

func (s sampling) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.sample(n)
	return n, err
}

func checkInfo(t *testing.T, op string, got, want blobs.Info, after, before time.Time) {
	t.Helper()
	created := got.Created
	got.Created, want.Created = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("%s: Info %+v; want %+v", op, got, want)
	}
	if created.Before(after) || created.After(before) {
		t.Errorf("%s: created %v; want between %v and %v", op, created, after, before)
	}
}

// eventuallyEmpty returns what st keeps once that is nothing, or what it still keeps after d.
func eventuallyEmpty(t testing.TB, h Harness, st blobs.Store, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := listing(t, h, st)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func listing(t testing.TB, h Harness, st blobs.Store) []string {
	t.Helper()
	l := h.List(t, st)
	slices.Sort(l)
	return l
}
