package cases

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/problem"
)

// Deadline standings of an open sub-case, worst first.
const (
	StandingOverdueStatutory = "overdue_statutory" // past its statutory limit (法定时限)
	StandingOverduePromised  = "overdue_promised"  // past its promised limit (承诺时限)
	StandingDueSoon          = "due_soon"          // its promised limit ends within the window
	StandingOnTrack          = "on_track"
	StandingPaused           = "paused" // suspended or waiting for a supplement: the clock stands still, nothing is due
	// StandingDeliveryFailed: the department's system refused the sub-case for good; it is a
	// dead letter until an operator replays it, and its clock runs meanwhile.
	StandingDeliveryFailed = "delivery_failed"
	// StandingUndelivered: sent, but the department's system has not confirmed it yet (in
	// flight, or being retried); not yet overdue.
	StandingUndelivered = "undelivered"
)

var standingRank = map[string]int{StandingDeliveryFailed: 0, StandingOverdueStatutory: 1, StandingOverduePromised: 2, StandingUndelivered: 3,
	StandingDueSoon: 4, StandingOnTrack: 5, StandingPaused: 6}

// openStates are the states of a sub-case at its department whose clock runs or stands still;
// waiting (not yet sent) and the decided states are not watched.
var openStates = []string{StateDispatched, StateReceived, StateAccepted, StateSupplementRequested, StateResubmitted, StateSuspended}

// DeadlineQuery selects the sub-cases the deadline watch lists.
type DeadlineQuery struct {
	// Department limits the list to one department's sub-cases; "" lists every department.
	Department string
	// Within is the window in working days: a sub-case whose promised limit ends within it is
	// due soon. Default 3.
	Within int
	// All lists every open sub-case; otherwise only those overdue or due soon.
	All bool
}

// DeadlineItem is one open sub-case on the deadline watch.
type DeadlineItem struct {
	CaseID     string          `json:"case_id"`
	SubcaseID  string          `json:"subcase_id"`
	Bundle     event.BundleRef `json:"bundle"`
	Matter     MatterRef       `json:"matter"`
	Department DepartmentRef   `json:"department"`
	State      string          `json:"state"`
	Standing   string          `json:"standing"`
	Deadlines  event.Deadlines `json:"deadlines"`
	// PromisedDays and StatutoryDays are the limits, counted in PromisedUnit and StatutoryUnit
	// (working or calendar days; the statutory one none where no rule sets a limit).
	PromisedDays  int    `json:"promised_days"`
	StatutoryDays int    `json:"statutory_days"`
	PromisedUnit  string `json:"promised_unit"`
	StatutoryUnit string `json:"statutory_unit"`
	// DaysLeft is the working days from today to the promised deadline: 0 when it is today,
	// negative when it has passed (minus the working days since, at least -1).
	DaysLeft int `json:"days_left"`
	// StatutoryDaysLeft is the same to the statutory deadline; null where there is none.
	StatutoryDaysLeft *int `json:"statutory_days_left"`
	// Delivery is where the sub-case's messages stand (DeliveryFailed … DeliveryDelivered).
	Delivery string `json:"delivery"`
}

// MatterRef names a matter.
type MatterRef struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// DeadlineWatch is the answer of Deadlines.
type DeadlineWatch struct {
	// AsOf is today's date in China, the day the standings hold for.
	AsOf   string `json:"as_of"`
	Within int    `json:"within"`
	// Counts has the number of open sub-cases in each standing, whatever was listed.
	Counts map[string]int `json:"counts"`
	Items  []DeadlineItem `json:"items"`
}

type deadlineRow struct {
	SubcaseID     string `db:"id"`
	CaseID        string `db:"case_id"`
	MatterCode    string `db:"matter_code"`
	MatterName    string `db:"matter_name"`
	Department    string `db:"department"`
	State         string `db:"state"`
	PromisedDays  int    `db:"promised_days"`
	StatutoryDays int    `db:"statutory_days"`
	PromisedUnit  string `db:"promised_unit"`
	StatutoryUnit string `db:"statutory_unit"`
	DuePromised   string `db:"due_promised"`
	DueStatutory  string `db:"due_statutory"`
	BundleCode    string `db:"bundle_code"`
	BundleSeq     int    `db:"bundle_seq"`
	Delivered     bool   `db:"delivered"`
	Failed        int    `db:"failed"`
	Retrying      int    `db:"retrying"`
}

