package cases

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
)

// refreshDeadlines recomputes every sub-case's deadlines (clock start, limit, pauses) and the
// case's: a waiting sub-case is projected after its prerequisites, so the case deadline follows
// the prerequisite critical path.
func (s *Service) refreshDeadlines(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time) error {
	var c caseRow
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return err
	}
	var subs []subcaseRow
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return err
	}
	var pauses []pauseRow
	if err := tx.SelectContext(ctx, &pauses, tx.Rebind(`SELECT p.* FROM subcase_pauses p JOIN subcases s ON s.id = p.subcase_id WHERE s.case_id = ?`), caseID); err != nil {
		return err
	}
	byID := map[string][]deadline.Pause{}
	for _, p := range pauses {
		byID[p.SubcaseID] = append(byID[p.SubcaseID], deadline.Pause{Start: p.StartedAt.Time, End: p.EndedAt.Time})
	}
	type due struct{ promised, statutory time.Time }
	dues := map[string]due{}
	var resolve func(sc subcaseRow, depth int) due
	byMatter := map[string]subcaseRow{}
	for _, sc := range subs {
		byMatter[sc.MatterCode] = sc
	}
	resolve = func(sc subcaseRow, depth int) due {
		if d, ok := dues[sc.MatterCode]; ok {
			return d
		}
		var d due
		if sc.State == StateWaiting && depth < len(subs) {
			pre := sc.Prerequisites.V
			start := due{promised: c.SubmittedAt.Time, statutory: c.SubmittedAt.Time}
			for _, p := range pre {
				if ps, ok := byMatter[p]; ok {
					pd := resolve(ps, depth+1)
					if pd.promised.After(start.promised) {
						start.promised = pd.promised
					}
					if pd.statutory.After(start.statutory) {
						start.statutory = pd.statutory
					}
				}
			}
			d = due{s.cal.AddWorkingDays(start.promised, sc.PromisedDays), s.cal.AddWorkingDays(start.statutory, sc.StatutoryDays)}
		} else {
			start := sc.ClockStart.Time
			if start.IsZero() {
				start = c.SubmittedAt.Time
			}
			d = due{s.cal.Due(start, sc.PromisedDays, byID[sc.ID], now), s.cal.Due(start, sc.StatutoryDays, byID[sc.ID], now)}
		}
		dues[sc.MatterCode] = d
		return d
	}
	var caseDue due
	for _, sc := range subs {
		d := resolve(sc, 0)
		if sc.State != StateCancelled {
			if d.promised.After(caseDue.promised) {
				caseDue.promised = d.promised
			}
			if d.statutory.After(caseDue.statutory) {
				caseDue.statutory = d.statutory
			}
		}
		if terminal(sc.State) && sc.DuePromised != "" {
			continue // decided: its deadlines stay as they were
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET due_promised = ?, due_statutory = ? WHERE id = ?`),
			d.promised.Format(time.DateOnly), d.statutory.Format(time.DateOnly), sc.ID); err != nil {
			return err
		}
	}
	if caseDue.promised.IsZero() {
		return nil
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET due_promised = ?, due_statutory = ? WHERE id = ?`),
		caseDue.promised.Format(time.DateOnly), caseDue.statutory.Format(time.DateOnly), caseID)
	return err
}
