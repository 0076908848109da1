package cases

import (
	"context"
	"sort"
	"time"

	"yjshub/hub/deadline"
	"yjshub/hub/store"
	"yjshub/problem"
)

// AgentReport counts, per month, the cases submitted with an agent (帮办代办): how far the
// plan's §三(七) 帮办代办 service reaches.
type AgentReport struct {
	// From and To are the period's first and last days (China, YYYY-MM-DD), as asked; empty
	// when open.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Months are the months with such cases, in order.
	Months []AgentMonth `json:"months"`
	// Total is the whole period's.
	Total AgentCounts `json:"total"`
}

// AgentMonth is one month's counts; Month is YYYY-MM in China.
type AgentMonth struct {
	Month string `json:"month"`
	AgentCounts
}

// AgentCounts count the cases with an agent, by kind.
type AgentCounts struct {
	Cases      int `json:"cases"`
	Assistance int `json:"assistance"` // 帮办
	Proxy      int `json:"proxy"`      // 代办
}

func (c *AgentCounts) add(kind string) {
	c.Cases++
	switch kind {
	case AgentAssistance:
		c.Assistance++
	case AgentProxy:
		c.Proxy++
	}
}

// AgentReport counts the cases with an agent submitted from the day from to the day to (both
// included, China, YYYY-MM-DD; either empty for an open end). Every problem of the query is
// reported at once.
func (s *Service) AgentReport(ctx context.Context, from, to string) (*AgentReport, error) {
	var ps problem.List
	var lo, hi time.Time
	lo, hi = dayRange(from, to, &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	q := `SELECT kind, submitted_at FROM case_agents WHERE 1 = 1`
	var args []any
	if !lo.IsZero() {
		q += ` AND submitted_at >= ?`
		args = append(args, store.NewTimestamp(lo))
	}
	if !hi.IsZero() {
		q += ` AND submitted_at < ?`
		args = append(args, store.NewTimestamp(hi.AddDate(0, 0, 1)))
	}
	db := s.st.DB()
	// Read row by row: the months are counted here, for the two SQL dialects say "the month
	// of a microsecond count in China" differently.
	rows, err := db.QueryxContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rep := &AgentReport{From: from, To: to, Months: []AgentMonth{}}
	months := map[string]*AgentCounts{}
	for rows.Next() {
		var r struct {
			Kind        string          `db:"kind"`
			SubmittedAt store.Timestamp `db:"submitted_at"`
		}
		if err := rows.StructScan(&r); err != nil {
			return nil, err
		}
		m := r.SubmittedAt.In(deadline.China).Format("2006-01")
		if months[m] == nil {
			months[m] = &AgentCounts{}
		}
		months[m].add(r.Kind)
		rep.Total.add(r.Kind)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(months))
	for m := range months {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	for _, m := range keys {
		rep.Months = append(rep.Months, AgentMonth{Month: m, AgentCounts: *months[m]})
	}
	return rep, nil
}
