package licences

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// Statuses of a licence, as of the day it is read.
const (
	StatusValid   = "valid"
	StatusExpired = "expired" // valid_until is before today (China)
	StatusRevoked = "revoked" // its issuing department revoked it
)

// StatusLabels name the statuses as a licence's holder and a clerk read them: 有效, 已过期
// (derived from valid_until), 已注销 (its issuer revoked it, whether 注销, 撤销 or 吊销).
var StatusLabels = map[string]string{StatusValid: "有效", StatusExpired: "已过期", StatusRevoked: "已注销"}

// Sources of a licence.
const (
	SourceHub    = "hub"    // issued through the hub: a department approved a sub-case
	SourceImport = "import" // brought in by a platform connector, with no case
)

// Errors that steer callers (the API maps them to statuses).
var (
	// ErrNotFound: no licence of that type and number.
	ErrNotFound = errors.New("licence not found")
	// ErrForbidden: the department is not the licence's issuer.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the request conflicts with the licence's state.
	ErrConflict = errors.New("conflict")
)

// ConflictError says why a request conflicts with a licence's state; it wraps ErrConflict.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ForbiddenError says why a department may not act on a licence; it wraps ErrForbidden.
type ForbiddenError struct {
	Reason string
	// Rule and Path name the rule broken and where, when a request's field broke it.
	Rule, Path string
}

func (e *ForbiddenError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrForbidden) hold.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// Config wires a Library.
type Config struct {
	// Store is the SQL store (migrated). Required.
	Store *store.Store
	// Catalogue names the departments, for finding the issuing department of an imported
	// licence. Required.
	Catalogue *catalogue.Catalogue
	// Now is the clock that decides what is expired. Default time.Now.
	Now func() time.Time
}

// Library is the e-licence library. It is safe for concurrent use; all state is in the store.
type Library struct {
	cfg     Config
	st      *store.Store
	revoked atomic.Pointer[RevokedFunc]
}

