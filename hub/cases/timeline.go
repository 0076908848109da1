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

// timelineStep is one entry addTimelineSteps appends: detail is for operators, text for the
// applicant (composed from the step, its department and matter when empty; see applicantText),
// data the step's facts that the change feed carries (受理时间, what a supplement asks for …).
type timelineStep struct {
	subcaseID, typ, detail string
	text                   string
	extra                  string // appended to the composed text
	data                   map[string]any
	// names are the sub-case's department and matter names, when the caller has them in hand;
	// otherwise addTimelineSteps reads them.
	names *subcaseName
}

// addTimelineSteps appends steps, in order and all at one time, to a case's timeline: one
// UPDATE that takes their numbers and one INSERT. Each step is also an entry of the change
// feed (GET /api/v1/events), numbered there once its transaction has committed (feed.go).
func (s *Service) addTimelineSteps(ctx context.Context, tx *sqlx.Tx, caseID string, at time.Time, steps ...timelineStep) error {
	if len(steps) == 0 {
		return nil
	}
	// Taking the numbers holds the case's row to the end of the transaction, so two
	// transactions never give one number twice.
	var next int
	if err := tx.GetContext(ctx, &next, tx.Rebind(`UPDATE cases SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq`), len(steps), caseID); err != nil {
		return fmt.Errorf("numbering the timeline: %w", err)
	}
	return s.insertSteps(ctx, tx, caseID, next-len(steps), at, steps...)
}

// insertSteps inserts steps numbered after last, which the caller has taken from the case's
// event_seq.
func (s *Service) insertSteps(ctx context.Context, tx *sqlx.Tx, caseID string, last int, at time.Time, steps ...timelineStep) error {
	names, err := s.subcaseNames(ctx, tx, caseID, steps)
	if err != nil {
		return err
	}
	ts := store.NewTimestamp(at)
	rows := make([][]any, len(steps))
	for i, st := range steps {
		n := names[st.subcaseID]
		if st.names != nil {
			n = *st.names
		}
		rows[i] = stepRow(caseID, last+1+i, ts, st, n)
	}
	if err := store.InsertRows(ctx, tx, "case_events", caseEventColumns, rows); err != nil {
		return fmt.Errorf("recording the timeline: %w", err)
	}
	return nil
}

// caseEventColumns are the columns of a timeline step's row, as stepRow gives them.
var caseEventColumns = []string{"case_id", "seq", "at", "subcase_id", "type", "detail", "text", "data"}

// stepRow is the case_events row of a step numbered seq, its sub-case named n.
func stepRow(caseID string, seq int, ts store.Timestamp, st timelineStep, n subcaseName) []any {
	text := st.applicantText(n)
	data := st.data
	if data == nil {
		data = map[string]any{}
	}
	return []any{caseID, seq, ts, st.subcaseID, st.typ, st.detail, text, store.JSONOf(data)}
}

// applicantText is the step's text for the applicant ("" for an operators' step), its
// sub-case named n.
func (st timelineStep) applicantText(n subcaseName) string {
	if st.text == "" && !operatorOnly[st.typ] {
		return applicantText(st.typ, n.dept, n.matter, st.extra)
	}
	return st.text
}

type subcaseName struct{ dept, matter string }

// namesOf returns a sub-case's department and matter names for its timeline steps.
func (s *Service) namesOf(sc subcaseRow) *subcaseName {
	return &subcaseName{dept: s.deptName(sc.Department), matter: sc.MatterName}
}

// subcaseNames returns the department and matter names of the sub-cases steps name.
func (s *Service) subcaseNames(ctx context.Context, tx *sqlx.Tx, caseID string, steps []timelineStep) (map[string]subcaseName, error) {
	need := false
	for _, st := range steps {
		need = need || (st.subcaseID != "" && st.text == "" && st.names == nil && !operatorOnly[st.typ])
	}
	out := map[string]subcaseName{}
	if !need {
		return out, nil
	}
	var rows []struct {
		ID         string `db:"id"`
		MatterName string `db:"matter_name"`
		Department string `db:"department"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, matter_name, department FROM subcases WHERE case_id = ?`), caseID); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ID] = subcaseName{dept: s.deptName(r.Department), matter: r.MatterName}
	}
	return out, nil
}
