package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CatalogueVersion records one catalogue the hub has loaded.
type CatalogueVersion struct {
	// Version is the lowercase hex sha256 of the catalogue's canonical form.
	Version string
	// LoadedAt is when this version was first recorded, in UTC. It is set by
	// the store and ignored by RecordCatalogueVersion.
	LoadedAt time.Time
	// Bundles, Matters and Departments count what the catalogue holds.
	Bundles     int
	Matters     int
	Departments int
}

// Validate reports every problem with v at once.
func (v CatalogueVersion) Validate() error {
	var errs []error
	if !isSHA256Hex(v.Version) {
		errs = append(errs, fmt.Errorf("catalogue version %q: want 64 lowercase hex digits (sha256)", v.Version))
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"bundles", v.Bundles}, {"matters", v.Matters}, {"departments", v.Departments}} {
		if c.n < 0 {
			errs = append(errs, fmt.Errorf("catalogue %s: %d is negative", c.name, c.n))
		}
	}
	return errors.Join(errs...)
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RecordCatalogueVersion records that catalogue v has been loaded. Recording a
// version already recorded changes nothing: it keeps its first load time and
// counts.
func (s *Store) RecordCatalogueVersion(ctx context.Context, v CatalogueVersion) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("store: record catalogue version: %w", err)
	}
	_, err := s.db.ExecContext(ctx, s.rebind(`
		INSERT INTO catalogue_versions (version, loaded_at, bundles, matters, departments)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (version) DO NOTHING`),
		v.Version, now(), v.Bundles, v.Matters, v.Departments)
	if err != nil {
		return fmt.Errorf("store: record catalogue version %s: %w", v.Version, err)
	}
	return nil
}

// LatestCatalogueVersion returns the version first loaded most recently, or an
// error matching [ErrNotFound] if none has been recorded.
func (s *Store) LatestCatalogueVersion(ctx context.Context) (CatalogueVersion, error) {
	var row struct {
		Version     string    `db:"version"`
		LoadedAt    Timestamp `db:"loaded_at"`
		Bundles     int       `db:"bundles"`
		Matters     int       `db:"matters"`
		Departments int       `db:"departments"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT version, loaded_at, bundles, matters, departments
		FROM catalogue_versions
		ORDER BY loaded_at DESC, version DESC
		LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return CatalogueVersion{}, fmt.Errorf("store: latest catalogue version: %w", ErrNotFound)
	}
	if err != nil {
		return CatalogueVersion{}, fmt.Errorf("store: latest catalogue version: %w", err)
	}
	return CatalogueVersion{
		Version:     row.Version,
		LoadedAt:    row.LoadedAt.Time,
		Bundles:     row.Bundles,
		Matters:     row.Matters,
		Departments: row.Departments,
	}, nil
}
