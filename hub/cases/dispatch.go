package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/bus"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
	"yjshub/mapping"
)

// dispatch starts the clocks of sub-cases and enqueues their messages to their departments'
// topics, all at once: one deadline computation and one read of the case for the lot.
func (s *Service) dispatch(ctx context.Context, tx *sqlx.Tx, caseID string, subcaseIDs []string, now time.Time) error {
	if len(subcaseIDs) == 0 {
		return nil
	}
	ts := store.NewTimestamp(now)
	q, args, err := sqlx.In(`UPDATE subcases SET state = ?, clock_start = ?, dispatched_at = ?, updated_at = ? WHERE id IN (?)`,
		StateDispatched, ts, ts, ts, subcaseIDs)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
		return err
	}
	c, subs, _, err := s.refreshDeadlinesRead(ctx, tx, caseID, now, true)
	if err != nil {
		return err
	}
	byID := make(map[string]subcaseRow, len(subs))
	for _, sc := range subs {
		byID[sc.ID] = sc
	}
	mats, err := s.dispatchMaterials(ctx, tx, subcaseIDs, now)
	if err != nil {
		return err
	}
	agent, err := loadAgent(ctx, tx, caseID)
	if err != nil {
		return err
	}
	msgs := make([]store.OutboxMessage, 0, len(subcaseIDs))
	steps := make([]timelineStep, 0, len(subcaseIDs))
	for _, id := range subcaseIDs {
		sc, ok := byID[id]
		if !ok {
			return fmt.Errorf("dispatching sub-case %s: not in case %s", id, caseID)
		}
		msg, err := s.dispatchMessage(c, sc, mats[id], agent, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		steps = append(steps, timelineStep{subcaseID: id, typ: StateDispatched, detail: "sent to " + s.deptName(sc.Department), names: s.namesOf(sc)})
	}
	// The steps' numbers and, after them, those of the sub-cases' delivery steps, taken at
	// once (migration 00019: recording a delivery does not take the case's row).
	var next int
	if err := tx.GetContext(ctx, &next, tx.Rebind(`UPDATE cases SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq`),
		len(steps)+len(subcaseIDs), caseID); err != nil {
		return fmt.Errorf("numbering the timeline: %w", err)
	}
	last := next - len(steps) - len(subcaseIDs)
	if err := s.insertSteps(ctx, tx, caseID, last, now, steps...); err != nil {
		return err
	}
	reserved := make([][]any, len(subcaseIDs))
	for i, id := range subcaseIDs {
		reserved[i] = []any{id, last + len(steps) + 1 + i}
	}
	if err := store.UpdateRows(ctx, tx, "subcases", "id", []string{"delivered_seq"}, map[string]string{"delivered_seq": "INTEGER"}, reserved); err != nil {
		return err
	}
	return s.st.EnqueueOutbox(ctx, tx, msgs...)
}

func (s *Service) deptName(code string) string {
	if d, ok := s.cat.Department(code); ok {
		return d.Name
	}
	return code
}

// dispatchMaterials reads the materials of sub-cases, in one statement, as their dispatch
// messages reference them (by sub-case id).
func (s *Service) dispatchMaterials(ctx context.Context, tx *sqlx.Tx, subcaseIDs []string, now time.Time) (map[string][]event.MaterialRef, error) {
	var rows []struct {
		event.MaterialRef
		SubcaseID     string `db:"subcase_id"`
		CaseID        string `db:"case_id"`
		Department    string `db:"department"`
		LicenceType   string `db:"licence_type"`
		LicenceNumber string `db:"licence_number"`
		ObjectID      string `db:"object_id"`
		CT            string `db:"content_type"`
	}
	q, args, err := sqlx.In(`SELECT sm.subcase_id AS subcase_id, m.case_id AS case_id, sc.department AS department, m.type AS type, m.filename AS filename,
		m.sha256 AS sha256, m.size AS size, m.uri AS uri, m.licence_type AS licence_type, m.licence_number AS licence_number,
		m.object_id AS object_id, m.content_type AS content_type
		FROM case_materials m JOIN subcase_materials sm ON sm.material_id = m.id JOIN subcases sc ON sc.id = sm.subcase_id
		WHERE sm.subcase_id IN (?) ORDER BY sm.subcase_id, m.type, m.file_index`, subcaseIDs)
	if err != nil {
		return nil, err
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
		return nil, err
	}
	out := make(map[string][]event.MaterialRef, len(subcaseIDs))
	for _, id := range subcaseIDs {
		out[id] = []event.MaterialRef{}
	}
	for _, r := range rows {
		ref := r.MaterialRef
		if m, ok := s.cat.Material(ref.Type); ok {
			ref.Name = m.Name
		}
		if r.LicenceNumber != "" {
			// Verified again as it leaves: a sub-case released later may find it revoked since.
			status := licences.StatusRevoked
			lic, err := s.lib.Find(ctx, tx, r.LicenceType, r.LicenceNumber)
			switch {
			case err == nil:
				status = lic.Status
			case !errors.Is(err, licences.ErrNotFound):
				return nil, err
			}
			ref.Licence = &event.LicenceMaterial{Type: r.LicenceType, Number: r.LicenceNumber, Status: status, VerifiedAt: now}
		}
		if r.ObjectID != "" {
			ref.ContentType = r.CT
			if err := s.signRef(&ref, r.Department, r.CaseID, r.SubcaseID); err != nil {
				return nil, err
			}
		}
		out[r.SubcaseID] = append(out[r.SubcaseID], ref)
	}
	return out, nil
}

