package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// maxLastErrorBytes bounds the error text kept per outbox message.
const maxLastErrorBytes = 2048

// markPublishedBatch bounds the ids per UPDATE, well under both databases'
// limits on bound parameters.
const markPublishedBatch = 500

// OutboxMessage is a Kafka message written in the same transaction as the
// state change it announces, for the relay to publish afterwards.
type OutboxMessage struct {
	// ID is assigned by the database when the message is enqueued; it orders
	// messages by insertion.
	ID int64
	// EventID is the event's unique id (the envelope's id); the store refuses
	// a second message with the same one.
	EventID string
	// Topic is the Kafka topic to publish to.
	Topic string
	// Key is the Kafka message key (the case id, so a case's events stay in order).
	Key string
	// Payload is the message value: the JSON event envelope. It must be valid
	// UTF-8 without NUL bytes.
	Payload []byte
	// Headers are Kafka headers; nil and empty are the same.
	Headers map[string]string
	// CreatedAt is when the message was enqueued, in UTC; EnqueueOutbox sets
	// it to the current time when zero.
	CreatedAt time.Time
	// PublishedAt is when the relay published the message; zero while pending.
	PublishedAt time.Time
	// Attempts counts failed publish attempts.
	Attempts int
	// LastError is the most recent failed attempt's error, truncated.
	LastError string
}

// validate reports every problem with m at once.
func (m OutboxMessage) validate() error {
	var errs []error
	if m.EventID == "" {
		errs = append(errs, errors.New("event id is empty"))
	}
	if m.Topic == "" {
		errs = append(errs, errors.New("topic is empty"))
	}
	if !isStorableText(string(m.Payload)) {
		errs = append(errs, errors.New("payload is not valid UTF-8 text without NUL bytes"))
	}
	for k, v := range m.Headers {
		if !isStorableText(k) || !isStorableText(v) {
			errs = append(errs, fmt.Errorf("header %q is not valid UTF-8 text without NUL bytes", k))
		}
	}
	for _, f := range []struct{ name, v string }{{"event id", m.EventID}, {"topic", m.Topic}, {"key", m.Key}} {
		if !isStorableText(f.v) {
			errs = append(errs, fmt.Errorf("%s is not valid UTF-8 text without NUL bytes", f.name))
		}
	}
	return errors.Join(errs...)
}

// isStorableText reports whether both backends accept s in a TEXT column:
// PostgreSQL refuses invalid UTF-8 and NUL.
func isStorableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// outboxRow is an outbox row as the database holds it.
type outboxRow struct {
	ID          int64                   `db:"id"`
	EventID     string                  `db:"event_id"`
	Topic       string                  `db:"topic"`
	Key         string                  `db:"msg_key"`
	Payload     string                  `db:"payload"`
	Headers     JSON[map[string]string] `db:"headers"`
	CreatedAt   Timestamp               `db:"created_at"`
	PublishedAt Timestamp               `db:"published_at"`
	Attempts    int                     `db:"attempts"`
	LastError   sql.NullString          `db:"last_error"`
}

func (r outboxRow) message() OutboxMessage {
	m := OutboxMessage{
		ID:          r.ID,
		EventID:     r.EventID,
		Topic:       r.Topic,
		Key:         r.Key,
		Payload:     []byte(r.Payload),
		CreatedAt:   r.CreatedAt.Time,
		PublishedAt: r.PublishedAt.Time,
		Attempts:    r.Attempts,
		LastError:   r.LastError.String,
		Headers:     r.Headers.V,
	}
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	return m
}

// EnqueueOutbox writes msgs to the outbox inside the caller's transaction, so
// they are published if and only if the transaction commits. Every message is
// checked before anything is written, and every problem is reported.
func (s *Store) EnqueueOutbox(ctx context.Context, tx *sqlx.Tx, msgs ...OutboxMessage) error {
	if tx == nil {
		return errors.New("store: enqueue outbox: no transaction")
	}
	var w Writes
	w.Outbox(msgs...)
	return w.execEach(ctx, tx)
}

// Outbox adds what EnqueueOutbox would send: every message is checked first, and every
// problem is kept.
func (w *Writes) Outbox(msgs ...OutboxMessage) {
	var errs []error
	for i, m := range msgs {
		if err := m.validate(); err != nil {
			errs = append(errs, fmt.Errorf("message %d (event %q): %w", i, m.EventID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		w.errs = append(w.errs, fmt.Errorf("store: enqueue outbox: %w", err))
		return
	}
	if len(msgs) == 0 {
		return
	}
	enqueuedAt := now()
	rows := make([][]any, len(msgs))
	for i, m := range msgs {
		headers, err := JSONOf(m.Headers).Value()
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("store: enqueue outbox event %s: %w", m.EventID, err))
			return
		}
		created := enqueuedAt
		if !m.CreatedAt.IsZero() {
			created = NewTimestamp(m.CreatedAt)
		}
		// Payload goes in as a string: it is TEXT on both backends.
		rows[i] = []any{m.EventID, m.Topic, m.Key, string(m.Payload), headers, created, 0}
	}
	// One statement for the lot; the rows take their ids, and so their publishing order, in
	// the order given.
	w.InsertRows("outbox", []string{"event_id", "topic", "msg_key", "payload", "headers", "created_at", "attempts"}, rows)
}

// PendingOutbox returns up to limit unpublished messages, oldest first —
// including those whose publishing has failed before, which the caller may
// hold back by their Attempts.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error) {
	return s.pending(ctx, s.db, limit)
}

