package cases

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/audit"
	"yjshub/hub/deadline"
	"yjshub/hub/store"
	"yjshub/problem"
)

// The five levels of a rating (好差评), as 国办发〔2019〕51号 and the national standard of the
// 好差评 system set them, best first. The two lowest are 差评 (bad ratings), which the
// department must rectify (整改) and answer.
const (
	LevelVerySatisfied      = "very_satisfied"      // 非常满意
	LevelSatisfied          = "satisfied"           // 满意
	LevelBasicallySatisfied = "basically_satisfied" // 基本满意
	LevelDissatisfied       = "dissatisfied"        // 不满意
	LevelVeryDissatisfied   = "very_dissatisfied"   // 非常不满意
)

// Levels are the rating levels, best first.
var Levels = []string{LevelVerySatisfied, LevelSatisfied, LevelBasicallySatisfied, LevelDissatisfied, LevelVeryDissatisfied}

// LevelLabels name the rating levels as the national rules do.
var LevelLabels = map[string]string{
	LevelVerySatisfied:      "非常满意",
	LevelSatisfied:          "满意",
	LevelBasicallySatisfied: "基本满意",
	LevelDissatisfied:       "不满意",
	LevelVeryDissatisfied:   "非常不满意",
}

// IsBadRating reports whether a level is a 差评, which needs rectification.
func IsBadRating(level string) bool {
	return level == LevelDissatisfied || level == LevelVeryDissatisfied
}

// Timeline steps of ratings.
const (
	StepRated     = "rated"            // the applicant rated a department
	StepRectified = "rating_rectified" // a department answered a bad rating
)

// Rules of the problems with a rating.
const (
	RuleDepartmentNotInCase = "department_not_in_case" // the department handled no matter of the case
)

// Text limits of ratings, in characters.
const (
	MaxRatingComment  = 500
	MaxRatingResponse = 1000
)

// Audit kinds of ratings.
const (
	AuditRating         = "rating"
	AuditRatingResponse = "rating_response"
)

// RatingRequest is what an applicant's platform sends to rate a completed case: one entry
// per department rated now; each department of the case is rated once, in this request or a
// later one.
type RatingRequest struct {
	Ratings []DepartmentRating `json:"ratings"`
}

// DepartmentRating rates one department of a case.
type DepartmentRating struct {
	// Department is the department's code; it must have handled a matter of the case.
	Department string `json:"department"`
	// Level is one of Levels.
	Level string `json:"level"`
	// Comment is the applicant's optional words: at most MaxRatingComment characters, no
	// control characters.
	Comment string `json:"comment,omitempty"`
}

// RatingResponse is a department's response to a bad rating: what it rectified (整改).
type RatingResponse struct {
	Response string `json:"response"`
}

// RatingView is a rating as the API shows it.
type RatingView struct {
	ID         string        `json:"id"`
	CaseID     string        `json:"case_id"`
	Department DepartmentRef `json:"department"`
	Level      string        `json:"level"`
	LevelLabel string        `json:"level_label"`
	Comment    string        `json:"comment,omitempty"`
	RatedAt    time.Time     `json:"rated_at"`
	// Rectification is set for a bad rating (不满意, 非常不满意): open until the department
	// records its response.
	Rectification *RectificationView `json:"rectification,omitempty"`
}

// Rectification states.
const (
	RectificationOpen   = "open"
	RectificationClosed = "closed"
	// RectificationsAll asks Rectifications for both.
	RectificationsAll = "all"
)

// RectificationView is where the rectification of a bad rating stands.
type RectificationView struct {
	State       string     `json:"state"`
	Response    string     `json:"response,omitempty"`
	RespondedBy string     `json:"responded_by,omitempty"`
	RespondedAt *time.Time `json:"responded_at,omitempty"`
}

type ratingRow struct {
	ID            string          `db:"id"`
	CaseID        string          `db:"case_id"`
	Department    string          `db:"department"`
	Level         string          `db:"level"`
	Comment       string          `db:"comment"`
	RatedBy       string          `db:"rated_by"`
	RatedAt       store.Timestamp `db:"rated_at"`
	Rectification bool            `db:"rectification"`
	Response      string          `db:"response"`
	RespondedBy   string          `db:"responded_by"`
	RespondedAt   store.Timestamp `db:"responded_at"`
}

func (s *Service) ratingView(r ratingRow) RatingView {
	v := RatingView{ID: r.ID, CaseID: r.CaseID, Department: DepartmentRef{Code: r.Department, Name: s.deptName(r.Department)},
		Level: r.Level, LevelLabel: label(LevelLabels, r.Level), Comment: r.Comment, RatedAt: r.RatedAt.In(deadline.China)}
	if r.Rectification {
		v.Rectification = &RectificationView{State: RectificationOpen}
		if !r.RespondedAt.IsZero() {
			v.Rectification = &RectificationView{State: RectificationClosed, Response: r.Response, RespondedBy: r.RespondedBy, RespondedAt: ptime(r.RespondedAt)}
		}
	}
	return v
}