// New returns a Library.
func New(cfg Config) (*Library, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("licences: Store is required"))
	}
	if cfg.Catalogue == nil {
		errs = append(errs, errors.New("licences: Catalogue is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Library{cfg: cfg, st: cfg.Store}, nil
}

// Licence is an e-licence of the library with its status on the day it was read.
type Licence struct {
	event.Licence
	ID string `json:"id"`
	// Status is valid, expired or revoked as of CheckedOn; StatusLabel names it in Chinese.
	Status      string `json:"status"`
	StatusLabel string `json:"status_label"`
	// CheckedOn is the date (China) the status holds for.
	CheckedOn string `json:"checked_on"`
	// Source is hub (issued through the hub) or import (brought in by Origin, a connector).
	Source string `json:"source"`
	Origin string `json:"origin,omitempty"`
	// Department is the code of the issuing department, the one that may revoke it; empty
	// when the issuer is not a department connected to the hub.
	Department string `json:"department,omitempty"`
	// CaseID, SubcaseID and MatterCode say where a licence issued through the hub came from.
	CaseID     string `json:"case_id,omitempty"`
	SubcaseID  string `json:"subcase_id,omitempty"`
	MatterCode string `json:"matter_code,omitempty"`
	// RevokedAt and RevokedReason are set once the issuer revoked it.
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokedReason string     `json:"revoked_reason,omitempty"`
	RecordedAt    time.Time  `json:"recorded_at"`
}

// Result returns the licence as a prerequisite's result fields, as the mapping takes them
// (catalogue.ResultFields).
func (l *Licence) Result() map[string]any {
	r := map[string]any{"licence_number": l.Number, "licence_name": l.Type, "issued_at": l.IssuedAt, "issuer": l.Issuer}
	if l.ValidUntil != "" {
		r["valid_until"] = l.ValidUntil
	}
	return r
}

// Masked returns the licence with a natural person's holder number masked, for answers to
// callers that did not name the holder themselves. A USCC is public and stays.
func (l Licence) Masked() Licence {
	if event.Personal(l.HolderIDType) && len(l.HolderID) > 5 {
		l.HolderID = l.HolderID[:3] + strings.Repeat("*", len(l.HolderID)-5) + l.HolderID[len(l.HolderID)-2:]
	}
	return l
}

// row is a licences row.
type row struct {
	ID           string `db:"id"`
	CaseID       string `db:"case_id"`
	SubcaseID    string `db:"subcase_id"`
	MatterCode   string `db:"matter_code"`
	Type         string `db:"type"`
	TypeCode     string `db:"type_code"`
	Number       string `db:"number"`
	Holder       string `db:"holder"`
	HolderID     string `db:"holder_id"`
	HolderIDType string `db:"holder_id_type"`
	Issuer       string `db:"issuer"`
	IssuerCode   string `db:"issuer_code"`
	IssuedAt     string `db:"issued_at"`
	ValidFrom    string `db:"valid_from"`
	ValidUntil   string `db:"valid_until"`
	Status       string `db:"status"`
	FileSHA256   string `db:"file_sha256"`
	FileURI      string `db:"file_uri"`
	FileFormat   string `db:"file_format"`
	FileSize     int64  `db:"file_size"`
	// Migration 00030: the material object the department uploaded the file as.
	FileObjectID  string          `db:"file_object_id"`
	CreatedAt     store.Timestamp `db:"created_at"`
	Source        string          `db:"source"`
	Origin        string          `db:"origin"`
	Department    string          `db:"department"`
	RevokedAt     store.Timestamp `db:"revoked_at"`
	RevokedReason string          `db:"revoked_reason"`
	// Migration 00027: the identifier, face items and seal.
	Identifier            string                        `db:"identifier"`
	Items                 store.JSON[map[string]string] `db:"items"`
	SealName              string                        `db:"seal_name"`
	SealAlgorithm         string                        `db:"seal_algorithm"`
	SealCertificateSerial string                        `db:"seal_certificate_serial"`
}

const columns = `id, case_id, subcase_id, matter_code, type, type_code, number, holder, holder_id, holder_id_type,
	issuer, issuer_code, issued_at, valid_from, valid_until, status, file_sha256, file_uri, file_format, file_size, file_object_id,
	created_at, source, origin, department, revoked_at, revoked_reason, identifier, items, seal_name, seal_algorithm, seal_certificate_serial`

// today is the date in China, as licences write their validity.
func (l *Library) today() string {
	return deadline.Date(l.cfg.Now()).Format(time.DateOnly)
}

func (r row) licence(today string) Licence {
	out := Licence{
		Licence: event.Licence{Type: r.Type, TypeCode: r.TypeCode, Number: r.Number, Holder: r.Holder, HolderID: r.HolderID,
			HolderIDType: r.HolderIDType, Issuer: r.Issuer, IssuerCode: r.IssuerCode, IssuedAt: r.IssuedAt,
			ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
			File:       event.LicenceFile{SHA256: r.FileSHA256, URI: r.FileURI, Format: r.FileFormat, Size: r.FileSize, ObjectID: r.FileObjectID},
			Identifier: r.Identifier, Items: r.Items.V},
		ID: r.ID, CheckedOn: today, Source: r.Source, Origin: r.Origin, Department: r.Department,
		CaseID: r.CaseID, SubcaseID: r.SubcaseID, MatterCode: r.MatterCode,
		RevokedReason: r.RevokedReason, RecordedAt: r.CreatedAt.Time,
	}
	if !r.RevokedAt.IsZero() {
		t := r.RevokedAt.Time
		out.RevokedAt = &t
	}
	out.StatusLabel = StatusLabels[out.Status]
	if len(out.Items) == 0 {
		out.Items = nil
	}
	if r.SealName != "" {
		out.Seal = &event.Seal{Name: r.SealName, Algorithm: r.SealAlgorithm, CertificateSerial: r.SealCertificateSerial}
	}
	switch {
	case r.Status == StatusRevoked:
		out.Status = StatusRevoked
	case r.ValidUntil != "" && r.ValidUntil < today:
		out.Status = StatusExpired
	default:
		out.Status = StatusValid
	}
	return out
}

// Queryer is what the library reads through: the store's handle or one of its transactions
// (on SQLite, a caller inside a transaction must pass the transaction).
type Queryer interface {
	sqlx.QueryerContext
	Rebind(query string) string
}

// Find returns the licence of a type and number, or ErrNotFound.
func (l *Library) Find(ctx context.Context, q Queryer, typ, number string) (*Licence, error) {
	var r row
	err := sqlx.GetContext(ctx, q, &r, q.Rebind(`SELECT `+columns+` FROM licences WHERE type = ? AND number = ?`), typ, number)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading a licence: %w", err)
	}
	lic := r.licence(l.today())
	return &lic, nil
}

// Get is Find on the store's own handle.
func (l *Library) Get(ctx context.Context, typ, number string) (*Licence, error) {
	return l.Find(ctx, l.st.DB(), typ, number)
}

// HeldBy returns a holder's licences (holder: USCC or resident ID number), the most recently
// issued first.
func (l *Library) HeldBy(ctx context.Context, q Queryer, holderID string) ([]Licence, error) {
	return l.selectWhere(ctx, q, "a holder's", `holder_id = ? ORDER BY issued_at DESC, created_at DESC, number`, holderID)
}

// OfCase returns the licences issued in a case, in the order they were recorded.
func (l *Library) OfCase(ctx context.Context, q Queryer, caseID string) ([]Licence, error) {
	return l.selectWhere(ctx, q, "a case's", `case_id = ? ORDER BY created_at, number`, caseID)
}

// OfSubcase returns the licences issued for a sub-case, in the order they were recorded.
func (l *Library) OfSubcase(ctx context.Context, q Queryer, subcaseID string) ([]Licence, error) {
	return l.selectWhere(ctx, q, "a sub-case's", `subcase_id = ? ORDER BY created_at, number`, subcaseID)
}

// selectWhere reads the licences a condition (with its ORDER BY) selects, their status as of
// today; whose names them in an error.
func (l *Library) selectWhere(ctx context.Context, q Queryer, whose, where string, arg any) ([]Licence, error) {
	var rows []row
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT `+columns+` FROM licences WHERE `+where), arg); err != nil {
		return nil, fmt.Errorf("reading %s licences: %w", whose, err)
	}
	today := l.today()
	out := make([]Licence, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.licence(today))
	}
	return out, nil
}

// List is HeldBy on the store's own handle.
func (l *Library) List(ctx context.Context, holderID string) ([]Licence, error) {
	return l.HeldBy(ctx, l.st.DB(), holderID)
}

// LatestValid returns the holder's most recently issued valid licence of one of the types, or
// nil when the holder has none.
func (l *Library) LatestValid(ctx context.Context, q Queryer, holderID string, types ...string) (*Licence, error) {
	if holderID == "" || len(types) == 0 {
		return nil, nil
	}
	held, err := l.HeldBy(ctx, q, holderID)
	if err != nil {
		return nil, err
	}
	for i := range held {
		if held[i].Status != StatusValid {
			continue
		}
		for _, t := range types {
			if held[i].Type == t {
				return &held[i], nil
			}
		}
	}
	return nil, nil
}

// Issued is a licence to record in the library.
type Issued struct {
	Licence event.Licence
	// Source is SourceHub or SourceImport; Origin names the importing connector.
	Source, Origin string
	// Department is the issuing department's code (empty: not a department of the hub).
	Department string
	// CaseID, SubcaseID and MatterCode: where a licence issued through the hub came from.
	CaseID, SubcaseID, MatterCode string
}

// recordColumns are the columns of a licence row as issuedRow gives them.
var recordColumns = []string{"id", "case_id", "subcase_id", "matter_code", "type", "type_code", "number", "holder", "holder_id", "holder_id_type",
	"issuer", "issuer_code", "issued_at", "valid_from", "valid_until", "file_sha256", "file_uri", "file_format", "file_size", "file_object_id", "created_at", "source", "origin", "department",
	"identifier", "items", "seal_name", "seal_algorithm", "seal_certificate_serial"}

// issuedRow is the row of a licence to record, under a new id.
func issuedRow(in Issued, now store.Timestamp) []any {
	lic := in.Licence
	id := "lc_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
	var seal event.Seal
	if lic.Seal != nil {
		seal = *lic.Seal
	}
	items := lic.Items
	if items == nil {
		items = map[string]string{}
	}
	return []any{id, in.CaseID, in.SubcaseID, in.MatterCode, lic.Type, lic.TypeCode, lic.Number, lic.Holder, lic.HolderID, lic.HolderIDType,
		lic.Issuer, lic.IssuerCode, lic.IssuedAt, lic.ValidFrom, lic.ValidUntil, lic.File.SHA256, lic.File.URI, lic.File.Format, lic.File.Size, lic.File.ObjectID,
		now, in.Source, in.Origin, in.Department, lic.Identifier, store.JSONOf(items), seal.Name, seal.Algorithm, seal.CertificateSerial}
}

// Record stores a licence in the library within tx. A licence of the same type and number
// already there is a ConflictError.
func (l *Library) Record(ctx context.Context, tx *sqlx.Tx, in Issued) (*Licence, error) {
	lic := in.Licence
	// A savepoint keeps a PostgreSQL transaction usable after a unique violation.
	if _, err := tx.ExecContext(ctx, "SAVEPOINT licence_record"); err != nil {
		return nil, err
	}
	if err := store.InsertRows(ctx, tx, "licences", recordColumns, [][]any{issuedRow(in, store.NewTimestamp(l.cfg.Now()))}); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT licence_record"); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if _, ferr := l.Find(ctx, tx, lic.Type, lic.Number); ferr == nil {
			return nil, &ConflictError{Reason: fmt.Sprintf("a %s numbered %s is already in the library", lic.Type, lic.Number)}
		}
		return nil, fmt.Errorf("recording a licence: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT licence_record"); err != nil {
		return nil, err
	}
	return l.Find(ctx, tx, lic.Type, lic.Number)
}

// RecordAll adds to w the statement that stores licences in the library. The caller has made
// sure that none is there already (Held): one that is fails the statement, and so the
// transaction.
func (l *Library) RecordAll(w *store.Writes, ins []Issued) {
	if len(ins) == 0 {
		return
	}
	now := store.NewTimestamp(l.cfg.Now())
	rows := make([][]any, len(ins))
	for i, in := range ins {
		rows[i] = issuedRow(in, now)
	}
	w.InsertRows("licences", recordColumns, rows)
}

// TypeNumber names a licence: its type and number, unique in the library.
type TypeNumber struct{ Type, Number string }

// Held returns which of these licences the library holds already, in one statement.
func (l *Library) Held(ctx context.Context, tx *sqlx.Tx, names []TypeNumber) (map[TypeNumber]bool, error) {
	out := map[TypeNumber]bool{}
	if len(names) == 0 {
		return out, nil
	}
	types, numbers := make([]string, len(names)), make([]string, len(names))
	for i, n := range names {
		types[i], numbers[i] = n.Type, n.Number
	}
	// Both lists, so that the unique index on (type, number) finds them.
	q, args, err := sqlx.In(`SELECT type, number FROM licences WHERE type IN (?) AND number IN (?)`, types, numbers)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Type   string `db:"type"`
		Number string `db:"number"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("reading licences: %w", err)
	}
	want := make(map[TypeNumber]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	for _, r := range rows {
		if n := (TypeNumber{r.Type, r.Number}); want[n] {
			out[n] = true
		}
	}
	return out, nil
}

// Check returns every problem with a licence's metadata, at paths under prefix (a JSON
// Pointer, e.g. "/licences/0"). Messages never contain the values.
func Check(l event.Licence, prefix string) []problem.Problem {
	var problems problem.List
	add := func(path, rule, msg string, args ...any) { problems.Add(prefix+path, rule, msg, args...) }
	for _, f := range []struct{ name, v string }{{"type", l.Type}, {"number", l.Number}, {"holder", l.Holder}, {"holder_id", l.HolderID}, {"issuer", l.Issuer}} {
		if f.v == "" {
			add("/"+f.name, problem.RuleRequired, "is required")
		}
	}
	if len(l.Type) > 200 || len(l.Number) > 100 {
		add("/number", problem.RuleMaxLength, "type and number are at most 200 and 100 bytes")
	}
	if !slices.Contains(event.HolderIDTypes, l.HolderIDType) {
		add("/holder_id_type", problem.RuleEnum, "must be one of %s", strings.Join(event.HolderIDTypes, ", "))
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"issued_at", l.IssuedAt, true}, {"valid_from", l.ValidFrom, true}, {"valid_until", l.ValidUntil, false}} {
		if f.v == "" && !f.required {
			continue
		}
		if _, err := time.Parse(time.DateOnly, f.v); err != nil {
			add("/"+f.name, problem.RuleDate, "must be a date written YYYY-MM-DD")
		}
	}
	if l.ValidUntil != "" && l.ValidFrom != "" && l.ValidUntil < l.ValidFrom {
		add("/valid_until", problem.RuleOrder, "must not be before valid_from")
	}
	// A file the department uploaded to the hub (object_id) gives its hash, size and format
	// itself (ResolveFiles); one given as given, by uri, must say them.
	byObject := l.File.ObjectID != ""
	if !isSHA256(l.File.SHA256) && (!byObject || l.File.SHA256 != "") {
		add("/file/sha256", problem.RuleSHA256, "must be the file's SHA-256 as 64 lower-case hex digits")
	}
	if l.File.URI == "" && !byObject {
		add("/file/uri", problem.RuleRequired, "is required unless object_id names the file uploaded to the hub")
	}
	if l.File.Format != "ofd" && l.File.Format != "pdf" && (!byObject || l.File.Format != "") {
		add("/file/format", problem.RuleEnum, "must be ofd or pdf")
	}
	if byObject && !objectIDRE.MatchString(l.File.ObjectID) {
		add("/file/object_id", problem.RulePattern, "must be the id of an uploaded file, mo_ and 32 hex digits")
	}
	if l.File.Link != "" {
		add("/file/link", problem.RuleNotAllowed, "is set by the hub in its answers; name the uploaded file by object_id")
	}
	if l.File.Size < 0 {
		add("/file/size", problem.RuleMinimum, "must be the file's size in bytes")
	}
	if l.Identifier != "" {
		if err := CheckIdentifier(l.Identifier); err != nil {
			add("/identifier", problem.RulePattern, "is not a licence identifier (GB/T 36904): %v", err)
		}
	}
	if len(l.Items) > MaxItems {
		add("/items", problem.RuleMaxLength, "at most %d face items", MaxItems)
	}
	for _, k := range slices.Sorted(maps.Keys(l.Items)) {
		if n := utf8.RuneCountInString(k); n == 0 || n > 64 || !utf8.ValidString(k) {
			add("/items", problem.RulePattern, "a face item's name is 1 to 64 characters")
		}
		if v := l.Items[k]; utf8.RuneCountInString(v) > 1000 || !utf8.ValidString(v) {
			add("/items/"+pointerToken(k), problem.RuleMaxLength, "a face item's value is at most 1000 characters")
		}
	}
	if s := l.Seal; s != nil {
		if strings.TrimSpace(s.Name) == "" {
			add("/seal/name", problem.RuleRequired, "a seal is described by its name at least")
		}
		for _, f := range []struct {
			name, v string
			max     int
		}{{"name", s.Name, 200}, {"algorithm", s.Algorithm, 32}, {"certificate_serial", s.CertificateSerial, 128}} {
			if utf8.RuneCountInString(f.v) > f.max {
				add("/seal/"+f.name, problem.RuleMaxLength, "is at most %d characters", f.max)
			}
		}
	}
	return problems
}

// MaxItems is the most face items a licence may carry beyond the common ones.
const MaxItems = 50

// pointerToken escapes a key for a JSON Pointer (RFC 6901).
func pointerToken(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
