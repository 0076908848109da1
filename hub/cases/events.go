package cases

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/bus"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/problem"
)

var topicCaseEvent = bus.TopicCaseEvent

// EventResult is the answer to a department event: the sub-case and case after it.
type EventResult struct {
	Subcase SubcaseView `json:"subcase"`
	Case    struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Outcome string `json:"outcome,omitempty"`
	} `json:"case"`
}

// validateEvent checks a department event whole.
func validateEvent(ev event.DepartmentEvent) []problem.Problem {
	var problems problem.List
	add := problems.Add
	if ev.EventID == "" || len(ev.EventID) > 128 {
		add("/event_id", problem.RuleRequired, "give the event a unique id of at most 128 characters")
	}
	if _, ok := transitions[ev.Type]; !ok {
		names := make([]string, 0, len(transitions))
		for k := range transitions {
			names = append(names, k)
		}
		sort.Strings(names)
		add("/type", problem.RuleEnum, "must be one of %s", strings.Join(names, ", "))
	}
	if ev.Type == event.Rejected && ev.Reason == "" {
		add("/reason", problem.RuleRequired, "a rejection must give its reason")
	}
	if ev.Type == event.SupplementRequested && len(ev.Missing) == 0 {
		add("/missing", problem.RuleRequired, "a supplement request must name what is missing")
	}
	for i, m := range ev.Missing {
		if (m.Material == "") == (m.Field == "") {
			add(fmt.Sprintf("/missing/%d", i), problem.RuleOneOf, "name either a material or a field")
		}
	}
	if len(ev.Licences) > 0 && ev.Type != event.Approved {
		add("/licences", problem.RuleNotAllowed, "licences come only with an approval")
	}
	for i, l := range ev.Licences {
		problems = append(problems, licences.Check(l, fmt.Sprintf("/licences/%d", i))...)
	}
	return problems
}

