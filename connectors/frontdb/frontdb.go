package frontdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"yjshub/connectors/delivery"

	// Registers the "pgx" database/sql driver.
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"

	// Registers the "sqlite" database/sql driver.
	_ "modernc.org/sqlite"

	"yjshub/hub/blobs"
	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/links"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
)

// Kind is the connector kind's name.
const Kind = "frontdb"

const (
	// recordTimeout bounds a Recorder call and the database write that goes with it; their
	// context outlives Run's, so that an outcome already reached gets recorded.
	recordTimeout = 30 * time.Second
	// openTimeout bounds connecting to the department's database, migrating and checking it.
	openTimeout = time.Minute
	// Staging retries wait from retryInitial, doubling, up to retryMax.
	retryInitial = 100 * time.Millisecond
	retryMax     = 30 * time.Second
	// sqliteBusyTimeout is set on SQLite connections unless the DSN sets busy_timeout: the
	// department's system writes the same file.
	sqliteBusyTimeout = "busy_timeout(10000)"
)

// errStopped marks work cut short because Run's context ended.
var errStopped = errors.New("frontdb: stopped before the end")

// Connector exchanges one department's sub-cases and results through its front-end exchange
// database. It is safe for concurrent use: Status may be called at any time, and Run may run
// more than once at a time, each call being one member of the consumer group with its own
// result poller.
type Connector struct {
	cfg     Config
	tables  tables
	bus     *bus.Bus
	rec     connector.Recorder
	results Results
	log     *slog.Logger
	scrub   scrubber
	stats   stats
	tracer  trace.Tracer
	// files and audit serve MaterialFiles: where the materials' bytes are, and the audit log
	// each file written is recorded in.
	files blobs.Store
	audit links.Audit
}

// Option changes how New builds a Connector.
type Option func(*options)

type options struct {
	log     *slog.Logger
	tracing trace.TracerProvider
	files   blobs.Store
	audit   links.Audit
}

// WithMaterialFiles gives the connector the hub's blob store, from which it copies the bytes of
// the materials the hub holds into the file table when Config.MaterialFiles is set, and the
// audit log each copy is recorded in (a read of the material by the department, connector
// frontdb) before it is written. Required with MaterialFiles.
func WithMaterialFiles(files blobs.Store, audit links.Audit) Option {
	return func(o *options) { o.files, o.audit = files, audit }
}

// WithLogger sends the connector's logs to l. Default: nothing is logged. Lines carry event,
// result, case and sub-case ids and scrubbed reasons; never a payload or the DSN's password.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithTracerProvider makes the span of each attempt at staging a sub-case with tp, a child of
// the trace context its record carries (the staged envelope_json carries the case's). Default:
// tracing.Default().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracing = tp }
}

