package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/store"
)

// errRollback is what the suite's transactions return to force a rollback.
var errRollback = errors.New("storetest: roll back on purpose")

// Run is the conformance suite: every backend of package store must pass it.
// open must return a fresh, empty, unmigrated store on every call, isolated
// from every other call, and arrange for its cleanup; the subtests run in
// parallel.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Dialect names the backend and DB rebinds placeholders for it", testDialect},
		{"Migrate applies every migration and a second Migrate changes nothing", testMigrate},
		{"An empty store has no latest catalogue version", testCatalogueEmpty},
		{"A recorded catalogue version reads back as the latest", testCatalogueRoundTrip},
		{"Recording a catalogue version again keeps its first load time and counts", testCatalogueIdempotent},
		{"The latest catalogue version is the one first loaded last", testCatalogueLatest},
		{"An invalid catalogue version is rejected with every problem reported", testCatalogueInvalid},
		{"InTx commits the work of a function that succeeds", testInTxCommits},
		{"InTx rolls back the work of a function that fails and returns its error", testInTxRollsBackOnError},
		{"InTx rolls back when the function panics and lets the panic through", testInTxRollsBackOnPanic},
		{"Outbox messages enqueued in a rolled-back transaction are never pending", testOutboxRolledBack},
		{"Pending outbox messages come back oldest first with every field intact", testOutboxOrder},
		{"PendingOutbox returns at most limit messages", testOutboxLimit},
		{"Marking outbox messages published takes them out of pending", testOutboxPublished},
		{"Marking an outbox message failed counts the attempt and keeps it pending", testOutboxFailed},
		{"Marking an unknown outbox message failed reports ErrNotFound", testOutboxFailedUnknown},
		{"An outbox event id can be enqueued only once", testOutboxDuplicateEvent},
		{"Invalid outbox messages are rejected with every problem reported and nothing written", testOutboxInvalid},
		{"MarkProcessed reports the first delivery and not a duplicate", testInboxDuplicate},
		{"A rolled-back MarkProcessed leaves the event unprocessed", testInboxRolledBack},
		{"Consumers keep separate inboxes", testInboxConsumers},
		{"Concurrent transactions from many goroutines all commit with correct totals", testConcurrentTx},
		{"Timestamps round-trip in UTC to the microsecond", testTimestamps},
		{"InsertRows inserts many rows in statements under the placeholder limit, all or none", testInsertRows},
		{"Open errors never contain the URL's password", testOpenErrorRedacted},
		{"A JSON column reads back what was written, nil lists and maps as empty ones, and refuses what is not JSON", testJSONColumn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open)
		})
	}
}

func migrated(t *testing.T, open Opener) *store.Store {
	t.Helper()
	return Migrated(open)(t)
}

