package uploads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"yjshub/hub/auth"
	"yjshub/hub/store"
	"yjshub/problem"
)

// put answers PUT FilesPrefix/{sha256}?type=&holder=&filename=: a small file sent whole in one
// request, for a client that does not speak tus (a department's back office uploading an
// e-licence's file before its approval). The body is spooled to a file under Config.Dir while
// its length is bounded, then hashed and sniffed as a finished upload is (examine): bytes that
// do not hash to the path's sha256 are refused with 460 (as tus's checksum extension answers a
// damaged chunk), a type not accepted with 422, and nothing of either is kept. A file the same
// client PUT before, with the same bytes, type and holder, is answered with the material it
// became (200) and stored no second time; a new one becomes a material object (201). (Two such
// PUTs at the same instant may each make a material; their bytes are still stored once.)
func (s *Service) put(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	q := r.URL.Query()
	md := map[string]string{MetaType: q.Get(MetaType), MetaHolder: q.Get(MetaHolder), MetaFilename: q.Get(MetaFilename)}
	want := r.PathValue("sha256")
	ps, licence := s.checkMetadata(c, "/query", md)
	if !isSHA256(want) {
		ps.Add("/path/sha256", problem.RuleSHA256, "the path names the file by its sha256: 64 lower-case hex digits")
	}
	limit := min(s.cfg.PutMaxSize, s.cfg.maxSize(md[MetaType]))
	if r.ContentLength > limit {
		ps.Add("/body", problem.RuleMaxSize, "the file is larger than the %d bytes a file PUT whole may have; upload it resumably (%s)", limit, s.cfg.Prefix)
	}
	if len(ps) > 0 {
		status, code := http.StatusUnprocessableEntity, codeUnprocessable
		if len(ps) == 1 && ps[0].Rule == problem.RuleMaxSize {
			status, code = http.StatusRequestEntityTooLarge, codeTooLarge
		}
		writeError(w, status, code, "the file was not stored", ps...)
		return
	}

	f, err := os.CreateTemp(s.cfg.Dir, ".put-*")
	if err != nil {
		s.putUnavailable(w, "spool the file", err)
		return
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "the file was not stored",
				problem.Problem{Path: "/body", Rule: problem.RuleMaxSize, Message: fmt.Sprintf("the file is larger than the %d bytes a file PUT whole may have", limit)})
			return
		}
		writeError(w, http.StatusBadRequest, codeBadRequest, "the body ended before the whole file was received; nothing was stored")
		return
	}
	sum, ct, err := examineFile(f, n)
	if err != nil {
		s.putUnavailable(w, "read the file received", err)
		return
	}
	if sum != want {
		writeError(w, StatusChecksumMismatch, codeChecksum, "the bytes received do not hash to the sha256 the path names; nothing was stored")
		return
	}
	if !s.accepted(ct, licence) {
		writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, "the file was not stored",
			problem.Problem{Path: "/content", Rule: problem.RuleEnum,
				Message: fmt.Sprintf("the file's content type, sniffed from its bytes, is %s; accepted are %v", ct, s.acceptedTypes(licence))})
		return
	}

	m, err := s.sameFile(r.Context(), c.Name, sum, md[MetaType], md[MetaHolder])
	switch {
	case err == nil:
		w.Header().Set("Location", s.cfg.MaterialsPrefix+"/"+m.ID)
		writeMaterial(w, http.StatusOK, m)
		return
	case !errors.Is(err, ErrNoMaterial):
		s.putUnavailable(w, "look for the same file", err)
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.putUnavailable(w, "read the file received", err)
		return
	}
	if _, err := s.cfg.Blobs.Put(r.Context(), sum, n, ct, f); err != nil {
		s.putUnavailable(w, "store the file's bytes", err)
		return
	}
	m = Material{
		ID: newID("mo_"), SHA256: sum, Size: n, ContentType: ct, Filename: md[MetaFilename], Type: md[MetaType],
		Owner: c.Name, Holder: md[MetaHolder], CreatedAt: store.NewTimestamp(s.cfg.Now()),
	}
	reput := func() error { // as for a finished upload (finish): the spooled file is still here
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := s.cfg.Blobs.Put(r.Context(), sum, n, ct, f)
		return err
	}
	if err := s.insert(r.Context(), m, reput); err != nil {
		s.putUnavailable(w, "record the material", err)
		return
	}
	w.Header().Set("Location", s.cfg.MaterialsPrefix+"/"+m.ID)
	writeMaterial(w, http.StatusCreated, m)
}

// sameFile returns the material owner made before of the same bytes, type and holder (the
// oldest), or ErrNoMaterial.
func (s *Service) sameFile(ctx context.Context, owner, sum, typ, holder string) (Material, error) {
	var m Material
	db := s.cfg.Store.DB()
	err := db.GetContext(ctx, &m, db.Rebind(`SELECT id, sha256, size, content_type, filename, type, owner, holder, created_at, expires_at
		FROM materials_uploaded WHERE owner = ? AND sha256 = ? AND type = ? AND holder = ? AND removed_at IS NULL ORDER BY created_at, id LIMIT 1`), owner, sum, typ, holder)
	if errors.Is(err, sql.ErrNoRows) {
		return Material{}, ErrNoMaterial
	}
	if err != nil {
		return Material{}, fmt.Errorf("uploads: read material: %w", err)
	}
	return m, nil
}

// putUnavailable answers 503 to a failure of the hub's own, logged without the file's metadata.
func (s *Service) putUnavailable(w http.ResponseWriter, what string, err error) {
	s.cfg.Logger.Error("uploads: PUT: "+what, "err", err)
	writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the hub could not "+what+"; try again")
}

// examineFile hashes and sniffs the n bytes spooled in f, as a finished upload is examined.
func examineFile(f *os.File, n int64) (sum, ct string, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", "", err
	}
	sum, ct, got, err := hashAndSniff(f)
	if err != nil {
		return "", "", err
	}
	if got != n {
		return "", "", fmt.Errorf("the spooled file holds %d bytes, not the %d received", got, n)
	}
	if ct == "application/zip" && isOFD(f, n) {
		ct = ContentTypeOFD
	}
	return sum, ct, nil
}
