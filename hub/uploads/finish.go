package uploads

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gabriel-vasile/mimetype"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"yjshub/hub/store"
	"yjshub/problem"
)

// sniffLen is how much of a file's head the content type is sniffed from: mimetype's own
// read limit, which covers every signature it knows.
const sniffLen = 3072

// preFinish makes a completed upload a material object before the client is told the upload
// finished: it reads the bytes once to hash them and sniff their type, refuses (and removes)
// an upload whose declared sha256 differs or whose type is not accepted, and otherwise puts the
// bytes in the blob store, commits the materials_uploaded row and removes the upload in flight.
// The answer carries the material's id in HeaderMaterialID.
func (s *Service) preFinish(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	return s.finish(hook.Context, hook.Upload)
}

// finish makes the complete upload info a material object (see preFinish); the caller holds
// the upload's lock. It reads the upload only through tusd's Upload.GetReader, so that the
// same path serves uploads in flight on the local disk and in S3: once to hash and sniff,
// and once more into the blob store, whose Put checks the sha256 again on the way.
func (s *Service) finish(ctx context.Context, info tusd.FileInfo) (tusd.HTTPResponse, error) {
	up, err := s.flight.GetUpload(ctx, info.ID)
	if err != nil {
		return tusd.HTTPResponse{}, s.unavailable("open the finished upload", err)
	}
	sum, ct, err := s.examine(ctx, up, info)
	if err != nil {
		return tusd.HTTPResponse{}, s.unavailable("read the finished upload", err)
	}
	var ps problem.List
	if declared, ok := info.MetaData[MetaSHA256]; ok && declared != sum {
		ps.Add("/metadata/sha256", problem.RuleConflict, "the bytes received do not hash to the declared sha256")
	}
	licence := info.MetaData[metaLicence] == "1"
	if !s.accepted(ct, licence) {
		ps.Add("/content", problem.RuleEnum, "the file's content type, sniffed from its bytes, is %s; accepted are %v", ct, s.acceptedTypes(licence))
	}
	if len(ps) > 0 {
		s.remove(ctx, up, info.ID)
		return tusd.HTTPResponse{}, tusError(http.StatusUnprocessableEntity, codeUnprocessable, "the upload was refused and removed", ps...)
	}

	rd, err := up.GetReader(ctx)
	if err != nil {
		return tusd.HTTPResponse{}, s.unavailable("reopen the finished upload", err)
	}
	defer func() { _ = rd.Close() }()
	if _, err := s.cfg.Blobs.Put(ctx, sum, info.Size, ct, rd); err != nil {
		return tusd.HTTPResponse{}, s.unavailable("store the finished upload's bytes", err)
	}
	m := Material{
		ID:          newID("mo_"),
		SHA256:      sum,
		Size:        info.Size,
		ContentType: ct,
		Filename:    info.MetaData[MetaFilename],
		Type:        info.MetaData[MetaType],
		Owner:       info.MetaData[metaOwner],
		Holder:      info.MetaData[MetaHolder],
		CreatedAt:   store.NewTimestamp(s.cfg.Now()),
	}
	// A retention sweep may have removed the blob between the Put above and the insert (the
	// last material using it expired): the insert puts it again, from the upload still here.
	reput := func() error {
		again, err := up.GetReader(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = again.Close() }()
		_, err = s.cfg.Blobs.Put(ctx, sum, info.Size, ct, again)
		return err
	}
	if err := s.insert(ctx, m, reput); err != nil {
		return tusd.HTTPResponse{}, s.unavailable("record the material", err)
	}
	s.remove(ctx, up, info.ID)
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{HeaderMaterialID: m.ID}}, nil
}