func testDialect(t *testing.T, open Opener) {
	s := open(t)
	want := map[string]string{store.DialectPostgres: "$1 $2", store.DialectSQLite: "? ?"}
	w, ok := want[s.Dialect()]
	if !ok {
		t.Fatalf("Dialect() = %q, want one of %v", s.Dialect(), slices.Sorted(maps.Keys(want)))
	}
	if got := s.DB().Rebind("? ?"); got != w {
		t.Errorf("DB().Rebind(%q) = %q on %s, want %q", "? ?", got, s.Dialect(), w)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testMigrate(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	before, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion before Migrate: %v", err)
	}
	if before != 0 {
		t.Errorf("SchemaVersion before Migrate = %d, want 0", before)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	first, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion after Migrate: %v", err)
	}
	if want := store.LatestSchemaVersion(); first != want || first < 1 {
		t.Errorf("SchemaVersion after Migrate = %d, want %d (and at least 1)", first, want)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	second, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion after second Migrate: %v", err)
	}
	if second != first {
		t.Errorf("SchemaVersion after second Migrate = %d, want %d as after the first", second, first)
	}
	// The tables exist and are empty.
	if _, err := s.LatestCatalogueVersion(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestCatalogueVersion on a migrated store: err = %v, want ErrNotFound", err)
	}
	if got := pending(t, s); len(got) != 0 {
		t.Errorf("pending outbox on a migrated store: %d messages, want none", len(got))
	}
}

func version(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

func testCatalogueEmpty(t *testing.T, open Opener) {
	s := migrated(t, open)
	_, err := s.LatestCatalogueVersion(t.Context())
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCatalogueVersion on an empty store: err = %v, want ErrNotFound", err)
	}
}

func testCatalogueRoundTrip(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	want := store.CatalogueVersion{Version: version("one"), Bundles: 40, Matters: 123, Departments: 17}
	before := time.Now().Truncate(time.Microsecond)
	if err := s.RecordCatalogueVersion(ctx, want); err != nil {
		t.Fatalf("RecordCatalogueVersion: %v", err)
	}
	after := time.Now()
	got, err := s.LatestCatalogueVersion(ctx)
	if err != nil {
		t.Fatalf("LatestCatalogueVersion: %v", err)
	}
	if got.Version != want.Version || got.Bundles != want.Bundles || got.Matters != want.Matters || got.Departments != want.Departments {
		t.Errorf("LatestCatalogueVersion = %+v, want %+v", got, want)
	}
	assertRecent(t, "LoadedAt", got.LoadedAt, before, after)
}

// assertRecent checks that got is a UTC time between before and after.
func assertRecent(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
	if got.Before(before) || got.After(after) {
		t.Errorf("%s = %v, want between %v and %v", what, got, before.UTC(), after.UTC())
	}
}

func testCatalogueIdempotent(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	v := store.CatalogueVersion{Version: version("same"), Bundles: 1, Matters: 2, Departments: 3}
	if err := s.RecordCatalogueVersion(ctx, v); err != nil {
		t.Fatalf("first RecordCatalogueVersion: %v", err)
	}
	first, err := s.LatestCatalogueVersion(ctx)
	if err != nil {
		t.Fatalf("LatestCatalogueVersion: %v", err)
	}
	again := v
	again.Bundles, again.Matters, again.Departments = 4, 5, 6
	if err := s.RecordCatalogueVersion(ctx, again); err != nil {
		t.Fatalf("second RecordCatalogueVersion of the same version: %v", err)
	}
	second, err := s.LatestCatalogueVersion(ctx)
	if err != nil {
		t.Fatalf("LatestCatalogueVersion after the second record: %v", err)
	}
	if second != first {
		t.Errorf("after recording %s again: %+v, want the first record %+v", v.Version, second, first)
	}
	var rows int
	if err := s.DB().GetContext(ctx, &rows, "SELECT COUNT(*) FROM catalogue_versions"); err != nil {
		t.Fatalf("count catalogue versions: %v", err)
	}
	if rows != 1 {
		t.Errorf("catalogue_versions holds %d rows, want 1", rows)
	}
}

func testCatalogueLatest(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	a := store.CatalogueVersion{Version: version("a"), Bundles: 1}
	b := store.CatalogueVersion{Version: version("b"), Bundles: 2}
	for _, v := range []store.CatalogueVersion{a, b, a} {
		if err := s.RecordCatalogueVersion(ctx, v); err != nil {
			t.Fatalf("RecordCatalogueVersion(%s): %v", v.Version, err)
		}
	}
	got, err := s.LatestCatalogueVersion(ctx)
	if err != nil {
		t.Fatalf("LatestCatalogueVersion: %v", err)
	}
	if got.Version != b.Version {
		t.Errorf("after recording a, b, a: latest = %s, want b = %s (a keeps its first load time)", got.Version, b.Version)
	}
}

func testCatalogueInvalid(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	err := s.RecordCatalogueVersion(ctx, store.CatalogueVersion{Version: "ABC", Bundles: -1, Departments: -2})
	if err == nil {
		t.Fatal("RecordCatalogueVersion of an invalid version: no error")
	}
	for _, want := range []string{"sha256", "bundles", "departments"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "matters") {
		t.Errorf("error %q mentions matters, which were valid", err)
	}
	if _, err := s.LatestCatalogueVersion(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a rejected record: LatestCatalogueVersion err = %v, want ErrNotFound", err)
	}
}

// counter is a scratch table for transaction tests.
type counter struct{ s *store.Store }

func newCounter(t *testing.T, s *store.Store) counter {
	t.Helper()
	ctx := t.Context()
	for _, q := range []string{
		"CREATE TABLE storetest_counter (name TEXT PRIMARY KEY, n BIGINT NOT NULL)",
		"INSERT INTO storetest_counter (name, n) VALUES ('c', 0)",
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("create counter: %v", err)
		}
	}
	return counter{s: s}
}

