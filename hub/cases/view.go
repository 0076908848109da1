package cases

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/hub/tracing"
)

// CaseView is a case as the API shows it.
type CaseView struct {
	ID string `json:"id"`
	// Number is the case number (办件编号) people read and say: division, date, bundle, the
	// day's sequence and a check character (number.go). Absent for cases submitted before
	// case numbers.
	Number string `json:"number,omitempty"`
	// ExternalRef is the platform's own application number, when it gave one.
	ExternalRef      string          `json:"external_ref,omitempty"`
	State            string          `json:"state"`
	StateLabel       string          `json:"state_label"`
	Outcome          string          `json:"outcome,omitempty"`
	OutcomeLabel     string          `json:"outcome_label,omitempty"`
	Bundle           event.BundleRef `json:"bundle"`
	ApplicantType    string          `json:"applicant_type"`
	CatalogueVersion string          `json:"catalogue_version"`
	SubmittedAt      time.Time       `json:"submitted_at"`
	CompletedAt      *time.Time      `json:"completed_at,omitempty"`
	Deadline         event.Deadlines `json:"deadline"`
	Subcases         []SubcaseView   `json:"subcases"`
	Materials        []MaterialView  `json:"materials"`
	Licences         []LicenceView   `json:"licences"`
	Timeline         []TimelineEntry `json:"timeline"`
	// Supplements are what the applicant sent in answer to supplement requests, in order.
	Supplements []SupplementView `json:"supplements"`
	// Agent is the agent acting for the applicant (帮办代办), when the application named one.
	Agent *AgentView `json:"agent,omitempty"`
	// TraceID is the W3C trace id of the case's intake, which its messages, deliveries and
	// department events continue (hub/tracing); absent for cases submitted before tracing.
	TraceID string `json:"trace_id,omitempty"`
	// Owner is the client that submitted the case (an API client's name, or the platform
	// connector's); empty when the hub did not know. Not part of the answer.
	Owner string `json:"-"`
	// holderID is the holder's USCC or identity number, for audit references only.
	holderID string
}

// HolderID returns the case's holder's USCC (an individual business's too) or a person's identity
// number: personal data, for keyed
// references (an audit row's subject) and never for an answer or a log.
func (v *CaseView) HolderID() string { return v.holderID }

// DepartmentRef names a department.
type DepartmentRef struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// SubcaseView is one matter of a case at its department.
type SubcaseView struct {
	ID            string          `json:"id"`
	MatterCode    string          `json:"matter_code"`
	MatterName    string          `json:"matter_name"`
	Optional      bool            `json:"optional"`
	Department    DepartmentRef   `json:"department"`
	State         string          `json:"state"`
	StateLabel    string          `json:"state_label"`
	WaitingFor    []string        `json:"waiting_for,omitempty"`
	Deadlines     event.Deadlines `json:"deadlines"`
	Limits        Limits          `json:"limits"`
	Paused        bool            `json:"paused,omitempty"`
	DispatchedAt  *time.Time      `json:"dispatched_at,omitempty"`
	DeliveredAt   *time.Time      `json:"delivered_at,omitempty"`
	DeliveryError string          `json:"delivery_error,omitempty"`
	// Delivery is how the sub-case's messages reached the department's system (operators and
	// departments; a platform is not shown it). Absent while the sub-case waits to be sent.
	Delivery       *DeliveryView `json:"delivery,omitempty"`
	DecisionNumber string        `json:"decision_number,omitempty"`
	// DepartmentRef is the department's own number for the sub-case (受理号/办件号), as its
	// first event that gave one said.
	DepartmentRef      string          `json:"department_ref,omitempty"`
	Reason             string          `json:"reason,omitempty"`
	Missing            []event.Missing `json:"missing,omitempty"`
	SupplementDeadline string          `json:"supplement_deadline,omitempty"`
	Materials          []string        `json:"materials"`
}

// Delivery states of a sub-case, worst first: one of its messages was refused for good (and
// is a dead letter), is being retried, has not been confirmed yet, or every one got through.
const (
	DeliveryFailed    = "failed"
	DeliveryRetrying  = "retrying"
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
)