// New returns the connector for cfg, after applying its defaults and validating it; the error
// lists every problem at once. It consumes from b, records outcomes with rec and applies the
// department's results with results.
func New(cfg Config, b *bus.Bus, rec connector.Recorder, results Results, opts ...Option) (*Connector, error) {
	cfg.setDefaults()
	errs := []error{cfg.Validate()}
	if b == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if rec == nil {
		errs = append(errs, errors.New("recorder: required"))
	}
	if results == nil {
		errs = append(errs, errors.New("results: required"))
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.MaterialFiles && (o.files == nil || o.audit == nil) {
		errs = append(errs, errors.New("material_files: the hub keeps no files to write (serve with --data-dir or --blob-store)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("frontdb: invalid configuration: %w", err)
	}
	c := &Connector{cfg: cfg, tables: newTables(cfg), bus: b, rec: rec, results: results, scrub: newScrubber(cfg.DSN),
		log: o.log.With("connector", Kind, "department", cfg.Department), tracer: tracing.Tracer(o.tracing)}
	if cfg.MaterialFiles {
		c.files, c.audit = o.files, o.audit
	}
	return c, nil
}

// Name is the connector's name in the connectors file and the status API.
func (c *Connector) Name() string { return Kind + ":" + c.cfg.Department }

// Run connects to the department's database, migrates it unless Migrate is false, checks the
// exchange tables, and then until ctx ends:
//
//   - consumes the department's topic, bus.SubcaseTopic(Department), in the consumer group
//     GroupID, and inserts each sub-case into the staging table (a repeat of the envelope id
//     changes nothing); once the row is written the delivery is recorded and the offset
//     committed. Up to Concurrency sub-cases are written at once, one case's one at a time in
//     publish order; offsets are committed in batches, each only once it and every message
//     before it on its partition were written and recorded. A failing database is retried
//     with capped backoff while the message waits uncommitted; a message that is not a
//     dispatched sub-case is recorded as failed and committed, so that it never blocks its
//     partition;
//   - polls the result table every PollInterval and applies each unprocessed row, in seq
//     order, as a department event (see [Results]).
//
// Run returns nil when ctx ends, and an error when the database cannot be opened or prepared,
// the Recorder fails while a sub-case is staged, or consuming fails for good; the caller runs
// it again after a pause. Its errors never hold the DSN's password.
func (c *Connector) Run(ctx context.Context) error {
	db, err := c.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		msg := c.scrub.error(err)
		c.stats.Failure(time.Now(), msg)
		c.log.WarnContext(ctx, "frontdb: the department's database is not ready", "dsn", RedactDSN(c.cfg.DSN), "error", msg)
		return fmt.Errorf("frontdb %s: %s", c.cfg.Department, msg)
	}
	defer db.Close()

	topic := bus.SubcaseTopic(c.cfg.Department)
	c.log.InfoContext(ctx, "frontdb: consuming", "topic", topic, "group", c.cfg.GroupID,
		"dsn", RedactDSN(c.cfg.DSN), "subcase_table", c.tables.Subcase, "result_table", c.tables.Result)
	pollCtx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.pollResults(pollCtx, db) })
	defer wg.Wait()
	defer stopPolling()

	err = c.bus.Subscribe(ctx, bus.SubscribeConfig{Topic: topic, GroupID: c.cfg.GroupID, Concurrency: c.cfg.Concurrency},
		func(ctx context.Context, rm bus.Received) error { return c.handle(ctx, db, rm) })
	switch {
	case err == nil, errors.Is(err, errStopped):
		return nil
	default:
		return fmt.Errorf("frontdb %s: %w", c.cfg.Department, err)
	}
}