func (c counter) bump(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, "UPDATE storetest_counter SET n = n + 1 WHERE name = 'c'")
	return err
}

func (c counter) value(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := c.s.DB().GetContext(t.Context(), &n, "SELECT n FROM storetest_counter WHERE name = 'c'"); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return n
}

func message(eventID string) store.OutboxMessage {
	return store.OutboxMessage{
		EventID: eventID,
		Topic:   "yjs.case.event",
		Key:     "case-" + eventID,
		Payload: []byte(`{"id":"` + eventID + `","type":"case.submitted","data":{"bundle":"开办餐饮店一件事"}}`),
		Headers: map[string]string{"content-type": "application/cloudevents+json", "ce-source": "一件事<&>"},
	}
}

func pending(t *testing.T, s *store.Store) []store.OutboxMessage {
	t.Helper()
	msgs, err := s.PendingOutbox(t.Context(), 10000)
	if err != nil {
		t.Fatalf("PendingOutbox: %v", err)
	}
	return msgs
}

func eventIDs(msgs []store.OutboxMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.EventID
	}
	return out
}

func enqueue(t *testing.T, s *store.Store, msgs ...store.OutboxMessage) {
	t.Helper()
	err := s.InTx(t.Context(), func(tx *sqlx.Tx) error {
		return s.EnqueueOutbox(t.Context(), tx, msgs...)
	})
	if err != nil {
		t.Fatalf("enqueue %v: %v", eventIDs(msgs), err)
	}
}

func testInTxCommits(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	c := newCounter(t, s)
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := c.bump(ctx, tx); err != nil {
			return err
		}
		return s.EnqueueOutbox(ctx, tx, message("e1"))
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if got := c.value(t); got != 1 {
		t.Errorf("counter after a committed bump = %d, want 1", got)
	}
	if got := eventIDs(pending(t, s)); len(got) != 1 || got[0] != "e1" {
		t.Errorf("pending after a committed enqueue = %v, want [e1]", got)
	}
}

func testInTxRollsBackOnError(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	c := newCounter(t, s)
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := c.bump(ctx, tx); err != nil {
			return err
		}
		if _, err := s.MarkProcessed(ctx, tx, "consumer", "e1"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx err = %v, want the function's error", err)
	}
	if got := c.value(t); got != 0 {
		t.Errorf("counter after a rolled-back bump = %d, want 0", got)
	}
	assertFirstDelivery(t, s, "consumer", "e1", true)
}

func testInTxRollsBackOnPanic(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	c := newCounter(t, s)
	type boom struct{ msg string }
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.InTx(ctx, func(tx *sqlx.Tx) error {
			if err := c.bump(ctx, tx); err != nil {
				return err
			}
			panic(boom{"on purpose"})
		})
		return nil
	}()
	if recovered != (boom{"on purpose"}) {
		t.Fatalf("recovered %v, want the function's panic value", recovered)
	}
	if got := c.value(t); got != 0 {
		t.Errorf("counter after a panicking bump = %d, want 0", got)
	}
	// The connection went back to the pool: the store still works.
	if err := s.InTx(ctx, func(tx *sqlx.Tx) error { return c.bump(ctx, tx) }); err != nil {
		t.Fatalf("InTx after a panic: %v", err)
	}
	if got := c.value(t); got != 1 {
		t.Errorf("counter after a bump following the panic = %d, want 1", got)
	}
}

