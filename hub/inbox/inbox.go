// Package inbox owns the hub-side queue of sub-cases waiting for departments that poll (the
// REST pull binding, connectors/restpull): the restpull_inbox table of the hub's store. The
// restpull connector puts items in; the hub's API leases and acknowledges them on the
// departments' behalf. It lives in the hub, not with the connector, because the API serves it.
package inbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/connector"
	"yjshub/hub/links"
	"yjshub/hub/store"
)

// recordTimeout bounds a Recorder call and the inbox writes that go with it; their context
// outlives the request's, so that an outcome already reached gets recorded.
const recordTimeout = 30 * time.Second

// Errors of [Inbox.Lease] and [Inbox.Ack] that the API turns into statuses.
var (
	// ErrUnknownDepartment: no restpull connector serves the department (404).
	ErrUnknownDepartment = errors.New("no restpull inbox for the department")
	// ErrNotFound: the department's inbox holds no item with that id (404): it never did, or
	// the item became a dead letter.
	ErrNotFound = errors.New("no such inbox item")
	// ErrStaleLease: the lease is not the item's current one (409): it ran out and the item was
	// leased again, or the item is not leased at all.
	ErrStaleLease = errors.New("the lease is not the item's current lease")
)

// InvalidError is a poll whose parameters are out of range (422).
type InvalidError struct {
	// Param is the query parameter: "max" or "visibility".
	Param string
	// Message says what is wrong.
	Message string
}

func (e *InvalidError) Error() string { return e.Param + ": " + e.Message }

// MaxLease is the most items one poll may lease.
const MaxLease = 100

// Item is an inbox item as a poll returns it.
type Item struct {
	// ID is the envelope id: the Idempotency-Key of the sub-case, the same on every lease.
	ID string `json:"id"`
	// Lease identifies this lease; the ack must carry it.
	Lease string `json:"lease"`
	// LeaseUntil is when the lease runs out and the item may be leased again.
	LeaseUntil time.Time `json:"lease_until"`
	// Attempts counts the leases of the item, this one included.
	Attempts int `json:"attempts"`
	// Message is the sub-case's CloudEvents envelope as the hub published it, but for the
	// links to the materials the hub holds: with a keyring (WithLinks) they are signed afresh
	// at each lease, so that a department that polls late still gets links that work.
	Message json.RawMessage `json:"message"`
}

// Item states, the keys of [Inbox.Counts].
const (
	StatePending = "pending"
	StateLeased  = "leased"
	StateAcked   = "acked"
)

var errNoRows = sql.ErrNoRows

// deadLetterHold is how long an item that used up its leases stays claimed while it is
// recorded as failed; should recording fail, the next poll after it tries again.
const deadLetterHold = time.Minute

// Inbox is the hub-side queue of the sub-cases waiting for departments that poll: the
// restpull_inbox table of the hub's store. The restpull connectors put items in ([Inbox.Put]); the
// API leases and acknowledges them on the departments' behalf. It is safe for concurrent use,
// and several hub instances may share one store: a lease is a single transaction that skips
// rows another instance holds (PostgreSQL's FOR UPDATE SKIP LOCKED; SQLite has one writer).
type Inbox struct {
	st  *store.Store
	rec connector.Recorder
	log *slog.Logger
	now func() time.Time

	mu    sync.RWMutex
	depts map[string]*department

	// links re-signs the materials' links of the items leased; nil: items as stored.
	links *relinker
}

// Settings are how the inbox serves one department; the department's restpull connector
// supplies them (connectors/restpull.Config states their defaults).
type Settings struct {
	// Department is the department's code. Required.
	Department string
	// Connector names the department's connector in what the inbox records (Status.Name).
	Connector string
	// MaxAttempts is how many times an item may be leased without being acknowledged before it
	// becomes a dead letter.
	MaxAttempts int
	// DefaultVisibility is how long a lease lasts when the poll does not say; MaxVisibility
	// bounds what a poll may ask for.
	DefaultVisibility, MaxVisibility time.Duration
	// AckedRetention is how long an acknowledged item's row is kept.
	AckedRetention time.Duration
}

// department is what the inbox knows of one department served by a connector.
type department struct {
	cfg      Settings
	counters *connector.Counters
	serving  bool // a connector runs (or ran) for the department
}

// Option changes how New builds an Inbox.
type Option func(*Inbox)

