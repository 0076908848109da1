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

// recordDeliveredAlone records one delivery in a transaction of its own: what a batch that
// failed as a whole falls back to.
func (s *Service) recordDeliveredAlone(ctx context.Context, d connector.Delivery) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO deliveries (event_id, subcase_id, department, outcome, status, attempts, reason, at)
			VALUES (?, ?, ?, 'delivered', ?, ?, '', ?) ON CONFLICT (event_id) DO UPDATE SET outcome = excluded.outcome, status = excluded.status,
			attempts = excluded.attempts, reason = excluded.reason, at = excluded.at, next_attempt_at = NULL WHERE deliveries.outcome <> excluded.outcome`),
			d.EventID, d.SubcaseID, d.Department, d.Status, d.Attempts, store.NewTimestamp(at))
		if err != nil {
			return fmt.Errorf("recording a delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || d.SubcaseID == "" {
			return nil // a repeat, or a message that named no sub-case
		}
		caseID, seq, err := s.deliveryStepSeq(ctx, tx, d.SubcaseID)
		if err != nil || caseID == "" {
			return err
		}
		step := timelineStep{subcaseID: d.SubcaseID, typ: StepDelivered,
			detail: fmt.Sprintf("%s system took it (HTTP %d, attempt %d)", s.deptName(d.Department), d.Status, d.Attempts)}
		if d.Status == 0 {
			// Not over HTTP: the department consumed it from Kafka (or its front-end database).
			step.detail = s.deptName(d.Department) + " system took it"
		}
		if err := s.insertSteps(ctx, tx, caseID, seq-1, at, step); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET delivered_at = ?, delivery_error = '' WHERE id = ?`), store.NewTimestamp(at), d.SubcaseID)
		return err
	})
}

// RecordFailed records that a department system refused a sub-case for good (a 4xx answer or
// an undecodable message), and the dead letter that keeps it; reason must not contain personal
// data.
func (s *Service) RecordFailed(ctx context.Context, d connector.Delivery, reason, deadLetterID string) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		// A repeat with the same outcome changes nothing; a replayed dead letter that now got
		// through turns "failed" into "delivered" (the delivery batch).
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO deliveries (event_id, subcase_id, department, outcome, status, attempts, reason, at, dead_letter_id)
			VALUES (?, ?, ?, 'failed', ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET outcome = excluded.outcome, status = excluded.status,
			attempts = excluded.attempts, reason = excluded.reason, at = excluded.at, next_attempt_at = NULL, dead_letter_id = excluded.dead_letter_id
			WHERE deliveries.outcome <> excluded.outcome`),
			d.EventID, d.SubcaseID, d.Department, d.Status, d.Attempts, reason, store.NewTimestamp(at), deadLetterID)
		if err != nil {
			return fmt.Errorf("recording a delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || d.SubcaseID == "" {
			return nil // a repeat, or a message that named no sub-case
		}
		caseID, seq, err := s.deliveryStepSeq(ctx, tx, d.SubcaseID)
		if err != nil || caseID == "" {
			return err
		}
		step := timelineStep{subcaseID: d.SubcaseID, typ: StepDeliveryFailed, detail: s.deptName(d.Department) + ": " + reason}
		if deadLetterID != "" {
			step.detail += " (dead letter " + deadLetterID + ")"
		}
		if err := s.insertSteps(ctx, tx, caseID, seq-1, at, step); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET delivery_error = ? WHERE id = ?`), reason, d.SubcaseID)
		if err == nil {
			s.cfg.Logger.Warn("sub-case delivery failed", "case_id", caseID, "subcase_id", d.SubcaseID, "department", d.Department,
				"dead_letter", deadLetterID, "reason", reason)
		}
		return err
	})
}

// RecordRetrying records that a message to a department failed and is being tried again: the
// first such note of a message adds a step to the case's timeline (operators only); later ones
// move the count of attempts and the time of the next. A message already delivered is left as
// it is. reason must not contain personal data.
func (s *Service) RecordRetrying(ctx context.Context, r connector.Retry) error {
	if r.SubcaseID == "" || r.EventID == "" {
		return nil
	}
	at := r.At
	if at.IsZero() {
		at = s.now()
	}
	next := store.NewTimestamp(r.NextAt)
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO deliveries (event_id, subcase_id, department, outcome, status, attempts, reason, at, next_attempt_at)
			VALUES (?, ?, ?, 'retrying', ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`),
			r.EventID, r.SubcaseID, r.Department, r.Status, r.Attempts, r.Reason, store.NewTimestamp(at), next)
		if err != nil {
			return fmt.Errorf("recording a retry: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Noted before (or replayed after a failure): the attempts move on.
			_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE deliveries SET outcome = 'retrying', status = ?, attempts = ?, reason = ?, at = ?,
				next_attempt_at = ? WHERE event_id = ? AND outcome <> 'delivered'`), r.Status, r.Attempts, r.Reason, store.NewTimestamp(at), next, r.EventID)
			return err
		}
		caseID, seq, err := s.deliveryStepSeq(ctx, tx, r.SubcaseID)
		if err != nil || caseID == "" {
			return err
		}
		s.cfg.Logger.Info("sub-case delivery is being retried", "case_id", caseID, "subcase_id", r.SubcaseID, "department", r.Department,
			"attempts", r.Attempts, "reason", r.Reason)
		step := timelineStep{subcaseID: r.SubcaseID, typ: StepDeliveryRetrying,
			detail: fmt.Sprintf("%s: %s; trying again (attempt %d failed)", s.deptName(r.Department), r.Reason, r.Attempts)}
		return s.insertSteps(ctx, tx, caseID, seq-1, at, step)
	})
}

// deliveryStepSeq returns the case of a sub-case and the number of the next delivery step on
// its timeline: the one reserved when the sub-case was dispatched, taken with the sub-case's
// row alone; else (a later message, or a sub-case dispatched before numbers were reserved) the
// case's next, its row taken before the sub-case's, the order a department's callback takes
// them in, so the two never wait for each other in a cycle. caseID is "" for a sub-case this
// store does not hold (another deployment's, or one from before a restore): the caller keeps
// its delivery record and lets the connector move on rather than stall the partition on it.
func (s *Service) deliveryStepSeq(ctx context.Context, tx *sqlx.Tx, subcaseID string) (caseID string, seq int, err error) {
	var sc struct {
		CaseID string        `db:"case_id"`
		Seq    sql.NullInt64 `db:"delivered_seq"`
	}
	err = tx.GetContext(ctx, &sc, tx.Rebind(`SELECT case_id, delivered_seq FROM subcases WHERE id = ?`), subcaseID)
	if errors.Is(err, errNoRows) {
		s.cfg.Logger.Warn("delivery of an unknown sub-case", "subcase", subcaseID)
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	if sc.Seq.Valid {
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET delivered_seq = NULL WHERE id = ? AND delivered_seq = ?`), subcaseID, sc.Seq.Int64)
		if err != nil {
			return "", 0, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return sc.CaseID, int(sc.Seq.Int64), nil
		}
	}
	if err := tx.GetContext(ctx, &seq, tx.Rebind(`UPDATE cases SET event_seq = event_seq + 1 WHERE id = ? RETURNING event_seq`), sc.CaseID); err != nil {
		return "", 0, err
	}
	return sc.CaseID, seq, nil
}