func testOutboxRolledBack(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.EnqueueOutbox(ctx, tx, message("e1"), message("e2")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx err = %v, want the function's error", err)
	}
	if got := pending(t, s); len(got) != 0 {
		t.Errorf("pending after a rolled-back enqueue = %v, want none", eventIDs(got))
	}
	// The event ids were never taken.
	enqueue(t, s, message("e1"))
	if got := eventIDs(pending(t, s)); len(got) != 1 || got[0] != "e1" {
		t.Errorf("pending after enqueueing e1 again = %v, want [e1]", got)
	}
}

func testOutboxOrder(t *testing.T, open Opener) {
	s := migrated(t, open)
	shanghai := time.FixedZone("CST", 8*60*60)
	explicit := time.Date(2023, 6, 1, 9, 30, 0, 123456789, shanghai)

	e1, e2, e3, e4 := message("e1"), message("e2"), message("e3"), message("e4")
	e2.Headers = nil
	e3.CreatedAt = explicit
	e4.Key = ""

	before := time.Now().Truncate(time.Microsecond)
	enqueue(t, s, e1, e2)
	enqueue(t, s, e3)
	enqueue(t, s, e4)
	after := time.Now()

	got := pending(t, s)
	want := []store.OutboxMessage{e1, e2, e3, e4}
	if ids := eventIDs(got); strings.Join(ids, ",") != "e1,e2,e3,e4" {
		t.Fatalf("pending order = %v, want [e1 e2 e3 e4]", ids)
	}
	for i := range got {
		g, w := got[i], want[i]
		if i > 0 && g.ID <= got[i-1].ID {
			t.Errorf("%s: ID %d not greater than the previous message's %d", g.EventID, g.ID, got[i-1].ID)
		}
		if g.Topic != w.Topic || g.Key != w.Key || string(g.Payload) != string(w.Payload) {
			t.Errorf("%s: got topic %q key %q payload %s, want %q %q %s", g.EventID, g.Topic, g.Key, g.Payload, w.Topic, w.Key, w.Payload)
		}
		if !maps.Equal(g.Headers, w.Headers) || (w.Headers == nil) != (g.Headers == nil) {
			t.Errorf("%s: headers = %v, want %v", g.EventID, g.Headers, w.Headers)
		}
		if !g.PublishedAt.IsZero() || g.Attempts != 0 || g.LastError != "" {
			t.Errorf("%s: published %v, attempts %d, last error %q; want zero values", g.EventID, g.PublishedAt, g.Attempts, g.LastError)
		}
		if w.CreatedAt.IsZero() {
			assertRecent(t, g.EventID+" CreatedAt", g.CreatedAt, before, after)
		}
	}
	wantExplicit := explicit.Truncate(time.Microsecond).UTC()
	if g := got[2].CreatedAt; !g.Equal(wantExplicit) || g.Location() != time.UTC {
		t.Errorf("e3 CreatedAt = %v, want %v", g, wantExplicit)
	}
}

func testOutboxLimit(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	enqueue(t, s, message("e1"), message("e2"), message("e3"))
	got, err := s.PendingOutbox(ctx, 2)
	if err != nil {
		t.Fatalf("PendingOutbox(2): %v", err)
	}
	if ids := eventIDs(got); strings.Join(ids, ",") != "e1,e2" {
		t.Errorf("PendingOutbox(2) = %v, want [e1 e2]", ids)
	}
	if _, err := s.PendingOutbox(ctx, 0); err == nil {
		t.Error("PendingOutbox(0): no error, want one for a non-positive limit")
	}
}

func testOutboxPublished(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	enqueue(t, s, message("e1"), message("e2"), message("e3"))
	all := pending(t, s)
	before := time.Now().Truncate(time.Microsecond)
	if err := s.MarkOutboxPublished(ctx, all[0].ID, all[2].ID); err != nil {
		t.Fatalf("MarkOutboxPublished: %v", err)
	}
	after := time.Now()
	if ids := eventIDs(pending(t, s)); strings.Join(ids, ",") != "e2" {
		t.Errorf("pending after publishing e1 and e3 = %v, want [e2]", ids)
	}
	first := publishedAt(t, s, all[0].ID)
	assertRecent(t, "e1 published_at", first, before, after)

	// Repeating the call, with an unknown id and none at all, is harmless and
	// keeps the first publication time.
	if err := s.MarkOutboxPublished(ctx, all[0].ID, all[2].ID+1000); err != nil {
		t.Fatalf("MarkOutboxPublished again: %v", err)
	}
	if err := s.MarkOutboxPublished(ctx); err != nil {
		t.Fatalf("MarkOutboxPublished with no ids: %v", err)
	}
	if again := publishedAt(t, s, all[0].ID); !again.Equal(first) {
		t.Errorf("e1 published_at after a repeated mark = %v, want the first %v", again, first)
	}
	if ids := eventIDs(pending(t, s)); strings.Join(ids, ",") != "e2" {
		t.Errorf("pending after the repeated mark = %v, want [e2]", ids)
	}
}

