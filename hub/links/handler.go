package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/blobs"
)

// AuditKind is the kind of the audit rows of material reads.
const AuditKind = "material_read"

// Read is one read of a material through a link, as the audit log keeps it: Entry maps it onto
// a row field for field. It holds codes, numbers and hashes, never personal data.
type Read struct {
	// At is when the bytes were sent: the row's own time, stamped by the log, so not in Detail.
	At time.Time `json:"-"`
	// SHA256 names the material read.
	SHA256 string `json:"sha256"`
	// Case and Subcase are what the material was read for, as the link says.
	Case    string `json:"case"`
	Subcase string `json:"subcase,omitempty"`
	// Department is the department the link was signed for.
	Department string `json:"department"`
	// Client names the API client the hub authenticated the request as; empty when the link
	// alone was presented.
	Client string `json:"client,omitempty"`
	// Connector is the kind of connector that carried the link (frontdb, restpull …), when
	// known.
	Connector string `json:"connector,omitempty"`
	// Status is 200 (the whole blob) or 206 (a range of it).
	Status int `json:"status"`
	// Range is the Content-Range of a 206 ("bytes 0-99/1000"); empty for the whole blob.
	Range string `json:"range,omitempty"`
	// KeyID names the key that signed the link.
	KeyID string `json:"kid"`
}

// Entry is the audit log's row for r: kind AuditKind, outcome granted, no subject (a material
// read is of a case's material, and the holder's pseudonym is the caller's to add if wanted),
// and r as the detail.
func (r Read) Entry() audit.Entry {
	return audit.Entry{Kind: AuditKind, Outcome: audit.Granted, Detail: r}
}

// Audit records a read; a read it cannot record is not served.
type Audit func(ctx context.Context, r Read) error

// Error codes of the handler's answers, as the API's (hub/api) error body spells them.
const (
	codeForbidden        = "forbidden"
	codeGone             = "gone"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
	// codeRangeNotSatisfiable answers a Range outside the material (416).
	codeRangeNotSatisfiable = "range_not_satisfiable"
)

// forbiddenMessage is the one message of every refused link.
const forbiddenMessage = "this link does not grant access: it may have expired, been altered or been signed for another department"

// Handler serves the blobs of store through links that keys signed (GET and HEAD). See the
// package documentation for its answers; audit is called for each read that sends bytes, before
// the first byte goes, and a read it fails to record is answered 503 and sends nothing.
func Handler(store blobs.Store, keys *Keyring, audit Audit) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "a link is read with GET or HEAD")
			return
		}
		claims, err := keys.Verify(r)
		if err != nil || claims.Method != http.MethodGet {
			writeError(w, http.StatusForbidden, codeForbidden, forbiddenMessage)
			return
		}
		info, err := store.Stat(r.Context(), claims.SHA256)
		switch {
		case errors.Is(err, blobs.ErrNotFound):
			writeError(w, http.StatusGone, codeGone, "the material this link names is no longer kept")
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, codeInternal, "the material could not be read")
			return
		}
		// One range or the whole: a multipart answer of many ranges would need a seek and an
		// open of the store per range, and no department's system asks for one.
		if strings.Contains(r.Header.Get("Range"), ",") {
			r.Header.Del("Range")
		}
		h := w.Header()
		h.Set("Content-Type", contentType(info.ContentType))
		h.Set("ETag", `"`+info.SHA256+`"`)
		// The link, not the bytes, is what expires; a shared cache must not keep a material
		// for whoever asks next.
		h.Set("Cache-Control", "private")
		h.Set("X-Content-Type-Options", "nosniff")
		// A material is a file to keep, never a page to run in the hub's origin.
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Content-Disposition", "attachment")

		content := &blobReader{ctx: r.Context(), store: store, sha256: info.SHA256, size: info.Size}
		defer content.Close()
		aw := &auditingWriter{ResponseWriter: w, r: r, claims: claims, audit: audit, now: keys.now}
		http.ServeContent(aw, r, "", info.Created, content)
	})
}