func (s *Store) pending(ctx context.Context, db sqlx.QueryerContext, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: pending outbox: limit %d is not positive", limit)
	}
	var rows []outboxRow
	err := sqlx.SelectContext(ctx, db, &rows, s.rebind(`
		SELECT id, event_id, topic, msg_key, payload, headers, created_at, published_at, attempts, last_error
		FROM outbox
		WHERE published_at IS NULL
		ORDER BY id
		LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending outbox: %w", err)
	}
	msgs := make([]OutboxMessage, 0, len(rows))
	for _, r := range rows {
		msgs = append(msgs, r.message())
	}
	return msgs, nil
}

// MarkOutboxPublished records that the messages with the given ids have been
// published, taking them out of [Store.PendingOutbox]. Ids already published
// keep their first publication time; unknown ids are ignored, so a relay may
// repeat the call after a crash.
func (s *Store) MarkOutboxPublished(ctx context.Context, ids ...int64) error {
	return s.markPublished(ctx, s.db, ids)
}

func (s *Store) markPublished(ctx context.Context, db sqlx.ExecerContext, ids []int64) error {
	at := now()
	for len(ids) > 0 {
		batch := ids[:min(len(ids), markPublishedBatch)]
		ids = ids[len(batch):]
		query, args, err := sqlx.In(`
			UPDATE outbox SET published_at = ?
			WHERE published_at IS NULL AND id IN (?)`, at, batch)
		if err != nil {
			return fmt.Errorf("store: mark outbox published: %w", err)
		}
		if _, err := db.ExecContext(ctx, s.rebind(query), args...); err != nil {
			return fmt.Errorf("store: mark outbox published: %w", err)
		}
	}
	return nil
}

// MarkOutboxFailed records a failed attempt to publish message id: it counts
// the attempt and keeps errMsg, truncated, as the message's last error. The
// message stays pending. An unknown id is an error matching [ErrNotFound].
func (s *Store) MarkOutboxFailed(ctx context.Context, id int64, errMsg string) error {
	return s.markFailed(ctx, s.db, id, errMsg)
}

func (s *Store) markFailed(ctx context.Context, db sqlx.ExecerContext, id int64, errMsg string) error {
	res, err := db.ExecContext(ctx, s.rebind(`
		UPDATE outbox SET attempts = attempts + 1, last_error = ?
		WHERE id = ?`), storableText(errMsg, maxLastErrorBytes), id)
	if err != nil {
		return fmt.Errorf("store: mark outbox message %d failed: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: mark outbox message %d failed: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: mark outbox message %d failed: %w", id, ErrNotFound)
	}
	return nil
}

// storableText makes s acceptable to a TEXT column on both backends and at
// most maxBytes long, cutting on a rune boundary.
func storableText(s string, maxBytes int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// outboxTurn is the PostgreSQL advisory lock key of the outbox's publishing turn.
const outboxTurn = 7_310_002

// PublishOutbox publishes the oldest pending messages, up to limit, in the outbox's publishing
// turn: it reads them, hands them to publish, and marks them published when publish returns
// nil, or records a failed attempt of each (they stay pending) when it does not, returning its
// error. n is how many were published.
//
// On PostgreSQL the turn is a transaction-scoped advisory lock, held from the read to the
// mark: while one hub instance publishes, another that asks gets busy = true and publishes
// nothing, so several instances publish each message once (outside crashes, after which the
// next turn publishes again what was published but not marked) and in the order it was
// written, which per-row claims (SKIP LOCKED) would not keep across batches of one case. On
// SQLite a store has one connection and one hub, so the turn is simply the call.
func (s *Store) PublishOutbox(ctx context.Context, limit int, publish func([]OutboxMessage) error) (n int, busy bool, err error) {
	if s.dialect != DialectPostgres {
		return s.publishIn(ctx, s.db, limit, publish)
	}
	var publishErr error
	err = s.InTx(ctx, func(tx *sqlx.Tx) error {
		var got bool
		if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, outboxTurn); err != nil {
			return fmt.Errorf("store: outbox turn: %w", err)
		}
		if !got {
			busy = true
			return nil
		}
		n, _, publishErr = s.publishIn(ctx, tx, limit, publish)
		return nil // the marks, failed attempts included, are committed
	})
	switch {
	case busy:
		return 0, true, nil
	case err != nil:
		return 0, false, err
	}
	return n, false, publishErr
}

// publishIn is one publishing round on db (the store's connection, or the turn's transaction).
func (s *Store) publishIn(ctx context.Context, db sqlx.ExtContext, limit int, publish func([]OutboxMessage) error) (int, bool, error) {
	msgs, err := s.pending(ctx, db, limit)
	if err != nil || len(msgs) == 0 {
		return 0, false, err
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	if perr := publish(msgs); perr != nil {
		if ctx.Err() == nil {
			var errs []error
			for _, id := range ids {
				errs = append(errs, s.markFailed(ctx, db, id, perr.Error()))
			}
			if e := errors.Join(errs...); e != nil {
				return 0, false, errors.Join(perr, e)
			}
		}
		return 0, false, perr
	}
	if err := s.markPublished(ctx, db, ids); err != nil {
		return 0, false, err
	}
	return len(msgs), false, nil
}
