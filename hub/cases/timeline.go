package cases

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/store"
)

// addTimeline appends a step to a case's timeline. Callers hold the case (lockCase) or created
// it in this transaction, so the next sequence number is theirs.
func (s *Service) addTimeline(ctx context.Context, tx *sqlx.Tx, caseID, subcaseID, typ, detail string, at time.Time) error {
	return s.addTimelineSteps(ctx, tx, caseID, at, timelineStep{subcaseID: subcaseID, typ: typ, detail: detail})
}

// timelineStep is one entry addTimelineSteps appends.
type timelineStep struct{ subcaseID, typ, detail string }

// addTimelineSteps appends steps, in order and all at one time, to a case's timeline: one
// read of the last sequence number and one INSERT.
func (s *Service) addTimelineSteps(ctx context.Context, tx *sqlx.Tx, caseID string, at time.Time, steps ...timelineStep) error {
	if len(steps) == 0 {
		return nil
	}
	var last int
	if err := tx.GetContext(ctx, &last, tx.Rebind(`SELECT COALESCE(MAX(seq), 0) FROM case_events WHERE case_id = ?`), caseID); err != nil {
		return err
	}
	ts := store.NewTimestamp(at)
	rows := make([][]any, len(steps))
	for i, st := range steps {
		rows[i] = []any{caseID, last + 1 + i, ts, st.subcaseID, st.typ, st.detail}
	}
	if err := store.InsertRows(ctx, tx, "case_events", []string{"case_id", "seq", "at", "subcase_id", "type", "detail"}, rows); err != nil {
		return fmt.Errorf("recording the timeline: %w", err)
	}
	return nil
}
