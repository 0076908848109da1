package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/audit"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/pseudonym"
	"yjshub/hub/store"
)

// AuditKind is the kind of the audit rows of material objects removed when their retention
// ended.
const AuditKind = audit.KindMaterialRemoved

// DefaultInterval is how often Run sweeps: an hour keeps a due time recorded within the hour
// of a case's end, and a sweep of a few thousand live objects is one query a page.
const DefaultInterval = time.Hour

// pageSize is how many live material objects one query of a sweep reads.
const pageSize = 500

// TempSweeper is a blob store that leaves temporary files behind when it crashes mid-write
// and can remove those older than a time (blobs.Disk). The sweeper removes them, with
// TempMaxAge, at each sweep.
type TempSweeper interface {
	// SweepTemp removes the store's temporary files last written before before, and returns
	// how many it removed.
	SweepTemp(ctx context.Context, before time.Time) (int, error)
}

// TempMaxAge is how old a blob store's temporary file must be for a sweep to remove it: a Put
// writes its temporary file without pause, so one unwritten for an hour is a crash's.
const TempMaxAge = time.Hour

// Config configures a Sweeper. Store and Blobs are required.
type Config struct {
	// Store holds the material objects (materials_uploaded), the cases that name them and the
	// e-licences whose files share the blob store.
	Store *store.Store
	// Blobs keeps the materials' bytes; a removed material's blob is deleted from it once
	// nothing else uses the bytes.
	Blobs blobs.Store
	// Rules say how long each material is kept. Default: Default().
	Rules *Rules
	// Audit receives a row (kind AuditKind) for each material removed. Default: the audit
	// log in Store.
	Audit *audit.Log
	// Pseudonyms, when given, names in each audit row the holder whose material was removed
	// by their keyed pseudonym. Default: none (the row has no subject).
	Pseudonyms *pseudonym.Keyring
	// Now is the clock due times are compared with. Default time.Now.
	Now func() time.Time
	// Logger receives what each sweep removed and what failed (never a holder). Default
	// slog.Default().
	Logger *slog.Logger
}

// Sweeper computes when each material object is due, records it (materials_uploaded.
// expires_at) and removes what is due. It is safe for concurrent use, and hub instances
// sharing a database may sweep at once: each removal is decided again under a lock of the
// object's row.
type Sweeper struct {
	cfg Config
	// beforeRemove, when set (by a test), is called between a sweep's finding a material due
	// and its removal: where a case naming the material may come in between.
	beforeRemove func(id string)
}

// New returns a Sweeper, or every problem of cfg at once.
func New(cfg Config) (*Sweeper, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("retention: Store is required"))
	}
	if cfg.Blobs == nil {
		errs = append(errs, errors.New("retention: Blobs is required"))
	}
	if cfg.Rules == nil {
		r := Default()
		cfg.Rules = &r
	}
	if err := cfg.Rules.Validate(nil); err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.New(cfg.Store, cfg.Now)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sweeper{cfg: cfg}, nil
}

// Rules returns the rules the sweeper keeps materials by.
func (s *Sweeper) Rules() Rules { return *s.cfg.Rules }

// Result is what a sweep did.
type Result struct {
	// Checked counts the live material objects looked at.
	Checked int
	// Scheduled counts those whose recorded due time changed.
	Scheduled int
	// Removed counts the material objects removed, and RemovedBytes their sizes.
	Removed      int
	RemovedBytes int64
	// BlobsDeleted counts the blobs deleted: removed materials whose bytes nothing else used.
	BlobsDeleted int
	// TempFiles counts the blob store's leftover temporary files removed.
	TempFiles int
}

// objectState is a live material object with what the cases naming it say.
type objectState struct {
	ID        string          `db:"id"`
	SHA256    string          `db:"sha256"`
	Size      int64           `db:"size"`
	Type      string          `db:"type"`
	Owner     string          `db:"owner"`
	Holder    string          `db:"holder"`
	CreatedAt store.Timestamp `db:"created_at"`
	ExpiresAt store.Timestamp `db:"expires_at"`
	// Cases counts the cases naming the object, Open those still in progress; Ended is when
	// the last of the ended ones ended.
	Cases int64           `db:"cases"`
	Open  int64           `db:"open"`
	Ended store.Timestamp `db:"ended"`
}

