package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"yjshub/hub/store"
)

// Application states in platform_applications.
const (
	appSubmitted = "submitted"
	appRejected  = "rejected" // the applicant's problems: reported to the platform as 退件
	appConflict  = "conflict"
	appFault     = "fault" // the hub's mapping or configuration: held, with its body, and retried
)

// reported values in platform_applications.
const (
	reportPending = 0
	reportDone    = 1
	reportRefused = -1
)

// tables is the connector's state in the SQL store (migrations 00008_platform.sql and
// 00009_platform_licences.sql).
type tables struct {
	st       *store.Store
	platform string
}

// Tables holding the cursor of each list the connector pulls: a constant, never input.
const (
	appCursors     = "platform_cursors"
	licenceCursors = "platform_licence_cursors"
)

func (t tables) cursor(ctx context.Context, table string) (string, error) {
	db := t.st.DB()
	var c string
	err := db.GetContext(ctx, &c, db.Rebind(`SELECT next_cursor FROM `+table+` WHERE platform = ?`), t.platform)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the cursor of %s (%s): %w", t.platform, table, err)
	}
	return c, nil
}

func (t tables) saveCursor(ctx context.Context, table, cursor string) error {
	db := t.st.DB()
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO `+table+` (platform, next_cursor, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (platform) DO UPDATE SET next_cursor = excluded.next_cursor, updated_at = excluded.updated_at`),
		t.platform, cursor, store.NewTimestamp(time.Now()))
	if err != nil {
		return fmt.Errorf("saving the cursor of %s (%s): %w", t.platform, table, err)
	}
	return nil
}

// application is what platform_applications holds of an application.
type application struct {
	AppID      string          `db:"app_id"`
	CaseID     string          `db:"case_id"`
	State      string          `db:"state"`
	BodySHA256 string          `db:"body_sha256"`
	Retaken    int             `db:"retaken"`
	Body       string          `db:"body"`
	Submitted  store.Timestamp `db:"submitted_at"`
}

// application returns the record of a platform application; State is "" when it is new.
func (t tables) application(ctx context.Context, appID string) (application, error) {
	db := t.st.DB()
	var a application
	err := db.GetContext(ctx, &a, db.Rebind(`SELECT app_id, case_id, state, body_sha256, retaken, body, submitted_at
		FROM platform_applications WHERE platform = ? AND app_id = ?`), t.platform, appID)
	if errors.Is(err, sql.ErrNoRows) {
		return application{}, nil
	}
	if err != nil {
		return application{}, fmt.Errorf("reading application %s of %s: %w", appID, t.platform, err)
	}
	return a, nil
}

// outcome is what became of an application, to be recorded.
type outcome struct {
	appID, caseID, state string
	problems             []Problem
	reported             int
	submittedAt          time.Time
	// body is kept only for a fault, to take the application in again.
	body       []byte
	bodySHA256 string
	retaken    int
}

// storeApplication records what became of a platform application. A record of a rejected or
// held (fault) application is replaced: a corrected application after a 退件, or a fault
// mended; any other record keeps the first.
func (t tables) storeApplication(ctx context.Context, o outcome) error {
	db := t.st.DB()
	now := store.NewTimestamp(time.Now())
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO platform_applications (platform, app_id, case_id, state, problems, reported, submitted_at, created_at,
		body, body_sha256, retaken) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (platform, app_id) DO UPDATE SET case_id = excluded.case_id, state = excluded.state, problems = excluded.problems,
		reported = excluded.reported, submitted_at = excluded.submitted_at, created_at = excluded.created_at, body = excluded.body,
		body_sha256 = excluded.body_sha256, retaken = excluded.retaken
		WHERE platform_applications.state IN (?, ?)`),
		t.platform, o.appID, o.caseID, o.state, store.JSONOf(o.problems), o.reported, store.NewTimestamp(o.submittedAt), now,
		string(o.body), o.bodySHA256, o.retaken, appRejected, appFault)
	if err != nil {
		return fmt.Errorf("storing application %s of %s: %w", o.appID, t.platform, err)
	}
	return nil
}

