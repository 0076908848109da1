package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"yjshub/hub/auth"
	"yjshub/hub/links"
	"yjshub/hub/uploads"
)

// Who may call the file routes:
//
//	platform, department  uploads (tus POST, HEAD, PATCH, DELETE) and the records of their own
//	                      material objects (GET /materials/mo_…)
//	public                OPTIONS of the uploads (tus discovery), and a file through its signed
//	                      link: the link is the grant, and a department's key, when sent, must
//	                      be the link's department
var forUploaders = []auth.Role{auth.RolePlatform, auth.RoleDepartment}

// uploadBodyTimeout bounds the reading of one upload request's body and the writing of its
// answer, in place of the server's 30s (ServerLimits.ReadTimeout): a chunk of 50 MB over a
// slow link takes minutes, and the request that completes an upload is answered only once the
// material is hashed and stored.
const uploadBodyTimeout = 15 * time.Minute

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
	}
	if s.cfg.LinkKeys != nil {
		files := links.Handler(s.cfg.Blobs, s.cfg.LinkKeys, s.auditRead).ServeHTTP
		r.Get("/files/{sha256}", files)
		r.Head("/files/{sha256}", files)
	}
}

// uploadHandler is the upload service's handler with the time a large body needs.
func (s *Server) uploadHandler() http.HandlerFunc {
	h := s.cfg.Uploads.Handler()
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch || r.Method == http.MethodPost {
			// Not every writer in front reaches the connection; the server's own bounds hold then.
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(uploadBodyTimeout))
			_ = rc.SetWriteDeadline(time.Now().Add(uploadBodyTimeout))
		}
		h.ServeHTTP(w, r)
	}
}

// isUpload reports whether r sends the bytes of an upload, whose body the upload service bounds
// by the length declared at creation and the type's limit, not the guard's 1 MiB.
func (s *Server) isUpload(r *http.Request) bool {
	if s.cfg.Uploads == nil || (r.Method != http.MethodPatch && r.Method != http.MethodPost) {
		return false
	}
	p := r.URL.Path
	return p == uploads.DefaultPrefix || strings.HasPrefix(p, uploads.DefaultPrefix+"/")
}

// isMaterialObjectID reports whether a GET /materials/{code} names an uploaded material object
// ("mo_…") rather than a catalogue material: catalogue codes are kebab-case, without "_".
func isMaterialObjectID(code string) bool { return strings.HasPrefix(code, "mo_") }

// getMaterialOrObject answers GET /api/v1/materials/{code}: a catalogue material (public), or,
// for an id "mo_…", the record of an uploaded material object, to its owner only.
func (s *Server) getMaterialOrObject(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	switch {
	case s.cfg.Uploads != nil && isMaterialObjectID(code):
		s.allow(forUploaders...)(s.cfg.Uploads.Handler()).ServeHTTP(w, r)
	case s.cfg.Catalogue != nil:
		s.getMaterial(w, r)
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, "no material with code "+quote(code))
	}
}

// auditRead writes a read of a material through a link to the hash-chained audit log; a read
// it cannot write is not served.
func (s *Server) auditRead(ctx context.Context, read links.Read) error {
	_, err := s.cfg.Audit.AppendAlone(ctx, read.Entry())
	return err
}