func publishedAt(t *testing.T, s *store.Store, id int64) time.Time {
	t.Helper()
	var ts store.Timestamp
	if err := s.DB().GetContext(t.Context(), &ts, s.DB().Rebind("SELECT published_at FROM outbox WHERE id = ?"), id); err != nil {
		t.Fatalf("read published_at of %d: %v", id, err)
	}
	return ts.Time
}

func testOutboxFailed(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	enqueue(t, s, message("e1"))
	id := pending(t, s)[0].ID
	if err := s.MarkOutboxFailed(ctx, id, "broker unavailable"); err != nil {
		t.Fatalf("first MarkOutboxFailed: %v", err)
	}
	long := "leader not available\x00 \xff" + strings.Repeat("错", 2000)
	if err := s.MarkOutboxFailed(ctx, id, long); err != nil {
		t.Fatalf("second MarkOutboxFailed: %v", err)
	}
	got := pending(t, s)
	if len(got) != 1 {
		t.Fatalf("pending after two failures = %v, want [e1]", eventIDs(got))
	}
	m := got[0]
	if m.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2", m.Attempts)
	}
	if !strings.HasPrefix(m.LastError, "leader not available") || !utf8.ValidString(m.LastError) || strings.ContainsRune(m.LastError, 0) {
		t.Errorf("LastError = %.60q…, want the latest error as valid UTF-8 without NUL", m.LastError)
	}
	if len(m.LastError) >= len(long) || len(m.LastError) > 4096 {
		t.Errorf("LastError is %d bytes, want it truncated", len(m.LastError))
	}
}

func testOutboxFailedUnknown(t *testing.T, open Opener) {
	s := migrated(t, open)
	err := s.MarkOutboxFailed(t.Context(), 424242, "boom")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkOutboxFailed of an unknown id: err = %v, want ErrNotFound", err)
	}
}

func testOutboxDuplicateEvent(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	enqueue(t, s, message("e1"))
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		return s.EnqueueOutbox(ctx, tx, message("e2"), message("e1"))
	})
	if err == nil {
		t.Fatal("enqueueing e1 a second time: no error")
	}
	if ids := eventIDs(pending(t, s)); strings.Join(ids, ",") != "e1" {
		t.Errorf("pending after the failed transaction = %v, want [e1]", ids)
	}
}

func testOutboxInvalid(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	bad := store.OutboxMessage{Payload: []byte("{\"a\":\"\x00\"}")}
	var enqueueErr error
	// The function commits whatever EnqueueOutbox wrote, to show it wrote nothing.
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		enqueueErr = s.EnqueueOutbox(ctx, tx, message("ok"), bad)
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if enqueueErr == nil {
		t.Fatal("EnqueueOutbox of an invalid message: no error")
	}
	for _, want := range []string{"event id is empty", "topic is empty", "payload"} {
		if !strings.Contains(enqueueErr.Error(), want) {
			t.Errorf("error %q does not mention %q", enqueueErr, want)
		}
	}
	if got := pending(t, s); len(got) != 0 {
		t.Errorf("pending after a rejected batch = %v, want none", eventIDs(got))
	}
}