// SQLiteDSN returns a SQLite DSN with a busy timeout, unless it sets one: the department's
// system writes the same file, and without it a read that meets its write fails at once with
// SQLITE_BUSY instead of waiting for it.
func SQLiteDSN(dsn string) string {
	if strings.Contains(dsn, "busy_timeout") {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "_pragma=" + sqliteBusyTimeout
}

// open connects to the department's database and prepares its tables.
func (c *Connector) open(ctx context.Context) (*sqlx.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	dsn := c.cfg.DSN
	if c.cfg.Driver == DriverSQLite {
		dsn = SQLiteDSN(dsn)
	}
	db, err := sqlx.Open(c.cfg.Driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	if c.cfg.Driver == DriverSQLite {
		db.SetMaxOpenConns(1) // one writer; an in-memory database lives in its connection
	} else {
		// A connection for each sub-case written at once and one for the result poller.
		db.SetMaxOpenConns(max(4, c.cfg.Concurrency+1))
	}
	fail := func(what string, err error) (*sqlx.DB, error) {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := db.PingContext(ctx); err != nil {
		return fail("connect", err)
	}
	if c.cfg.migrate() {
		if err := migrate(ctx, db, c.cfg); err != nil {
			return fail("migrate the exchange tables", err)
		}
	}
	if err := checkTables(ctx, db, c.tables, c.cfg.MaterialFiles); err != nil {
		hint := ""
		if !c.cfg.migrate() {
			hint = " (migrate is false: the department must create them as connectors/frontdb/README.md describes)"
		}
		return fail("the exchange tables are missing or lack columns"+hint, err)
	}
	return db, nil
}

// subcase is a consumed sub-case on its way into the staging table.
type subcase struct {
	id, typ, caseID, subcaseID, matterCode, department string
	form                                               store.JSON[map[string]any]
	materials                                          store.JSON[[]event.MaterialRef]
	envelope                                           string
}

// decode reads a consumed envelope; problem is non-empty when it is not a message about a
// sub-case (dispatched, resubmitted or withdrawn) that the staging table can hold.
func decode(raw []byte) (m subcase, problem string) {
	if !utf8.Valid(raw) || strings.ContainsRune(string(raw), 0) {
		return m, "not UTF-8 text"
	}
	var env event.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return m, "not a JSON event envelope"
	}
	if env.ID == "" {
		return m, "envelope has no id"
	}
	switch env.Type {
	case event.TypeSubcaseDispatched, event.TypeSubcaseResubmitted, event.TypeSubcaseWithdrawn:
	default:
		return m, fmt.Sprintf("not a message about a sub-case (type %.64q)", env.Type)
	}
	// The three share the fields the staging table holds (resubmitted: the new materials and
	// the form mapped again; withdrawn: neither).
	var data event.SubcaseDispatched
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return m, "data is not a message about a sub-case"
	}
	if data.SubcaseID == "" || data.CaseID == "" {
		return m, "data names no case or sub-case"
	}
	if data.Form == nil {
		data.Form = map[string]any{}
	}
	if data.Materials == nil {
		data.Materials = []event.MaterialRef{}
	}
	return subcase{id: env.ID, typ: env.Type, caseID: data.CaseID, subcaseID: data.SubcaseID, matterCode: data.Matter.Code,
		department: data.Department, form: store.JSONOf(data.Form), materials: store.JSONOf(data.Materials), envelope: string(raw)}, ""
}

// handle is the bus handler: decode, stage, record. Returning nil commits.
func (c *Connector) handle(ctx context.Context, db *sqlx.DB, rm bus.Received) error {
	c.stats.InFlight(1)
	defer c.stats.InFlight(-1)
	ctx = tracing.ExtractHeaders(ctx, rm.Headers) // the attempts continue the dispatch's trace
	m, problem := decode(rm.Value)
	if problem != "" {
		c.log.WarnContext(ctx, "frontdb: undecodable message, recording it as failed",
			"partition", rm.Partition, "offset", rm.Offset, "problem", problem)
		return c.fail(ctx, connector.Failure{
			Delivery: connector.Delivery{Connector: c.Name(), Department: c.cfg.Department, At: time.Now()},
			Reason:   "undecodable message",
			Topic:    rm.Topic, Partition: rm.Partition, Offset: rm.Offset, Key: rm.Key, Payload: rm.Value,
		})
	}

	attempts := 0
	for {
		attempts++
		err := c.stage(ctx, db, m)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: event %s not staged: %w", errStopped, m.id, context.Cause(ctx))
		}
		c.stats.Retry()
		reason := "staging failed: " + c.scrub.error(err)
		c.stats.Failure(time.Now(), reason)
		wait := min(retryInitial<<min(attempts-1, 16), retryMax)
		c.log.WarnContext(ctx, "frontdb: staging a sub-case failed, will retry", "event_id", m.id, "case_id", m.caseID,
			"subcase_id", m.subcaseID, "attempt", attempts, "reason", reason, "wait", wait)
		if rr, ok := c.rec.(connector.RetryRecorder); ok {
			now := time.Now()
			rctx, cancel := context.WithTimeout(ctx, recordTimeout)
			err := rr.Retrying(rctx, connector.Retry{Delivery: connector.Delivery{Connector: c.Name(), EventID: m.id, CaseID: m.caseID,
				SubcaseID: m.subcaseID, Department: c.cfg.Department, Attempts: attempts, At: now}, Reason: reason, NextAt: now.Add(wait)})
			cancel()
			if err != nil && ctx.Err() == nil {
				c.log.WarnContext(ctx, "frontdb: noting a retry failed", "event_id", m.id, "case_id", m.caseID, "error", err)
			}
		}
		if !delivery.Wait(ctx, wait) {
			return fmt.Errorf("%w: event %s not staged: %w", errStopped, m.id, context.Cause(ctx))
		}
	}

	d := connector.Delivery{Connector: c.Name(), EventID: m.id, CaseID: m.caseID, SubcaseID: m.subcaseID,
		Department: c.cfg.Department, Attempts: attempts, At: time.Now()}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := c.rec.Delivered(rctx, d); err != nil {
		return fmt.Errorf("frontdb: record delivery of event %s: %w", m.id, err)
	}
	c.stats.Delivered(d.At)
	c.log.DebugContext(ctx, "frontdb: staged", "event_id", m.id, "case_id", m.caseID, "subcase_id", m.subcaseID,
		"attempts", attempts)
	return nil
}

