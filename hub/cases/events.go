package cases

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"yjshub/format"
	"yjshub/hub/auth"
	"yjshub/hub/bus"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
	"yjshub/problem"
)

var topicCaseEvent = bus.TopicCaseEvent

// clockSkew is how far ahead of the hub's clock a department's event time may be and still be
// taken as given (as the hub's time): clocks a few seconds apart are not a fault.
const clockSkew = 2 * time.Minute

// RuleDeadlinePast is the rule of a supplement deadline before the request itself.
const RuleDeadlinePast = "deadline_past"

// EventResult is the answer to a department event: the sub-case and case after it.
type EventResult struct {
	// TimeClamped says that the event's time was later than the hub's clock: the hub recorded
	// it at its own time instead.
	TimeClamped bool        `json:"time_clamped,omitempty"`
	Subcase     SubcaseView `json:"subcase"`
	Case        struct {
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
	if ev.Deadline != "" {
		if ev.Type != event.SupplementRequested {
			add("/deadline", problem.RuleNotAllowed, "a deadline comes only with a supplement request")
		} else if _, err := time.ParseInLocation(time.DateOnly, ev.Deadline, deadline.China); err != nil {
			add("/deadline", problem.RuleDate, "must be a date YYYY-MM-DD")
		}
	}
	if ev.DepartmentRef != "" && !printable(ev.DepartmentRef, event.MaxDepartmentRef) {
		add("/department_ref", problem.RulePattern, "must be the department's own number: 1 to %d printable characters", event.MaxDepartmentRef)
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
//
// Events reported at about the same time are recorded together (eventbatch.go). A caller
// whose ctx ends first gets ctx's error; its event may still be recorded, and sent again it is
// a replay.
//
// The event's span continues the trace context of ctx (a callback's traceparent, a result
// message's) or, without one, the case's trace; it is made once the outcome is known.
func (s *Service) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (res *EventResult, replayed bool, err error) {
	start := time.Now()
	p, err := s.pending(ctx, subcaseID, ev)
	if err != nil {
		s.traceEvent(ctx, start, ev, nil, false, err)
		return nil, false, err
	}
	res, replayed, err = s.events.apply(ctx, s, p)
	if err == nil && !replayed && res != nil {
		// One line per state change, with the case: what an operator greps for first.
		s.cfg.Logger.Info("sub-case state changed", "case_id", res.Case.ID, "subcase_id", subcaseID,
			"department", res.Subcase.Department.Code, "event", ev.Type, "state", res.Subcase.State, "case_state", res.Case.State)
	}
	s.traceEvent(ctx, start, ev, p, replayed, err)
	return res, replayed, err
}

// traceEvent makes the span of a department event that started at start: a child of ctx's
// span context when it has one (linked to the case's trace when that is another), else of the
// case's intake. p is nil when the event was refused before it was queued. What the event
// names is an attribute only once the hub found its sub-case: before, it is the caller's text.
func (s *Service) traceEvent(ctx context.Context, start time.Time, ev event.DepartmentEvent, p *pendingEvent, replayed bool, err error) {
	var caseSC trace.SpanContext
	attrs := make([]attribute.KeyValue, 0, 6)
	if p != nil {
		select {
		case <-p.done:
			if p.caseID != "" {
				caseSC = tracing.SpanContext(p.caseTrace, "")
				attrs = append(attrs, tracing.KeyCaseID.String(p.caseID), tracing.KeySubcaseID.String(p.subcaseID), tracing.KeyEventType.String(ev.Type))
				if p.department != "" {
					attrs = append(attrs, tracing.KeyDepartment.String(p.department), tracing.KeyMatter.String(p.matter))
				}
			}
		default: // ctx ended first, and the writer still holds p
		}
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
	parent := ctx
	switch in := trace.SpanContextFromContext(ctx); {
	case !in.IsValid() && caseSC.IsValid():
		parent = trace.ContextWithRemoteSpanContext(ctx, caseSC)
	case in.IsValid() && caseSC.IsValid() && in.TraceID() != caseSC.TraceID():
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: caseSC}))
	}
	_, span := s.tracer.Start(parent, tracing.SpanDepartmentEvent, opts...)
	var pe *problem.Error
	switch {
	case err == nil && replayed:
		span.SetAttributes(tracing.KeyReplayed.Bool(true))
		tracing.SetOutcome(span, "applied", false)
	case err == nil:
		tracing.SetOutcome(span, "applied", false)
	case errors.As(err, &pe):
		tracing.SetOutcome(span, "refused", false)
	case errors.Is(err, ErrConflict):
		tracing.SetOutcome(span, "conflict", false)
	case errors.Is(err, ErrNotFound):
		tracing.SetOutcome(span, "not_found", false)
	case ctx.Err() != nil:
		tracing.SetOutcome(span, "abandoned", false)
	default:
		tracing.SetOutcome(span, "failed", true)
	}
	span.End()
}

// pending checks an event whole and makes it a pendingEvent, at the hub's time now. The files
// its licences name by the id of an upload are resolved here (licences.ResolveFiles), as the
// client in ctx owns them, so that the event is recorded, and its licences issued, with the
// hash, size and format of the file the hub holds.
func (s *Service) pending(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (*pendingEvent, error) {
	problems := validateEvent(ev)
	resolved, fileProblems, err := licences.ResolveFiles(ctx, s.st.DB(), reporter(ctx), ev.Licences, "/licences")
	if err != nil {
		return nil, err
	}
	if problems = append(problems, fileProblems...); len(problems) > 0 {
		return nil, problem.New(problems...)
	}
	ev.Licences = resolved
	now := s.now()
	p := &pendingEvent{subcaseID: subcaseID, ev: ev, at: now, now: now, done: make(chan struct{})}
	switch {
	case ev.Time.IsZero():
	case ev.Time.After(now.Add(clockSkew)):
		// A department's clock ahead of the hub's would put the step in the future and move
		// deadlines: the step is taken at the hub's time, and the timeline says so.
		p.clamped = true
	default:
		p.at = ev.Time.UTC()
	}
	return p, nil
}

// reporter is the name of the department client that reports an event, the owner of the files
// it may name; "" when the event came without one (through a connector, or an API that does
// not authenticate), which names no uploaded file.
func reporter(ctx context.Context) string {
	if c, ok := auth.FromContext(ctx); ok && c.Role == auth.RoleDepartment {
		return c.Name
	}
	return ""
}

// applyOne records one event in a transaction of its own: the way of the events a batch does
// not take, and of every event of a batch that failed whole.
func (s *Service) applyOne(ctx context.Context, p *pendingEvent) {
	subcaseID, ev, at, now, clamped := p.subcaseID, p.ev, p.at, p.now, p.clamped
	var res *EventResult
	replayed := false
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		res, replayed = nil, false
		// One statement finds the sub-case's case and holds it.
		q := `SELECT id, traceparent FROM cases WHERE id = (SELECT case_id FROM subcases WHERE id = ?)`
		if s.st.Dialect() == store.DialectPostgres {
			q += " FOR NO KEY UPDATE"
		}
		var found struct {
			ID          string `db:"id"`
			TraceParent string `db:"traceparent"`
		}
		if err := tx.GetContext(ctx, &found, tx.Rebind(q), subcaseID); err != nil {
			return notFound(err, "sub-case")
		}
		caseID := found.ID
		p.caseID, p.caseTrace = found.ID, found.TraceParent
		var prior string
		err := tx.GetContext(ctx, &prior, tx.Rebind(`SELECT type FROM department_events WHERE subcase_id = ? AND event_id = ?`), subcaseID, ev.EventID)
		switch {
		case err == nil && prior == ev.Type:
			// The same event again: the answer describes the case as it is now.
			replayed = true
			v, err := s.loadCase(ctx, tx, caseID)
			if err != nil {
				return err
			}
			res = &EventResult{}
			res.Case.ID, res.Case.State, res.Case.Outcome = v.ID, v.State, v.Outcome
			for _, sc := range v.Subcases {
				if sc.ID == subcaseID {
					res.Subcase = sc
				}
			}
			return nil
		case err == nil:
			return priorConflict(ev.EventID, prior)
		case !errors.Is(err, errNoRows):
			return err
		}
		a, err := s.applyEvent(ctx, tx, caseID, subcaseID, ev, at, now, clamped)
		if err != nil {
			return err
		}
		// The answer and the case.updated message are made of the rows the event read and
		// wrote, not of the whole case read again.
		if err := s.emitCaseUpdated(ctx, tx, s.caseUpdated(a.c, a.subs), now); err != nil {
			return err
		}
		for _, sc := range a.subs {
			if sc.ID != subcaseID {
				continue
			}
			p.department, p.matter = sc.Department, sc.MatterCode
			mats, err := s.subcaseMaterialTypes(ctx, tx, subcaseID)
			if err != nil {
				return err
			}
			res = s.eventResult(a.c, sc, a.pauses, mats, clamped)
		}
		return nil
	})
	p.res, p.replayed, p.err = res, replayed, err
	if err == nil && !replayed {
		s.committed()
	}
}