// assertFirstDelivery marks eventID processed by consumer in its own
// transaction and checks whether that was the first time.
func assertFirstDelivery(t *testing.T, s *store.Store, consumer, eventID string, want bool) {
	t.Helper()
	var first bool
	err := s.InTx(t.Context(), func(tx *sqlx.Tx) error {
		var err error
		first, err = s.MarkProcessed(t.Context(), tx, consumer, eventID)
		return err
	})
	if err != nil {
		t.Fatalf("MarkProcessed(%s, %s): %v", consumer, eventID, err)
	}
	if first != want {
		t.Errorf("MarkProcessed(%s, %s) first = %v, want %v", consumer, eventID, first, want)
	}
}

func testInboxDuplicate(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	assertFirstDelivery(t, s, "aggregator", "e1", true)
	assertFirstDelivery(t, s, "aggregator", "e1", false)

	// Twice in one transaction: the second sees the first.
	var firsts []bool
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		for range 2 {
			first, err := s.MarkProcessed(ctx, tx, "aggregator", "e2")
			if err != nil {
				return err
			}
			firsts = append(firsts, first)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if fmt.Sprint(firsts) != "[true false]" {
		t.Errorf("MarkProcessed twice in one transaction = %v, want [true false]", firsts)
	}
}

func testInboxRolledBack(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		first, err := s.MarkProcessed(ctx, tx, "aggregator", "e1")
		if err != nil {
			return err
		}
		if !first {
			t.Error("MarkProcessed in the transaction to be rolled back: first = false, want true")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx err = %v, want the function's error", err)
	}
	assertFirstDelivery(t, s, "aggregator", "e1", true)
}

func testInboxConsumers(t *testing.T, open Opener) {
	s := migrated(t, open)
	assertFirstDelivery(t, s, "aggregator", "e1", true)
	assertFirstDelivery(t, s, "platform", "e1", true)
	assertFirstDelivery(t, s, "platform", "e1", false)
}

func testConcurrentTx(t *testing.T, open Opener) {
	const workers, perWorker = 8, 20
	ctx := t.Context()
	s := migrated(t, open)
	c := newCounter(t, s)

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		firsts int
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				eventID := fmt.Sprintf("w%d-e%d", w, i)
				var first bool
				err := s.InTx(ctx, func(tx *sqlx.Tx) error {
					// Every transaction claims the same event: exactly one may win.
					var err error
					if first, err = s.MarkProcessed(ctx, tx, "shared", "the-event"); err != nil {
						return err
					}
					if _, err := s.MarkProcessed(ctx, tx, "worker", eventID); err != nil {
						return err
					}
					if err := c.bump(ctx, tx); err != nil {
						return err
					}
					return s.EnqueueOutbox(ctx, tx, message(eventID))
				})
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", eventID, err))
				}
				if err == nil && first {
					firsts++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d transactions failed:\n%v", len(errs), workers*perWorker, err)
	}
	const total = workers * perWorker
	if got := c.value(t); got != total {
		t.Errorf("counter = %d, want %d", got, total)
	}
	if firsts != 1 {
		t.Errorf("%d transactions were first to process the shared event, want 1", firsts)
	}
	msgs := pending(t, s)
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		seen[m.EventID] = true
	}
	if len(msgs) != total || len(seen) != total {
		t.Errorf("pending holds %d messages with %d distinct event ids, want %d of each", len(msgs), len(seen), total)
	}
	var inbox int
	if err := s.DB().GetContext(ctx, &inbox, "SELECT COUNT(*) FROM inbox WHERE consumer = 'worker'"); err != nil {
		t.Fatalf("count inbox: %v", err)
	}
	if inbox != total {
		t.Errorf("inbox holds %d worker events, want %d", inbox, total)
	}
}