// DeliveryLabels name the delivery states in Chinese.
var DeliveryLabels = map[string]string{
	DeliveryFailed:    "推送失败",
	DeliveryRetrying:  "推送重试中",
	DeliveryPending:   "推送中",
	DeliveryDelivered: "部门系统已接收",
}

// DeliveryView is where a sub-case's messages stand: the worst of them (a failed message
// stays failed until its dead letter is replayed and gets through).
type DeliveryView struct {
	State      string `json:"state"`
	StateLabel string `json:"state_label"`
	// Attempts made at the message the state is about; Status its department's last HTTP
	// status (0 when not over HTTP).
	Attempts int `json:"attempts,omitempty"`
	Status   int `json:"status,omitempty"`
	// NextAttemptAt is when a retried message is tried next.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// LastError says why the last attempt failed, without personal data.
	LastError string `json:"last_error,omitempty"`
	// DeadLetterID names the dead letter of a failed message, for its replay.
	DeadLetterID string `json:"dead_letter_id,omitempty"`
	// At is when the state was reached.
	At *time.Time `json:"at,omitempty"`
}

// deliveryRow is a message's delivery record.
type deliveryRow struct {
	SubcaseID     string          `db:"subcase_id"`
	Outcome       string          `db:"outcome"`
	Status        int             `db:"status"`
	Attempts      int             `db:"attempts"`
	Reason        string          `db:"reason"`
	At            store.Timestamp `db:"at"`
	NextAttemptAt store.Timestamp `db:"next_attempt_at"`
	DeadLetterID  string          `db:"dead_letter_id"`
}

var deliveryRank = map[string]int{DeliveryFailed: 0, DeliveryRetrying: 1, DeliveryPending: 2, DeliveryDelivered: 3}

// deliveryView says where a sub-case's messages stand, from its row and its messages' delivery
// records; nil for a sub-case not sent yet.
func deliveryView(sc subcaseRow, rows []deliveryRow) *DeliveryView {
	if sc.DispatchedAt.IsZero() {
		return nil
	}
	v := &DeliveryView{State: DeliveryPending, At: ptime(sc.DispatchedAt)}
	switch {
	case !sc.DeliveredAt.IsZero():
		v = &DeliveryView{State: DeliveryDelivered, At: ptime(sc.DeliveredAt)}
	case sc.State != StateDispatched:
		// Past dispatched, the department has said it has the sub-case, however it came (a
		// pull, a front-end database) before its delivery was recorded.
		v = &DeliveryView{State: DeliveryDelivered}
	}
	for _, r := range rows {
		if r.Outcome == DeliveryDelivered {
			if v.State == DeliveryDelivered || v.State == DeliveryPending {
				v.Attempts, v.Status = r.Attempts, r.Status
			}
			continue
		}
		if deliveryRank[r.Outcome] >= deliveryRank[v.State] && !(r.Outcome == v.State && r.At.Time.After(derefTime(v.At))) {
			continue
		}
		v = &DeliveryView{State: r.Outcome, Attempts: r.Attempts, Status: r.Status, LastError: r.Reason, DeadLetterID: r.DeadLetterID,
			At: ptime(r.At), NextAttemptAt: ptime(r.NextAttemptAt)}
	}
	v.StateLabel = label(DeliveryLabels, v.State)
	return v
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Limits are a sub-case's limits as its clock counts them.
type Limits struct {
	Promised  LimitView `json:"promised"`
	Statutory LimitView `json:"statutory"`
}

// LimitView is one limit of a sub-case: Days in Unit (deadline.WorkingDays or CalendarDays;
// 0 working days for a matter decided on the spot), or Unit UnitNone where no rule sets one;
// Label says it in Chinese.
type LimitView struct {
	Days  int    `json:"days"`
	Unit  string `json:"unit"`
	Label string `json:"label"`
}

// limitView describes a stored limit.
func limitView(days int, unit string) LimitView {
	v := LimitView{Days: days, Unit: unit}
	switch {
	case unit == UnitNone:
		v.Label = "无法定时限"
	case days == 0:
		v.Label = "当场办结"
	case unit == deadline.CalendarDays:
		v.Label = strconv.Itoa(days) + "日"
	default:
		v.Label = strconv.Itoa(days) + "个工作日"
	}
	return v
}

// deadlinesOf makes the deadlines a view or a message shows from the stored dates, flagged
// provisional where one falls in a year whose official holiday schedule is not known.
func (s *Service) deadlinesOf(promised, statutory string) event.Deadlines {
	d := event.Deadlines{Promised: promised, Statutory: statutory}
	for _, day := range []string{promised, statutory} {
		if t, err := time.ParseInLocation(time.DateOnly, day, deadline.China); err == nil && s.cal.Provisional(t) {
			d.Provisional = true
		}
	}
	return d
}

// MaterialView is a material of a case and the sub-cases that reference it.
type MaterialView struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Filename string   `json:"filename"`
	SHA256   string   `json:"sha256"`
	Size     int64    `json:"size"`
	URI      string   `json:"uri"`
	UsedBy   []string `json:"used_by"`
	// Licence is set when the material was given as an e-licence of the library (免交).
	Licence *MaterialLicence `json:"licence,omitempty"`
	// Object is the id of the uploaded material object ("mo_…") it was given as; empty for a
	// file on a platform's host or an e-licence.
	Object string `json:"object,omitempty"`
	// ContentType is the type the hub sniffed from the bytes of an uploaded material.
	ContentType string `json:"content_type,omitempty"`
	// Reads are the departments' reads of an uploaded material's bytes through their links,
	// as the audit log keeps them, in order; set by Get, empty elsewhere.
	Reads []MaterialRead `json:"reads,omitempty"`
	// MaterialRetention is set on a material the hub holds: until when, and whether it was
	// removed.
	*MaterialRetention
}