// checkText reports a text that is required and blank, too long, or holds a control character
// other than a tab or a line break (a comment or a response may run over several lines, as a
// supplement's note may).
func checkText(ps *problem.List, path, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		ps.Add(path, problem.RuleRequired, "is required, not blank")
	case utf8.RuneCountInString(v) > max:
		ps.Add(path, problem.RuleMaxLength, "must be at most %d characters", max)
	case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }):
		ps.Add(path, RuleControlCharacter, "must not contain control characters other than tabs and line breaks")
	}
}

// Rate records the ratings of a completed case by the applicant, through owner (the platform
// that submitted it; "" when the API does not authenticate, which any case passes). Another
// owner's case is not found. Every problem of the request is reported at once (422); a case
// that is not completed, or a department rated already, is a conflict (409). Each rating is
// audited, put in the case's timeline and announced as case.updated on yjs.case.event, in one
// transaction.
func (s *Service) Rate(ctx context.Context, owner, caseID string, req RatingRequest) ([]RatingView, error) {
	var out []RatingView
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if owner != "" && v.Owner != owner {
			return NotFound("case")
		}
		handled := map[string]bool{}
		for _, sc := range v.Subcases {
			if sc.DispatchedAt != nil { // a matter never sent was handled by no one
				handled[sc.Department.Code] = true
			}
		}
		var ps problem.List
		if len(req.Ratings) == 0 {
			ps.Add("/ratings", problem.RuleRequired, "rate at least one department of the case")
		}
		seen := map[string]bool{}
		for i, r := range req.Ratings {
			at := fmt.Sprintf("/ratings/%d", i)
			switch {
			case r.Department == "":
				ps.Add(at+"/department", problem.RuleRequired, "name the department by its code")
			case seen[r.Department]:
				ps.Add(at+"/department", problem.RuleDuplicate, "the department %s is rated twice in this request", r.Department)
			case !handled[r.Department]:
				if _, ok := s.cat.Department(r.Department); !ok {
					ps.Add(at+"/department", problem.RuleEnum, "is not a department code of the catalogue")
				} else {
					ps.Add(at+"/department", RuleDepartmentNotInCase, "%s handled no matter of this case", s.deptName(r.Department))
				}
			}
			seen[r.Department] = true
			switch {
			case r.Level == "":
				ps.Add(at+"/level", problem.RuleRequired, "give one of the five levels: %s", strings.Join(Levels, ", "))
			case !slices.Contains(Levels, r.Level):
				ps.Add(at+"/level", problem.RuleEnum, "must be one of %s", strings.Join(Levels, ", "))
			}
			checkText(&ps, at+"/comment", r.Comment, MaxRatingComment, false)
		}
		if err := ps.Err(); err != nil {
			return err
		}
		if v.State != CaseCompleted {
			return &ConflictError{Reason: "the case is " + v.State + ": a case is rated once every one of its matters is decided (completed)"}
		}
		var rated []string
		if err := tx.SelectContext(ctx, &rated, tx.Rebind(`SELECT department FROM case_ratings WHERE case_id = ?`), caseID); err != nil {
			return err
		}
		var twice []string
		for _, r := range req.Ratings {
			if slices.Contains(rated, r.Department) {
				twice = append(twice, r.Department)
			}
		}
		if len(twice) > 0 {
			return &ConflictError{Reason: "the case was rated for " + strings.Join(twice, ", ") + " already: each department is rated once"}
		}
		now := s.now()
		ts := store.NewTimestamp(now)
		rows := make([][]any, len(req.Ratings))
		steps := make([]timelineStep, len(req.Ratings))
		for i, r := range req.Ratings {
			row := ratingRow{ID: newID("rt_"), CaseID: caseID, Department: r.Department, Level: r.Level, Comment: r.Comment, RatedBy: owner,
				RatedAt: ts, Rectification: IsBadRating(r.Level)}
			rows[i] = []any{row.ID, row.CaseID, row.Department, row.Level, row.Comment, row.RatedBy, row.RatedAt, row.Rectification}
			out = append(out, s.ratingView(row))
			dept := s.deptName(r.Department)
			text := "已评价：" + dept + " " + LevelLabels[r.Level]
			detail := dept + ": " + r.Level
			if row.Rectification {
				text += "（差评，部门将整改并答复）"
				detail += ", rectification open"
			}
			steps[i] = timelineStep{typ: StepRated, detail: detail, text: text,
				data: map[string]any{"rating_id": row.ID, "department": r.Department, "level": r.Level, "rectification": row.Rectification}}
			if err := s.audit(ctx, tx, AuditRating, v.HolderID(), map[string]any{"case": caseID, "rating": row.ID, "department": r.Department,
				"level": r.Level, "rectification": row.Rectification, "client": owner}); err != nil {
				return err
			}
		}
		if err := store.InsertRows(ctx, tx, "case_ratings", []string{"id", "case_id", "department", "level", "comment", "rated_by", "rated_at", "rectification"}, rows); err != nil {
			return fmt.Errorf("storing the ratings: %w", err)
		}
		if err := s.addTimelineSteps(ctx, tx, caseID, now, steps...); err != nil {
			return err
		}
		return s.emitCaseEvent(ctx, tx, v, now)
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return out, nil
}