// priorConflict is the error of an event id used before for an event of another type.
func priorConflict(eventID, prior string) error {
	return &ConflictError{Reason: fmt.Sprintf("event id %q was already used for a %s event", eventID, prior)}
}

// eventResult is the answer to an event: the case and the sub-case as it left them.
func (s *Service) eventResult(c caseRow, sc subcaseRow, pauses []pauseRow, mats []string, clamped bool) *EventResult {
	res := &EventResult{TimeClamped: clamped}
	res.Case.ID, res.Case.State, res.Case.Outcome = c.ID, c.State, c.Outcome
	paused := false
	for _, p := range pauses {
		paused = paused || (p.SubcaseID == sc.ID && p.EndedAt.IsZero())
	}
	res.Subcase = s.subcaseView(sc, paused, mats)
	return res
}

// applied is the case as an event left it: its row, sub-cases and pauses, as the event's answer
// and its case.updated message describe it.
type applied struct {
	c      caseRow
	subs   []subcaseRow
	pauses []pauseRow
}

func (s *Service) applyEvent(ctx context.Context, tx *sqlx.Tx, caseID, subcaseID string, ev event.DepartmentEvent, at, now time.Time, clamped bool) (*applied, error) {
	var sc subcaseRow
	if err := tx.GetContext(ctx, &sc, tx.Rebind(`SELECT `+subcaseColumnsNoForm+` FROM subcases WHERE id = ?`), subcaseID); err != nil {
		return nil, err
	}
	var c caseRow
	if ev.Type == event.SupplementRequested || ev.Type == event.Approved {
		if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT `+caseColumnsNoForm+` FROM cases WHERE id = ?`), caseID); err != nil {
			return nil, err
		}
	}
	if err := s.checkEvent(sc, c, &ev, at); err != nil {
		return nil, err
	}
	tr := transitions[ev.Type]
	matter, _ := s.cat.Matter(sc.MatterCode)
	ts := store.NewTimestamp(at)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO department_events (subcase_id, event_id, type, at, body) VALUES (?, ?, ?, ?, ?)`),
		subcaseID, ev.EventID, ev.Type, ts, store.JSONOf(ev)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, decision_number = CASE WHEN ? <> '' THEN ? ELSE decision_number END,
		reason = CASE WHEN ? <> '' THEN ? ELSE reason END, missing = ?, supplement_deadline = ?, updated_at = ?,
		department_ref = CASE WHEN department_ref = '' THEN ? ELSE department_ref END WHERE id = ?`),
		tr.to, ev.DecisionNumber, ev.DecisionNumber, ev.Reason, ev.Reason, store.JSONOf(ev.Missing), ev.Deadline, store.NewTimestamp(now),
		ev.DepartmentRef, subcaseID); err != nil {
		return nil, err
	}
	// The clock stands still while suspended or waiting for the applicant's supplement.
	switch ev.Type {
	case event.Suspended, event.SupplementRequested:
		kind := "suspended"
		if ev.Type == event.SupplementRequested {
			kind = "supplement"
		}
		// A pause starts after the last one did: two steps at one instant (a clamped time,
		// a coarse department clock) are still two pauses.
		var lastStart store.Timestamp
		if err := tx.GetContext(ctx, &lastStart, tx.Rebind(`SELECT MAX(started_at) FROM subcase_pauses WHERE subcase_id = ?`), subcaseID); err != nil {
			return nil, err
		}
		start := ts
		if !lastStart.IsZero() && !lastStart.Before(start.Time) {
			start = store.NewTimestamp(lastStart.Add(time.Microsecond))
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO subcase_pauses (subcase_id, kind, started_at) VALUES (?, ?, ?)`), subcaseID, kind, start); err != nil {
			return nil, err
		}
	case event.Resumed, event.Resubmitted:
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, subcaseID); err != nil {
			return nil, err
		}
	case event.Rejected:
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, subcaseID); err != nil {
			return nil, err
		}
	}
	for _, l := range ev.Licences {
		if _, err := s.lib.Record(ctx, tx, licences.Issued{Licence: licences.Completed(matter, l), Source: licences.SourceHub, Department: sc.Department,
			CaseID: caseID, SubcaseID: subcaseID, MatterCode: sc.MatterCode}); err != nil {
			var ce *licences.ConflictError
			if errors.As(err, &ce) {
				return nil, &ConflictError{Reason: fmt.Sprintf("a %s numbered %s was already issued", l.Type, l.Number)}
			}
			return nil, err
		}
	}
	if err := s.addTimelineSteps(ctx, tx, caseID, at, s.eventStep(caseID, sc, ev, at, clamped)); err != nil {
		return nil, err
	}
	switch ev.Type {
	case event.Approved:
		if err := s.release(ctx, tx, caseID, now); err != nil {
			return nil, err
		}
	case event.Rejected:
		if err := s.cancelDependents(ctx, tx, caseID, sc.MatterCode, now); err != nil {
			return nil, err
		}
	}
	c, subs, pauses, err := s.refreshDeadlinesRead(ctx, tx, caseID, now, false)
	if err != nil {
		return nil, err
	}
	states := make([]string, len(subs))
	for i, sc := range subs {
		states[i] = sc.State
	}
	state, outcome, err := s.completeWith(ctx, tx, caseID, states, now)
	if err != nil {
		return nil, err
	}
	if state != "" {
		c.State, c.Outcome = state, outcome
	}
	return &applied{c: c, subs: subs, pauses: pauses}, nil
}