// MaterialRetention says how long the hub keeps a material it holds (an uploaded material
// object), as the retention sweeper (package retention) decided: set on those materials only.
type MaterialRetention struct {
	// RetainedUntil is when the material is due to be removed; null while a case naming it is
	// still open (it is kept as long as that case is), and until the sweeper has computed it
	// once the last such case has ended.
	RetainedUntil *time.Time `json:"retained_until"`
	// RemovedAt is when the material was removed; its bytes are no longer served to this
	// case's departments (their links answer 410 once no other material uses the bytes).
	RemovedAt *time.Time `json:"removed_at,omitempty"`
}

// MaterialRead is one read of a material's bytes through a signed link: who, when, for which
// sub-case and through which connector.
type MaterialRead struct {
	At time.Time `json:"at"`
	// Department is the department the link was signed for.
	Department string `json:"department"`
	// Subcase is the sub-case the link was signed for.
	Subcase string `json:"subcase,omitempty"`
	// Client is the API client the hub authenticated the request as; empty when the link
	// alone was presented.
	Client string `json:"client,omitempty"`
	// Via is the kind of connector that carried the link, when known.
	Via string `json:"via,omitempty"`
	// Range is the part read ("bytes 0-99/1000"); empty for the whole file.
	Range string `json:"range,omitempty"`
}

// MaterialLicence is the e-licence a material was given as, and when intake verified it.
type MaterialLicence struct {
	Type       string    `json:"type"`
	Number     string    `json:"number"`
	VerifiedAt time.Time `json:"verified_at"`
}

// LicenceView is an e-licence issued in a case.
type LicenceView struct {
	event.Licence
	SubcaseID   string `json:"subcase_id"`
	MatterCode  string `json:"matter_code"`
	Status      string `json:"status"`
	StatusLabel string `json:"status_label"`
}

