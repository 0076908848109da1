package cases

import (
	"database/sql"

	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/mapping"
)

// Sub-case states.
const (
	StateWaiting             = "waiting"    // a prerequisite in this case is not approved yet
	StateDispatched          = "dispatched" // sent to the department
	StateReceived            = "received"
	StateAccepted            = "accepted" // 受理
	StateSupplementRequested = "supplement_requested"
	StateResubmitted         = "resubmitted"
	StateSuspended           = "suspended" // 特别程序: the clock stands still
	StateApproved            = "approved"
	StateRejected            = "rejected"
	StateCancelled           = "cancelled" // never dispatched: its prerequisite was rejected
	StateWithdrawn           = "withdrawn" // 撤件: the applicant withdrew it before its decision
)

// Case states.
const (
	CaseInProgress = "in_progress"
	CaseCompleted  = "completed"
	CaseWithdrawn  = "withdrawn" // 撤件: the applicant withdrew the whole case before any decision
)

// Case outcomes, once completed.
const (
	OutcomeApproved = "approved"           // every selected matter approved
	OutcomePartial  = "partially_approved" // some approved, some not
	OutcomeRejected = "rejected"           // none approved
)

// terminal reports whether a sub-case state is final.
func terminal(state string) bool {
	return state == StateApproved || state == StateRejected || state == StateCancelled || state == StateWithdrawn
}

// transitions lists, per department event, the states it may follow and the state it leads to.
var transitions = map[string]struct {
	from []string
	to   string
}{
	"received":             {[]string{StateDispatched}, StateReceived},
	"accepted":             {[]string{StateDispatched, StateReceived, StateResubmitted}, StateAccepted},
	"supplement_requested": {[]string{StateReceived, StateAccepted, StateResubmitted}, StateSupplementRequested},
	"resubmitted":          {[]string{StateSupplementRequested}, StateResubmitted},
	"suspended":            {[]string{StateAccepted, StateResubmitted}, StateSuspended},
	"resumed":              {[]string{StateSuspended}, StateAccepted},
	"approved":             {[]string{StateReceived, StateAccepted, StateResubmitted}, StateApproved},
	"rejected":             {[]string{StateDispatched, StateReceived, StateAccepted, StateResubmitted, StateSupplementRequested}, StateRejected},
}

type caseRow struct {
	ID               string                   `db:"id"`
	BundleCode       string                   `db:"bundle_code"`
	BundleSeq        int                      `db:"bundle_seq"`
	ApplicantType    string                   `db:"applicant_type"`
	HolderID         string                   `db:"holder_id"`
	HolderName       string                   `db:"holder_name"`
	State            string                   `db:"state"`
	Outcome          string                   `db:"outcome"`
	Form             store.JSON[mapping.Form] `db:"form"`
	CatalogueVersion string                   `db:"catalogue_version"`
	SubmittedAt      store.Timestamp          `db:"submitted_at"`
	CompletedAt      store.Timestamp          `db:"completed_at"`
	DuePromised      string                   `db:"due_promised"`
	DueStatutory     string                   `db:"due_statutory"`
	UpdatedAt        store.Timestamp          `db:"updated_at"`
	Owner            string                   `db:"owner"`
	ExternalRef      string                   `db:"external_ref"`
	EventSeq         int                      `db:"event_seq"` // the last timeline step's seq
	// TraceParent is the W3C trace context of the case's intake (migration 00021): its
	// messages and the department events without a context of their own continue that trace.
	TraceParent string `db:"traceparent"`
	// Number is the case number (办件编号, number.go; migration 00026), '' for cases
	// submitted before it.
	Number string `db:"number"`
}

// caseColumnsNoForm and subcaseColumnsNoForm are the rows' columns without their forms (the
// application, a department's form): what a department event reads, many times a case, where
// the forms are large and unused.
const (
	caseColumnsNoForm = `id, bundle_code, bundle_seq, applicant_type, holder_id, holder_name, state, outcome, catalogue_version,
		submitted_at, completed_at, due_promised, due_statutory, updated_at, owner, external_ref, event_seq, traceparent, number`
	subcaseColumnsNoForm = `id, case_id, position, matter_code, matter_name, department, optional, state, prerequisites, promised_days,
		statutory_days, promised_unit, statutory_unit, clock_start, due_promised, due_statutory, dispatched_at, delivered_at, delivery_error, decision_number, reason,
		missing, updated_at, supplement_deadline, department_ref`
)

type subcaseRow struct {
	ID            string                     `db:"id"`
	CaseID        string                     `db:"case_id"`
	Position      int                        `db:"position"`
	MatterCode    string                     `db:"matter_code"`
	MatterName    string                     `db:"matter_name"`
	Department    string                     `db:"department"`
	Optional      bool                       `db:"optional"`
	State         string                     `db:"state"`
	Form          store.JSON[map[string]any] `db:"form"`
	Prerequisites store.JSON[[]string]       `db:"prerequisites"`
	PromisedDays  int                        `db:"promised_days"`
	StatutoryDays int                        `db:"statutory_days"`
	// PromisedUnit and StatutoryUnit are the units the limits count in (deadline.WorkingDays
	// or CalendarDays); StatutoryUnit is UnitNone where no rule sets a statutory limit.
	PromisedUnit  string          `db:"promised_unit"`
	StatutoryUnit string          `db:"statutory_unit"`
	ClockStart    store.Timestamp `db:"clock_start"`
	DuePromised   string          `db:"due_promised"`
	DueStatutory  string          `db:"due_statutory"`
	DispatchedAt  store.Timestamp `db:"dispatched_at"`
	DeliveredAt   store.Timestamp `db:"delivered_at"`
	DeliveryError string          `db:"delivery_error"`
	// DeliveredSeq is the timeline number reserved for the sub-case's first delivery step.
	DeliveredSeq   sql.NullInt64               `db:"delivered_seq"`
	DecisionNumber string                      `db:"decision_number"`
	Reason         string                      `db:"reason"`
	Missing        store.JSON[[]event.Missing] `db:"missing"`
	UpdatedAt      store.Timestamp             `db:"updated_at"`
	// SupplementDeadline is the last day to answer the open supplement request (YYYY-MM-DD).
	SupplementDeadline string `db:"supplement_deadline"`
	// DepartmentRef is the department's own number for the sub-case (受理号/办件号), as the
	// first of its events that gave one said (migration 00026).
	DepartmentRef string `db:"department_ref"`
}

type pauseRow struct {
	SubcaseID string          `db:"subcase_id"`
	Kind      string          `db:"kind"`
	StartedAt store.Timestamp `db:"started_at"`
	EndedAt   store.Timestamp `db:"ended_at"`
}
