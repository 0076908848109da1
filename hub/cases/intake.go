package cases

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"

	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
	"yjshub/mapping"
	"yjshub/problem"
)

// Submit validates an application and, when it is valid, stores the case, its sub-cases and
// materials and the dispatch messages in one transaction. With an idempotency key, a repeat
// with the same body returns the first answer (replayed=true) and a repeat with another body
// is a conflict. A refused application stores nothing.
func (s *Service) Submit(ctx context.Context, app Application, requestHash, idempotencyKey string) (view *CaseView, replayed bool, err error) {
	return s.SubmitAs(ctx, "", app, requestHash, idempotencyKey)
}

// SubmitAs is Submit for a client: the case belongs to owner (an API client's name, or a
// platform connector's), and idempotency keys are owner's own — another client's equal key
// is another key.
//
// ctx's span context, when it has one (a platform's traceparent), is the parent of the intake
// span; the case keeps the intake's trace context, and its messages carry it.
func (s *Service) SubmitAs(ctx context.Context, owner string, app Application, requestHash, idempotencyKey string) (view *CaseView, replayed bool, err error) {
	ctx, span := s.tracer.Start(ctx, tracing.SpanIntake, trace.WithSpanKind(trace.SpanKindServer))
	defer func() { endIntake(span, view, replayed, err) }()
	if idempotencyKey != "" && owner != "" {
		idempotencyKey = owner + "\x1f" + idempotencyKey // a name holds no control character
	}
	if idempotencyKey != "" {
		if v, ok, err := s.replay(ctx, idempotencyKey, requestHash); err != nil || ok {
			return v, ok, err
		}
	}
	if app.ExternalRef != "" {
		if id, err := s.caseByRef(ctx, s.st.DB(), owner, app.ExternalRef); err != nil || id != "" {
			if err == nil {
				err = &ConflictError{Reason: "external_ref " + app.ExternalRef + " is case " + id + " already: a new application needs a number of its own"}
			}
			return nil, false, err
		}
	}
	p, problems, err := s.validate(ctx, owner, app)
	if err != nil {
		return nil, false, err
	}
	if len(problems) > 0 {
		return nil, false, problem.New(problems...)
	}
	pc, err := s.prepareCase(newID("cs_"), owner, p, tracing.TraceParent(ctx), s.now())
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if err == nil && !replayed {
			s.cfg.Logger.Info("case submitted", "case_id", view.ID, "bundle", view.Bundle.Code, "matters", len(view.Subcases), "owner", owner)
		}
	}()
	span.SetAttributes(tracing.KeyBundle.String(p.bundle.Code))
	return s.idempotent(ctx, idempotencyKey, requestHash, 201, func(tx *sqlx.Tx) (*CaseView, error) {
		number, err := s.nextCaseNumber(ctx, tx, pc.c.SubmittedAt.Time, pc.c.BundleSeq)
		if err != nil {
			return nil, err
		}
		if err := s.numberCase(pc, number); err != nil {
			return nil, err
		}
		if err := s.claimObjects(ctx, tx, app.Materials); err != nil {
			return nil, err
		}
		if err := s.insertCase(ctx, tx, pc); err != nil {
			if app.ExternalRef != "" {
				// Two submissions of one number at once: the unique index let one in.
				if id, _ := s.caseByRef(ctx, s.st.DB(), owner, app.ExternalRef); id != "" {
					return nil, &ConflictError{Reason: "external_ref " + app.ExternalRef + " is case " + id + " already: a new application needs a number of its own"}
				}
			}
			return nil, err
		}
		return pc.view, nil
	})
}

