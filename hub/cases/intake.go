package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/store"
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
func (s *Service) SubmitAs(ctx context.Context, owner string, app Application, requestHash, idempotencyKey string) (view *CaseView, replayed bool, err error) {
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
	p, problems, err := s.validate(ctx, app)
	if err != nil {
		return nil, false, err
	}
	if len(problems) > 0 {
		return nil, false, problem.New(problems...)
	}
	caseID := newID("cs_")
	now := s.now()
	return s.idempotent(ctx, idempotencyKey, requestHash, 201, func(tx *sqlx.Tx) (*CaseView, error) {
		if err := s.insertCase(ctx, tx, caseID, owner, p, now); err != nil {
			if app.ExternalRef != "" {
				// Two submissions of one number at once: the unique index let one in.
				if id, _ := s.caseByRef(ctx, s.st.DB(), owner, app.ExternalRef); id != "" {
					return nil, &ConflictError{Reason: "external_ref " + app.ExternalRef + " is case " + id + " already: a new application needs a number of its own"}
				}
			}
			return nil, err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return nil, err
		}
		return v, s.emitCaseEvent(ctx, tx, v, now)
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

func (s *Service) insertCase(ctx context.Context, tx *sqlx.Tx, caseID, owner string, p *plan, now time.Time) error {
	ts := store.NewTimestamp(now)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO cases (id, bundle_code, bundle_seq, applicant_type, holder_id, holder_name, state, form, catalogue_version, submitted_at, updated_at, owner, external_ref)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		caseID, p.bundle.Code, p.bundle.Seq, p.app.ApplicantType, p.holder.ID, p.holder.Name, CaseInProgress, store.JSONOf(p.app.Form), s.cat.Version, ts, ts, owner, p.app.ExternalRef); err != nil {
		return fmt.Errorf("storing the case: %w", err)
	}
	// One multi-row INSERT per table: the sub-cases, the materials and their links.
	subcases := make([][]any, 0, len(p.subcases))
	for _, ps := range p.subcases {
		state := StateDispatched
		if len(ps.waitFor) > 0 {
			state = StateWaiting
		}
		subcases = append(subcases, []any{ps.id, caseID, ps.position, ps.matter.Code, ps.entry.Name, ps.entry.Department, ps.entry.Optional,
			state, store.JSONOf(ps.form), store.JSONOf(ps.waitFor), ps.matter.PromisedLimit.WorkingDays, ps.matter.StatutoryLimit.WorkingDays, ts})
	}
	if err := store.InsertRows(ctx, tx, "subcases", []string{"id", "case_id", "position", "matter_code", "matter_name", "department",
		"optional", "state", "form", "prerequisites", "promised_days", "statutory_days", "updated_at"}, subcases); err != nil {
		return fmt.Errorf("storing the sub-cases: %w", err)
	}
	if err := s.insertMaterials(ctx, tx, caseID, p.materials, ts); err != nil {
		return err
	}
	steps := []timelineStep{{typ: "submitted", detail: fmt.Sprintf("%d %s, %d matter(s), %d material(s)", p.bundle.Seq, p.bundle.Name, len(p.subcases), len(p.materials))}}
	var ready []string
	for _, ps := range p.subcases {
		if len(ps.waitFor) > 0 {
			steps = append(steps, timelineStep{subcaseID: ps.id, typ: StateWaiting, detail: "waits for " + strings.Join(ps.waitFor, ", ")})
			continue
		}
		ready = append(ready, ps.id)
	}
	if err := s.addTimelineSteps(ctx, tx, caseID, now, steps...); err != nil {
		return err
	}
	return s.dispatch(ctx, tx, caseID, ready, now)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