// contentType is the blob's type as stored, or the type of bytes of no known type: the handler
// never lets http.ServeContent guess from the bytes.
func contentType(t string) string {
	if t == "" {
		return "application/octet-stream"
	}
	return t
}

// auditingWriter records a read when http.ServeContent decides to send bytes (200 or 206 to a
// GET), and refuses the read, with 503, when it cannot be recorded: a material leaves the hub
// only with its audit row written. A 304, a 416 and any HEAD send no material and are not
// recorded.
type auditingWriter struct {
	http.ResponseWriter
	r       *http.Request
	claims  Claims
	audit   Audit
	now     func() time.Time
	decided bool
	refused bool
}

// WriteHeader records the read before the status that starts it goes out.
func (a *auditingWriter) WriteHeader(status int) {
	if a.decided {
		return
	}
	a.decided = true
	if status == http.StatusRequestedRangeNotSatisfiable {
		// http.ServeContent's 416 is a line of text; the hub's is its one error body, with the
		// Content-Range (bytes */size) ServeContent set.
		a.refused = true
		writeError(a.ResponseWriter, status, codeRangeNotSatisfiable, "the Range lies outside the material; Content-Range gives its size")
		return
	}
	if a.r.Method != http.MethodGet || (status != http.StatusOK && status != http.StatusPartialContent) {
		a.ResponseWriter.WriteHeader(status)
		return
	}
	read := Read{At: a.now(), SHA256: a.claims.SHA256, Case: a.claims.Case, Subcase: a.claims.Subcase,
		Department: a.claims.Department, Connector: a.claims.Via, Status: status, KeyID: a.claims.KeyID}
	if status == http.StatusPartialContent {
		read.Range = a.Header().Get("Content-Range")
	}
	if c, ok := auth.FromContext(a.r.Context()); ok {
		read.Client = c.Name
	}
	if err := a.audit(a.r.Context(), read); err != nil {
		a.refused = true
		h := a.Header()
		for _, k := range []string{"Content-Length", "Content-Range", "Content-Disposition", "ETag", "Last-Modified", "Accept-Ranges", "Content-Encoding"} {
			h.Del(k)
		}
		writeError(a.ResponseWriter, http.StatusServiceUnavailable, codeUnavailable, "the read could not be recorded in the audit log; try again later")
		return
	}
	a.ResponseWriter.WriteHeader(status)
}

// Write sends bytes once the read is recorded, and none when it could not be.
func (a *auditingWriter) Write(p []byte) (int, error) {
	if !a.decided {
		a.WriteHeader(http.StatusOK)
	}
	if a.refused {
		return 0, errAuditRefused
	}
	return a.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (a *auditingWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

var errAuditRefused = errors.New("links: the read was not recorded, so nothing is sent")

// blobReader is an io.ReadSeeker over a stored blob for http.ServeContent: it opens the store
// at the offset it is asked to read from, when it is first read there, and streams from it, so
// that no blob is held in memory and a range is read from the store as a range.
type blobReader struct {
	ctx    context.Context
	store  blobs.Store
	sha256 string
	size   int64
	off    int64
	rc     io.ReadCloser
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, _, err := b.store.Open(b.ctx, b.sha256, b.off, b.size-b.off)
		if err != nil {
			return 0, fmt.Errorf("links: opening blob at %d: %w", b.off, err)
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	if err == io.EOF && b.off < b.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.size + offset
	default:
		return b.off, errors.New("links: seek: unknown whence")
	}
	if abs < 0 {
		return b.off, errors.New("links: seek before the start of the blob")
	}
	if abs != b.off {
		b.closeOpen()
		b.off = abs
	}
	return abs, nil
}

// Close closes what the store opened, if anything.
func (b *blobReader) Close() error { return b.closeOpen() }

func (b *blobReader) closeOpen() error {
	if b.rc == nil {
		return nil
	}
	err := b.rc.Close()
	b.rc = nil
	return err
}

// errorBody is the hub's one error shape (hub/api.ErrorBody), written here without the API
// package, which will mount this handler and so cannot be imported by it.
type errorBody struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Status, b.Error.Code, b.Error.Message = status, code, message
	body, _ := json.Marshal(b)
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