// Deadlines lists the open sub-cases (at their departments, not yet decided) by their standing
// against the promised and statutory limits, worst first, as of now: what an operator, or a
// department, watches so that no matter runs past its limit unseen. Counts cover every open
// sub-case of the department (or all); Items only the overdue and the due soon unless q.All.
func (s *Service) Deadlines(ctx context.Context, q DeadlineQuery) (*DeadlineWatch, error) {
	if q.Within == 0 {
		q.Within = 3
	}
	if q.Within < 0 || q.Within > 60 {
		return nil, problem.New(problem.Problem{Path: "within", Rule: problem.RuleRange, Message: "must be 1 to 60 working days"})
	}
	if q.Department != "" {
		if _, ok := s.cat.Department(q.Department); !ok {
			return nil, problem.New(problem.Problem{Path: "department", Rule: RuleUnknownDepartment, Message: "is not a department of the catalogue"})
		}
	}
	query, args, err := sqlx.In(`SELECT s.id, s.case_id, s.matter_code, s.matter_name, s.department, s.state, s.promised_days,
		s.statutory_days, s.promised_unit, s.statutory_unit, s.due_promised, s.due_statutory, c.bundle_code, c.bundle_seq,
		(CASE WHEN s.delivered_at IS NULL THEN 0 ELSE 1 END) = 1 AS delivered,
		(SELECT COUNT(*) FROM deliveries d WHERE d.subcase_id = s.id AND d.outcome = 'failed') AS failed,
		(SELECT COUNT(*) FROM deliveries d WHERE d.subcase_id = s.id AND d.outcome = 'retrying') AS retrying
		FROM subcases s JOIN cases c ON c.id = s.case_id
		WHERE s.state IN (?) AND (? = '' OR s.department = ?)`, openStates, q.Department, q.Department)
	if err != nil {
		return nil, err
	}
	var rows []deadlineRow
	if err := s.st.DB().SelectContext(ctx, &rows, s.st.DB().Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("reading the open sub-cases: %w", err)
	}
	now := s.now()
	today := deadline.Date(now)
	w := &DeadlineWatch{AsOf: today.Format(time.DateOnly), Within: q.Within, Counts: map[string]int{}, Items: []DeadlineItem{}}
	for k := range standingRank {
		w.Counts[k] = 0
	}
	for _, r := range rows {
		it := DeadlineItem{CaseID: r.CaseID, SubcaseID: r.SubcaseID, State: r.State,
			Bundle:        event.BundleRef{Seq: r.BundleSeq, Code: r.BundleCode},
			Matter:        MatterRef{Code: r.MatterCode, Name: r.MatterName},
			Department:    DepartmentRef{Code: r.Department, Name: s.deptName(r.Department)},
			Deadlines:     s.deadlinesOf(r.DuePromised, r.DueStatutory),
			PromisedDays:  r.PromisedDays,
			StatutoryDays: r.StatutoryDays,
			PromisedUnit:  r.PromisedUnit,
			StatutoryUnit: r.StatutoryUnit,
		}
		if b, ok := s.cat.Bundle(r.BundleCode); ok {
			it.Bundle.Name = b.Name
		}
		promised, perr := time.ParseInLocation(time.DateOnly, r.DuePromised, deadline.China)
		// A sub-case whose matter has no statutory limit has no statutory deadline: it is
		// never overdue against the law, only against the promise.
		hasStatutory := r.StatutoryUnit != UnitNone
		var statutory time.Time
		var serr error
		if hasStatutory {
			statutory, serr = time.ParseInLocation(time.DateOnly, r.DueStatutory, deadline.China)
		}
		if perr != nil || serr != nil {
			return nil, fmt.Errorf("sub-case %s has no deadlines (%q, %q)", r.SubcaseID, r.DuePromised, r.DueStatutory)
		}
		it.DaysLeft = s.daysLeft(today, promised)
		if hasStatutory {
			left := s.daysLeft(today, statutory)
			it.StatutoryDaysLeft = &left
		}
		switch {
		case r.Failed > 0:
			it.Delivery = DeliveryFailed
		case r.Retrying > 0:
			it.Delivery = DeliveryRetrying
		case !r.Delivered && r.State == StateDispatched:
			// Past dispatched, the department has said it has the sub-case, however it came.
			it.Delivery = DeliveryPending
		default:
			it.Delivery = DeliveryDelivered
		}
		switch {
		case it.Delivery == DeliveryFailed:
			it.Standing = StandingDeliveryFailed
		case r.State == StateSuspended || r.State == StateSupplementRequested:
			it.Standing = StandingPaused
		case hasStatutory && statutory.Before(today):
			it.Standing = StandingOverdueStatutory
		case promised.Before(today):
			it.Standing = StandingOverduePromised
		case it.Delivery != DeliveryDelivered:
			it.Standing = StandingUndelivered
		case it.DaysLeft <= q.Within:
			it.Standing = StandingDueSoon
		default:
			it.Standing = StandingOnTrack
		}
		w.Counts[it.Standing]++
		if q.All || standingRank[it.Standing] <= standingRank[StandingDueSoon] { // the on-track and the paused are counted only
			w.Items = append(w.Items, it)
		}
	}
	sort.SliceStable(w.Items, func(i, j int) bool {
		a, b := w.Items[i], w.Items[j]
		if ra, rb := standingRank[a.Standing], standingRank[b.Standing]; ra != rb {
			return ra < rb
		}
		if a.DaysLeft != b.DaysLeft {
			return a.DaysLeft < b.DaysLeft
		}
		return strings.Compare(a.SubcaseID, b.SubcaseID) < 0
	})
	return w, nil
}

// daysLeft counts the working days from today to a deadline: 0 when it is today, negative when
// it has passed (minus the working days since, at least -1).
func (s *Service) daysLeft(today, due time.Time) int {
	if due.Before(today) {
		return -max(1, s.cal.WorkingDaysBetween(due, today))
	}
	return s.cal.WorkingDaysBetween(today, due)
}
