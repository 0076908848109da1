package uploads

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
)

// StatusChecksumMismatch is the tus checksum extension's answer to a chunk whose bytes do not
// match its Upload-Checksum: the chunk is discarded and the offset stays where it was.
const StatusChecksumMismatch = 460

// checksumAlgorithms lists the Upload-Checksum algorithms the hub verifies.
const checksumAlgorithms = "sha256"

// withChecksum adds the tus checksum extension, which tusd does not implement: a PATCH (or a
// POST with creation-with-upload) that carries "Upload-Checksum: sha256 <base64>" is spooled to
// a file under dir while hashed, and reaches next only when the hash matches, so that a chunk
// damaged on the way never enters the upload. Chunks are spooled to disk rather than memory so
// that a client's chunk size does not decide the hub's memory; limit bounds a chunk (the largest
// upload allowed). OPTIONS answers advertise the extension.
func withChecksum(dir string, limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(advertiseChecksum{ResponseWriter: w}, r)
			return
		}
		h := r.Header.Get("Upload-Checksum")
		if h == "" || (r.Method != http.MethodPatch && r.Method != http.MethodPost) {
			next.ServeHTTP(w, r)
			return
		}
		algo, sum, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || algo != "sha256" {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Upload-Checksum must be \"sha256 <base64 digest>\": the hub verifies only sha256")
			return
		}
		want, err := base64.StdEncoding.DecodeString(sum)
		if err != nil || len(want) != sha256.Size {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Upload-Checksum's digest is not a base64 SHA-256")
			return
		}
		f, err := os.CreateTemp(dir, ".chunk-*")
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the chunk cannot be spooled to verify its checksum")
			return
		}
		defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
		hash := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, hash), http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "the chunk is larger than any upload may be")
				return
			}
			// The client went away mid-chunk: an unverifiable chunk is not kept.
			writeError(w, http.StatusBadRequest, codeBadRequest, "the chunk ended before its checksum could be verified")
			return
		}
		if subtle.ConstantTimeCompare(hash.Sum(nil), want) != 1 {
			writeError(w, StatusChecksumMismatch, codeChecksum, "the chunk's bytes do not match its Upload-Checksum; it was discarded, resend it")
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the verified chunk cannot be read back")
			return
		}
		r.Body = io.NopCloser(f)
		r.ContentLength = n
		next.ServeHTTP(w, r)
	})
}

// advertiseChecksum adds the checksum extension to the extensions tusd lists in an OPTIONS
// answer.
type advertiseChecksum struct{ http.ResponseWriter }

func (a advertiseChecksum) WriteHeader(status int) {
	h := a.Header()
	if ext := h.Get("Tus-Extension"); ext != "" {
		h.Set("Tus-Extension", ext+",checksum")
		h.Set("Tus-Checksum-Algorithm", checksumAlgorithms)
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a advertiseChecksum) Write(b []byte) (int, error) { return a.ResponseWriter.Write(b) }

// Unwrap lets http.ResponseController reach the connection (tusd sets deadlines through it).
func (a advertiseChecksum) Unwrap() http.ResponseWriter { return a.ResponseWriter }
