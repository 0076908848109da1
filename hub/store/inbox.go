package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// MarkProcessed records, inside the caller's transaction, that consumer has
// processed event eventID, and reports whether this is the first time. A
// consumer applies its effect only when first is true, in the same
// transaction, so a redelivered event has no second effect; if the transaction
// rolls back, the event counts as unprocessed again.
//
// On PostgreSQL, a concurrent transaction marking the same event waits for
// this one to finish and then reports false if it committed.
func (s *Store) MarkProcessed(ctx context.Context, tx *sqlx.Tx, consumer, eventID string) (first bool, err error) {
	if tx == nil {
		return false, errors.New("store: mark processed: no transaction")
	}
	var errs []error
	if consumer == "" {
		errs = append(errs, errors.New("consumer is empty"))
	}
	if eventID == "" {
		errs = append(errs, errors.New("event id is empty"))
	}
	for _, f := range []struct{ name, v string }{{"consumer", consumer}, {"event id", eventID}} {
		if !isStorableText(f.v) {
			errs = append(errs, fmt.Errorf("%s is not valid UTF-8 text without NUL bytes", f.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return false, fmt.Errorf("store: mark processed: %w", err)
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO inbox (consumer, event_id, processed_at)
		VALUES (?, ?, ?)
		ON CONFLICT (consumer, event_id) DO NOTHING`),
		consumer, eventID, now())
	if err != nil {
		return false, fmt.Errorf("store: mark event %s processed by %s: %w", eventID, consumer, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: mark event %s processed by %s: %w", eventID, consumer, err)
	}
	return n == 1, nil
}
