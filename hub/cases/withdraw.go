package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/bus"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// Withdrawal is an applicant's withdrawal (撤件) of a case, or of some of its optional matters,
// before their decision.
type Withdrawal struct {
	// Reason is the applicant's reason, required (at most 500 characters).
	Reason string `json:"reason"`
	// Matters, when given, are the optional matters withdrawn; omitted, the whole case is.
	Matters []string `json:"matters,omitempty"`
}

// Rules of the problems with a withdrawal.
const (
	RuleDecided       = "decided"        // the matter (or one of the case's) is decided already
	RuleNotInCase     = "not_in_case"    // the case has no such matter
	RuleRequiredStays = "required_stays" // a required matter cannot be withdrawn alone
)

// Withdraw withdraws a whole case, or some of its optional matters, before their decision:
// each withdrawn sub-case ends withdrawn, its clock stops, and its department, when the
// sub-case had reached it, is sent a cn.yjshub.subcase.withdrawn message. Sub-cases that wait
// for a withdrawn matter are cancelled. A whole case can be withdrawn only while none of its
// matters is decided; it then ends withdrawn. Withdrawing what is withdrawn already changes
// nothing and answers as before (replayed = true).
func (s *Service) Withdraw(ctx context.Context, caseID string, w Withdrawal) (view *CaseView, replayed bool, err error) {
	var ps problem.List
	w.Reason = strings.TrimFunc(w.Reason, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	switch {
	case w.Reason == "":
		ps.Add("/reason", problem.RuleRequired, "give the applicant's reason for the withdrawal")
	case len([]rune(w.Reason)) > 500:
		ps.Add("/reason", problem.RuleMaxLength, "at most 500 characters")
	}
	if w.Matters != nil && len(w.Matters) == 0 {
		ps.Add("/matters", problem.RuleRequired, "name the matters withdrawn, or leave matters out to withdraw the whole case")
	}
	if err := ps.Err(); err != nil {
		return nil, false, err
	}
	now := s.now()
	changed := false
	err = s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		c, subs, err := s.lockedCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		targets, problems := withdrawalTargets(c, subs, w)
		if len(problems) > 0 {
			return problem.New(problems...)
		}
		if len(targets) == 0 {
			return nil // withdrawn already
		}
		changed = true
		if err := s.withdrawSubcases(ctx, tx, c, targets, w.Reason, now); err != nil {
			return err
		}
		gone := map[string]bool{}
		for _, sc := range targets {
			gone[sc.MatterCode] = true
		}
		if err := s.cancelDependentsOf(ctx, tx, caseID, gone, now); err != nil {
			return err
		}
		if err := s.refreshDeadlines(ctx, tx, caseID, now); err != nil {
			return err
		}
		if err := s.complete(ctx, tx, caseID, now); err != nil {
			return err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		return s.emitCaseEvent(ctx, tx, v, now)
	})
	if err != nil {
		return nil, false, err
	}
	if changed {
		s.committed()
		s.cfg.Logger.Info("case withdrawn", "case_id", caseID, "matters", len(w.Matters))
	}
	v, err := s.Get(ctx, caseID)
	return v, !changed, err
}

// withdrawalTargets returns the sub-cases a withdrawal ends, or its problems.
func withdrawalTargets(c caseRow, subs []subcaseRow, w Withdrawal) ([]subcaseRow, []problem.Problem) {
	var ps problem.List
	var out []subcaseRow
	if w.Matters == nil {
		if c.State == CaseWithdrawn {
			return nil, nil
		}
		for _, sc := range subs {
			if sc.State == StateApproved || sc.State == StateRejected {
				ps.Add("", RuleDecided, "%s is decided already: a case can be withdrawn whole only before any decision; withdraw its optional matters one by one", sc.MatterName)
			}
			if !terminal(sc.State) {
				out = append(out, sc)
			}
		}
		return out, ps
	}
	for i, code := range w.Matters {
		path := fmt.Sprintf("/matters/%d", i)
		at := slices.IndexFunc(subs, func(sc subcaseRow) bool { return sc.MatterCode == code })
		if at < 0 {
			ps.Add(path, RuleNotInCase, "the case has no such matter")
			continue
		}
		sc := subs[at]
		switch {
		case sc.State == StateWithdrawn:
		case !sc.Optional:
			ps.Add(path, RuleRequiredStays, "%s is a required matter of the bundle: withdraw the whole case instead", sc.MatterName)
		case terminal(sc.State):
			ps.Add(path, RuleDecided, "%s is decided already (%s)", sc.MatterName, sc.State)
		case slices.ContainsFunc(out, func(o subcaseRow) bool { return o.ID == sc.ID }):
			ps.Add(path, problem.RuleDuplicate, "the matter is named twice")
		default:
			out = append(out, sc)
		}
	}
	return out, ps
}

// withdrawSubcases ends sub-cases as withdrawn and tells the departments that had them.
func (s *Service) withdrawSubcases(ctx context.Context, tx *sqlx.Tx, c caseRow, targets []subcaseRow, reason string, now time.Time) error {
	ts := store.NewTimestamp(now)
	var msgs []store.OutboxMessage
	var steps []timelineStep
	for _, sc := range targets {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, reason = ?, missing = '[]', supplement_deadline = '', updated_at = ? WHERE id = ?`),
			StateWithdrawn, reason, ts, sc.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, sc.ID); err != nil {
			return err
		}
		steps = append(steps, timelineStep{subcaseID: sc.ID, typ: StateWithdrawn, detail: s.deptName(sc.Department) + ": " + sc.MatterName + " — withdrawn by the applicant",
			data: map[string]any{"department": map[string]any{"code": sc.Department, "name": s.deptName(sc.Department)}}, names: s.namesOf(sc)})
		if sc.State == StateWaiting {
			continue // never sent: nothing to tell
		}
		data := event.SubcaseWithdrawn{CaseID: c.ID, SubcaseID: sc.ID, Matter: s.matterRef(sc), Department: sc.Department, Reason: reason, WithdrawnAt: now}
		id := newID("ev_")
		env, err := event.New(id, event.TypeSubcaseWithdrawn, sc.ID, now, data)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(env)
		if err != nil {
			return err
		}
		msgs = append(msgs, store.OutboxMessage{EventID: id, Topic: bus.SubcaseTopic(sc.Department), Key: c.ID, Payload: payload,
			Headers: map[string]string{"ce_type": event.TypeSubcaseWithdrawn, "ce_id": id}})
	}
	if err := s.addTimelineSteps(ctx, tx, c.ID, now, steps...); err != nil {
		return err
	}
	return s.st.EnqueueOutbox(ctx, tx, msgs...)
}
