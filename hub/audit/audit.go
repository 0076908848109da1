// Package audit owns the hub's audit log: an append-only, hash-chained record of every share
// of personal data (a prefill granted or refused, a consent given). Each row stores
// hash = SHA-256(previous row's hash || its own content), so changing, removing or reordering
// a row breaks the chain from there on, and Verify finds it.
//
// Rows hold references and names, never the data shared: the subject is the holder's keyed
// pseudonym (package pseudonym: HMAC-SHA256 under the hub's key, naming its key, never a bare
// hash, which an ID number's few possible values would give away), and details list field
// codes, material codes and sources, not values.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/store"
)

// Outcomes of an audited request.
const (
	Granted = "granted"
	Refused = "refused"
)

// Entry is what to append.
type Entry struct {
	// Kind names what happened: prefill, consent …
	Kind string
	// Outcome is Granted or Refused.
	Outcome string
	// Subject is whose data it concerns, as the holder's keyed pseudonym (pseudonym.Keyring.Of);
	// empty when unknown. Never an identifier, never a bare hash of one.
	Subject string
	// Detail says what was shared or why it was refused; it is stored as JSON and must hold
	// no personal data.
	Detail any
}

// Record is an appended row.
type Record struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Kind     string          `json:"kind"`
	Outcome  string          `json:"outcome"`
	Subject  string          `json:"subject,omitempty"`
	Detail   json.RawMessage `json:"detail"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// Log is the audit log. It is safe for concurrent use and across hub instances: appends take
// the chain's head row in turn.
type Log struct {
	st  *store.Store
	now func() time.Time
}

// New returns the audit log kept in st; now is its clock (nil: time.Now).
func New(st *store.Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{st: st, now: now}
}

// subjectRE is the shape of a keyed pseudonym: what a subject must be, so that neither an
// identifier nor a bare hash of one is ever written to the log.
var subjectRE = regexp.MustCompile(`^k[1-9][0-9]*:[0-9a-f]{64}$`)

// chainHash is SHA-256(prev || content), the content being the row's fields as a JSON array
// (unambiguous: strings are quoted and escaped) with the time in microseconds.
func chainHash(prev string, seq int64, at store.Timestamp, kind, outcome, subject, detail string) string {
	content, _ := json.Marshal([]any{seq, at.Time.UnixMicro(), kind, outcome, subject, detail})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Append adds an entry to the log within tx, so that it commits with the effect it records,
// and returns the row.
func (l *Log) Append(ctx context.Context, tx *sqlx.Tx, e Entry) (Record, error) {
	if e.Kind == "" || (e.Outcome != Granted && e.Outcome != Refused) {
		return Record{}, fmt.Errorf("audit: an entry needs a kind and an outcome of %s or %s", Granted, Refused)
	}
	if e.Subject != "" && !subjectRE.MatchString(e.Subject) {
		return Record{}, errors.New("audit: an entry's subject must be a keyed pseudonym (k<n>:<64 hex digits>)")
	}
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return Record{}, fmt.Errorf("audit: encoding the detail: %w", err)
	}
	q := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if l.st.Dialect() == store.DialectPostgres {
		q += " FOR UPDATE"
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := tx.GetContext(ctx, &head, q); err != nil {
		return Record{}, fmt.Errorf("audit: reading the chain's head: %w", err)
	}
	at := store.NewTimestamp(l.now())
	r := Record{Seq: head.Seq + 1, At: at.Time, Kind: e.Kind, Outcome: e.Outcome, Subject: e.Subject, Detail: detail, PrevHash: head.Hash}
	r.Hash = chainHash(r.PrevHash, r.Seq, at, r.Kind, r.Outcome, r.Subject, string(detail))
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO audit_log (seq, at, kind, outcome, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		r.Seq, at, r.Kind, r.Outcome, r.Subject, string(detail), r.PrevHash, r.Hash); err != nil {
		return Record{}, fmt.Errorf("audit: appending: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), r.Seq, r.Hash); err != nil {
		return Record{}, fmt.Errorf("audit: moving the chain's head: %w", err)
	}
	return r, nil
}

// AppendAlone appends an entry in a transaction of its own: for a refused request, where the
// entry is the only thing stored.
func (l *Log) AppendAlone(ctx context.Context, e Entry) (Record, error) {
	var r Record
	err := l.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		r, err = l.Append(ctx, tx, e)
		return err
	})
	return r, err
}

// ErrTampered is wrapped by every TamperError.
var ErrTampered = errors.New("audit log tampered with")

// TamperError says where the chain breaks.
type TamperError struct {
	Seq    int64
	Reason string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit log broken at seq %d: %s", e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *TamperError) Unwrap() error { return ErrTampered }

type row struct {
	Seq      int64           `db:"seq"`
	At       store.Timestamp `db:"at"`
	Kind     string          `db:"kind"`
	Outcome  string          `db:"outcome"`
	Subject  string          `db:"subject"`
	Detail   string          `db:"detail"`
	PrevHash string          `db:"prev_hash"`
	Hash     string          `db:"hash"`
}

// Verify walks the whole chain and returns how many rows it checked, or a *TamperError at the
// first row whose sequence, link or hash does not hold (or at the head, when rows were cut
// off the end).
func (l *Log) Verify(ctx context.Context) (int64, error) {
	db := l.st.DB()
	rows, err := db.QueryxContext(ctx, `SELECT seq, at, kind, outcome, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("audit: reading the log: %w", err)
	}
	var n, last int64
	prev := ""
	for rows.Next() {
		var r row
		if err := rows.StructScan(&r); err != nil {
			_ = rows.Close()
			return n, fmt.Errorf("audit: reading the log: %w", err)
		}
		var bad string
		switch {
		case r.Seq != last+1:
			bad = fmt.Sprintf("expected seq %d: rows are missing", last+1)
		case r.PrevHash != prev:
			bad = "its prev_hash is not the hash of the row before"
		case chainHash(r.PrevHash, r.Seq, r.At, r.Kind, r.Outcome, r.Subject, r.Detail) != r.Hash:
			bad = "its content does not match its hash"
		}
		if bad != "" {
			_ = rows.Close()
			return n, &TamperError{Seq: r.Seq, Reason: bad}
		}
		n++
		last, prev = r.Seq, r.Hash
	}
	if err := rows.Close(); err != nil {
		return n, err
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit: reading the log: %w", err)
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := db.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id = 1`); err != nil {
		return n, fmt.Errorf("audit: reading the chain's head: %w", err)
	}
	if head.Seq != last || head.Hash != prev {
		return n, &TamperError{Seq: head.Seq, Reason: fmt.Sprintf("the chain's head names seq %d but the log ends at %d", head.Seq, last)}
	}
	return n, nil
}

// Entries returns the rows of a kind and outcome (empty: any), in order.
func (l *Log) Entries(ctx context.Context, kind, outcome string) ([]Record, error) {
	db := l.st.DB()
	var rows []row
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT seq, at, kind, outcome, subject, detail, prev_hash, hash FROM audit_log
		WHERE kind = ? AND (? = '' OR outcome = ?) ORDER BY seq`), kind, outcome, outcome); err != nil {
		return nil, fmt.Errorf("audit: reading the log: %w", err)
	}
	out := make([]Record, len(rows))
	for i, r := range rows {
		out[i] = Record{Seq: r.Seq, At: r.At.Time, Kind: r.Kind, Outcome: r.Outcome, Subject: r.Subject, Detail: json.RawMessage(r.Detail),
			PrevHash: r.PrevHash, Hash: r.Hash}
	}
	return out, nil
}