// TimelineEntry is one step of a case. Label and Text are the applicant's (Chinese); Detail is
// for operators and departments, and the API leaves it out for platforms. Steps with no Text
// (how messages travelled) are operators' only.
type TimelineEntry struct {
	Seq       int            `json:"seq"`
	At        time.Time      `json:"at"`
	SubcaseID string         `json:"subcase_id,omitempty"`
	Type      string         `json:"type"`
	Label     string         `json:"label"`
	Text      string         `json:"text,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// ForApplicant returns the view as a platform shows it to the applicant: the timeline without
// the operators' steps and details.
func (v *CaseView) ForApplicant() {
	tl := v.Timeline[:0]
	for _, e := range v.Timeline {
		if e.Text == "" {
			continue
		}
		e.Detail = ""
		tl = append(tl, e)
	}
	v.Timeline = tl
	for i := range v.Subcases {
		v.Subcases[i].Delivery = nil
	}
}

func ptime(t store.Timestamp) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.In(deadline.China)
	return &v
}

// Get returns a case by id.
func (s *Service) Get(ctx context.Context, caseID string) (*CaseView, error) {
	var v *CaseView
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if v, err = s.loadCase(ctx, tx, caseID); err != nil {
			return err
		}
		if err := s.addRetention(ctx, tx, v); err != nil {
			return err
		}
		return s.addReads(ctx, tx, v)
	})
	return v, err
}

func (s *Service) loadCase(ctx context.Context, tx *sqlx.Tx, caseID string) (*CaseView, error) {
	var r caseRows
	if err := tx.GetContext(ctx, &r.c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return nil, notFound(err, "case")
	}
	if err := tx.SelectContext(ctx, &r.subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID); err != nil {
		return nil, err
	}
	// The links found by the case's sub-cases and each material by its key, so that no
	// estimate of a fast-growing table turns a lookup into a scan of it.
	if err := tx.SelectContext(ctx, &r.links, tx.Rebind(`SELECT t.subcase_id, t.material_id, t.type FROM (SELECT sm.subcase_id, sm.material_id,
		(SELECT m.type FROM case_materials m WHERE m.id = sm.material_id) AS type, (SELECT m.file_index FROM case_materials m WHERE m.id = sm.material_id) AS file_index
		FROM subcase_materials sm WHERE sm.subcase_id IN (SELECT id FROM subcases WHERE case_id = ?)) t ORDER BY t.subcase_id, t.type, t.file_index`), caseID); err != nil {
		return nil, err
	}
	if err := tx.SelectContext(ctx, &r.pauses, tx.Rebind(`SELECT p.* FROM subcase_pauses p JOIN subcases s ON s.id = p.subcase_id WHERE s.case_id = ?`), caseID); err != nil {
		return nil, err
	}
	if err := tx.SelectContext(ctx, &r.mats, tx.Rebind(`SELECT id, type, filename, sha256, size, uri, licence_type, licence_number, licence_verified_at, object_id, content_type
		FROM case_materials WHERE case_id = ? ORDER BY type, file_index`), caseID); err != nil {
		return nil, err
	}
	var err error
	if r.lics, err = s.lib.OfCase(ctx, tx, caseID); err != nil {
		return nil, err
	}
	if err := tx.SelectContext(ctx, &r.timeline, tx.Rebind(`SELECT seq, at, subcase_id, type, detail, text, data FROM case_events WHERE case_id = ? ORDER BY seq`), caseID); err != nil {
		return nil, err
	}
	if r.sups, err = s.loadSupplements(ctx, tx, caseID); err != nil {
		return nil, err
	}
	if r.agent, err = loadAgent(ctx, tx, caseID); err != nil {
		return nil, err
	}
	if err := tx.SelectContext(ctx, &r.deliveries, tx.Rebind(`SELECT subcase_id, outcome, status, attempts, reason, at, next_attempt_at, dead_letter_id
		FROM deliveries WHERE subcase_id IN (SELECT id FROM subcases WHERE case_id = ?) ORDER BY at`), caseID); err != nil {
		return nil, err
	}
	return s.caseView(r), nil
}

// caseRows are what a case's view is made of: its rows, each list in the order its view shows.
type caseRows struct {
	c      caseRow
	subs   []subcaseRow // by position
	links  []linkRow    // by sub-case id, material type, file
	pauses []pauseRow
	mats   []materialRow // by type, file
	lics   []licences.Licence
	// timeline is by seq.
	timeline []timelineRow
	sups     []SupplementView
	// deliveries are the delivery records of the case's messages, by time.
	deliveries []deliveryRow
	agent      *agentRow
}

type linkRow struct {
	SubcaseID  string `db:"subcase_id"`
	MaterialID string `db:"material_id"`
	Type       string `db:"type"`
}

type materialRow struct {
	ID                string          `db:"id"`
	Type              string          `db:"type"`
	Filename          string          `db:"filename"`
	SHA256            string          `db:"sha256"`
	Size              int64           `db:"size"`
	URI               string          `db:"uri"`
	LicenceType       string          `db:"licence_type"`
	LicenceNumber     string          `db:"licence_number"`
	LicenceVerifiedAt store.Timestamp `db:"licence_verified_at"`
	ObjectID          string          `db:"object_id"`
	ContentType       string          `db:"content_type"`
}

type timelineRow struct {
	Seq       int                        `db:"seq"`
	At        store.Timestamp            `db:"at"`
	SubcaseID string                     `db:"subcase_id"`
	Type      string                     `db:"type"`
	Detail    string                     `db:"detail"`
	Text      string                     `db:"text"`
	Data      store.JSON[map[string]any] `db:"data"`
}

// caseView makes a case's view of its rows.
func (s *Service) caseView(r caseRows) *CaseView {
	c := r.c
	v := &CaseView{ID: c.ID, Number: c.Number, ExternalRef: c.ExternalRef, State: c.State, StateLabel: label(StateLabels, c.State),
		Outcome: c.Outcome, OutcomeLabel: OutcomeLabels[c.Outcome], ApplicantType: c.ApplicantType, CatalogueVersion: c.CatalogueVersion,
		SubmittedAt: c.SubmittedAt.In(deadline.China), CompletedAt: ptime(c.CompletedAt), Supplements: []SupplementView{},
		Deadline: s.deadlinesOf(c.DuePromised, c.DueStatutory),
		Subcases: []SubcaseView{}, Materials: []MaterialView{}, Licences: []LicenceView{}, Timeline: []TimelineEntry{},
		Owner: c.Owner, holderID: c.HolderID, TraceID: tracing.TraceID(c.TraceParent), Agent: r.agent.view()}
	v.Bundle = event.BundleRef{Seq: c.BundleSeq, Code: c.BundleCode}
	if b, ok := s.cat.Bundle(c.BundleCode); ok {
		v.Bundle.Name = b.Name
	}
	bySub := map[string][]string{}
	byMat := map[string][]string{}
	for _, l := range r.links {
		if types := bySub[l.SubcaseID]; len(types) == 0 || types[len(types)-1] != l.Type { // a type once, however many files
			bySub[l.SubcaseID] = append(types, l.Type)
		}
		byMat[l.MaterialID] = append(byMat[l.MaterialID], l.SubcaseID)
	}
	open := map[string]bool{}
	for _, p := range r.pauses {
		if p.EndedAt.IsZero() {
			open[p.SubcaseID] = true
		}
	}
	deliveries := map[string][]deliveryRow{}
	for _, d := range r.deliveries {
		deliveries[d.SubcaseID] = append(deliveries[d.SubcaseID], d)
	}
	for _, sc := range r.subs {
		sv := s.subcaseView(sc, open[sc.ID], bySub[sc.ID])
		sv.Delivery = deliveryView(sc, deliveries[sc.ID])
		v.Subcases = append(v.Subcases, sv)
	}
	for _, m := range r.mats {
		mv := MaterialView{ID: m.ID, Type: m.Type, Filename: m.Filename, SHA256: m.SHA256, Size: m.Size, URI: m.URI, UsedBy: nonNil(byMat[m.ID]),
			Object: m.ObjectID, ContentType: m.ContentType}
		if m.ObjectID != "" {
			mv.MaterialRetention = &MaterialRetention{} // kept while this case, just read, is open; Get says more
		}
		if m.LicenceNumber != "" {
			mv.Licence = &MaterialLicence{Type: m.LicenceType, Number: m.LicenceNumber, VerifiedAt: m.LicenceVerifiedAt.In(deadline.China)}
		}
		if cm, ok := s.cat.Material(m.Type); ok {
			mv.Name = cm.Name
		}
		v.Materials = append(v.Materials, mv)
	}
	for _, l := range r.lics {
		v.Licences = append(v.Licences, LicenceView{Licence: l.Licence, SubcaseID: l.SubcaseID, MatterCode: l.MatterCode, Status: l.Status,
			StatusLabel: l.StatusLabel})
	}
	for _, e := range r.timeline {
		te := TimelineEntry{Seq: e.Seq, At: e.At.In(deadline.China), SubcaseID: e.SubcaseID, Type: e.Type, Label: label(StepLabels, e.Type),
			Text: e.Text, Detail: e.Detail}
		if len(e.Data.V) > 0 {
			te.Data = e.Data.V
		}
		v.Timeline = append(v.Timeline, te)
	}
	if r.sups != nil {
		v.Supplements = r.sups
	}
	return v
}

// addRetention puts into v, on each material the hub holds, until when it is kept and when it
// was removed, from its material object's row: the due time the retention sweeper recorded,
// shown only when no case naming the object is still open.
func (s *Service) addRetention(ctx context.Context, tx *sqlx.Tx, v *CaseView) error {
	byObject := map[string][]int{}
	var ids []string
	for i, m := range v.Materials {
		if m.Object != "" {
			if _, seen := byObject[m.Object]; !seen {
				ids = append(ids, m.Object)
			}
			byObject[m.Object] = append(byObject[m.Object], i)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In(`SELECT m.id, m.expires_at, m.removed_at,
		(SELECT COUNT(*) FROM case_materials cm JOIN cases c ON c.id = cm.case_id WHERE cm.object_id = m.id AND c.state = ?) AS open
		FROM materials_uploaded m WHERE m.id IN (?)`, CaseInProgress, ids)
	if err != nil {
		return err
	}
	var rows []struct {
		ID        string          `db:"id"`
		ExpiresAt store.Timestamp `db:"expires_at"`
		RemovedAt store.Timestamp `db:"removed_at"`
		Open      int64           `db:"open"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
		return fmt.Errorf("reading the retention of the case's materials: %w", err)
	}
	for _, r := range rows {
		ret := MaterialRetention{RemovedAt: ptime(r.RemovedAt)}
		if r.Open == 0 || !r.RemovedAt.IsZero() {
			ret.RetainedUntil = ptime(r.ExpiresAt)
		}
		for _, i := range byObject[r.ID] {
			v.Materials[i].MaterialRetention = &ret
		}
	}
	return nil
}

