package cases

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
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

// CaseQuery selects cases for a list; every field given must match.
type CaseQuery struct {
	// Owner limits the list to one client's cases; AllOwners lifts the limit (operators).
	Owner     string
	AllOwners bool
	// ExternalRef is the platform's own number; State the case's state (in_progress,
	// completed, withdrawn).
	ExternalRef string
	State       string
	// Number is a case number (办件编号); a number written with lower-case x is taken as X.
	Number string
	// Bundle is a bundle's code; Department a department with a matter in the case.
	Bundle     string
	Department string
	// From and To bound the day of submission in China, both included (YYYY-MM-DD).
	From, To string
	// Holder is the holder's credit code or ID number: personal data, for the callers that
	// may search by it (the API lets only operators granted personal data, and audits it).
	Holder string
	// After is the cursor: the last case id of the previous page. Limit is the page size
	// (default 50, at most 500).
	After string
	Limit int
}

// CaseSummary is a case in a list.
type CaseSummary struct {
	ID string `json:"id"`
	// Number is the case number (办件编号); absent for cases submitted before numbers.
	Number       string          `json:"number,omitempty"`
	ExternalRef  string          `json:"external_ref,omitempty"`
	State        string          `json:"state"`
	StateLabel   string          `json:"state_label"`
	Outcome      string          `json:"outcome,omitempty"`
	OutcomeLabel string          `json:"outcome_label,omitempty"`
	Bundle       event.BundleRef `json:"bundle"`
	Deadline     event.Deadlines `json:"deadline"`
	SubmittedAt  time.Time       `json:"submitted_at"`
	CompletedAt  *time.Time      `json:"completed_at,omitempty"`
	// Departments are the codes of the departments of its matters, in the matters' order.
	Departments []string `json:"departments"`
	// Subcases counts its matters: all, decided, and those with a message refused for good.
	Subcases SubcaseCounts `json:"subcases"`
}

// SubcaseCounts counts a case's sub-cases.
type SubcaseCounts struct {
	Total          int `json:"total"`
	Decided        int `json:"decided"`
	DeliveryFailed int `json:"delivery_failed"`
}

// CaseList is a page of cases; Next is the cursor (After) of the next page, empty on the last.
type CaseList struct {
	Items []CaseSummary `json:"items"`
	Next  string        `json:"next,omitempty"`
}

// decidedStates are the sub-case states nothing follows.
var decidedStates = map[string]bool{StateApproved: true, StateRejected: true, StateCancelled: true, StateWithdrawn: true}