// audit appends an entry about a case's holder to the audit log, when the service has one.
func (s *Service) audit(ctx context.Context, tx *sqlx.Tx, kind, holderID string, detail map[string]any) error {
	if s.cfg.Audit == nil {
		return nil
	}
	var subject string
	if s.cfg.Pseudonyms != nil && holderID != "" {
		subject = s.cfg.Pseudonyms.Of(holderID)
	}
	_, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{Kind: kind, Outcome: audit.Granted, Subject: subject, Detail: detail})
	return err
}

// Ratings returns a case's ratings, in the order they were given, for owner ("" any case).
func (s *Service) Ratings(ctx context.Context, owner, caseID string) ([]RatingView, error) {
	var c struct {
		Owner string `db:"owner"`
	}
	db := s.st.DB()
	if err := db.GetContext(ctx, &c, db.Rebind(`SELECT owner FROM cases WHERE id = ?`), caseID); err != nil {
		return nil, notFound(err, "case")
	}
	if owner != "" && c.Owner != owner {
		return nil, NotFound("case")
	}
	var rows []ratingRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT * FROM case_ratings WHERE case_id = ? ORDER BY rated_at, id`), caseID); err != nil {
		return nil, err
	}
	out := make([]RatingView, len(rows))
	for i, r := range rows {
		out[i] = s.ratingView(r)
	}
	return out, nil
}

// Rectifications lists bad ratings by rectification state (RectificationOpen,
// RectificationClosed, or RectificationsAll), of one department or ("") of all, oldest first.
func (s *Service) Rectifications(ctx context.Context, department, state string) ([]RatingView, error) {
	var ps problem.List
	if state != RectificationsAll && state != RectificationOpen && state != RectificationClosed {
		ps.Add("state", problem.RuleEnum, "must be open, closed or all")
	}
	if _, ok := s.cat.Department(department); department != "" && !ok {
		ps.Add("department", problem.RuleEnum, "is not a department code of the catalogue")
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	q := `SELECT * FROM case_ratings WHERE rectification = ?`
	args := []any{true}
	switch state {
	case RectificationOpen:
		q += ` AND responded_at IS NULL`
	case RectificationClosed:
		q += ` AND responded_at IS NOT NULL`
	}
	if department != "" {
		q += ` AND department = ?`
		args = append(args, department)
	}
	db := s.st.DB()
	var rows []ratingRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY rated_at, id`), args...); err != nil {
		return nil, err
	}
	out := make([]RatingView, len(rows))
	for i, r := range rows {
		out[i] = s.ratingView(r)
	}
	return out, nil
}

// Respond records a department's response to a bad rating, which closes its rectification.
// department is the responding client's department ("" when the API does not authenticate):
// another department's rating is not found. A rating that needs no rectification, or was
// answered already, is a conflict. The response is audited, put in the case's timeline and
// announced as case.updated, in one transaction.
func (s *Service) Respond(ctx context.Context, department, client, ratingID string, resp RatingResponse) (*RatingView, error) {
	var ps problem.List
	checkText(&ps, "/response", resp.Response, MaxRatingResponse, true)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	var out RatingView
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var caseID string
		if err := tx.GetContext(ctx, &caseID, tx.Rebind(`SELECT case_id FROM case_ratings WHERE id = ?`), ratingID); err != nil {
			return notFound(err, "rating")
		}
		if err := s.lockCase(ctx, tx, caseID); err != nil {
			return err
		}
		var r ratingRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT * FROM case_ratings WHERE id = ?`), ratingID); err != nil {
			return notFound(err, "rating")
		}
		if department != "" && r.Department != department {
			return NotFound("rating")
		}
		if !r.Rectification {
			return &ConflictError{Reason: "the rating is " + LevelLabels[r.Level] + ": only a bad rating (不满意, 非常不满意) is rectified and answered"}
		}
		if !r.RespondedAt.IsZero() {
			return &ConflictError{Reason: "the rating was answered already: its rectification is closed"}
		}
		now := s.now()
		r.Response, r.RespondedBy, r.RespondedAt = resp.Response, client, store.NewTimestamp(now)
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE case_ratings SET response = ?, responded_by = ?, responded_at = ? WHERE id = ? AND responded_at IS NULL`),
			r.Response, r.RespondedBy, r.RespondedAt, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &ConflictError{Reason: "the rating was answered already: its rectification is closed"}
		}
		var holder string
		if err := tx.GetContext(ctx, &holder, tx.Rebind(`SELECT holder_id FROM cases WHERE id = ?`), caseID); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, AuditRatingResponse, holder, map[string]any{"case": caseID, "rating": r.ID, "department": r.Department, "client": client}); err != nil {
			return err
		}
		dept := s.deptName(r.Department)
		if err := s.addTimelineSteps(ctx, tx, caseID, now, timelineStep{typ: StepRectified, detail: dept + " answered the bad rating " + r.ID,
			text: dept + " 已对差评整改并答复", data: map[string]any{"rating_id": r.ID, "department": r.Department}}); err != nil {
			return err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		out = s.ratingView(r)
		return s.emitCaseEvent(ctx, tx, v, now)
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return &out, nil
}