// Due is when a material object is due by r: kept indefinitely (false) while a case that
// names it is open; else its upload plus Unlinked when no case ever named it, or the end of the
// last case that named it plus AfterCase of its type.
func (r Rules) Due(materialType string, created time.Time, cases, open int, lastEnded time.Time) (time.Time, bool) {
	switch {
	case open > 0:
		return time.Time{}, false
	case cases == 0:
		return created.Add(r.Unlinked), true
	default:
		return lastEnded.Add(r.afterCase(materialType)), true
	}
}

func (s *Sweeper) due(o objectState) (time.Time, bool) {
	return s.cfg.Rules.Due(o.Type, o.CreatedAt.Time, int(o.Cases), int(o.Open), o.Ended.Time)
}

// objectColumns and objectJoin read objects with their cases: a case ends when it is completed
// (whatever its outcome) or withdrawn, at completed_at.
const (
	objectColumns = `m.id, m.sha256, m.size, m.type, m.owner, m.holder, m.created_at, m.expires_at,
		COUNT(c.id) AS cases, COALESCE(SUM(CASE WHEN c.state = '` + cases.CaseInProgress + `' THEN 1 ELSE 0 END), 0) AS open,
		MAX(COALESCE(c.completed_at, c.updated_at)) AS ended`
	objectJoin = `FROM materials_uploaded m
		LEFT JOIN case_materials cm ON cm.object_id = m.id
		LEFT JOIN cases c ON c.id = cm.case_id`
	objectGroup = `GROUP BY m.id, m.sha256, m.size, m.type, m.owner, m.holder, m.created_at, m.expires_at`
)

// Sweep goes through every live material object once: it records each one's due time where it
// changed and removes those due. It carries on past a failure and returns every error met.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	var errs []error
	if ts, ok := s.cfg.Blobs.(TempSweeper); ok {
		n, err := ts.SweepTemp(ctx, s.cfg.Now().Add(-TempMaxAge))
		res.TempFiles = n
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: temporary files: %w", err))
		}
	}
	db := s.cfg.Store.DB()
	after := ""
	for {
		var page []objectState
		if err := db.SelectContext(ctx, &page, db.Rebind(`SELECT `+objectColumns+` `+objectJoin+`
			WHERE m.removed_at IS NULL AND m.id > ? `+objectGroup+` ORDER BY m.id LIMIT ?`), after, pageSize); err != nil {
			return res, errors.Join(append(errs, fmt.Errorf("retention: reading material objects: %w", err))...)
		}
		now := s.cfg.Now()
		for _, o := range page {
			res.Checked++
			due, known := s.due(o)
			if known && !due.After(now) {
				if s.beforeRemove != nil {
					s.beforeRemove(o.ID)
				}
				if err := s.remove(ctx, o.ID, &res); err != nil {
					errs = append(errs, fmt.Errorf("retention: removing material %s: %w", o.ID, err))
				}
				continue
			}
			if changed(o.ExpiresAt, due, known) {
				if err := s.record(ctx, db, o.ID, due, known); err != nil {
					errs = append(errs, err)
					continue
				}
				res.Scheduled++
			}
		}
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	return res, errors.Join(errs...)
}

// changed reports whether the recorded due time differs from the one computed (known false:
// none, kept while a case is open). Times are compared as stored, in microseconds.
func changed(recorded store.Timestamp, due time.Time, known bool) bool {
	if !known {
		return !recorded.IsZero()
	}
	return recorded.IsZero() || recorded.UnixMicro() != due.UnixMicro()
}

func (s *Sweeper) record(ctx context.Context, q sqlx.ExecerContext, id string, due time.Time, known bool) error {
	var v any
	if known {
		v = store.NewTimestamp(due)
	}
	if _, err := q.ExecContext(ctx, s.cfg.Store.DB().Rebind(`UPDATE materials_uploaded SET expires_at = ? WHERE id = ? AND removed_at IS NULL`), v, id); err != nil {
		return fmt.Errorf("retention: recording the due time of material %s: %w", id, err)
	}
	return nil
}

// Removal is the detail of a material_removed audit row: codes, hashes and counts, never the
// holder (who is the row's subject, as a keyed pseudonym) nor the file's name.
type Removal struct {
	// Object is the material object removed ("mo_…").
	Object string `json:"object"`
	// Type is its material type.
	Type string `json:"type"`
	// SHA256 and Size are its bytes'.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Owner is the client that uploaded it.
	Owner string `json:"owner"`
	// Cases counts the cases that named it.
	Cases int `json:"cases"`
	// Due is when its retention ended.
	Due time.Time `json:"due"`
	// BlobDeleted tells whether its bytes were deleted; false when another material, a case
	// still open or an e-licence uses the same bytes.
	BlobDeleted bool `json:"blob_deleted"`
}