// checkEvent checks a department event against its sub-case as it stands and its case (whose
// row is needed only for a supplement request and an approval): the transition, what a
// supplement request names (ev.Missing is replaced by the items as the catalogue knows them),
// what an approval issues. Nothing is read or written.
func (s *Service) checkEvent(sc subcaseRow, c caseRow, ev *event.DepartmentEvent, at time.Time) error {
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
	if ev.DepartmentRef != "" && sc.DepartmentRef != "" && ev.DepartmentRef != sc.DepartmentRef {
		return &ConflictError{Reason: fmt.Sprintf("the department's own number for this sub-case is %s already: a sub-case keeps the first department_ref given", sc.DepartmentRef)}
	}
	switch ev.Type {
	case event.SupplementRequested:
		missing, problems := s.requestProblems(sc, c.ApplicantType, ev.Missing)
		if ev.Deadline != "" && ev.Deadline < at.In(deadline.China).Format(time.DateOnly) {
			problems = append(problems, problem.Problem{Path: "/deadline", Rule: RuleDeadlinePast, Message: "the deadline is before the request"})
		}
		if len(problems) > 0 {
			return problem.New(problems...)
		}
		ev.Missing = missing
	case event.Approved:
		// A department issues only what its matter's result is, in its own name, to this
		// case's applicant; else nothing of the event is applied.
		matter, _ := s.cat.Matter(sc.MatterCode)
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
	return nil
}

// cancelDependents cancels the waiting sub-cases that depend, directly or not, on a rejected
// matter: they can no longer be decided.
func (s *Service) cancelDependents(ctx context.Context, tx *sqlx.Tx, caseID, rejected string, now time.Time) error {
	return s.cancelDependentsOf(ctx, tx, caseID, map[string]bool{rejected: true}, now)
}

// cancelDependentsOf cancels the waiting sub-cases that depend, directly or not, on matters
// gone (rejected or withdrawn).
func (s *Service) cancelDependentsOf(ctx context.Context, tx *sqlx.Tx, caseID string, gone map[string]bool, now time.Time) error {
	var subs []subcaseRow
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return err
	}
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
					reason := "prerequisite " + p + " was not approved (rejected or withdrawn)"
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

// complete closes the case when every sub-case is decided: completed with the outcome of its
// matters that were not withdrawn, or withdrawn when the applicant withdrew all of them.
func (s *Service) complete(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time) error {
	var states []string
	if err := tx.SelectContext(ctx, &states, tx.Rebind(`SELECT state FROM subcases WHERE case_id = ?`), caseID); err != nil {
		return err
	}
	_, _, err := s.completeWith(ctx, tx, caseID, states, now)
	return err
}

// completeWith is complete with the sub-cases' states in hand; it returns the case's state and
// outcome when it closed it ("" when the case stays open).
func (s *Service) completeWith(ctx context.Context, tx *sqlx.Tx, caseID string, states []string, now time.Time) (state, outcome string, err error) {
	state, outcome, step, ok := completion(states)
	if !ok {
		return "", "", nil
	}
	if ok, err := closeCase(ctx, tx, caseID, state, outcome, store.NewTimestamp(now)); err != nil || !ok {
		return "", "", err
	}
	return state, outcome, s.addTimelineSteps(ctx, tx, caseID, now, step)
}

// completion decides whether sub-cases in these states close their case: ok when every one is
// decided, with the case's state, outcome and timeline step — completed with the outcome of
// its matters that were not withdrawn, or withdrawn when the applicant withdrew all of them.
func completion(states []string) (state, outcome string, step timelineStep, ok bool) {
	approved, decided, withdrawn := 0, 0, 0
	for _, st := range states {
		switch {
		case !terminal(st):
			return "", "", step, false
		case st == StateWithdrawn:
			withdrawn++
		case st == StateApproved:
			approved++
			decided++
		case st == StateRejected:
			decided++
		}
	}
	if decided == 0 && withdrawn > 0 {
		return CaseWithdrawn, "", timelineStep{typ: CaseWithdrawn, detail: "withdrawn by the applicant", text: "申请已撤回"}, true
	}
	outcome = OutcomePartial
	switch {
	case approved == len(states)-withdrawn:
		outcome = OutcomeApproved
	case approved == 0:
		outcome = OutcomeRejected
	}
	return CaseCompleted, outcome, timelineStep{typ: CaseCompleted, detail: outcome, text: "办结：" + OutcomeLabels[outcome],
		data: map[string]any{"outcome": outcome}}, true
}

// closeCase ends a case in progress; ok is false when it had ended already.
func closeCase(ctx context.Context, tx *sqlx.Tx, caseID, state, outcome string, ts store.Timestamp) (ok bool, err error) {
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET state = ?, outcome = ?, completed_at = ?, updated_at = ? WHERE id = ? AND state = ?`),
		state, outcome, ts, ts, caseID, CaseInProgress)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// eventStep is the timeline step of a department event: the operators' detail as before, and
// for the applicant the step in words with its facts — 受理时间, 受理部门 and 承诺办结日期 with an
// acceptance, the items and deadline of a supplement request, the licences of an approval.
func (s *Service) eventStep(caseID string, sc subcaseRow, ev event.DepartmentEvent, at time.Time, clamped bool) timelineStep {
	dept := s.deptName(sc.Department)
	detail := dept + ": " + sc.MatterName
	switch {
	case ev.Reason != "":
		detail += " — " + ev.Reason
	case len(ev.Licences) > 0:
		detail += fmt.Sprintf(" — %d e-licence(s)", len(ev.Licences))
	}
	if clamped {
		detail += " (the event's time was ahead of the hub's clock: taken at the hub's time)"
	}
	st := timelineStep{subcaseID: sc.ID, typ: ev.Type, detail: detail, data: map[string]any{}, names: s.namesOf(sc)}
	deptRef := map[string]any{"code": sc.Department, "name": dept}
	switch ev.Type {
	case event.Accepted:
		// The deadlines as they stood when the department accepted it.
		st.data = map[string]any{"accepted_at": at.In(deadline.China).Format(time.RFC3339), "department": deptRef,
			"promised_date": sc.DuePromised, "statutory_date": sc.DueStatutory}
		if sc.DuePromised != "" {
			st.extra = "承诺办结日期" + sc.DuePromised
		}
	case event.SupplementRequested:
		items := make([]map[string]any, 0, len(ev.Missing))
		names := make([]string, 0, len(ev.Missing))
		for _, m := range ev.Missing {
			item := map[string]any{}
			name := ""
			if m.Material != "" {
				item["material"] = m.Material
				if cm, ok := s.cat.Material(m.Material); ok {
					name = cm.Name
				}
			}
			if m.Field != "" {
				item["field"] = m.Field
				if f, ok := s.cat.Field(m.Field); ok {
					name = f.Name
				}
			}
			item["name"] = name
			if m.Note != "" {
				item["note"] = format.MaskDigits(m.Note)
			}
			items = append(items, item)
			names = append(names, name)
		}
		st.data = map[string]any{"department": deptRef, "missing": items, "deadline": ev.Deadline,
			"reply_to": "/api/v1/cases/" + caseID + "/supplements"}
		// 《行政许可法》第三十二条第一款第四项: what is missing is to be told at once or within
		// five (working, 第八十二条) days of receiving the application, all at once; told later,
		// the application counts as accepted from its receipt. The hub says so; the department
		// decides what follows.
		if late := s.lateNotice(sc, at); late > 0 {
			st.data["late_notice_working_days"] = late
			st.detail += fmt.Sprintf(" (told %d working days after the application reached the department: more than the five of 行政许可法 art. 32)", late)
		}
		st.extra = strings.Join(names, "、")
		if ev.Deadline != "" {
			st.extra += "（请于" + ev.Deadline + "前提交）"
		}
	case event.Rejected:
		st.data = map[string]any{"department": deptRef, "reason": format.MaskDigits(ev.Reason), "decision_number": ev.DecisionNumber}
		st.extra = format.MaskDigits(ev.Reason)
	case event.Approved:
		lics := make([]map[string]any, 0, len(ev.Licences))
		var types []string
		for _, l := range ev.Licences {
			lics = append(lics, map[string]any{"type": l.Type, "number": l.Number, "valid_until": l.ValidUntil})
			types = append(types, l.Type)
		}
		st.data = map[string]any{"department": deptRef, "decision_number": ev.DecisionNumber, "licences": lics}
		if len(types) > 0 {
			st.extra = "发放" + strings.Join(types, "、")
		}
	default:
		st.data = map[string]any{"department": deptRef}
	}
	if clamped {
		st.data["time_clamped"] = true
	}
	return st
}

// noticeWithin is the most working days after receiving an application within which a
// department may tell the applicant what to supplement (《行政许可法》第三十二条).
const noticeWithin = 5

// lateNotice returns how many working days after the application reached the department a
// supplement request made at at comes, when that is more than noticeWithin and the sub-case
// was not accepted yet; 0 otherwise (a request after acceptance falls under no such limit).
func (s *Service) lateNotice(sc subcaseRow, at time.Time) int {
	if sc.State != StateDispatched && sc.State != StateReceived {
		return 0
	}
	from := sc.DeliveredAt
	if from.IsZero() {
		from = sc.DispatchedAt
	}
	if from.IsZero() {
		return 0
	}
	if n := s.cal.WorkingDaysBetween(from.Time, at); n > noticeWithin {
		return n
	}
	return 0
}

// printable reports whether s is 1 to max characters, each of them printable (no control
// character, no line break): a number a clerk reads off a screen.
func printable(s string, max int) bool {
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
		n++
	}
	return n >= 1 && n <= max && utf8.ValidString(s)
}