// faults returns the applications held for a fault of the hub's, oldest first.
func (t tables) faults(ctx context.Context, limit int) ([]application, error) {
	db := t.st.DB()
	var rows []application
	err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT app_id, case_id, state, body_sha256, retaken, body, submitted_at
		FROM platform_applications WHERE platform = ? AND state = ? ORDER BY created_at, app_id LIMIT ?`), t.platform, appFault, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the held applications of %s: %w", t.platform, err)
	}
	return rows, nil
}

// caseApplication returns the platform application a case came from and whether it was
// taken as a new submission after a 退件.
func (t tables) caseApplication(ctx context.Context, caseID string) (appID string, retaken bool, ok bool, err error) {
	db := t.st.DB()
	var a application
	err = db.GetContext(ctx, &a, db.Rebind(`SELECT app_id, retaken FROM platform_applications WHERE case_id = ? AND platform = ?`), caseID, t.platform)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, fmt.Errorf("looking up the application of case %s: %w", caseID, err)
	}
	return a.AppID, a.Retaken > 0, true, nil
}

// rejection is a rejected application still to be reported to the platform.
type rejection struct {
	AppID      string                `db:"app_id"`
	Problems   store.JSON[[]Problem] `db:"problems"`
	At         store.Timestamp       `db:"created_at"`
	BodySHA256 string                `db:"body_sha256"`
	Retaken    int                   `db:"retaken"`
}

func (t tables) unreported(ctx context.Context, limit int) ([]rejection, error) {
	db := t.st.DB()
	var rows []rejection
	err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT app_id, problems, created_at, body_sha256, retaken FROM platform_applications
		WHERE platform = ? AND reported = ? ORDER BY created_at, app_id LIMIT ?`), t.platform, reportPending, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the rejections of %s to report: %w", t.platform, err)
	}
	return rows, nil
}

func (t tables) markReported(ctx context.Context, appID string, reported int) error {
	db := t.st.DB()
	_, err := db.ExecContext(ctx, db.Rebind(`UPDATE platform_applications SET reported = ? WHERE platform = ? AND app_id = ?`), reported, t.platform, appID)
	if err != nil {
		return fmt.Errorf("recording the report of application %s of %s: %w", appID, t.platform, err)
	}
	return nil
}

// Licence states in platform_licences.
const (
	licImported = "imported" // the connector put it in the library
	licKnown    = "known"    // the library had it already
	licRejected = "rejected" // not imported: the mapping or the library refused it
)

// licenceItem is what platform_licences holds of a licence the platform offered.
type licenceItem struct {
	BodySHA256 string `db:"body_sha256"`
	State      string `db:"state"`
}

// licence returns the record of a licence the platform offered; ok is false when it is new.
func (t tables) licence(ctx context.Context, licenceID string) (item licenceItem, ok bool, err error) {
	db := t.st.DB()
	err = db.GetContext(ctx, &item, db.Rebind(`SELECT body_sha256, state FROM platform_licences WHERE platform = ? AND licence_id = ?`), t.platform, licenceID)
	if errors.Is(err, sql.ErrNoRows) {
		return item, false, nil
	}
	if err != nil {
		return item, false, fmt.Errorf("reading licence %s of %s: %w", licenceID, t.platform, err)
	}
	return item, true, nil
}

// storeLicence records what became of a licence the platform offered, replacing the record
// of an earlier version of its document (but not the library id an earlier version got).
func (t tables) storeLicence(ctx context.Context, licenceID, bodySHA256, state, libraryID string, problems []Problem) error {
	now := store.NewTimestamp(time.Now())
	db := t.st.DB()
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO platform_licences (platform, licence_id, body_sha256, state, library_id, problems, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, licence_id) DO UPDATE SET body_sha256 = excluded.body_sha256,
		state = excluded.state, problems = excluded.problems, updated_at = excluded.updated_at,
		library_id = CASE WHEN excluded.library_id = '' THEN platform_licences.library_id ELSE excluded.library_id END`),
		t.platform, licenceID, bodySHA256, state, libraryID, store.JSONOf(problems), now, now)
	if err != nil {
		return fmt.Errorf("storing licence %s of %s: %w", licenceID, t.platform, err)
	}
	return nil
}