func testTimestamps(t *testing.T, open Opener) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE storetest_times (id INTEGER PRIMARY KEY, at BIGINT)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	shanghai := time.FixedZone("CST", 8*60*60)
	cases := []time.Time{
		time.Date(1949, 10, 1, 15, 0, 0, 999_999_999, shanghai), // before the epoch
		time.Unix(0, 0),
		time.Date(2023, 3, 15, 9, 30, 15, 123_456_789, shanghai),
		time.Date(2023, 3, 15, 1, 30, 15, 123_457_000, time.UTC), // one microsecond after the previous
		time.Now(), // carries a monotonic reading
		time.Date(2199, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		{}, // zero: stored as NULL
	}
	insert := s.DB().Rebind("INSERT INTO storetest_times (id, at) VALUES (?, ?)")
	for i, tm := range cases {
		if _, err := s.DB().ExecContext(ctx, insert, i, store.NewTimestamp(tm)); err != nil {
			t.Fatalf("insert %v: %v", tm, err)
		}
	}
	var nulls int
	if err := s.DB().GetContext(ctx, &nulls, "SELECT COUNT(*) FROM storetest_times WHERE at IS NULL"); err != nil {
		t.Fatalf("count NULLs: %v", err)
	}
	if nulls != 1 {
		t.Errorf("%d rows hold NULL, want 1 (the zero time)", nulls)
	}
	var rows []struct {
		ID int             `db:"id"`
		At store.Timestamp `db:"at"`
	}
	if err := s.DB().SelectContext(ctx, &rows, "SELECT id, at FROM storetest_times ORDER BY id"); err != nil {
		t.Fatalf("select: %v", err)
	}
	if len(rows) != len(cases) {
		t.Fatalf("read %d rows, want %d", len(rows), len(cases))
	}
	for i, r := range rows {
		in := cases[i]
		if in.IsZero() {
			if !r.At.IsZero() {
				t.Errorf("zero time read back as %v", r.At.Time)
			}
			continue
		}
		want := in.Truncate(time.Microsecond).UTC()
		if !r.At.Equal(want) || r.At.Location() != time.UTC {
			t.Errorf("%v read back as %v, want %v", in, r.At.Time, want)
		}
		if d := in.Sub(r.At.Time); d < 0 || d >= time.Microsecond {
			t.Errorf("%v read back %v off", in, d)
		}
	}
	// The database orders them chronologically, down to the microsecond.
	var ordered []int
	if err := s.DB().SelectContext(ctx, &ordered, "SELECT id FROM storetest_times WHERE at IS NOT NULL ORDER BY at"); err != nil {
		t.Fatalf("select ordered: %v", err)
	}
	if fmt.Sprint(ordered) != "[0 1 2 3 4 5]" {
		t.Errorf("ids ordered by time = %v, want [0 1 2 3 4 5]", ordered)
	}
}

func testOpenErrorRedacted(t *testing.T, _ Opener) {
	const secret = "s3cret-Pa55word"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, u := range []string{
		// Nothing listens on port 1: the connection is refused.
		"postgres://hub:" + secret + "@127.0.0.1:1/hub?sslmode=disable&connect_timeout=5",
		"postgresql://127.0.0.1:1/hub?sslmode=disable&connect_timeout=5&password=" + secret,
		// Does not parse.
		"postgres://hub:" + secret + "@127.0.0.1:notaport/hub",
		"postgres://hub:" + secret + "@[::1/hub",
		// Unsupported scheme.
		"mysql://hub:" + secret + "@127.0.0.1/hub",
	} {
		s, err := store.Open(ctx, u)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%s): no error", store.RedactDatabaseURL(u))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open error contains the password: %v", err)
		}
		if got := store.RedactDatabaseURL(u); strings.Contains(got, secret) {
			t.Errorf("RedactDatabaseURL(…) = %q, contains the password", got)
		}
	}
}

