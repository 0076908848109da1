package casepush

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/connectors/delivery"
	"yjshub/hub/store"
)

// Push states in the connector_pushes table.
const (
	StatePushed  = "pushed"
	StateRefused = "refused"
)

// Ledger records which steps a connector has pushed, in the connector_pushes table. It is safe
// for concurrent use.
type Ledger struct {
	st        *store.Store
	connector string
}

// NewLedger returns the ledger of the connector named connector.
func NewLedger(st *store.Store, connector string) *Ledger {
	return &Ledger{st: st, connector: connector}
}

// States returns the recorded state of each of keys that has one.
func (l *Ledger) States(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT push_key, state FROM connector_pushes WHERE connector = ? AND push_key IN (?)`, l.connector, keys)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Key   string `db:"push_key"`
		State string `db:"state"`
	}
	db := l.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("reading the pushes of %s: %w", l.connector, err)
	}
	for _, r := range rows {
		out[r.Key] = r.State
	}
	return out, nil
}

// Mark records what became of a step: state is StatePushed or StateRefused; reason must be
// free of secrets and personal data.
func (l *Ledger) Mark(ctx context.Context, s Step, state string, r delivery.Result, at time.Time) error {
	db := l.st.DB()
	_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO connector_pushes (connector, push_key, case_id, step, state, status, attempts, reason, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connector, push_key) DO UPDATE SET state = excluded.state, status = excluded.status,
		attempts = connector_pushes.attempts + excluded.attempts, reason = excluded.reason, updated_at = excluded.updated_at`),
		l.connector, s.Key, s.CaseID, s.Name, state, r.Status, r.Attempts, r.Reason, store.NewTimestamp(at))
	if err != nil {
		return fmt.Errorf("recording push %s of %s: %w", s.Key, l.connector, err)
	}
	return nil
}

// Counts returns how many steps are recorded in each state.
func (l *Ledger) Counts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string `db:"state"`
		N     int64  `db:"n"`
	}
	db := l.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT state, COUNT(*) AS n FROM connector_pushes WHERE connector = ? GROUP BY state`), l.connector); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}
