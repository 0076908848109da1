package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/auth"
	"yjshub/hub/links"
	"yjshub/hub/uploads"
)

// Who may call the file routes:
//
//	platform, department  uploads (tus POST, HEAD, PATCH, DELETE), a small file PUT whole
//	                      (PUT /files/{sha256}) and the records of their own material objects
//	                      (GET /material-objects/{id})
//	public                OPTIONS of the uploads (tus discovery)
//	link                  a file through its signed link: the link is the grant, and a
//	                      department's key, when sent, must be the link's department
var forUploaders = []auth.Role{auth.RolePlatform, auth.RoleDepartment}

// mountFiles mounts the uploads (tus, hub/uploads) and the signed file links (hub/links).
func (s *Server) mountFiles(r chi.Router) {
	if s.cfg.Uploads != nil {
		up := s.uploadHandler()
		uploaders := r.With(s.allow(forUploaders...))
		uploaders.Post("/uploads", up)
		r.Options("/uploads", up)
		uploaders.Head("/uploads/{id}", up)
		uploaders.Patch("/uploads/{id}", up)
		uploaders.Delete("/uploads/{id}", up)
		r.Options("/uploads/{id}", up)
		uploaders.Get("/material-objects/{id}", s.cfg.Uploads.Handler().ServeHTTP)
		uploaders.Put("/files/{sha256}", s.cfg.Uploads.Handler().ServeHTTP)
	}
	if s.cfg.LinkKeys != nil {
		files := links.Handler(s.cfg.Blobs, s.cfg.LinkKeys, s.auditRead).ServeHTTP
		r.Get("/files/{sha256}", files)
		r.Head("/files/{sha256}", files)
	}
}

// uploadHandler is the upload service's handler, its tusd refusals in the API's error body.
// The server's bound on reading a whole request (ServerLimits.ReadTimeout, 30s) does not cut a
// large chunk on a slow link: tusd moves the connection's deadlines on while the body flows (60s
// without a byte ends it), through http.ResponseController, which every writer in front of it
// lets through (Unwrap).
func (s *Server) uploadHandler() http.HandlerFunc {
	h := s.cfg.Uploads.Handler()
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions && r.Header.Get("Tus-Resumable") == "" {
			// tusd answers 412, which tus keeps for a version it does not speak; a request that
			// names none is not a tus request at all.
			w.Header().Set("Tus-Resumable", "1.0.0")
			writeError(w, http.StatusBadRequest, CodeBadRequest, "an upload request needs the header Tus-Resumable: 1.0.0 (tus 1.0)")
			return
		}
		tw := &tusErrorWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		tw.finish()
	}
}

// tusErrorWriter rewrites the errors tusd answers itself (a missing Tus-Resumable, a bad
// Upload-Length or Upload-Offset, an offset that does not match), which are a line of text,
// into the API's one error body, tusd's code kept in the message; everything else passes.
type tusErrorWriter struct {
	http.ResponseWriter
	status int // non-zero: an error of tusd's held back to be rewritten
	text   strings.Builder
}

func (w *tusErrorWriter) WriteHeader(status int) {
	if status >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *tusErrorWriter) Write(p []byte) (int, error) {
	if w.status != 0 {
		if w.text.Len() < 1024 { // tusd's messages are a line
			w.text.Write(p)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushes).
func (w *tusErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the error held back, if any.
func (w *tusErrorWriter) finish() {
	if w.status == 0 {
		return
	}
	tusCode, message, ok := strings.Cut(strings.TrimSpace(w.text.String()), ": ")
	if !ok {
		message, tusCode = tusCode, ""
	}
	if tusCode != "" {
		message += " (" + tusCode + ")"
	}
	w.Header().Del("Content-Length")
	writeError(w.ResponseWriter, w.status, tusErrorCode(w.status), message)
}

// tusErrorCode is the API's code of a status tusd answers; 412 (no Tus-Resumable: 1.0.0) and
// the other refusals of a malformed request are bad_request, tusd's own code in the message.
func tusErrorCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return "conflict"
	case http.StatusGone:
		return "gone"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case uploads.StatusChecksumMismatch:
		return "checksum_mismatch"
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// isUpload reports whether r sends the bytes of an upload, whose body the upload service bounds
// by the length declared at creation and the type's limit, not the guard's 1 MiB; or of a file
// PUT whole, which it bounds by uploads.Config.PutMaxSize.
func (s *Server) isUpload(r *http.Request) bool {
	if s.cfg.Uploads == nil {
		return false
	}
	p := r.URL.Path
	if r.Method == http.MethodPut {
		return strings.HasPrefix(p, uploads.DefaultFilesPrefix+"/")
	}
	if r.Method != http.MethodPatch && r.Method != http.MethodPost {
		return false
	}
	return p == uploads.DefaultPrefix || strings.HasPrefix(p, uploads.DefaultPrefix+"/")
}

// auditRead writes a read of a material through a link to the hash-chained audit log; a read
// it cannot write is not served.
func (s *Server) auditRead(ctx context.Context, read links.Read) error {
	_, err := s.cfg.Audit.AppendAlone(ctx, read.Entry())
	return err
}
