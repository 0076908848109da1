package links_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeA50MBMaterialOverHTTP measures what the handler adds to a download: the store
// is in memory, so the figure is the link's verification, the audit call and the streaming.
func BenchmarkServeA50MBMaterialOverHTTP(b *testing.B) {
	f := newFixture(b)
	big := make([]byte, 50<<20)
	for i := range big {
		big[i] = byte(i * 31)
	}
	sha := f.put(big, "application/pdf")
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	link := f.link(sha, deptA)
	b.SetBytes(int64(len(big)))
	b.ResetTimer()
	for range b.N {
		resp, err := http.Get(srv.URL + link)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(big)) || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
}

// BenchmarkVerify measures the check of one link.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	r := httptest.NewRequest(http.MethodGet, f.link(f.sha, deptA), nil)
	b.ResetTimer()
	for range b.N {
		if _, err := f.keys.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}