// WithLogger sends the inbox's logs to l. Default: nothing is logged. Lines carry ids,
// never a payload.
func WithLogger(l *slog.Logger) Option {
	return func(in *Inbox) { in.log = l }
}

// WithClock makes the inbox read the time from now (leases, their expiry, records). Default
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(in *Inbox) { in.now = now }
}

// WithLinks makes each lease sign afresh the links to the materials the hub holds in the
// items' messages (those with link_expires_at), for the leasing department, the item's case and
// sub-case and via restpull, to live ttl (0: links.MaxTTL) from the lease, under keys; base is
// the hub's public URL the links are relative to (cases.Config.FilesBase). Default: the links
// as they were signed at dispatch, which expire however late the department polls.
func WithLinks(keys *links.Keyring, base string, ttl time.Duration) Option {
	return func(in *Inbox) {
		if keys != nil {
			if ttl <= 0 || ttl > links.MaxTTL {
				ttl = links.MaxTTL
			}
			in.links = &relinker{keys: keys, base: strings.TrimRight(base, "/"), ttl: ttl}
		}
	}
}

// New returns the inbox kept in st (migrated). rec records what became of the items:
// Delivered when a department acknowledges one, Failed when one becomes a dead letter.
func New(st *store.Store, rec connector.Recorder, opts ...Option) (*Inbox, error) {
	var errs []error
	if st == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if rec == nil {
		errs = append(errs, errors.New("recorder: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	in := &Inbox{st: st, rec: rec, log: slog.New(slog.DiscardHandler), now: time.Now, depts: map[string]*department{}}
	for _, o := range opts {
		o(in)
	}
	in.log = in.log.With("component", "restpull-inbox")
	return in, nil
}

// Serve makes the inbox answer polls for s.Department under s; changed settings replace the
// old ones. A connector calls it when it starts to run.
func (in *Inbox) Serve(s Settings) {
	in.mu.Lock()
	defer in.mu.Unlock()
	d := in.entryLocked(s.Department)
	d.cfg = s
	d.serving = true
}

// Counters returns the department's counters, shared by its connectors and the inbox: the
// inbox counts acknowledgements (delivered), leases run out (retries) and dead letters.
func (in *Inbox) Counters(dept string) *connector.Counters {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.entryLocked(dept).counters
}

func (in *Inbox) entryLocked(dept string) *department {
	d, ok := in.depts[dept]
	if !ok {
		d = &department{counters: &connector.Counters{}}
		in.depts[dept] = d
	}
	return d
}

func (in *Inbox) department(dept string) (*department, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, ok := in.depts[dept]
	if !ok || !d.serving {
		return nil, fmt.Errorf("%w %q", ErrUnknownDepartment, dept)
	}
	return &department{cfg: d.cfg, counters: d.counters, serving: true}, nil
}

// Entry is an item to put in the inbox: a consumed sub-case envelope and where it was on the
// bus (for its dead letter).
type Entry struct {
	// ID is the envelope id; CaseID and SubcaseID are for records and logs.
	ID, CaseID, SubcaseID string
	// Payload is the envelope exactly as consumed. It holds personal data: never logged.
	Payload   []byte
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
}

// Put stores e for dept unless an item with its id is there already (or was acknowledged);
// it reports whether e was new.
func (in *Inbox) Put(ctx context.Context, dept string, e Entry) (bool, error) {
	res, err := in.st.DB().ExecContext(ctx, in.st.DB().Rebind(`INSERT INTO restpull_inbox
		(department, id, case_id, subcase_id, payload, state, topic, partition_no, offset_no, msg_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (department, id) DO NOTHING`),
		dept, e.ID, e.CaseID, e.SubcaseID, string(e.Payload), StatePending, e.Topic, e.Partition, e.Offset,
		hex.EncodeToString(e.Key), store.NewTimestamp(in.now()))
	if err != nil {
		return false, fmt.Errorf("store event %s in the inbox of %s: %w", e.ID, dept, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store event %s in the inbox of %s: %w", e.ID, dept, err)
	}
	return n == 1, nil
}

// row is an inbox row as a claim returns it.
type row struct {
	ID         string          `db:"id"`
	CaseID     string          `db:"case_id"`
	SubcaseID  string          `db:"subcase_id"`
	Payload    string          `db:"payload"`
	Attempts   int             `db:"attempts"`
	Topic      string          `db:"topic"`
	Partition  int             `db:"partition_no"`
	Offset     int64           `db:"offset_no"`
	Key        string          `db:"msg_key"`
	CreatedAt  store.Timestamp `db:"created_at"`
	LeaseUntil store.Timestamp `db:"lease_until"`
}

// Lease leases up to max of dept's items that are pending or whose lease ran out, oldest first,
// for visibility (0: the department's DefaultVisibility). Items leased MaxAttempts times
// already are not returned: they are recorded as failed (dead letters) and removed. An empty
// inbox returns no items and no error.
func (in *Inbox) Lease(ctx context.Context, dept string, max int, visibility time.Duration) ([]Item, error) {
	d, err := in.department(dept)
	if err != nil {
		return nil, err
	}
	cfg := d.cfg
	if max < 1 || max > MaxLease {
		return nil, &InvalidError{Param: "max", Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxLease)}
	}
	if visibility == 0 {
		visibility = cfg.DefaultVisibility
	}
	if visibility < time.Second || visibility > cfg.MaxVisibility {
		return nil, &InvalidError{Param: "visibility",
			Message: fmt.Sprintf("must be from 1s to %v, the department's maximum", cfg.MaxVisibility)}
	}

	now := in.now()
	lease := newToken("ls_")
	deadToken := newToken("dl_")
	var leased, exhausted []row
	err = in.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		exhausted, err = in.claim(ctx, tx, dept, now, true, cfg.MaxAttempts, MaxLease, deadToken, now.Add(deadLetterHold))
		if err != nil {
			return err
		}
		leased, err = in.claim(ctx, tx, dept, now, false, cfg.MaxAttempts, max, lease, now.Add(visibility))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("inbox: lease from the inbox of %s: %w", dept, err)
	}
	sortRows(leased)
	items := make([]Item, len(leased))
	again := 0
	for i, r := range leased {
		items[i] = Item{ID: r.ID, Lease: lease, LeaseUntil: r.LeaseUntil.Time, Attempts: r.Attempts, Message: json.RawMessage(r.Payload)}
		if in.links != nil {
			msg, err := in.links.resign(dept, []byte(r.Payload))
			if err != nil {
				// The stored links still go: a department reads them while they last.
				in.log.WarnContext(ctx, "inbox: links not signed afresh", "department", dept, "item", r.ID, "err", err)
			} else {
				items[i].Message = msg
			}
		}
		if r.Attempts > 1 {
			again++
		}
	}
	if again > 0 {
		// The department did not acknowledge them in time: a retry, as a REST push's repeated POST.
		d.counters.AddRetries(int64(again))
		d.counters.Failure(now, "a lease ran out without an ack; the item was handed out again")
	}
	if len(exhausted) > 0 {
		in.deadLetter(ctx, d, deadToken, exhausted)
	}
	if len(items) > 0 {
		in.log.DebugContext(ctx, "inbox: leased", "department", dept, "items", len(items), "visibility", visibility)
	}
	return items, nil
}

// claim takes up to limit of dept's ready items — pending, or leased with the lease run out —
// whose attempts are below maxAttempts and that no earlier item of their case holds back
// (exhausted false), or whose attempts are used up (exhausted true), and marks them leased
// under token until until. Leasing (not exhausted) counts an attempt.
func (in *Inbox) claim(ctx context.Context, tx *sqlx.Tx, dept string, now time.Time, exhausted bool, maxAttempts, limit int,
	token string, until time.Time) ([]row, error) {
	cmp, inc := "<", 1
	if exhausted {
		cmp, inc = ">=", 0
	}
	// An item waits while an earlier item of its case (the case id is the Kafka key, so both
	// are on one partition, in offset order) is still to be acknowledged: each case's
	// sub-cases reach the department in order, a re-leased one before the ones after it.
	fifo := ""
	if !exhausted {
		fifo = ` AND (i.case_id = '' OR NOT EXISTS (SELECT 1 FROM restpull_inbox o
			WHERE o.department = i.department AND o.case_id = i.case_id AND o.state <> '` + StateAcked + `'
			AND o.partition_no = i.partition_no AND o.offset_no < i.offset_no))`
	}
	pick := `SELECT i.id FROM restpull_inbox i
		WHERE i.department = ? AND (i.state = ? OR (i.state = ? AND i.lease_until <= ?)) AND i.attempts ` + cmp + ` ?` + fifo + `
		ORDER BY i.created_at, i.partition_no, i.offset_no, i.id LIMIT ?`
	set := `SET state = ?, lease = ?, lease_until = ?, attempts = attempts + ?`
	returning := ` RETURNING restpull_inbox.id, case_id, subcase_id, payload, attempts, topic, partition_no, offset_no, msg_key, created_at, lease_until`
	pickArgs := []any{dept, StatePending, StateLeased, store.NewTimestamp(now), maxAttempts, limit}
	setArgs := []any{StateLeased, token, store.NewTimestamp(until), inc}
	var q string
	var args []any
	if in.st.Dialect() == store.DialectPostgres {
		// Rows another hub instance is leasing right now are skipped, not waited for; a row it
		// leased and committed meanwhile is checked again and no longer matches. The picked
		// rows are materialised so that the LIMIT applies once.
		q = `WITH picked AS MATERIALIZED (` + pick + ` FOR UPDATE SKIP LOCKED)
			UPDATE restpull_inbox ` + set + ` FROM picked
			WHERE restpull_inbox.department = ? AND restpull_inbox.id = picked.id` + returning
		args = append(append(append(args, pickArgs...), setArgs...), dept)
	} else {
		// SQLite has one writer: the transaction holds the database until it commits.
		q = `UPDATE restpull_inbox ` + set + ` WHERE department = ? AND id IN (` + pick + `)` + returning
		args = append(append(append(args, setArgs...), dept), pickArgs...)
	}
	var rows []row
	err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...)
	return rows, err
}

// deadLetter records each of rows, claimed under token, as failed and removes it. An item
// whose record fails stays claimed until deadLetterHold has passed; a later poll tries again.
func (in *Inbox) deadLetter(ctx context.Context, d *department, token string, rows []row) {
	sortRows(rows)
	dept, name, s := d.cfg.Department, d.cfg.Connector, d.counters
	for _, r := range rows {
		key, _ := hex.DecodeString(r.Key)
		at := in.now()
		reason := fmt.Sprintf("not acknowledged after %d leases", r.Attempts)
		f := connector.Failure{
			Delivery: connector.Delivery{Connector: name, EventID: r.ID, CaseID: r.CaseID, SubcaseID: r.SubcaseID,
				Department: dept, Attempts: r.Attempts, At: at},
			Reason: reason, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, Payload: []byte(r.Payload),
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err := in.rec.Failed(rctx, f)
		if err == nil {
			_, err = in.st.DB().ExecContext(rctx, in.st.DB().Rebind(`DELETE FROM restpull_inbox WHERE department = ? AND id = ? AND lease = ?`),
				dept, r.ID, token)
		}
		cancel()
		if err != nil {
			s.Failure(at, "recording a dead letter failed")
			in.log.WarnContext(ctx, "inbox: recording an unacknowledged item as failed did not succeed; a later poll tries again",
				"department", dept, "event_id", r.ID, "error", err)
			continue
		}
		s.Failure(at, reason)
		s.Failed()
		in.log.WarnContext(ctx, "inbox: item not acknowledged in time, recorded as failed",
			"department", dept, "event_id", r.ID, "case_id", r.CaseID, "subcase_id", r.SubcaseID, "attempts", r.Attempts)
	}
}

// Ack acknowledges dept's item id under lease: the department has it. The item is marked
// acknowledged, its payload (personal data the department now holds) is cleared, and it is
// recorded as delivered. Acknowledging an acknowledged item again succeeds
// (and records the delivery again, which the Recorder treats as the same one), whatever the
// lease; a lease that is not the item's current one is ErrStaleLease; an unknown item
// ErrNotFound.
func (in *Inbox) Ack(ctx context.Context, dept, id, lease string) error {
	d, err := in.department(dept)
	if err != nil {
		return err
	}
	var r struct {
		CaseID    string          `db:"case_id"`
		SubcaseID string          `db:"subcase_id"`
		Attempts  int             `db:"attempts"`
		State     string          `db:"state"`
		Lease     string          `db:"lease"`
		AckedAt   store.Timestamp `db:"acked_at"`
	}
	first := false
	err = in.st.InTx(ctx, func(tx *sqlx.Tx) error {
		q := `SELECT case_id, subcase_id, attempts, state, lease, acked_at FROM restpull_inbox WHERE department = ? AND id = ?`
		if in.st.Dialect() == store.DialectPostgres {
			q += " FOR UPDATE"
		}
		if err := tx.GetContext(ctx, &r, tx.Rebind(q), dept, id); err != nil {
			if errors.Is(err, errNoRows) {
				return ErrNotFound
			}
			return err
		}
		switch {
		case r.State == StateAcked:
			return nil
		case r.State != StateLeased || lease == "" || r.Lease != lease:
			return ErrStaleLease
		}
		r.AckedAt = store.NewTimestamp(in.now())
		first = true
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE restpull_inbox SET state = ?, acked_at = ?, lease_until = NULL, payload = ''
			WHERE department = ? AND id = ?`), StateAcked, r.AckedAt, dept, id)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrStaleLease):
		return fmt.Errorf("%w: item %q of %s", err, id, dept)
	case err != nil:
		return fmt.Errorf("inbox: acknowledge item %q of %s: %w", id, dept, err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := in.rec.Delivered(rctx, connector.Delivery{Connector: d.cfg.Connector, EventID: id, CaseID: r.CaseID,
		SubcaseID: r.SubcaseID, Department: dept, Attempts: r.Attempts, At: r.AckedAt.Time}); err != nil {
		// The item stays acknowledged; the department's retry of the ack records it again.
		return fmt.Errorf("inbox: record the delivery of item %q of %s: %w", id, dept, err)
	}
	if first {
		d.counters.Delivered(r.AckedAt.Time)
		in.log.DebugContext(ctx, "inbox: acknowledged", "department", dept, "event_id", id,
			"case_id", r.CaseID, "subcase_id", r.SubcaseID, "attempts", r.Attempts)
	}
	return nil
}

// Sweep deletes dept's acknowledged items acknowledged longer ago than the department's
// AckedRetention and returns how many it deleted. The connector runs it periodically.
func (in *Inbox) Sweep(ctx context.Context, dept string) (int64, error) {
	d, err := in.department(dept)
	if err != nil {
		return 0, err
	}
	cutoff := store.NewTimestamp(in.now().Add(-d.cfg.AckedRetention))
	res, err := in.st.DB().ExecContext(ctx, in.st.DB().Rebind(`DELETE FROM restpull_inbox
		WHERE department = ? AND state = ? AND acked_at < ?`), dept, StateAcked, cutoff)
	if err != nil {
		return 0, fmt.Errorf("inbox: sweep the inbox of %s: %w", dept, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("inbox: sweep the inbox of %s: %w", dept, err)
	}
	if n > 0 {
		in.log.InfoContext(ctx, "inbox: swept acknowledged items", "department", dept, "deleted", n)
	}
	return n, nil
}

// Counts reports how many of dept's items are in each state (pending, leased, acked). Leased
// items whose lease ran out count as pending.
func (in *Inbox) Counts(ctx context.Context, dept string) (map[string]int64, error) {
	var rows []struct {
		State   string `db:"state"`
		Expired bool   `db:"expired"`
		N       int64  `db:"n"`
	}
	err := in.st.DB().SelectContext(ctx, &rows, in.st.DB().Rebind(`
		SELECT state, lease_until IS NOT NULL AND lease_until <= ? AS expired, COUNT(*) AS n
		FROM restpull_inbox WHERE department = ? GROUP BY 1, 2`),
		store.NewTimestamp(in.now()), dept)
	if err != nil {
		return nil, fmt.Errorf("inbox: count the inbox of %s: %w", dept, err)
	}
	out := map[string]int64{StatePending: 0, StateLeased: 0, StateAcked: 0}
	for _, r := range rows {
		if r.State == StateLeased && r.Expired {
			r.State = StatePending
		}
		out[r.State] += r.N
	}
	return out, nil
}

// sortRows orders rows as the inbox hands them out: oldest first, then in bus order.
func sortRows(rows []row) {
	slices.SortFunc(rows, func(a, b row) int {
		switch {
		case !a.CreatedAt.Equal(b.CreatedAt.Time):
			return a.CreatedAt.Compare(b.CreatedAt.Time)
		case a.Partition != b.Partition:
			return a.Partition - b.Partition
		case a.Offset != b.Offset:
			if a.Offset < b.Offset {
				return -1
			}
			return 1
		}
		return 0
	})
}

// newToken returns a random identifier with prefix.
func newToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b)
}
