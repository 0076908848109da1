package cases

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/deadline"
)

// refreshDeadlines recomputes every sub-case's deadlines (clock start, limit, pauses) and the
// case's: a waiting sub-case is projected after its prerequisites, so the case deadline follows
// the prerequisite critical path.
func (s *Service) refreshDeadlines(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time) error {
	_, _, _, err := s.refreshDeadlinesRead(ctx, tx, caseID, now, false)
	return err
}

// refreshDeadlinesRead is refreshDeadlines returning the case, its sub-cases and their pauses as
// read, the deadlines as now written; their forms only when forms says so. Only the deadlines that changed are written: all the sub-cases'
// in one statement, then the case's.
func (s *Service) refreshDeadlinesRead(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time, forms bool) (caseRow, []subcaseRow, []pauseRow, error) {
	caseCols, subCols := caseColumnsNoForm, subcaseColumnsNoForm
	if forms {
		caseCols, subCols = "*", "*"
	}
	var c caseRow
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT `+caseCols+` FROM cases WHERE id = ?`), caseID); err != nil {
		return c, nil, nil, err
	}
	var subs []subcaseRow
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT `+subCols+` FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return c, nil, nil, err
	}
	var pauses []pauseRow
	if err := tx.SelectContext(ctx, &pauses, tx.Rebind(`SELECT p.* FROM subcase_pauses p JOIN subcases s ON s.id = p.subcase_id WHERE s.case_id = ?`), caseID); err != nil {
		return c, nil, nil, err
	}
	changed, caseChanged := s.computeDeadlines(&c, subs, pauses, now)
	var ids, promised, statutory []any
	for _, i := range changed {
		sc := subs[i]
		ids, promised, statutory = append(ids, sc.ID), append(promised, sc.ID, sc.DuePromised), append(statutory, sc.ID, sc.DueStatutory)
	}
	if len(ids) > 0 {
		when := strings.Repeat(" WHEN ? THEN ?", len(ids))
		in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
		args := append(append(promised, statutory...), ids...)
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET due_promised = CASE id`+when+` END,
			due_statutory = CASE id`+when+` END WHERE id IN (`+in+`)`), args...); err != nil {
			return c, nil, nil, err
		}
	}
	if !caseChanged {
		return c, subs, pauses, nil
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET due_promised = ?, due_statutory = ? WHERE id = ?`), c.DuePromised, c.DueStatutory, caseID)
	return c, subs, pauses, err
}

// computeDeadlines recomputes, in c and subs, the deadlines of the sub-cases (clock start,
// limit, pauses) and of the case: a waiting sub-case is projected after its prerequisites, so
// the case deadline follows the prerequisite critical path. It returns the indexes of the
// sub-cases whose deadlines changed and whether the case's did; a decided sub-case keeps the
// deadlines it had.
func (s *Service) computeDeadlines(c *caseRow, subs []subcaseRow, pauses []pauseRow, now time.Time) (changed []int, caseChanged bool) {
	byID := map[string][]deadline.Pause{}
	for _, p := range pauses {
		byID[p.SubcaseID] = append(byID[p.SubcaseID], deadline.Pause{Start: p.StartedAt.Time, End: p.EndedAt.Time})
	}
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
					if ps := pd.statutoryOr(); ps.After(start.statutory) {
						start.statutory = ps
					}
				}
			}
			d = due{s.limitDue(start.promised, sc.PromisedDays, sc.PromisedUnit, nil, now), s.limitDue(start.statutory, sc.StatutoryDays, sc.StatutoryUnit, nil, now)}
		} else {
			start := sc.ClockStart.Time
			if start.IsZero() {
				start = c.SubmittedAt.Time
			}
			d = due{s.limitDue(start, sc.PromisedDays, sc.PromisedUnit, byID[sc.ID], now), s.limitDue(start, sc.StatutoryDays, sc.StatutoryUnit, byID[sc.ID], now)}
		}
		dues[sc.MatterCode] = d
		return d
	}
	var caseDue due
	for i, sc := range subs {
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
		p, st := dateOf(d.promised), dateOf(d.statutory)
		if p == sc.DuePromised && st == sc.DueStatutory {
			continue
		}
		subs[i].DuePromised, subs[i].DueStatutory = p, st
		changed = append(changed, i)
	}
	if caseDue.promised.IsZero() {
		return changed, false
	}
	p, st := dateOf(caseDue.promised), dateOf(caseDue.statutory)
	if p == c.DuePromised && st == c.DueStatutory {
		return changed, false
	}
	c.DuePromised, c.DueStatutory = p, st
	return changed, true
}

// due is a sub-case's (or a case's) deadlines; statutory is zero where no rule sets a limit.
type due struct{ promised, statutory time.Time }

// statutoryOr returns the statutory deadline, or the promised one where no statutory limit is
// set: what a later sub-case's statutory clock is projected to start after.
func (d due) statutoryOr() time.Time {
	if d.statutory.IsZero() {
		return d.promised
	}
	return d.statutory
}

// UnitNone is the statutory unit of a sub-case whose matter has no statutory limit (the
// catalogue's LimitNone): nothing is due by law, so it has no statutory deadline.
const UnitNone = "none"

// limitOf returns the days and unit a sub-case stores for a catalogue limit: a handling limit's
// own, 0 working days for an on-the-spot matter (due the day its clock starts), and UnitNone for
// a limit no rule sets.
func limitOf(l catalogue.Limit) (int, string) {
	if n, unit := l.Count(); unit != "" {
		return n, unit
	}
	return 0, UnitNone
}

// limitDue returns the deadline of a limit of n days in unit started at start, extended by its
// pauses; the zero time for UnitNone.
func (s *Service) limitDue(start time.Time, n int, unit string, pauses []deadline.Pause, now time.Time) time.Time {
	if unit == UnitNone {
		return time.Time{}
	}
	return s.cal.Due(start, n, unit, pauses, now)
}

// dateOf formats a deadline as stored (YYYY-MM-DD), "" for none.
func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}