// idempotent runs change in one transaction and, with an idempotency key, records the view it
// returns as the key's answer (with status) in the same transaction: a request with the key
// that committed first meanwhile is answered as it was (replayed = true). Callers look the key
// up before they do any work (replay).
func (s *Service) idempotent(ctx context.Context, key, hash string, status int, change func(tx *sqlx.Tx) (*CaseView, error)) (view *CaseView, replayed bool, err error) {
	err = s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		v, err := change(tx)
		if err != nil {
			return err
		}
		view = v
		if key != "" {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO idempotency_keys (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)`),
				key, hash, status, store.JSONOf(v), store.NewTimestamp(s.now())); err != nil {
				return errIdempotencyRace
			}
		}
		return nil
	})
	if errors.Is(err, errIdempotencyRace) {
		// Another request with the same key committed first: answer as it was answered.
		v, ok, rerr := s.replay(ctx, key, hash)
		if rerr != nil || ok {
			return v, ok, rerr
		}
	}
	if err != nil {
		return nil, false, err
	}
	s.committed()
	return view, false, nil
}

var errIdempotencyRace = errors.New("idempotency key taken concurrently")

// endIntake ends the intake span with what the submission came to. A refused application is
// the client's error, not the hub's: the span says so without an error status, and never with
// the problems (which name what the applicant gave).
func endIntake(span trace.Span, view *CaseView, replayed bool, err error) {
	var pe *problem.Error
	switch {
	case err == nil:
		span.SetAttributes(tracing.KeyCaseID.String(view.ID), tracing.KeyReplayed.Bool(replayed))
		tracing.SetOutcome(span, "accepted", false)
	case errors.As(err, &pe):
		tracing.SetOutcome(span, "refused", false)
	case errors.Is(err, ErrConflict):
		tracing.SetOutcome(span, "conflict", false)
	default:
		tracing.SetOutcome(span, "failed", true)
	}
	span.End()
}

func (s *Service) replay(ctx context.Context, key, hash string) (*CaseView, bool, error) {
	var row struct {
		Hash     string               `db:"request_hash"`
		Response store.JSON[CaseView] `db:"response"`
	}
	err := s.st.DB().GetContext(ctx, &row, s.st.DB().Rebind(`SELECT request_hash, response FROM idempotency_keys WHERE key = ?`), key)
	if errors.Is(err, errNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if row.Hash != hash {
		return nil, false, &ConflictError{Reason: "this Idempotency-Key was used with a different request body"}
	}
	return &row.Response.V, true, nil
}

// preparedCase is a new case made whole before its transaction begins: its rows, its
// timeline's first steps, the messages that dispatch its sub-cases that wait for nothing and
// announce it, and its view (the answer). The transaction only writes them.
type preparedCase struct {
	c         caseRow
	subs      []subcaseRow
	materials []*plannedMaterial
	agent     *agentRow
	steps     []timelineStep
	msgs      []store.OutboxMessage
	view      *CaseView
	// refs are the materials of each dispatched sub-case's message, by sub-case id.
	refs map[string][]event.MaterialRef
}

// prepareCase makes a new case's rows as they are stored — the sub-cases that wait for
// nothing dispatched, with their clocks started, every deadline computed (as dispatch and
// refreshDeadlines would) — and what is made of them. traceparent is the intake's trace
// context, which the case keeps and its messages carry.
func (s *Service) prepareCase(caseID, owner string, p *plan, traceparent string, now time.Time) (*preparedCase, error) {
	ts := store.NewTimestamp(now)
	pc := &preparedCase{materials: p.materials, agent: p.agent}
	pc.c = caseRow{ID: caseID, BundleCode: p.bundle.Code, BundleSeq: p.bundle.Seq, ApplicantType: p.app.ApplicantType, HolderID: p.holder.ID,
		HolderName: p.holder.Name, State: CaseInProgress, Form: store.JSONOf(mapping.Form(p.app.Form)), CatalogueVersion: s.cat.Version, SubmittedAt: ts,
		UpdatedAt: ts, Owner: owner, ExternalRef: p.app.ExternalRef, TraceParent: traceparent}
	pc.subs = make([]subcaseRow, len(p.subcases))
	for i, ps := range p.subcases {
		sc := subcaseRow{ID: ps.id, CaseID: caseID, Position: ps.position, MatterCode: ps.matter.Code, MatterName: ps.entry.Name,
			Department: ps.entry.Department, Optional: ps.entry.Optional, State: StateWaiting, Form: store.JSONOf(ps.form),
			Prerequisites: store.JSONOf(ps.waitFor), Missing: store.JSONOf([]event.Missing{}), UpdatedAt: ts}
		sc.PromisedDays, sc.PromisedUnit = limitOf(ps.matter.PromisedLimit)
		sc.StatutoryDays, sc.StatutoryUnit = limitOf(ps.matter.StatutoryLimit)
		if len(ps.waitFor) == 0 {
			sc.State, sc.ClockStart, sc.DispatchedAt = StateDispatched, ts, ts
		}
		pc.subs[i] = sc
	}
	s.computeDeadlines(&pc.c, pc.subs, nil, now)

	pc.steps = []timelineStep{{typ: "submitted", detail: fmt.Sprintf("%d %s, %d matter(s), %d material(s)", p.bundle.Seq, p.bundle.Name, len(p.subcases), len(p.materials))}}
	for _, sc := range pc.subs {
		if sc.State == StateWaiting {
			pc.steps = append(pc.steps, timelineStep{subcaseID: sc.ID, typ: StateWaiting, detail: "waits for " + strings.Join(sc.Prerequisites.V, ", "), names: s.namesOf(sc)})
		}
	}
	for _, sc := range pc.subs {
		if sc.State == StateDispatched {
			pc.steps = append(pc.steps, timelineStep{subcaseID: sc.ID, typ: StateDispatched, detail: "sent to " + s.deptName(sc.Department), names: s.namesOf(sc)})
		}
	}
	pc.c.EventSeq = len(pc.steps)
	// The numbers of the dispatched sub-cases' delivery steps, reserved now (migration 00019).
	for i := range pc.subs {
		if pc.subs[i].State == StateDispatched {
			pc.c.EventSeq++
			pc.subs[i].DeliveredSeq = sql.NullInt64{Int64: int64(pc.c.EventSeq), Valid: true}
		}
	}

	// The view, made of the rows as loadCase would read them back.
	r := caseRows{c: pc.c, subs: pc.subs, agent: pc.agent}
	type file struct {
		pm   *plannedMaterial
		user string
	}
	var links []file
	mats := slices.Clone(p.materials)
	byTypeFile := func(a, b *plannedMaterial) int {
		return cmp.Or(strings.Compare(a.input.Type, b.input.Type), cmp.Compare(a.file, b.file))
	}
	slices.SortStableFunc(mats, byTypeFile)
	for _, pm := range mats {
		r.mats = append(r.mats, pm.row(ts))
		for _, u := range pm.users {
			links = append(links, file{pm, u})
		}
	}
	slices.SortStableFunc(links, func(a, b file) int { return cmp.Or(strings.Compare(a.user, b.user), byTypeFile(a.pm, b.pm)) })
	for _, l := range links {
		r.links = append(r.links, linkRow{SubcaseID: l.user, MaterialID: l.pm.id, Type: l.pm.input.Type})
	}
	for i, st := range pc.steps {
		var n subcaseName
		if st.names != nil {
			n = *st.names
		}
		r.timeline = append(r.timeline, timelineRow{Seq: i + 1, At: ts, SubcaseID: st.subcaseID, Type: st.typ, Detail: st.detail, Text: st.applicantText(n)})
	}
	pc.view = s.caseView(r)

	// The dispatch messages' materials as the sub-cases link them (each in the view's order);
	// the messages themselves are made once the case has its number (numberCase).
	pc.refs = map[string][]event.MaterialRef{}
	dept := map[string]string{}
	for _, sc := range pc.subs {
		dept[sc.ID] = sc.Department
	}
	for _, l := range links {
		ref := l.pm.ref(s, now)
		if l.pm.object != nil {
			if err := s.signRef(&ref, dept[l.user], caseID, l.user); err != nil {
				return nil, err
			}
		}
		pc.refs[l.user] = append(pc.refs[l.user], ref)
	}
	return pc, nil
}

// numberCase gives a prepared case its number, taken in the intake's transaction, and makes
// the messages that carry it: the dispatch messages and the case's first case.updated.
func (s *Service) numberCase(pc *preparedCase, number string) error {
	now := pc.c.SubmittedAt.Time
	pc.c.Number, pc.view.Number = number, number
	pc.msgs = pc.msgs[:0]
	for _, sc := range pc.subs {
		if sc.State != StateDispatched {
			continue
		}
		msg, err := s.dispatchMessage(pc.c, sc, nonNilRefs(pc.refs[sc.ID]), pc.agent, now)
		if err != nil {
			return err
		}
		pc.msgs = append(pc.msgs, msg)
	}
	msg, err := caseUpdatedMessage(caseUpdatedOf(pc.view), now)
	if err != nil {
		return err
	}
	pc.msgs = append(pc.msgs, msg)
	return nil
}

func nonNilRefs(refs []event.MaterialRef) []event.MaterialRef {
	if refs == nil {
		return []event.MaterialRef{}
	}
	return refs
}

// insertCase writes a prepared case: its row, sub-cases, materials, timeline and messages, one
// statement a table, sent at once.
func (s *Service) insertCase(ctx context.Context, tx *sqlx.Tx, pc *preparedCase) error {
	c := pc.c
	var w store.Writes
	w.Exec("insert into cases", `INSERT INTO cases (id, bundle_code, bundle_seq, applicant_type, holder_id, holder_name, state, form, catalogue_version,
		submitted_at, updated_at, owner, external_ref, due_promised, due_statutory, event_seq, traceparent, number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.BundleCode, c.BundleSeq, c.ApplicantType, c.HolderID, c.HolderName, c.State, c.Form, c.CatalogueVersion, c.SubmittedAt, c.UpdatedAt,
		c.Owner, c.ExternalRef, c.DuePromised, c.DueStatutory, c.EventSeq, c.TraceParent, c.Number)
	rows := make([][]any, len(pc.subs))
	for i, sc := range pc.subs {
		rows[i] = []any{sc.ID, sc.CaseID, sc.Position, sc.MatterCode, sc.MatterName, sc.Department, sc.Optional, sc.State, sc.Form, sc.Prerequisites,
			sc.PromisedDays, sc.StatutoryDays, sc.PromisedUnit, sc.StatutoryUnit, sc.ClockStart, sc.DispatchedAt, sc.DuePromised, sc.DueStatutory, sc.UpdatedAt, sc.DeliveredSeq}
	}
	w.InsertRows("subcases", []string{"id", "case_id", "position", "matter_code", "matter_name", "department",
		"optional", "state", "form", "prerequisites", "promised_days", "statutory_days", "promised_unit", "statutory_unit", "clock_start", "dispatched_at", "due_promised", "due_statutory",
		"updated_at", "delivered_seq"}, rows)
	addMaterials(&w, c.ID, pc.materials, c.SubmittedAt)
	addAgent(&w, c.ID, pc.agent, c.SubmittedAt)
	// The timeline's first steps, numbered from 1: the case's event_seq is written with them.
	steps := make([][]any, len(pc.steps))
	for i, st := range pc.steps {
		var n subcaseName
		if st.names != nil {
			n = *st.names
		}
		steps[i] = stepRow(c.ID, i+1, c.SubmittedAt, st, n)
	}
	w.InsertRows("case_events", caseEventColumns, steps)
	w.Outbox(pc.msgs...)
	if err := s.st.Send(ctx, tx, &w); err != nil {
		return fmt.Errorf("storing the case: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
