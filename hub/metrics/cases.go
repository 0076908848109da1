package metrics

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/store"
)

var (
	// caseStates and subcaseStates are the states always shown, 0 when none is in them, so
	// that a series does not vanish when its last case moves on.
	caseStates    = []string{cases.CaseInProgress, cases.CaseCompleted, cases.CaseWithdrawn}
	subcaseStates = []string{cases.StateWaiting, cases.StateDispatched, cases.StateReceived, cases.StateAccepted,
		cases.StateSupplementRequested, cases.StateResubmitted, cases.StateSuspended, cases.StateApproved,
		cases.StateRejected, cases.StateCancelled, cases.StateWithdrawn}
	// clockRunning are the states of a sub-case whose deadline clock runs at its department. Not
	// waiting (not sent yet), not decided (approved, rejected, cancelled), and not paused
	// (suspended, or waiting for the applicant's supplement): while paused the clock stands
	// still, and the dates stored for it move on when it resumes. hub/cases' deadline watch
	// sees it the same way (its "paused" standing).
	clockRunning = []string{cases.StateDispatched, cases.StateReceived, cases.StateAccepted, cases.StateResubmitted}
)

// CaseCollector counts cases and sub-cases in the store when Prometheus scrapes: cases by
// state, sub-cases by department and state, and the sub-cases past their promised or statutory
// deadline by department. It reads with two GROUP BY queries and writes nothing.
type CaseCollector struct {
	db      *store.Store
	now     func() time.Time
	timeout time.Duration

	cases, subcases, overdue *prometheus.Desc
}

// NewCaseCollector returns a collector of the case flow in st; now is the clock the deadlines
// are read against, timeout bounds the queries.
func NewCaseCollector(st *store.Store, now func() time.Time, timeout time.Duration) *CaseCollector {
	return &CaseCollector{
		db: st, now: now, timeout: timeout,
		cases: prometheus.NewDesc(namespace+"_cases", "Cases (办件) by state: in_progress, completed, withdrawn.",
			[]string{"state"}, nil),
		subcases: prometheus.NewDesc(namespace+"_subcases", "Sub-cases (子件) by department and state.",
			[]string{"department", "state"}, nil),
		overdue: prometheus.NewDesc(namespace+"_subcases_overdue",
			"Sub-cases whose clock runs at their department (dispatched, received, accepted, resubmitted) and whose promised or statutory deadline date has passed in China, by department and deadline (promised, statutory).",
			[]string{"department", "deadline"}, nil),
	}
}

// Describe sends the descriptions of every family.
func (c *CaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cases
	ch <- c.subcases
	ch <- c.overdue
}

// Collect reads the counts; a query that fails is reported as an invalid metric, which the
// handler logs while serving the other families.
func (c *CaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	f, err := readCaseFigures(ctx, c.db, c.now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.cases, err)
		return
	}
	for state, n := range withZeros(f.cases, caseStates) {
		ch <- prometheus.MustNewConstMetric(c.cases, prometheus.GaugeValue, float64(n), state)
	}
	for dept, byState := range f.subcases {
		for state, n := range withZeros(byState, subcaseStates) {
			ch <- prometheus.MustNewConstMetric(c.subcases, prometheus.GaugeValue, float64(n), dept, state)
		}
		o := f.overdue[dept]
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(o.promised), dept, "promised")
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(o.statutory), dept, "statutory")
	}
}

// caseFigures are the counts of one scrape.
type caseFigures struct {
	cases    map[string]int64            // by state
	subcases map[string]map[string]int64 // by department, then state
	overdue  map[string]overdueCount     // by department
}

type overdueCount struct{ promised, statutory int64 }

// readCaseFigures counts cases and sub-cases as of now. A deadline is a date in China
// (YYYY-MM-DD, the last day of the limit), so it has passed when it is before today's date
// there; ISO dates compare as text.
func readCaseFigures(ctx context.Context, st *store.Store, now time.Time) (caseFigures, error) {
	db := st.DB()
	f := caseFigures{cases: map[string]int64{}, subcases: map[string]map[string]int64{}, overdue: map[string]overdueCount{}}
	var caseRows []struct {
		State string `db:"state"`
		N     int64  `db:"n"`
	}
	if err := db.SelectContext(ctx, &caseRows, `SELECT state, COUNT(*) AS n FROM cases GROUP BY state`); err != nil {
		return f, fmt.Errorf("metrics: counting cases: %w", err)
	}
	for _, r := range caseRows {
		f.cases[r.State] = r.N
	}
	today := deadline.Date(now).Format(time.DateOnly)
	var subRows []struct {
		Department    string `db:"department"`
		State         string `db:"state"`
		N             int64  `db:"n"`
		PastPromised  int64  `db:"past_promised"`
		PastStatutory int64  `db:"past_statutory"`
	}
	// One pass over sub-cases: COUNT(CASE …) counts the rows past each deadline in every group,
	// and only the groups of clock-running states are kept as overdue.
	if err := db.SelectContext(ctx, &subRows, db.Rebind(`SELECT department, state, COUNT(*) AS n,
		COUNT(CASE WHEN due_promised <> '' AND due_promised < ? THEN 1 END) AS past_promised,
		COUNT(CASE WHEN due_statutory <> '' AND due_statutory < ? THEN 1 END) AS past_statutory
		FROM subcases GROUP BY department, state`), today, today); err != nil {
		return f, fmt.Errorf("metrics: counting sub-cases: %w", err)
	}
	for _, r := range subRows {
		if f.subcases[r.Department] == nil {
			f.subcases[r.Department] = map[string]int64{}
		}
		f.subcases[r.Department][r.State] = r.N
		if slices.Contains(clockRunning, r.State) {
			o := f.overdue[r.Department]
			o.promised += r.PastPromised
			o.statutory += r.PastStatutory
			f.overdue[r.Department] = o
		}
	}
	return f, nil
}

// withZeros returns counts with a 0 for every known key it lacks.
func withZeros(counts map[string]int64, known []string) map[string]int64 {
	out := make(map[string]int64, len(counts)+len(known))
	for _, k := range known {
		out[k] = 0
	}
	for k, n := range counts {
		out[k] = n
	}
	return out
}