// remove removes material id if it is due, deciding again under a lock of its row: a case that
// named it meanwhile (intake takes the same lock) keeps it. The row is marked removed, an audit
// row written and, when nothing else uses the bytes, the blob deleted, all before the
// transaction commits, so that a finishing upload of the same bytes (which takes the rows of
// those bytes in share mode) puts its blob again after the deletion rather than before it.
func (s *Sweeper) remove(ctx context.Context, id string, res *Result) error {
	var removed *Removal
	err := s.cfg.Store.InTx(ctx, func(tx *sqlx.Tx) error {
		removed = nil
		lock := ""
		if s.cfg.Store.Dialect() == store.DialectPostgres {
			lock = " FOR UPDATE"
		}
		// The row first, alone (PostgreSQL locks no row of an aggregate), then its cases, read
		// after the lock is held: a case committed before it is seen.
		var head struct {
			ID string `db:"id"`
		}
		err := tx.GetContext(ctx, &head, tx.Rebind(`SELECT id FROM materials_uploaded WHERE id = ? AND removed_at IS NULL`+lock), id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // removed by another sweep meanwhile
		}
		if err != nil {
			return err
		}
		var o objectState
		if err := tx.GetContext(ctx, &o, tx.Rebind(`SELECT `+objectColumns+` `+objectJoin+` WHERE m.id = ? `+objectGroup), id); err != nil {
			return err
		}
		now := s.cfg.Now()
		due, known := s.due(o)
		if !known || due.After(now) {
			return s.record(ctx, tx, id, due, known)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE materials_uploaded SET removed_at = ?, expires_at = ? WHERE id = ?`),
			store.NewTimestamp(now), store.NewTimestamp(due), id); err != nil {
			return err
		}
		used, err := s.bytesUsed(ctx, tx, o.SHA256)
		if err != nil {
			return err
		}
		r := Removal{Object: o.ID, Type: o.Type, SHA256: o.SHA256, Size: o.Size, Owner: o.Owner, Cases: int(o.Cases), Due: due.UTC(), BlobDeleted: !used}
		e := audit.Entry{Kind: AuditKind, Outcome: audit.Granted, Detail: r}
		if s.cfg.Pseudonyms != nil && o.Holder != "" {
			e.Subject = s.cfg.Pseudonyms.Of(o.Holder)
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, e); err != nil {
			return err
		}
		if !used {
			if err := s.cfg.Blobs.Delete(ctx, o.SHA256); err != nil {
				return fmt.Errorf("deleting its blob: %w", err)
			}
		}
		removed = &r
		return nil
	})
	if err != nil || removed == nil {
		return err
	}
	res.Removed++
	res.RemovedBytes += removed.Size
	if removed.BlobDeleted {
		res.BlobsDeleted++
	}
	return nil
}

// bytesUsed reports whether anything but removed material objects uses the bytes of sha256:
// a live material object, a material of a case still open, or an e-licence's file.
func (s *Sweeper) bytesUsed(ctx context.Context, tx *sqlx.Tx, sha256 string) (bool, error) {
	var n int
	err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM materials_uploaded WHERE sha256 = ? AND removed_at IS NULL LIMIT 1) a) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM case_materials cm JOIN cases c ON c.id = cm.case_id WHERE cm.sha256 = ? AND c.state = '`+cases.CaseInProgress+`' LIMIT 1) b) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM licences WHERE file_sha256 = ? LIMIT 1) l)`), sha256, sha256, sha256)
	if err != nil {
		return false, fmt.Errorf("looking whether its bytes are used: %w", err)
	}
	return n > 0, nil
}

// Run sweeps now and then every interval (DefaultInterval when not more than 0) until ctx is
// done, logging what each sweep removed and what failed; it returns ctx's error.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := s.Sweep(ctx)
		if res.Removed > 0 || res.TempFiles > 0 {
			s.cfg.Logger.Info("retention: materials removed", "removed", res.Removed, "bytes", res.RemovedBytes,
				"blobs_deleted", res.BlobsDeleted, "temp_files", res.TempFiles, "checked", res.Checked)
		}
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("retention: sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