// examine streams the upload once, hashing every byte and sniffing the content type from its
// head. An OFD is a zip told apart by its OFD.xml entry, which only the zip's directory at the
// end of the file names: that check reads the upload at random through the store's readerAt
// (the file itself on disk; ranged GETs on S3, a window or two of the end rather than a spool
// of the whole file), and only for uploads that sniff as zip.
func (s *Service) examine(ctx context.Context, up tusd.Upload, info tusd.FileInfo) (sum, ct string, err error) {
	rd, err := up.GetReader(ctx)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = rd.Close() }()
	sum, ct, got, err := hashAndSniff(rd)
	if err != nil {
		return "", "", err
	}
	if got != info.Size {
		return "", "", fmt.Errorf("the upload holds %d bytes, not the %d declared", got, info.Size)
	}
	if ct == "application/zip" {
		ra, closer, err := s.flight.readerAt(ctx, info)
		if err != nil {
			return "", "", err
		}
		defer func() { _ = closer.Close() }()
		if isOFD(ra, info.Size) {
			ct = ContentTypeOFD
		}
	}
	return sum, ct, nil
}

// hashAndSniff reads r to its end and returns the sha256 of its bytes, the content type sniffed
// from the first of them (a zip is still to be told from an OFD, which is one) and their count.
func hashAndSniff(r io.Reader) (sum, ct string, n int64, err error) {
	h := sha256.New()
	head := make([]byte, sniffLen)
	k, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", "", 0, err
	}
	head = head[:k]
	h.Write(head)
	rest, err := io.Copy(h, r)
	if err != nil {
		return "", "", 0, err
	}
	ct, _, _ = strings.Cut(mimetype.Detect(head).String(), ";") // text/plain; charset=utf-8
	return hex.EncodeToString(h.Sum(nil)), ct, int64(k) + rest, nil
}

// isOFD reports whether the zip r holds OFD.xml at its root, as GB/T 33190 requires.
func isOFD(r io.ReaderAt, size int64) bool {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return false
	}
	for _, f := range z.File {
		if f.Name == "OFD.xml" {
			return true
		}
	}
	return false
}

// remove deletes an upload in flight; the Service holds its lock (tusd's, for the request).
// A failure is logged and left to Sweep.
func (s *Service) remove(ctx context.Context, up tusd.Upload, id string) {
	if err := s.flight.AsTerminatableUpload(up).Terminate(ctx); err != nil {
		s.cfg.Logger.Warn("uploads: remove an upload in flight", "upload", id, "err", err)
	}
}

// unavailable answers 503 to a failure of the hub's own, logged without the upload's metadata.
func (s *Service) unavailable(what string, err error) error {
	s.cfg.Logger.Error("uploads: "+what, "err", err)
	return tusError(http.StatusServiceUnavailable, codeUnavailable, "the hub could not "+what+"; try again")
}

// retryFinish finishes again a complete upload still in flight, one whose finishing failed on
// the hub's side (the blob store or the database was unavailable), when its owner PATCHes at its
// end, as a tus client does to resume. tusd itself would answer such a PATCH 204 without a
// material; answered here, the client gets the material or the reason it was refused. It
// reports whether it answered.
func (s *Service) retryFinish(w http.ResponseWriter, r *http.Request, id string) bool {
	up, err := s.flight.GetUpload(r.Context(), id)
	if err != nil {
		return false
	}
	if info, err := up.GetInfo(r.Context()); err != nil || info.Offset != info.Size {
		return false
	}
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), sweepLockWait)
	defer cancel()
	if err := lock.Lock(ctx, func() {}); err != nil {
		writeError(w, http.StatusLocked, "locked", "the upload is being written by another request; try again")
		return true
	}
	defer func() { _ = lock.Unlock() }()
	info, err := up.GetInfo(r.Context())
	if err != nil {
		writeError(w, http.StatusNotFound, codeNotFound, "no such upload")
		return true
	}
	if offset := r.Header.Get("Upload-Offset"); offset != strconv.FormatInt(info.Offset, 10) {
		writeError(w, http.StatusConflict, "offset_mismatch", "Upload-Offset is not the upload's offset; HEAD tells it")
		return true
	}
	if err := s.flight.assemble(r.Context(), up, info); err != nil {
		_ = s.unavailable("assemble the finished upload", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the hub could not assemble the finished upload; try again")
		return true
	}
	resp, err := s.finish(r.Context(), info)
	var refused tusd.Error
	if errors.As(err, &refused) {
		resp = refused.HTTPResponse
	} else {
		resp.StatusCode = http.StatusNoContent
		resp.Header["Upload-Offset"] = strconv.FormatInt(info.Offset, 10)
	}
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.WriteString(w, resp.Body)
	return true
}