// List returns cases in the order they were submitted (case ids are time-ordered). Every
// problem of the query is reported at once.
func (s *Service) List(ctx context.Context, q CaseQuery) (*CaseList, error) {
	var ps problem.List
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 1 || q.Limit > 500:
		ps.Add("limit", problem.RuleMaximum, "must be 1 to 500")
	}
	if q.State != "" && q.State != CaseInProgress && q.State != CaseCompleted && q.State != CaseWithdrawn {
		ps.Add("state", problem.RuleEnum, "must be in_progress, completed or withdrawn")
	}
	if q.Number = strings.ToUpper(strings.TrimSpace(q.Number)); q.Number != "" && !ValidCaseNumber(q.Number) {
		ps.Add("number", problem.RulePattern, "must be a case number written like 320707-20261205-07-00042-5, its check character right")
	}
	if q.Bundle != "" {
		if _, ok := s.cat.Bundle(q.Bundle); !ok {
			ps.Add("bundle", problem.RuleEnum, "is not a bundle code of the catalogue")
		}
	}
	if _, ok := s.cat.Department(q.Department); q.Department != "" && !ok {
		ps.Add("department", problem.RuleEnum, "is not a department code of the catalogue")
	}
	var from, to time.Time
	from, to = dayRange(q.From, q.To, &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	sql := `SELECT * FROM cases WHERE id > ?`
	args := []any{q.After}
	add := func(cond string, v any) {
		sql += ` AND ` + cond
		args = append(args, v)
	}
	if !q.AllOwners {
		add(`owner = ?`, q.Owner)
	}
	if q.ExternalRef != "" {
		add(`external_ref = ? AND external_ref <> ''`, q.ExternalRef)
	}
	if q.State != "" {
		add(`state = ?`, q.State)
	}
	if q.Number != "" {
		add(`number = ?`, q.Number)
	}
	if q.Bundle != "" {
		add(`bundle_code = ?`, q.Bundle)
	}
	if q.Department != "" {
		add(`EXISTS (SELECT 1 FROM subcases sd WHERE sd.case_id = cases.id AND sd.department = ?)`, q.Department)
	}
	if !from.IsZero() {
		add(`submitted_at >= ?`, store.NewTimestamp(from))
	}
	if !to.IsZero() {
		add(`submitted_at < ?`, store.NewTimestamp(to.AddDate(0, 0, 1)))
	}
	if q.Holder != "" {
		add(`holder_id = ?`, q.Holder)
	}
	sql += ` ORDER BY id LIMIT ?`
	args = append(args, q.Limit+1)
	var rows []caseRow
	db := s.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(sql), args...); err != nil {
		return nil, err
	}
	out := &CaseList{Items: []CaseSummary{}}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		out.Next = rows[q.Limit-1].ID
	}
	subs, err := s.subcaseSummaries(ctx, rows)
	if err != nil {
		return nil, err
	}
	for _, c := range rows {
		cs := CaseSummary{ID: c.ID, Number: c.Number, ExternalRef: c.ExternalRef, State: c.State, StateLabel: label(StateLabels, c.State),
			Outcome: c.Outcome, OutcomeLabel: OutcomeLabels[c.Outcome], Bundle: event.BundleRef{Seq: c.BundleSeq, Code: c.BundleCode},
			Deadline:    s.deadlinesOf(c.DuePromised, c.DueStatutory),
			SubmittedAt: c.SubmittedAt.In(deadline.China), CompletedAt: ptime(c.CompletedAt), Departments: []string{}}
		if b, ok := s.cat.Bundle(c.BundleCode); ok {
			cs.Bundle.Name = b.Name
		}
		for _, sc := range subs[c.ID] {
			cs.Subcases.Total++
			if decidedStates[sc.State] {
				cs.Subcases.Decided++
			}
			if sc.Failed > 0 {
				cs.Subcases.DeliveryFailed++
			}
			if !slices.Contains(cs.Departments, sc.Department) {
				cs.Departments = append(cs.Departments, sc.Department)
			}
		}
		out.Items = append(out.Items, cs)
	}
	return out, nil
}

type subcaseSummary struct {
	CaseID     string `db:"case_id"`
	Department string `db:"department"`
	State      string `db:"state"`
	Failed     int    `db:"failed"`
}

// subcaseSummaries reads the sub-cases of a page of cases, by case, in their order.
func (s *Service) subcaseSummaries(ctx context.Context, rows []caseRow) (map[string][]subcaseSummary, error) {
	out := map[string][]subcaseSummary{}
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i, c := range rows {
		ids[i] = c.ID
	}
	q, args, err := sqlx.In(`SELECT s.case_id, s.department, s.state,
		(SELECT COUNT(*) FROM deliveries d WHERE d.subcase_id = s.id AND d.outcome = 'failed') AS failed
		FROM subcases s WHERE s.case_id IN (?) ORDER BY s.case_id, s.position`, ids)
	if err != nil {
		return nil, err
	}
	var list []subcaseSummary
	db := s.st.DB()
	if err := db.SelectContext(ctx, &list, db.Rebind(q), args...); err != nil {
		return nil, err
	}
	for _, sc := range list {
		out[sc.CaseID] = append(out[sc.CaseID], sc)
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
