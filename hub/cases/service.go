package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"

	"yjshub/catalogue"
	"yjshub/format"
	"yjshub/hub/audit"
	"yjshub/hub/deadline"
	"yjshub/hub/licences"
	"yjshub/hub/links"
	"yjshub/hub/pseudonym"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
	"yjshub/mapping"
)

// Errors that steer callers (the API maps them to statuses).
var (
	// ErrNotFound: no case or sub-case with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request conflicts with the current state (an illegal transition, an
	// idempotency key reused with another body, an event id reused for another event).
	ErrConflict = errors.New("conflict")
)

// ConflictError says why a request conflicts with the state; it wraps ErrConflict.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Config wires a Service.
type Config struct {
	// Catalogue is the loaded catalogue. Required.
	Catalogue *catalogue.Catalogue
	// Store is the SQL store (migrated). Required.
	Store *store.Store
	// CallbackBase is the hub's public base URL, e.g. http://127.0.0.1:8080; departments post
	// events to CallbackBase + /api/v1/subcases/{id}/events. Default: no callback URL in
	// dispatched messages.
	CallbackBase string
	// Calendar computes working days. Default: deadline.New().
	Calendar *deadline.Calendar
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Notify is called after a transaction that enqueued outbox messages commits (the relay's
	// Notify). Default: nothing.
	Notify func()
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Licences is the e-licence library: approvals record their licences in it, intake checks
	// materials given as licences against it, and mapping takes the results of prerequisites
	// outside the case from it. Required. The service follows its revocations (OnRevoked).
	Licences *licences.Library
	// Forms caches the one forms applications are checked against. Required.
	Forms *mapping.Forms
	// MaterialHosts are the hosts materials' files may be fetched from. Default: any public
	// DNS name (see MaterialHosts).
	MaterialHosts MaterialHosts
	// Tracing makes the spans of intake and of department events. Default: tracing.Default(),
	// which exports nothing but still gives every case a trace id.
	Tracing trace.TracerProvider
	// Audit is the audit log that ratings (好差评) and the departments' responses to them are
	// written to, in the transaction that records them. Default: nil, not audited.
	Audit *audit.Log
	// Pseudonyms makes the holder references of those audit rows. Default: rows without one.
	Pseudonyms *pseudonym.Keyring
	// Links signs the links through which departments read the materials the hub holds (see
	// package links). Default nil: messages carry no link, and the uri of a material the hub
	// holds is empty.
	Links *links.Keyring
	// FilesBase is the hub's public base URL that links are relative to, like CallbackBase,
	// e.g. https://hub.example.gov. Default: links relative to the hub (a path and query).
	FilesBase string
	// LinkTTL is how long a link in a message lives. Default and most links.MaxTTL (7 days):
	// a department that misses it asks for a fresh one.
	LinkTTL time.Duration
	// LinkVia names the kind of connector (frontdb, restpull …) that carries a department's
	// messages, so that the audit log of reads says through which connector a material was
	// read. Default nil: links name none.
	LinkVia func(department string) string
	// AnonymousUploads is the owner of the material objects a case submitted by no client (a
	// hub whose API does not authenticate) may name: hub.AnonymousUploader there. Default "":
	// such a case can name none.
	AnonymousUploads string
	// Division is the administrative division code (GB/T 2260, six digits) of the deployment,
	// with which every case number begins (number.go). Default DefaultDivision (赣榆区).
	Division string
}

// Service runs the case flow. It is safe for concurrent use; all state is in the store.
type Service struct {
	cfg   Config
	cat   *catalogue.Catalogue
	st    *store.Store
	forms *mapping.Forms
	cal   *deadline.Calendar
	lib   *licences.Library
	// tracer makes the intake and department event spans (intake.go, events.go).
	tracer trace.Tracer

	feedMu sync.Mutex
	feedCh chan struct{} // closed at the next commit (feed.go)

	deliveries deliveryBatcher // deliverybatch.go
	events     eventBatcher    // eventbatch.go
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if bad := cfg.MaterialHosts.Check(); len(bad) > 0 {
		errs = append(errs, fmt.Errorf("cases: MaterialHosts: not a host name nor *.domain: %s", strings.Join(bad, ", ")))
	}
	if cfg.Catalogue == nil {
		errs = append(errs, errors.New("cases: Catalogue is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("cases: Store is required"))
	}
	if cfg.Licences == nil {
		errs = append(errs, errors.New("cases: Licences is required"))
	}
	if cfg.Forms == nil {
		errs = append(errs, errors.New("cases: Forms is required"))
	}
	if cfg.LinkTTL < 0 || cfg.LinkTTL > links.MaxTTL {
		errs = append(errs, fmt.Errorf("cases: LinkTTL %s: a link lives at most %s", cfg.LinkTTL, links.MaxTTL))
	}
	if cfg.Division == "" {
		cfg.Division = DefaultDivision
	}
	if !isDivision(cfg.Division) {
		errs = append(errs, errors.New("cases: Division must be a division code of six digits (GB/T 2260), e.g. 320707"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Calendar == nil {
		cfg.Calendar = deadline.New()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.CallbackBase = strings.TrimRight(cfg.CallbackBase, "/")
	cfg.FilesBase = strings.TrimRight(cfg.FilesBase, "/")
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = links.MaxTTL
	}
	s := &Service{cfg: cfg, cat: cfg.Catalogue, st: cfg.Store, forms: cfg.Forms, cal: cfg.Calendar, lib: cfg.Licences,
		tracer: tracing.Tracer(cfg.Tracing)}
	s.lib.OnRevoked(s.licenceRevoked)
	return s, nil
}

// licenceRevoked puts the revocation of a licence issued in a case into that case's timeline
// and announces the case again on yjs.case.event, in the revocation's transaction.
func (s *Service) licenceRevoked(ctx context.Context, tx *sqlx.Tx, lic *licences.Licence, at time.Time) error {
	if lic.CaseID == "" {
		return nil
	}
	if err := s.lockCase(ctx, tx, lic.CaseID); err != nil {
		return err
	}
	detail := lic.Type + " " + lic.Number + " revoked by " + s.deptName(lic.Department) + ": " + format.MaskDigits(lic.RevokedReason)
	if err := s.addTimeline(ctx, tx, lic.CaseID, lic.SubcaseID, "licence_revoked", detail, at); err != nil {
		return err
	}
	v, err := s.loadCase(ctx, tx, lic.CaseID)
	if err != nil {
		return err
	}
	return s.emitCaseEvent(ctx, tx, v, s.now())
}

func newID(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) callback(subcaseID string) string {
	if s.cfg.CallbackBase == "" {
		return ""
	}
	return s.cfg.CallbackBase + "/api/v1/subcases/" + subcaseID + "/events"
}

// lockCase serialises work on one case across hub instances: PostgreSQL locks the row until the
// transaction ends; SQLite has one writer at a time anyway.
func (s *Service) lockCase(ctx context.Context, tx *sqlx.Tx, caseID string) error {
	q := "SELECT id FROM cases WHERE id = ?"
	if s.st.Dialect() == store.DialectPostgres {
		q += " FOR NO KEY UPDATE"
	}
	var id string
	if err := tx.GetContext(ctx, &id, tx.Rebind(q), caseID); err != nil {
		return notFound(err, "case")
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, errNoRows) {
		return NotFound(what)
	}
	return err
}

// NotFound is the error of a what (case, sub-case) that does not exist: also the error of one
// the caller may not see, so that the answer does not tell the two apart.
func NotFound(what string) error { return fmt.Errorf("%s: %w", what, ErrNotFound) }

var errNoRows = sql.ErrNoRows