func testInsertRows(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE storetest_rows (id BIGINT PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	// 700 rows of 3 columns: 333 rows per statement, three statements.
	rows := make([][]any, 700)
	for i := range rows {
		rows[i] = []any{i, fmt.Sprintf("行%d", i), "一件事<&>"}
	}
	if err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		return store.InsertRows(ctx, tx, "storetest_rows", []string{"id", "name", "note"}, rows)
	}); err != nil {
		t.Fatalf("InsertRows: %v", err)
	}
	var got struct {
		N    int64  `db:"n"`
		Last string `db:"last"`
	}
	if err := s.DB().GetContext(ctx, &got, "SELECT COUNT(*) AS n, MAX(name) AS last FROM storetest_rows"); err != nil {
		t.Fatal(err)
	}
	var name699 string
	if err := s.DB().GetContext(ctx, &name699, s.DB().Rebind("SELECT name FROM storetest_rows WHERE id = ?"), 699); err != nil || name699 != "行699" || got.N != 700 {
		t.Fatalf("after InsertRows: %d rows, row 699 %q (%v)", got.N, name699, err)
	}
	// A duplicate in the last statement rolls back the whole transaction.
	more := [][]any{{1000, "a", ""}, {1001, "b", ""}, {5, "dup", ""}}
	err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		return store.InsertRows(ctx, tx, "storetest_rows", []string{"id", "name", "note"}, more)
	})
	var n int64
	_ = s.DB().GetContext(ctx, &n, "SELECT COUNT(*) FROM storetest_rows")
	if err == nil || n != 700 {
		t.Fatalf("a duplicate row: err %v, %d rows; want an error and 700", err, n)
	}
	err = s.InTx(ctx, func(tx *sqlx.Tx) error {
		return store.InsertRows(ctx, tx, "storetest_rows", []string{"id", "name", "note"}, [][]any{{1, "short"}})
	})
	if err == nil || !strings.Contains(err.Error(), "row 0 has 2 values for 3 columns") {
		t.Fatalf("a short row: %v", err)
	}
}

func testJSONColumn(t *testing.T, open Opener) {
	ctx := t.Context()
	s := migrated(t, open)
	table := "storetest_json" // each store of the suite is fresh
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY, doc TEXT)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	type doc struct {
		Name  string         `json:"name"`
		Tags  []string       `json:"tags"`
		Attrs map[string]any `json:"attrs"`
	}
	insert := func(id int, v any) {
		t.Helper()
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind("INSERT INTO "+table+" (id, doc) VALUES (?, ?)"), id, v); err != nil {
			t.Fatalf("insert %d: %v", id, err)
		}
	}
	text := func(id int) string {
		t.Helper()
		var raw *string
		if err := s.DB().GetContext(ctx, &raw, s.DB().Rebind("SELECT doc FROM "+table+" WHERE id = ?"), id); err != nil {
			t.Fatalf("select %d: %v", id, err)
		}
		if raw == nil {
			return "NULL"
		}
		return *raw
	}
	want := doc{Name: "开酒吧", Tags: []string{"a", "b"}, Attrs: map[string]any{"n": 1.5, "ok": true}}
	insert(1, store.JSONOf(want))
	insert(2, store.JSONOf([]string(nil)))
	insert(3, store.JSONOf(map[string]any(nil)))
	insert(4, nil)
	insert(5, "{not json")
	insert(6, `{"name": 42}`)

	var got store.JSON[doc]
	if err := s.DB().GetContext(ctx, &got, s.DB().Rebind("SELECT doc FROM "+table+" WHERE id = ?"), 1); err != nil {
		t.Fatalf("scan a document: %v", err)
	}
	if got.V.Name != want.Name || !slices.Equal(got.V.Tags, want.Tags) || got.V.Attrs["n"] != 1.5 || got.V.Attrs["ok"] != true {
		t.Errorf("read back %+v, want %+v", got.V, want)
	}
	if a, b := text(2), text(3); a != "[]" || b != "{}" {
		t.Errorf("a nil slice was written as %s and a nil map as %s, want [] and {}", a, b)
	}
	var list store.JSON[[]string]
	list.V = []string{"left over"}
	if err := s.DB().GetContext(ctx, &list, s.DB().Rebind("SELECT doc FROM "+table+" WHERE id = ?"), 4); err != nil || list.V != nil {
		t.Errorf("NULL read as %v (err %v), want the zero value", list.V, err)
	}
	for id, wantErr := range map[int]string{5: "not JSON", 6: "a number where string belongs"} {
		var bad store.JSON[doc]
		err := s.DB().GetContext(ctx, &bad, s.DB().Rebind("SELECT doc FROM "+table+" WHERE id = ?"), id)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("row %d: err = %v, want one saying %q", id, err, wantErr)
		}
		if err != nil && (strings.Contains(err.Error(), "not json") || strings.Contains(err.Error(), "42")) {
			t.Errorf("row %d: the error quotes the column: %v", id, err)
		}
	}
}
