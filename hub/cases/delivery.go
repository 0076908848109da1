package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/connector"
	"yjshub/hub/store"
)

// RecordDelivered records that a department system took a sub-case. A repeat of the same
// message id changes nothing. Deliveries reported at about the same time are recorded together
// in one transaction (deliverybatch.go).
func (s *Service) RecordDelivered(ctx context.Context, d connector.Delivery) error {
	return s.recordDelivered(ctx, d)
}

// RecordFailed records that a department system refused a sub-case for good (a 4xx answer or
// an undecodable message); reason must not contain personal data.
func (s *Service) RecordFailed(ctx context.Context, d connector.Delivery, reason string) error {
	return s.recordDelivery(ctx, d, "failed", reason)
}

func (s *Service) recordDelivery(ctx context.Context, d connector.Delivery, outcome, reason string) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		// A repeat with the same outcome changes nothing; a replayed dead letter that now got
		// through turns "failed" into "delivered".
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO deliveries (event_id, subcase_id, department, outcome, status, attempts, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET outcome = excluded.outcome, status = excluded.status,
			attempts = excluded.attempts, reason = excluded.reason, at = excluded.at WHERE deliveries.outcome <> excluded.outcome`),
			d.EventID, d.SubcaseID, d.Department, outcome, d.Status, d.Attempts, reason, store.NewTimestamp(at))
		if err != nil {
			return fmt.Errorf("recording a delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || d.SubcaseID == "" {
			return nil // a repeat, or a message that named no sub-case
		}
		// The step's number: the one reserved when the sub-case was dispatched, taken with the
		// sub-case's row alone; else (a later message, or a sub-case dispatched before numbers
		// were reserved) the case's next, its row taken before the sub-case's, the order a
		// department's callback takes them in, so the two never wait for each other in a cycle.
		var sc struct {
			CaseID string        `db:"case_id"`
			Seq    sql.NullInt64 `db:"delivered_seq"`
		}
		err = tx.GetContext(ctx, &sc, tx.Rebind(`SELECT case_id, delivered_seq FROM subcases WHERE id = ?`), d.SubcaseID)
		if errors.Is(err, errNoRows) {
			// A message about a sub-case this store does not hold (another deployment's, or
			// one from before a restore): keep the delivery record, and let the connector
			// move on rather than stall the partition on it.
			s.cfg.Logger.Warn("delivery of an unknown sub-case", "subcase", d.SubcaseID, "department", d.Department, "outcome", outcome)
			return nil
		}
		if err != nil {
			return err
		}
		seq := 0
		if sc.Seq.Valid {
			res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET delivered_seq = NULL WHERE id = ? AND delivered_seq = ?`), d.SubcaseID, sc.Seq.Int64)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				seq = int(sc.Seq.Int64)
			}
		}
		if seq == 0 {
			if err := tx.GetContext(ctx, &seq, tx.Rebind(`UPDATE cases SET event_seq = event_seq + 1 WHERE id = ? RETURNING event_seq`), sc.CaseID); err != nil {
				return err
			}
		}
		c := struct{ ID string }{sc.CaseID}
		step := timelineStep{subcaseID: d.SubcaseID, typ: StepDeliveryFailed, detail: s.deptName(d.Department) + ": " + reason}
		set, args := `delivery_error = ?`, []any{reason}
		if outcome == "delivered" {
			set, args = `delivered_at = ?, delivery_error = ''`, []any{store.NewTimestamp(at)}
			step.typ, step.detail = StepDelivered, fmt.Sprintf("%s system took it (HTTP %d, attempt %d)", s.deptName(d.Department), d.Status, d.Attempts)
			if d.Status == 0 {
				// Not over HTTP: the department consumed it from Kafka (or its front-end database).
				step.detail = s.deptName(d.Department) + " system took it"
			}
		}
		if err := s.insertSteps(ctx, tx, c.ID, seq-1, at, step); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET `+set+` WHERE id = ?`), append(args, d.SubcaseID)...)
		return err
	})
}
