package cases

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/problem"
)

// caseByRef returns the id of owner's case with an external reference, or "".
func (s *Service) caseByRef(ctx context.Context, q sqlx.QueryerContext, owner, ref string) (string, error) {
	var id string
	// "external_ref <> ''" lets the planners use the partial unique index (owner, external_ref),
	// which a bound parameter alone does not prove applies: without it, every submission
	// scanned the cases.
	err := sqlx.GetContext(ctx, q, &id, s.st.DB().Rebind(`SELECT id FROM cases WHERE owner = ? AND external_ref = ? AND external_ref <> ''`), owner, ref)
	if errors.Is(err, errNoRows) {
		return "", nil
	}
	return id, err
}

// CaseQuery selects cases for a list.
type CaseQuery struct {
	// Owner limits the list to one client's cases; AllOwners lifts the limit (operators).
	Owner     string
	AllOwners bool
	// ExternalRef and State, when given, must match.
	ExternalRef string
	State       string
	// After is the last case id of the previous page; Limit the page size (default 50, at
	// most 500).
	After string
	Limit int
}

// CaseSummary is a case in a list.
type CaseSummary struct {
	ID           string          `json:"id"`
	ExternalRef  string          `json:"external_ref,omitempty"`
	State        string          `json:"state"`
	StateLabel   string          `json:"state_label"`
	Outcome      string          `json:"outcome,omitempty"`
	OutcomeLabel string          `json:"outcome_label,omitempty"`
	Bundle       event.BundleRef `json:"bundle"`
	Deadline     event.Deadlines `json:"deadline"`
	SubmittedAt  time.Time       `json:"submitted_at"`
}

// CaseList is a page of cases; Next is the After of the next page, empty on the last.
type CaseList struct {
	Items []CaseSummary `json:"items"`
	Next  string        `json:"next,omitempty"`
}

// List returns cases in the order they were submitted (case ids are time-ordered).
func (s *Service) List(ctx context.Context, q CaseQuery) (*CaseList, error) {
	var ps problem.List
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 1 || q.Limit > 500:
		ps.Add("limit", problem.RuleMaximum, "must be 1 to 500")
	}
	if q.State != "" {
		if _, ok := StateLabels[q.State]; !ok || (q.State != CaseInProgress && q.State != CaseCompleted && q.State != CaseWithdrawn) {
			ps.Add("state", problem.RuleEnum, "must be in_progress, completed or withdrawn")
		}
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	sql := `SELECT * FROM cases WHERE id > ?`
	args := []any{q.After}
	if !q.AllOwners {
		sql += ` AND owner = ?`
		args = append(args, q.Owner)
	}
	if q.ExternalRef != "" {
		sql += ` AND external_ref = ? AND external_ref <> ''`
		args = append(args, q.ExternalRef)
	}
	if q.State != "" {
		sql += ` AND state = ?`
		args = append(args, q.State)
	}
	sql += ` ORDER BY id LIMIT ?`
	args = append(args, q.Limit+1)
	var rows []caseRow
	db := s.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(sql), args...); err != nil {
		return nil, err
	}
	out := &CaseList{Items: []CaseSummary{}}
	for i, c := range rows {
		if i == q.Limit {
			out.Next = rows[i-1].ID
			break
		}
		cs := CaseSummary{ID: c.ID, ExternalRef: c.ExternalRef, State: c.State, StateLabel: label(StateLabels, c.State),
			Outcome: c.Outcome, OutcomeLabel: OutcomeLabels[c.Outcome], Bundle: event.BundleRef{Seq: c.BundleSeq, Code: c.BundleCode},
			Deadline:    event.Deadlines{Promised: c.DuePromised, Statutory: c.DueStatutory},
			SubmittedAt: c.SubmittedAt.In(deadline.China)}
		if b, ok := s.cat.Bundle(c.BundleCode); ok {
			cs.Bundle.Name = b.Name
		}
		out.Items = append(out.Items, cs)
	}
	return out, nil
}

// Owner returns the client a case belongs to ("" when the hub did not know).
func (s *Service) Owner(ctx context.Context, caseID string) (string, error) {
	var owner string
	db := s.st.DB()
	if err := db.GetContext(ctx, &owner, db.Rebind(`SELECT owner FROM cases WHERE id = ?`), caseID); err != nil {
		return "", notFound(err, "case")
	}
	return owner, nil
}