// stage inserts m into the staging table unless a row with its id is there, in a span of its
// own.
func (c *Connector) stage(ctx context.Context, db *sqlx.DB, m subcase) (err error) {
	ctx, span := c.tracer.Start(ctx, tracing.DeliverSpan(Kind), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(tracing.KeyConnector.String(c.Name()), tracing.KeyDepartment.String(c.cfg.Department),
			tracing.KeyCaseID.String(m.caseID), tracing.KeySubcaseID.String(m.subcaseID), tracing.KeyEventID.String(m.id)))
	defer func() {
		if err != nil {
			tracing.SetOutcome(span, "retry", true) // the reason stays in the log, scrubbed
		} else {
			tracing.SetOutcome(span, "delivered", false)
		}
		span.End()
	}()
	if c.files == nil {
		return c.insertSubcase(ctx, db, m)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := c.writeFiles(ctx, tx, m); err != nil {
		return err
	}
	if err := c.insertSubcase(ctx, tx, m); err != nil {
		return err
	}
	return tx.Commit()
}

// insertSubcase inserts m into the staging table unless a row with its id is there.
func (c *Connector) insertSubcase(ctx context.Context, db sqlx.ExtContext, m subcase) error {
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO `+c.tables.Subcase+`
		(id, event_type, case_id, subcase_id, matter_code, department, form_json, materials_json, envelope_json, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		m.id, m.typ, m.caseID, m.subcaseID, m.matterCode, m.department, m.form, m.materials, m.envelope, timeText(time.Now()))
	return err
}

// writeFiles writes into the file table, in tx, the bytes of each material of m that the hub
// holds (its message carries a signed link) and the table does not have yet, each read first
// recorded in the audit log. A file's bytes are checked against its sha256 on the way: a blob
// that does not match is an error (retried, never written). A material the hub no longer keeps
// is left out with a warning: its link answers 410 too.
func (c *Connector) writeFiles(ctx context.Context, tx *sqlx.Tx, m subcase) error {
	for _, ref := range m.materials.V {
		if ref.LinkExpiresAt == nil {
			continue
		}
		if err := c.audit(ctx, links.Read{SHA256: ref.SHA256, Case: m.caseID, Subcase: m.subcaseID, Department: c.cfg.Department,
			Connector: Kind, Status: http.StatusOK}); err != nil {
			return fmt.Errorf("recording the read of a material in the audit log: %w", err)
		}
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM `+c.tables.File+` WHERE sha256 = ?`), ref.SHA256); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		content, info, err := c.readFile(ctx, ref.SHA256)
		if errors.Is(err, blobs.ErrNotFound) {
			c.log.WarnContext(ctx, "frontdb: a material the hub no longer keeps is not written", "case_id", m.caseID, "subcase_id", m.subcaseID, "sha256", ref.SHA256)
			continue
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO `+c.tables.File+` (sha256, content_type, size, content, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`), ref.SHA256, info.ContentType, info.Size, content, timeText(time.Now())); err != nil {
			return err
		}
	}
	return nil
}

// readFile reads a whole blob and checks it against its sha256.
func (c *Connector) readFile(ctx context.Context, sum string) ([]byte, blobs.Info, error) {
	r, info, err := c.files.Open(ctx, sum, 0, -1)
	if err != nil {
		return nil, info, err
	}
	defer r.Close()
	content, err := io.ReadAll(r)
	if err != nil {
		return nil, info, fmt.Errorf("reading a material's file: %w", err)
	}
	if got := sha256.Sum256(content); hex.EncodeToString(got[:]) != sum {
		return nil, info, fmt.Errorf("the stored file of material %s does not match its sha256", sum)
	}
	return content, info, nil
}

// fail records f with the Recorder.
func (c *Connector) fail(ctx context.Context, f connector.Failure) error {
	c.stats.Failure(f.At, f.Reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := c.rec.Failed(rctx, f); err != nil {
		return fmt.Errorf("frontdb: record failure of %q at %s partition %d offset %d: %w",
			f.EventID, f.Topic, f.Partition, f.Offset, err)
	}
	c.stats.Failed()
	return nil
}

// timeText writes t as the exchange tables keep times: RFC 3339 in UTC, to the microsecond.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
