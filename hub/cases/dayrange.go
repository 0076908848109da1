package cases

import (
	"time"

	"yjshub/hub/deadline"
	"yjshub/problem"
)

// dayRange reads a query's day range, from and to (both included, China, YYYY-MM-DD; either
// empty for an open end), adding to ps every problem: a day that is not a date, a to before
// from. A bound not given is the zero time.
func dayRange(from, to string, ps *problem.List) (lo, hi time.Time) {
	for _, d := range []struct {
		name, v string
		t       *time.Time
	}{{"from", from, &lo}, {"to", to, &hi}} {
		if d.v == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, d.v, deadline.China)
		if err != nil {
			ps.Add(d.name, problem.RuleDate, "must be a date written YYYY-MM-DD")
			continue
		}
		*d.t = t
	}
	if !lo.IsZero() && !hi.IsZero() && hi.Before(lo) {
		ps.Add("to", problem.RuleRange, "is before from")
	}
	return lo, hi
}
