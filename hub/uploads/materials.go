package uploads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/auth"
	"yjshub/hub/blobs"
	"yjshub/hub/store"
)

// Material is a material object: a finished upload as the hub recorded it.
type Material struct {
	// ID names the material ("mo_…"); an application names it to use the file.
	ID string `db:"id" json:"id"`
	// SHA256 is the hash of the bytes, computed by the hub; the blob store's key.
	SHA256 string `db:"sha256" json:"sha256"`
	// Size is the file's length in bytes.
	Size int64 `db:"size" json:"size"`
	// ContentType is sniffed from the bytes, not taken from the client.
	ContentType string `db:"content_type" json:"content_type"`
	// Filename is the name the client gave.
	Filename string `db:"filename" json:"filename"`
	// Type is the catalogue's material type code.
	Type string `db:"type" json:"type"`
	// Owner is the name of the client that uploaded it; only it may read the record or use
	// the material.
	Owner string `db:"owner" json:"owner"`
	// Holder is the USCC or ID number of the applicant the material belongs to (personal
	// data: shown to its owner only, never logged).
	Holder string `db:"holder" json:"holder"`
	// CreatedAt is when the upload finished.
	CreatedAt store.Timestamp `db:"created_at" json:"-"`
	// ExpiresAt is when retention removes it; zero until the retention sweeper has computed
	// it, and while a case naming it is open.
	ExpiresAt store.Timestamp `db:"expires_at" json:"-"`
	// RemovedAt is when retention removed it (package retention); zero while it is kept. A
	// removed material can no longer be named by a case.
	RemovedAt store.Timestamp `db:"removed_at" json:"-"`
}

// materialJSON is a Material as GET /api/v1/material-objects/{id} answers it.
type materialJSON struct {
	Material
	Created time.Time  `json:"created_at"`
	Expires *time.Time `json:"expires_at"`
	Removed *time.Time `json:"removed_at,omitempty"`
}

// ErrNoMaterial: no material of that id belongs to the client asking.
var ErrNoMaterial = errors.New("uploads: no such material")

// insert commits material m's row and makes sure that its blob, which finish put before, is
// still there, putting it again with reput when it is not. The retention sweeper (package
// retention) deletes a blob only while it holds the lock of the row of a material it removes;
// on PostgreSQL insert first takes the live rows of the same bytes in share mode, so that it
// either waits for such a removal to commit, and then finds the blob gone and puts it again,
// or goes first, and the sweeper then sees this row and keeps the blob. (SQLite's one writer
// runs the two one after the other.)
func (s *Service) insert(ctx context.Context, m Material, reput func() error) error {
	err := s.cfg.Store.InTx(ctx, func(tx *sqlx.Tx) error {
		if s.cfg.Store.Dialect() == store.DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM materials_uploaded WHERE sha256 = $1 AND removed_at IS NULL FOR SHARE`, m.SHA256); err != nil {
				return err
			}
		}
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO materials_uploaded
		(id, sha256, size, content_type, filename, type, owner, holder, created_at, expires_at)
		VALUES (:id, :sha256, :size, :content_type, :filename, :type, :owner, :holder, :created_at, :expires_at)`, m); err != nil {
			return err
		}
		_, err := s.cfg.Blobs.Stat(ctx, m.SHA256)
		if errors.Is(err, blobs.ErrNotFound) {
			return reput()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("uploads: insert material: %w", err)
	}
	return nil
}

// Material returns material id when it belongs to owner; ErrNoMaterial when there is no such
// material or it is another client's (the two are not told apart).
func (s *Service) Material(ctx context.Context, owner, id string) (Material, error) {
	var m Material
	db := s.cfg.Store.DB()
	err := db.GetContext(ctx, &m, db.Rebind(`SELECT id, sha256, size, content_type, filename, type, owner, holder, created_at, expires_at, removed_at
		FROM materials_uploaded WHERE id = ? AND owner = ?`), id, owner)
	if errors.Is(err, sql.ErrNoRows) {
		return Material{}, ErrNoMaterial
	}
	if err != nil {
		return Material{}, fmt.Errorf("uploads: read material: %w", err)
	}
	return m, nil
}

// getMaterial answers GET /api/v1/material-objects/{id}: the record, not the bytes, to its owner.
func (s *Service) getMaterial(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	m, err := s.Material(r.Context(), c.Name, r.PathValue("id"))
	if errors.Is(err, ErrNoMaterial) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such material")
		return
	}
	if err != nil {
		s.cfg.Logger.Error("uploads: read a material", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the material cannot be read now; try again")
		return
	}
	writeMaterial(w, http.StatusOK, m)
}

// writeMaterial answers status with m's record, as GET /api/v1/material-objects/{id} has it.
func writeMaterial(w http.ResponseWriter, status int, m Material) {
	out := materialJSON{Material: m, Created: m.CreatedAt.Time}
	if !m.ExpiresAt.IsZero() {
		out.Expires = &m.ExpiresAt.Time
	}
	if !m.RemovedAt.IsZero() {
		out.Removed = &m.RemovedAt.Time
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = writeJSON(w, out)
}