// subcaseView describes a sub-case: its row, whether a pause is open, the types of its
// materials.
func (s *Service) subcaseView(sc subcaseRow, paused bool, materials []string) SubcaseView {
	sv := SubcaseView{ID: sc.ID, MatterCode: sc.MatterCode, MatterName: sc.MatterName, Optional: sc.Optional,
		Department: DepartmentRef{Code: sc.Department, Name: s.deptName(sc.Department)}, State: sc.State, StateLabel: label(StateLabels, sc.State),
		Deadlines: s.deadlinesOf(sc.DuePromised, sc.DueStatutory),
		Limits:    Limits{Promised: limitView(sc.PromisedDays, sc.PromisedUnit), Statutory: limitView(sc.StatutoryDays, sc.StatutoryUnit)},
		Paused:    paused, DispatchedAt: ptime(sc.DispatchedAt), DeliveredAt: ptime(sc.DeliveredAt),
		DeliveryError: sc.DeliveryError, DecisionNumber: sc.DecisionNumber, DepartmentRef: sc.DepartmentRef, Reason: sc.Reason, Materials: nonNil(materials)}
	if sc.State == StateWaiting {
		sv.WaitingFor = sc.Prerequisites.V
	}
	if sc.State == StateSupplementRequested {
		sv.Missing, sv.SupplementDeadline = sc.Missing.V, sc.SupplementDeadline
	}
	return sv
}

// subcaseMaterialTypes returns the types of a sub-case's materials, each once, in order.
func (s *Service) subcaseMaterialTypes(ctx context.Context, tx *sqlx.Tx, subcaseID string) ([]string, error) {
	var types []string
	// Each material looked up by its key (see writeEventBatch).
	if err := tx.SelectContext(ctx, &types, tx.Rebind(`SELECT t.type FROM (SELECT (SELECT m.type FROM case_materials m WHERE m.id = sm.material_id) AS type,
		(SELECT m.file_index FROM case_materials m WHERE m.id = sm.material_id) AS file_index FROM subcase_materials sm WHERE sm.subcase_id = ?) t
		ORDER BY t.type, t.file_index`), subcaseID); err != nil {
		return nil, err
	}
	out := types[:0]
	for _, t := range types {
		if len(out) == 0 || out[len(out)-1] != t { // a type once, however many files
			out = append(out, t)
		}
	}
	return out, nil
}
