package reform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/cases"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/sharing"
	"yjshub/hub/store"
	"yjshub/mapping"
)

// TimeReductionTarget is the plan's target for handling time, in percent: 实现办理时限在法定时限
// 基础上压缩50%.
const TimeReductionTarget = 50

// Config wires a Service.
type Config struct {
	// Catalogue is the loaded catalogue. Required.
	Catalogue *catalogue.Catalogue
	// Store is the SQL store (migrated). Required.
	Store *store.Store
	// Forms caches the one forms intake builds (the case service's). Required.
	Forms *mapping.Forms
	// Sharing makes the reuse report, whose figures of data supplied from shared data the
	// report takes. Required.
	Sharing *sharing.Service
	// Calendar counts working days. Default deadline.New(); give it the case service's.
	Calendar *deadline.Calendar
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service makes the report of the reform's results. It is safe for concurrent use; it only
// reads the store.
type Service struct {
	cfg Config
	cat *catalogue.Catalogue
	st  *store.Store
	cal *deadline.Calendar
}

// New returns a Service; the error names every missing part.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Catalogue == nil {
		errs = append(errs, errors.New("reform: Catalogue is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("reform: Store is required"))
	}
	if cfg.Forms == nil {
		errs = append(errs, errors.New("reform: Forms is required"))
	}
	if cfg.Sharing == nil {
		errs = append(errs, errors.New("reform: Sharing is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Calendar == nil {
		cfg.Calendar = deadline.New()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, cat: cfg.Catalogue, st: cfg.Store, cal: cfg.Calendar}, nil
}

// Report is the reform's results over a period.
type Report struct {
	// Period is the span of days (China) whose cases are measured; an open side is absent.
	Period PeriodRef `json:"period"`
	// AsOf is when the cases were measured (China time): cases still open count as such.
	AsOf time.Time `json:"as_of"`
	// Plan is what the plan promises, and which figures measure each promise.
	Plan Plan `json:"plan"`
	// Overall are the figures of every case of the period.
	Overall Figures `json:"overall"`
	// Bundles are the figures of each bundle with cases in the period, in 序号 order.
	Bundles []BundleFigures `json:"bundles"`
	// Departments are the handling figures of each department with sub-cases of the period's
	// cases, in the catalogue's order.
	Departments []DepartmentFigures `json:"departments"`
}

// PeriodRef names a period's first and last day (YYYY-MM-DD, China); empty when open.
type PeriodRef struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// BundleFigures are one bundle's figures.
type BundleFigures struct {
	Bundle event.BundleRef `json:"bundle"`
	Figures
}

// Figures measure a set of cases against the plan.
type Figures struct {
	// Cases submitted in the period, and of them those completed (办结), withdrawn and still in
	// progress as of the report.
	Cases      int `json:"cases"`
	Completed  int `json:"completed"`
	Withdrawn  int `json:"withdrawn"`
	InProgress int `json:"in_progress"`
	// Matters counts the matters the cases applied for: the applications, each at its own
	// department's window, that the one application of each case spared (减环节、减跑动).
	Matters int `json:"matters"`
	// Fields and Materials compare what the one forms asked with what the matters' own forms
	// and lists would have asked (减材料), and say how much shared data supplied (免填免交).
	Fields    FieldFigures    `json:"fields"`
	Materials MaterialFigures `json:"materials"`
	// Handling measures the decided sub-cases' handling time against their limits (减时限).
	Handling Handling `json:"handling"`
	// OneRound is the share of completed cases finished without a supplement round (一次办结).
	OneRound OneRound `json:"one_round"`
}

// FieldFigures count form fields over the cases.
type FieldFigures struct {
	// Asked sums the fields of each case's one form; Separate what the matters' own forms
	// would have asked, summed matter by matter; Saved the difference, and SavedPercent its
	// share of Separate.
	Asked        int     `json:"asked"`
	Separate     int     `json:"separate"`
	Saved        int     `json:"saved"`
	SavedPercent float64 `json:"saved_percent"`
	// Prefilled counts the fields a prefill supplied from shared data, PrefilledPercent their
	// share of what the one forms asked: the reuse report's figures (fields_prefilled).
	Prefilled        int     `json:"prefilled"`
	PrefilledPercent float64 `json:"prefilled_percent"`
}

// MaterialFigures count materials over the cases.
type MaterialFigures struct {
	// Asked sums the materials of each case's one list (each once); Separate the matters'
	// lists summed matter by matter; Saved the difference, and SavedPercent its share of
	// Separate.
	Asked        int     `json:"asked"`
	Separate     int     `json:"separate"`
	Saved        int     `json:"saved"`
	SavedPercent float64 `json:"saved_percent"`
	// FromLicences counts the materials given as e-licences of the library instead of files
	// (免交), FromLicencesPercent their share of what was asked: the reuse report's figures.
	FromLicences        int     `json:"from_licences"`
	FromLicencesPercent float64 `json:"from_licences_percent"`
}

// Handling measures decided sub-cases against their time limits. Days are working days; means
// and percentages have one decimal.
type Handling struct {
	// Subcases counts the sub-cases, decided or not; Decided those approved or rejected, which
	// the rest of the figures measure.
	Subcases int `json:"subcases"`
	Decided  int `json:"decided"`
	Approved int `json:"approved"`
	Rejected int `json:"rejected"`
	// MeanDays and P90Days are the working days from the case's submission to the decision:
	// their mean, and the 90th percentile (nearest rank: 90 % of the decisions took as long or
	// less).
	MeanDays float64 `json:"mean_days"`
	P90Days  int     `json:"p90_days"`
	// MeanPromisedDays and MeanStatutoryDays are the means of the decided sub-cases' limits
	// (承诺时限, 法定时限) in working days: a limit in calendar days counts as the working days
	// it spanned from the sub-case's clock start. MeanStatutoryDays is over WithStatutory.
	MeanPromisedDays  float64 `json:"mean_promised_days"`
	MeanStatutoryDays float64 `json:"mean_statutory_days"`
	// WithStatutory counts the decided sub-cases whose matter has a statutory limit; where no
	// rule sets one (a service, most payments) there is nothing to be within.
	WithStatutory int `json:"with_statutory"`
	// WithinPromised and WithinStatutory count the decisions made by the sub-case's deadline as
	// the hub counts it (from its clock start, its pauses not counted); the percentages are
	// their shares of Decided and of WithStatutory.
	WithinPromised         int     `json:"within_promised"`
	WithinPromisedPercent  float64 `json:"within_promised_percent"`
	WithinStatutory        int     `json:"within_statutory"`
	WithinStatutoryPercent float64 `json:"within_statutory_percent"`
	// ReductionPercent is how much shorter the handling time of the sub-cases with a statutory
	// limit was than their limits: 100 × (1 − their mean days / MeanStatutoryDays); the plan's target is
	// TimeReductionTarget. Negative when decisions took longer than the limits allow.
	ReductionPercent float64 `json:"reduction_percent"`
	// WithoutSupplement counts the decided sub-cases whose department never asked for a
	// supplement, WithoutSupplementPercent their share of Decided.
	WithoutSupplement        int     `json:"without_supplement"`
	WithoutSupplementPercent float64 `json:"without_supplement_percent"`
}

// OneRound counts the completed cases finished without a supplement round.
type OneRound struct {
	// Completed cases, and those in which no department asked for a supplement; Percent is
	// their share.
	Completed         int     `json:"completed"`
	WithoutSupplement int     `json:"without_supplement"`
	Percent           float64 `json:"percent"`
	// SupplementRequests counts the departments' supplement requests in all the cases, and
	// Supplements the supplements applicants sent in answer.
	SupplementRequests int `json:"supplement_requests"`
	Supplements        int `json:"supplements"`
}

// DepartmentFigures are one department's handling of the period's sub-cases.
type DepartmentFigures struct {
	Department cases.DepartmentRef `json:"department"`
	Handling   Handling            `json:"handling"`
}

// Period is a span of days in China, both included, as the reuse report takes it.
type Period = sharing.Period

// Report measures the cases submitted in period p (every case when p is zero) against the plan,
// as of now. A period that ends before it starts is a *problem.Error.
func (s *Service) Report(ctx context.Context, p Period) (*Report, error) {
	// The shares of shared data are the reuse report's; it also checks the period.
	reuse, err := s.cfg.Sharing.ReuseReport(ctx, p)
	if err != nil {
		return nil, err
	}
	d, err := s.read(ctx, p)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	rep := &Report{AsOf: now.In(deadline.China).Truncate(time.Second), Plan: thePlan(), Bundles: []BundleFigures{}, Departments: []DepartmentFigures{}}
	if !p.From.IsZero() {
		rep.Period.From = deadline.Date(p.From).Format(time.DateOnly)
	}
	if !p.To.IsZero() {
		rep.Period.To = deadline.Date(p.To).Format(time.DateOnly)
	}

	overall := &tally{}
	bundles := map[string]*tally{}
	depts := map[string]*tally{}
	for _, c := range d.cases {
		b, ok := s.cat.Bundle(c.BundleCode)
		if !ok {
			continue
		}
		bt := bundles[b.Code]
		if bt == nil {
			bt = &tally{}
			bundles[b.Code] = bt
		}
		m := s.measureCase(c, b, d)
		overall.addCase(m)
		bt.addCase(m)
		for _, sm := range m.subcases {
			dt := depts[sm.department]
			if dt == nil {
				dt = &tally{}
				depts[sm.department] = dt
			}
			dt.addSubcase(sm)
		}
	}

	rep.Overall = overall.figures()
	rep.Overall.Fields.Prefilled, rep.Overall.Fields.PrefilledPercent = reuse.Overall.FieldsPrefilled, reuse.Overall.FieldsPrefilledPercent
	rep.Overall.Materials.FromLicences, rep.Overall.Materials.FromLicencesPercent = reuse.Overall.MaterialsFromLicences, reuse.Overall.MaterialsFromLicencesPercent
	shared := map[string]sharing.ReuseFigures{}
	for _, br := range reuse.Bundles {
		shared[br.Bundle.Code] = br.ReuseFigures
	}
	for code, t := range bundles {
		b, _ := s.cat.Bundle(code)
		f := t.figures()
		r := shared[code]
		f.Fields.Prefilled, f.Fields.PrefilledPercent = r.FieldsPrefilled, r.FieldsPrefilledPercent
		f.Materials.FromLicences, f.Materials.FromLicencesPercent = r.MaterialsFromLicences, r.MaterialsFromLicencesPercent
		rep.Bundles = append(rep.Bundles, BundleFigures{Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, Figures: f})
	}
	sort.Slice(rep.Bundles, func(i, j int) bool { return rep.Bundles[i].Bundle.Seq < rep.Bundles[j].Bundle.Seq })
	for _, dep := range s.cat.Departments {
		if t := depts[dep.Code]; t != nil {
			rep.Departments = append(rep.Departments, DepartmentFigures{Department: cases.DepartmentRef{Code: dep.Code, Name: dep.Name}, Handling: t.handling()})
			delete(depts, dep.Code)
		}
	}
	var gone []string // departments the catalogue no longer has, by code
	for code := range depts {
		gone = append(gone, code)
	}
	sort.Strings(gone)
	for _, code := range gone {
		rep.Departments = append(rep.Departments, DepartmentFigures{Department: cases.DepartmentRef{Code: code, Name: code}, Handling: depts[code].handling()})
	}
	return rep, nil
}

// caseMeasure is what one case adds to the figures.
type caseMeasure struct {
	state                             string
	matters                           int
	fieldsAsked, fieldsSeparate       int
	materialsAsked, materialsSeparate int
	supplementRequests, supplements   int
	subcases                          []subcaseMeasure
}

// subcaseMeasure is what one sub-case adds to the handling figures.
type subcaseMeasure struct {
	department          string
	decided, approved   bool
	days                int  // working days from submission to the decision
	promised, statutory int  // the limits, in working days (a limit in calendar days as the working days it spanned)
	hasStatutory        bool // false where no rule sets a statutory limit
	withinPromised      bool
	withinStatutory     bool
	supplementRequested bool
}

// measureCase measures case c of bundle b.
func (s *Service) measureCase(c *caseRow, b *catalogue.Bundle, d *data) caseMeasure {
	subs := d.subcases[c.ID]
	m := caseMeasure{state: c.State, matters: len(subs), supplements: d.supplements[c.ID]}
	matters := make([]string, len(subs))
	for i, sc := range subs {
		matters[i] = sc.MatterCode
	}
	// The one form intake built for the case: its bundle, applicant type and matters. A
	// selection the catalogue no longer allows has nothing to be counted against.
	if of, err := s.cfg.Forms.Get(b, c.ApplicantType, matters); err == nil {
		m.fieldsAsked, m.fieldsSeparate = of.Reuse.FieldsAsked, of.Reuse.FieldsSummed
		m.materialsAsked, m.materialsSeparate = of.Reuse.MaterialsAsked, of.Reuse.MaterialsSummed
	}
	for _, sc := range subs {
		sm := subcaseMeasure{department: sc.Department, supplementRequested: d.requests[sc.ID] > 0, hasStatutory: sc.StatutoryUnit != cases.UnitNone}
		m.supplementRequests += d.requests[sc.ID]
		if at, ok := d.decided[sc.ID]; ok && (sc.State == cases.StateApproved || sc.State == cases.StateRejected) {
			sm.decided, sm.approved = true, sc.State == cases.StateApproved
			sm.days = s.cal.WorkingDaysBetween(c.SubmittedAt.Time, at)
			// The deadlines as the hub counts them (cases' computeDeadlines): from the clock
			// start — the submission, or the release after a prerequisite — with the working
			// days of the pauses added, up to the decision.
			start := sc.ClockStart.Time
			if start.IsZero() {
				start = c.SubmittedAt.Time
			}
			day := deadline.Date(at)
			pauses := d.pauses[sc.ID]
			sm.promised = s.cal.Between(start, s.cal.Add(start, sc.PromisedDays, sc.PromisedUnit), deadline.WorkingDays)
			sm.withinPromised = !day.After(s.cal.Due(start, sc.PromisedDays, sc.PromisedUnit, pauses, at))
			if sm.hasStatutory {
				sm.statutory = s.cal.Between(start, s.cal.Add(start, sc.StatutoryDays, sc.StatutoryUnit), deadline.WorkingDays)
				sm.withinStatutory = !day.After(s.cal.Due(start, sc.StatutoryDays, sc.StatutoryUnit, pauses, at))
			}
		}
		m.subcases = append(m.subcases, sm)
	}
	return m
}

// tally adds up cases and sub-cases.
type tally struct {
	cases, completed, withdrawn, inProgress, matters int
	fieldsAsked, fieldsSeparate                      int
	materialsAsked, materialsSeparate                int
	completedWithoutSupplement                       int
	supplementRequests, supplements                  int
	subcases                                         []subcaseMeasure
}

func (t *tally) addCase(m caseMeasure) {
	t.cases++
	switch m.state {
	case cases.CaseCompleted:
		t.completed++
		if m.supplementRequests == 0 {
			t.completedWithoutSupplement++
		}
	case cases.CaseWithdrawn:
		t.withdrawn++
	default:
		t.inProgress++
	}
	t.matters += m.matters
	t.fieldsAsked += m.fieldsAsked
	t.fieldsSeparate += m.fieldsSeparate
	t.materialsAsked += m.materialsAsked
	t.materialsSeparate += m.materialsSeparate
	t.supplementRequests += m.supplementRequests
	t.supplements += m.supplements
	t.subcases = append(t.subcases, m.subcases...)
}

func (t *tally) addSubcase(m subcaseMeasure) { t.subcases = append(t.subcases, m) }

func (t *tally) figures() Figures {
	return Figures{
		Cases: t.cases, Completed: t.completed, Withdrawn: t.withdrawn, InProgress: t.inProgress, Matters: t.matters,
		Fields: FieldFigures{Asked: t.fieldsAsked, Separate: t.fieldsSeparate, Saved: t.fieldsSeparate - t.fieldsAsked,
			SavedPercent: percent(t.fieldsSeparate-t.fieldsAsked, t.fieldsSeparate)},
		Materials: MaterialFigures{Asked: t.materialsAsked, Separate: t.materialsSeparate, Saved: t.materialsSeparate - t.materialsAsked,
			SavedPercent: percent(t.materialsSeparate-t.materialsAsked, t.materialsSeparate)},
		Handling: t.handling(),
		OneRound: OneRound{Completed: t.completed, WithoutSupplement: t.completedWithoutSupplement,
			Percent: percent(t.completedWithoutSupplement, t.completed), SupplementRequests: t.supplementRequests, Supplements: t.supplements},
	}
}

// handling measures the tally's sub-cases.
func (t *tally) handling() Handling {
	h := Handling{Subcases: len(t.subcases)}
	var days []int
	var daySum, promisedSum, statutorySum, statutoryDaySum int
	for _, sm := range t.subcases {
		if !sm.decided {
			continue
		}
		h.Decided++
		if sm.approved {
			h.Approved++
		} else {
			h.Rejected++
		}
		days = append(days, sm.days)
		daySum += sm.days
		promisedSum += sm.promised
		if sm.withinPromised {
			h.WithinPromised++
		}
		if sm.hasStatutory {
			h.WithStatutory++
			statutorySum += sm.statutory
			statutoryDaySum += sm.days
		}
		if sm.withinStatutory {
			h.WithinStatutory++
		}
		if !sm.supplementRequested {
			h.WithoutSupplement++
		}
	}
	if h.Decided == 0 {
		return h
	}
	sort.Ints(days)
	h.MeanDays = ratio(daySum, h.Decided)
	h.P90Days = days[int(math.Ceil(0.9*float64(len(days))))-1]
	h.MeanPromisedDays = ratio(promisedSum, h.Decided)
	h.MeanStatutoryDays = ratio(statutorySum, h.WithStatutory)
	h.WithinPromisedPercent = percent(h.WithinPromised, h.Decided)
	h.WithinStatutoryPercent = percent(h.WithinStatutory, h.WithStatutory)
	h.WithoutSupplementPercent = percent(h.WithoutSupplement, h.Decided)
	if statutorySum > 0 {
		h.ReductionPercent = round1(100 * (1 - float64(statutoryDaySum)/float64(statutorySum)))
	}
	return h
}

// percent is part of whole in percent, to one decimal; 0 when whole is.
func percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return round1(100 * float64(part) / float64(whole))
}

// ratio is a / b to one decimal.
func ratio(a, b int) float64 { return round1(float64(a) / float64(b)) }

// round1 rounds to one decimal, halves away from zero.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// data is what the report reads of the period's cases.
type data struct {
	cases       []*caseRow
	subcases    map[string][]subcaseRow // by case, in the case's order
	decided     map[string]time.Time    // a sub-case's decision, by sub-case
	requests    map[string]int          // supplement requests, by sub-case
	pauses      map[string][]deadline.Pause
	supplements map[string]int // supplements sent, by case
}

type caseRow struct {
	ID            string          `db:"id"`
	BundleCode    string          `db:"bundle_code"`
	ApplicantType string          `db:"applicant_type"`
	State         string          `db:"state"`
	SubmittedAt   store.Timestamp `db:"submitted_at"`
}

type subcaseRow struct {
	ID            string          `db:"id"`
	CaseID        string          `db:"case_id"`
	MatterCode    string          `db:"matter_code"`
	Department    string          `db:"department"`
	State         string          `db:"state"`
	PromisedDays  int             `db:"promised_days"`
	StatutoryDays int             `db:"statutory_days"`
	PromisedUnit  string          `db:"promised_unit"`
	StatutoryUnit string          `db:"statutory_unit"`
	ClockStart    store.Timestamp `db:"clock_start"`
}

// read reads the cases submitted in p with their sub-cases, the decisions and supplement
// requests of their timelines, the sub-cases' pauses and the supplements sent. Rows of cases
// submitted while it reads (not among the cases read first) are left out.
func (s *Service) read(ctx context.Context, p Period) (*data, error) {
	from, to := p.Bounds()
	db := s.st.DB()
	d := &data{subcases: map[string][]subcaseRow{}, decided: map[string]time.Time{}, requests: map[string]int{},
		pauses: map[string][]deadline.Pause{}, supplements: map[string]int{}}
	if err := db.SelectContext(ctx, &d.cases, db.Rebind(`SELECT id, bundle_code, applicant_type, state, submitted_at FROM cases
		WHERE submitted_at >= ? AND submitted_at < ? ORDER BY submitted_at, id`), from, to); err != nil {
		return nil, fmt.Errorf("reading cases: %w", err)
	}
	known := make(map[string]bool, len(d.cases))
	for _, c := range d.cases {
		known[c.ID] = true
	}

	var subs []subcaseRow
	if err := db.SelectContext(ctx, &subs, db.Rebind(`SELECT s.id, s.case_id, s.matter_code, s.department, s.state, s.promised_days,
		s.statutory_days, s.promised_unit, s.statutory_unit, s.clock_start FROM subcases s JOIN cases c ON c.id = s.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? ORDER BY s.case_id, s.position`), from, to); err != nil {
		return nil, fmt.Errorf("reading sub-cases: %w", err)
	}
	inPeriod := make(map[string]bool, len(subs))
	for _, sc := range subs {
		if known[sc.CaseID] {
			d.subcases[sc.CaseID] = append(d.subcases[sc.CaseID], sc)
			inPeriod[sc.ID] = true
		}
	}

	var steps []struct {
		SubcaseID string          `db:"subcase_id"`
		Type      string          `db:"type"`
		At        store.Timestamp `db:"at"`
	}
	if err := db.SelectContext(ctx, &steps, db.Rebind(`SELECT e.subcase_id, e.type, e.at FROM case_events e JOIN cases c ON c.id = e.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? AND e.subcase_id <> '' AND e.type IN (?, ?, ?)`),
		from, to, cases.StateApproved, cases.StateRejected, cases.StateSupplementRequested); err != nil {
		return nil, fmt.Errorf("reading the timelines: %w", err)
	}
	for _, st := range steps {
		switch {
		case !inPeriod[st.SubcaseID]:
		case st.Type == cases.StateSupplementRequested:
			d.requests[st.SubcaseID]++
		default:
			d.decided[st.SubcaseID] = st.At.Time
		}
	}

	var pauses []struct {
		SubcaseID string          `db:"subcase_id"`
		StartedAt store.Timestamp `db:"started_at"`
		EndedAt   store.Timestamp `db:"ended_at"`
	}
	if err := db.SelectContext(ctx, &pauses, db.Rebind(`SELECT p.subcase_id, p.started_at, p.ended_at FROM subcase_pauses p
		JOIN subcases s ON s.id = p.subcase_id JOIN cases c ON c.id = s.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? ORDER BY p.subcase_id, p.started_at`), from, to); err != nil {
		return nil, fmt.Errorf("reading the pauses: %w", err)
	}
	for _, ps := range pauses {
		if inPeriod[ps.SubcaseID] {
			d.pauses[ps.SubcaseID] = append(d.pauses[ps.SubcaseID], deadline.Pause{Start: ps.StartedAt.Time, End: ps.EndedAt.Time})
		}
	}

	var sent []struct {
		CaseID string `db:"case_id"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &sent, db.Rebind(`SELECT s.case_id, COUNT(*) AS n FROM case_supplements s JOIN cases c ON c.id = s.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? GROUP BY s.case_id`), from, to); err != nil {
		return nil, fmt.Errorf("reading the supplements: %w", err)
	}
	for _, r := range sent {
		if known[r.CaseID] {
			d.supplements[r.CaseID] = r.N
		}
	}
	return d, nil
}