// ApplyEvent records what a department reports about a sub-case. An illegal transition is a
// ConflictError; the same event id sent again returns the current state without a second
// effect (replayed = true).
func (s *Service) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (res *EventResult, replayed bool, err error) {
	if problems := validateEvent(ev); len(problems) > 0 {
		return nil, false, problem.New(problems...)
	}
	now := s.now()
	at := now
	if !ev.Time.IsZero() {
		at = ev.Time.UTC()
	}
	err = s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var caseID string
		if err := tx.GetContext(ctx, &caseID, tx.Rebind(`SELECT case_id FROM subcases WHERE id = ?`), subcaseID); err != nil {
			return notFound(err, "sub-case")
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		var prior string
		err := tx.GetContext(ctx, &prior, tx.Rebind(`SELECT type FROM department_events WHERE subcase_id = ? AND event_id = ?`), subcaseID, ev.EventID)
		switch {
		case err == nil && prior == ev.Type:
			replayed = true
		case err == nil:
			return &ConflictError{Reason: fmt.Sprintf("event id %q was already used for a %s event", ev.EventID, prior)}
		case !errors.Is(err, errNoRows):
			return err
		default:
			if err := s.applyEvent(ctx, tx, caseID, subcaseID, ev, at, now); err != nil {
				return err
			}
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if !replayed {
			if err := s.emitCaseEvent(ctx, tx, v, now); err != nil {
				return err
			}
		}
		res = &EventResult{}
		res.Case.ID, res.Case.State, res.Case.Outcome = v.ID, v.State, v.Outcome
		for _, sc := range v.Subcases {
			if sc.ID == subcaseID {
				res.Subcase = sc
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		s.cfg.Notify()
	}
	return res, replayed, nil
}

func (s *Service) applyEvent(ctx context.Context, tx *sqlx.Tx, caseID, subcaseID string, ev event.DepartmentEvent, at, now time.Time) error {
	var sc subcaseRow
	if err := tx.GetContext(ctx, &sc, tx.Rebind(`SELECT * FROM subcases WHERE id = ?`), subcaseID); err != nil {
		return err
	}
	tr := transitions[ev.Type]
	allowed := false
	for _, f := range tr.from {
		if f == sc.State {
			allowed = true
		}
	}
	if !allowed {
		return &ConflictError{Reason: fmt.Sprintf("a %s event cannot follow state %s (it may follow %s)", ev.Type, sc.State, strings.Join(tr.from, ", "))}
	}
	matter, _ := s.cat.Matter(sc.MatterCode)
	if ev.Type == event.Approved {
		var c caseRow
		if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
			return err
		}
		// A department issues only what its matter's result is, in its own name, to this
		// case's applicant; else nothing of the event is applied.
		dept, _ := s.cat.Department(sc.Department)
		var problems []problem.Problem
		for i, l := range ev.Licences {
			at := fmt.Sprintf("/licences/%d", i)
			problems = append(problems, licences.CheckIssue(matter, dept, l, at)...)
			if c.HolderID != "" && l.HolderID != c.HolderID {
				problems = append(problems, problem.Problem{Path: at + "/holder_id", Rule: RuleHolder, Message: "the licence's holder is not this case's applicant"})
			}
		}
		if len(problems) > 0 {
			return problem.New(problems...)
		}
	}
	ts := store.NewTimestamp(at)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO department_events (subcase_id, event_id, type, at, body) VALUES (?, ?, ?, ?, ?)`),
		subcaseID, ev.EventID, ev.Type, ts, store.JSONOf(ev)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, decision_number = CASE WHEN ? <> '' THEN ? ELSE decision_number END,
		reason = CASE WHEN ? <> '' THEN ? ELSE reason END, missing = ?, updated_at = ? WHERE id = ?`),
		tr.to, ev.DecisionNumber, ev.DecisionNumber, ev.Reason, ev.Reason, store.JSONOf(ev.Missing), store.NewTimestamp(now), subcaseID); err != nil {
		return err
	}
	// The clock stands still while suspended or waiting for the applicant's supplement.
	switch ev.Type {
	case event.Suspended, event.SupplementRequested:
		kind := "suspended"
		if ev.Type == event.SupplementRequested {
			kind = "supplement"
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO subcase_pauses (subcase_id, kind, started_at) VALUES (?, ?, ?)`), subcaseID, kind, ts); err != nil {
			return err
		}
	case event.Resumed, event.Resubmitted:
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, subcaseID); err != nil {
			return err
		}
	case event.Rejected:
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, subcaseID); err != nil {
			return err
		}
	}
	for _, l := range ev.Licences {
		if _, err := s.lib.Record(ctx, tx, licences.Issued{Licence: licences.WithCatalogueCode(matter, l), Source: licences.SourceHub, Department: sc.Department,
			CaseID: caseID, SubcaseID: subcaseID, MatterCode: sc.MatterCode}); err != nil {
			var ce *licences.ConflictError
			if errors.As(err, &ce) {
				return &ConflictError{Reason: fmt.Sprintf("a %s numbered %s was already issued", l.Type, l.Number)}
			}
			return err
		}
	}
	detail := s.deptName(sc.Department) + ": " + sc.MatterName
	switch {
	case ev.Reason != "":
		detail += " — " + ev.Reason
	case len(ev.Licences) > 0:
		detail += fmt.Sprintf(" — %d e-licence(s)", len(ev.Licences))
	}
	if err := s.addTimeline(ctx, tx, caseID, subcaseID, ev.Type, detail, at); err != nil {
		return err
	}
	switch ev.Type {
	case event.Approved:
		if err := s.release(ctx, tx, caseID, now); err != nil {
			return err
		}
	case event.Rejected:
		if err := s.cancelDependents(ctx, tx, caseID, sc.MatterCode, now); err != nil {
			return err
		}
	}
	if err := s.refreshDeadlines(ctx, tx, caseID, now); err != nil {
		return err
	}
	return s.complete(ctx, tx, caseID, now)
}

// cancelDependents cancels the waiting sub-cases that depend, directly or not, on a rejected
// matter: they can no longer be decided.
func (s *Service) cancelDependents(ctx context.Context, tx *sqlx.Tx, caseID, rejected string, now time.Time) error {
	var subs []subcaseRow
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return err
	}
	gone := map[string]bool{rejected: true}
	for changed := true; changed; {
		changed = false
		for _, sc := range subs {
			if sc.State != StateWaiting || gone[sc.MatterCode] {
				continue
			}
			for _, p := range sc.Prerequisites.V {
				if gone[p] {
					gone[sc.MatterCode] = true
					changed = true
					reason := "prerequisite " + p + " was not approved"
					if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, reason = ?, updated_at = ? WHERE id = ?`),
						StateCancelled, reason, store.NewTimestamp(now), sc.ID); err != nil {
						return err
					}
					if err := s.addTimeline(ctx, tx, caseID, sc.ID, StateCancelled, reason, now); err != nil {
						return err
					}
					break
				}
			}
		}
	}
	return nil
}

// complete closes the case when every sub-case is decided.
func (s *Service) complete(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time) error {
	var states []string
	if err := tx.SelectContext(ctx, &states, tx.Rebind(`SELECT state FROM subcases WHERE case_id = ?`), caseID); err != nil {
		return err
	}
	approved := 0
	for _, st := range states {
		if !terminal(st) {
			return nil
		}
		if st == StateApproved {
			approved++
		}
	}
	outcome := OutcomePartial
	switch approved {
	case len(states):
		outcome = OutcomeApproved
	case 0:
		outcome = OutcomeRejected
	}
	ts := store.NewTimestamp(now)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET state = ?, outcome = ?, completed_at = ?, updated_at = ? WHERE id = ? AND state <> ?`),
		CaseCompleted, outcome, ts, ts, caseID, CaseCompleted); err != nil {
		return err
	}
	return s.addTimeline(ctx, tx, caseID, "", CaseCompleted, outcome, now)
}
