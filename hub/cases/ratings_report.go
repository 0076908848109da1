package cases

import (
	"context"
	"math"
	"sort"
	"time"

	"yjshub/hub/store"
	"yjshub/problem"
)

// SatisfactionFormula says how RatingReport computes a satisfaction rate. 国办发〔2019〕51号
// sets the five levels and calls the two lowest 差评 but gives no formula; the rate is the
// share of ratings that are not 差评, as provincial 好差评 reports give "基本满意以上" shares.
const SatisfactionFormula = "(非常满意 + 满意 + 基本满意) / 评价总数: the share of ratings that are not 差评, rounded to 4 decimals; null without ratings"

// RatingReport counts the ratings given in a period, per department.
type RatingReport struct {
	// From and To are the period's first and last days (China, YYYY-MM-DD), as asked; empty
	// when open.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Formula says how SatisfactionRate is computed.
	Formula string `json:"satisfaction_formula"`
	// Departments are the departments rated in the period (or the one asked for), by code.
	Departments []DepartmentRatings `json:"departments"`
	// Total is every department's together.
	Total RatingCounts `json:"total"`
}

// DepartmentRatings are one department's counts.
type DepartmentRatings struct {
	Department DepartmentRef `json:"department"`
	RatingCounts
}

// RatingCounts count ratings per level.
type RatingCounts struct {
	Ratings int `json:"ratings"`
	// Levels counts the ratings of each of the five levels (every level present, 0 or more).
	Levels map[string]int `json:"levels"`
	// Bad counts the 差评 (不满意, 非常不满意).
	Bad int `json:"bad"`
	// SatisfactionRate is computed as SatisfactionFormula says; nil without ratings.
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	// OpenRectifications counts the period's bad ratings not answered yet.
	OpenRectifications int `json:"open_rectifications"`
}

func newRatingCounts() RatingCounts {
	c := RatingCounts{Levels: map[string]int{}}
	for _, l := range Levels {
		c.Levels[l] = 0
	}
	return c
}

func (c *RatingCounts) add(level string, n, open int) {
	c.Ratings += n
	c.Levels[level] += n
	if IsBadRating(level) {
		c.Bad += n
	}
	c.OpenRectifications += open
}

func (c *RatingCounts) finish() {
	if c.Ratings == 0 {
		return
	}
	r := math.Round(float64(c.Ratings-c.Bad)/float64(c.Ratings)*10000) / 10000
	c.SatisfactionRate = &r
}

// RatingReport counts the ratings given from the day from to the day to (both included, China,
// YYYY-MM-DD; either may be empty for an open end), of one department or ("") all. Every
// problem of the query is reported at once.
func (s *Service) RatingReport(ctx context.Context, from, to, department string) (*RatingReport, error) {
	var ps problem.List
	var lo, hi time.Time
	lo, hi = dayRange(from, to, &ps)
	if _, ok := s.cat.Department(department); department != "" && !ok {
		ps.Add("department", problem.RuleEnum, "is not a department code of the catalogue")
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	q := `SELECT department, level, COUNT(*) AS n,
		SUM(CASE WHEN rectification AND responded_at IS NULL THEN 1 ELSE 0 END) AS open FROM case_ratings WHERE 1 = 1`
	var args []any
	if !lo.IsZero() {
		q += ` AND rated_at >= ?`
		args = append(args, store.NewTimestamp(lo))
	}
	if !hi.IsZero() {
		q += ` AND rated_at < ?`
		args = append(args, store.NewTimestamp(hi.AddDate(0, 0, 1)))
	}
	if department != "" {
		q += ` AND department = ?`
		args = append(args, department)
	}
	var rows []struct {
		Department string `db:"department"`
		Level      string `db:"level"`
		N          int    `db:"n"`
		Open       int    `db:"open"`
	}
	db := s.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` GROUP BY department, level`), args...); err != nil {
		return nil, err
	}
	rep := &RatingReport{From: from, To: to, Formula: SatisfactionFormula, Departments: []DepartmentRatings{}, Total: newRatingCounts()}
	byDept := map[string]*DepartmentRatings{}
	get := func(code string) *DepartmentRatings {
		if d, ok := byDept[code]; ok {
			return d
		}
		d := &DepartmentRatings{Department: DepartmentRef{Code: code, Name: s.deptName(code)}, RatingCounts: newRatingCounts()}
		byDept[code] = d
		return d
	}
	if department != "" {
		get(department)
	}
	for _, r := range rows {
		get(r.Department).add(r.Level, r.N, r.Open)
		rep.Total.add(r.Level, r.N, r.Open)
	}
	codes := make([]string, 0, len(byDept))
	for c := range byDept {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		d := byDept[c]
		d.finish()
		rep.Departments = append(rep.Departments, *d)
	}
	rep.Total.finish()
	return rep, nil
}