// dispatchMessage builds the outbox message that carries a sub-case to its department.
func (s *Service) dispatchMessage(c caseRow, sc subcaseRow, mats []event.MaterialRef, agent *agentRow, now time.Time) (store.OutboxMessage, error) {
	caseID, subcaseID := c.ID, sc.ID
	m, _ := s.cat.Matter(sc.MatterCode)
	b, _ := s.cat.Bundle(c.BundleCode)
	holder := holderOf(c.ApplicantType, c.Form.V)
	data := event.SubcaseDispatched{
		CaseID: caseID, CaseNumber: c.Number, SubcaseID: subcaseID,
		Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name},
		Matter: event.MatterRef{Code: m.Code, Name: sc.MatterName, Result: event.ResultRef{Kind: m.Result.Kind, Name: m.Result.Name,
			LicenceTypeCode: m.Result.LicenceTypeCode}},
		Department:    sc.Department,
		ApplicantType: c.ApplicantType,
		Applicant:     &holder,
		Agent:         agent.ref(),
		Form:          sc.Form.V,
		Materials:     mats,
		Deadlines:     s.deadlinesOf(sc.DuePromised, sc.DueStatutory),
		SubmittedAt:   c.SubmittedAt.Time,
		Callback:      s.callback(subcaseID),
	}
	id := newID("ev_")
	env, err := event.New(id, event.TypeSubcaseDispatched, subcaseID, now, data)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	// The case's trace travels in the envelope, which reaches the department whatever its
	// kind, and in the record's headers, which the relay makes the dispatch span's.
	env.TraceParent = c.TraceParent
	payload, err := json.Marshal(env)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	headers := map[string]string{"ce_type": event.TypeSubcaseDispatched, "ce_id": id}
	if c.TraceParent != "" {
		headers[tracing.HeaderTraceParent] = c.TraceParent
	}
	return store.OutboxMessage{EventID: id, Topic: bus.SubcaseTopic(sc.Department), Key: caseID, Payload: payload, Headers: headers}, nil
}

// release dispatches every waiting sub-case whose prerequisites in the case are all approved,
// with the prerequisites' results mapped into its form.
func (s *Service) release(ctx context.Context, tx *sqlx.Tx, caseID string, now time.Time) error {
	var subs []subcaseRow
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return err
	}
	byMatter := map[string]subcaseRow{}
	for _, sc := range subs {
		byMatter[sc.MatterCode] = sc
	}
	var c caseRow
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return err
	}
	var released []string
	for _, sc := range subs {
		if sc.State != StateWaiting {
			continue
		}
		pre := sc.Prerequisites.V
		ready := true
		for _, p := range pre {
			if byMatter[p].State != StateApproved {
				ready = false
			}
		}
		if !ready {
			continue
		}
		out, err := s.mapSubcase(ctx, tx, c, byMatter, sc, c.Form.V)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET form = ? WHERE id = ?`), store.JSONOf(out), sc.ID); err != nil {
			return err
		}
		released = append(released, sc.ID)
	}
	return s.dispatch(ctx, tx, caseID, released, now)
}

// mapSubcase maps a sub-case's department form from the case's canonical form and the results
// of its matter's prerequisites: those in the case (approved) and the holder's e-licences for
// those outside it.
func (s *Service) mapSubcase(ctx context.Context, tx *sqlx.Tx, c caseRow, byMatter map[string]subcaseRow, sc subcaseRow, form mapping.Form) (map[string]any, error) {
	results := mapping.Results{}
	for _, p := range sc.Prerequisites.V {
		r, err := s.resultOf(ctx, tx, byMatter[p])
		if err != nil {
			return nil, err
		}
		results[p] = r
	}
	m, _ := s.cat.Matter(sc.MatterCode)
	inCase := map[string]bool{}
	for code := range byMatter {
		inCase[code] = true
	}
	outside, err := s.outsideResults(ctx, tx, m, inCase, c.HolderID)
	if err != nil {
		return nil, err
	}
	for code, r := range outside {
		results[code] = r
	}
	out, problems := mapping.Map(m, c.ApplicantType, form, results)
	if len(problems) > 0 {
		// The form was valid when the applicant gave it; a mapping that now fails is the
		// catalogue's problem, not the applicant's: record it and send what maps.
		s.cfg.Logger.Warn("mapping a sub-case's form left problems", "case", c.ID, "subcase", sc.ID, "matter", sc.MatterCode, "problems", len(problems))
	}
	return out, nil
}

// resultOf returns what a decided sub-case issued, as mapping result fields.
func (s *Service) resultOf(ctx context.Context, tx *sqlx.Tx, sc subcaseRow) (map[string]any, error) {
	r := map[string]any{}
	if sc.DecisionNumber != "" {
		r["decision_number"] = sc.DecisionNumber
	}
	lics, err := s.lib.OfSubcase(ctx, tx, sc.ID)
	if err != nil {
		return nil, err
	}
	if len(lics) > 0 {
		l := lics[0]
		r["licence_number"], r["licence_name"], r["issued_at"], r["issuer"] = l.Number, l.Type, l.IssuedAt, l.Issuer
		if l.ValidUntil != "" {
			r["valid_until"] = l.ValidUntil
		}
	}
	return r, nil
}
