package sharing

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/audit"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/problem"
)

// ReuseReport counts, per bundle and overall, the fields and materials the applications asked
// for and those supplied from shared data (prefilled fields, materials given as e-licences).
type ReuseReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	// From and To are the first and last day (China) of the period reported, when one was
	// asked for: cases submitted and prefills made on those days and between.
	From    string        `json:"from,omitempty"`
	To      string        `json:"to,omitempty"`
	Bundles []BundleReuse `json:"bundles"`
	Overall ReuseFigures  `json:"overall"`
}

// BundleReuse is one bundle's figures.
type BundleReuse struct {
	Bundle event.BundleRef `json:"bundle"`
	ReuseFigures
}

// ReuseFigures are the counts of one bundle or of all.
type ReuseFigures struct {
	// Cases submitted, and how many of them a prefill fed.
	Cases          int `json:"cases"`
	CasesPrefilled int `json:"cases_prefilled"`
	// FieldsAsked sums, over the cases, the fields of each case's one form; FieldsPrefilled
	// those of them the case's prefill returned.
	FieldsAsked     int `json:"fields_asked"`
	FieldsPrefilled int `json:"fields_prefilled"`
	// MaterialsAsked sums the materials of each case's one form; MaterialsFromLicences those
	// the application gave as e-licence references.
	MaterialsAsked        int `json:"materials_asked"`
	MaterialsFromLicences int `json:"materials_from_licences"`
	// Prefill requests granted and refused.
	PrefillsGranted int `json:"prefills_granted"`
	PrefillsRefused int `json:"prefills_refused"`
	// The shares supplied from shared data, in percent (0 when nothing was asked).
	FieldsPrefilledPercent       float64 `json:"fields_prefilled_percent"`
	MaterialsFromLicencesPercent float64 `json:"materials_from_licences_percent"`
}

func (f *ReuseFigures) add(o ReuseFigures) {
	f.Cases += o.Cases
	f.CasesPrefilled += o.CasesPrefilled
	f.FieldsAsked += o.FieldsAsked
	f.FieldsPrefilled += o.FieldsPrefilled
	f.MaterialsAsked += o.MaterialsAsked
	f.MaterialsFromLicences += o.MaterialsFromLicences
	f.PrefillsGranted += o.PrefillsGranted
	f.PrefillsRefused += o.PrefillsRefused
}

func (f *ReuseFigures) percentages() {
	pct := func(part, whole int) float64 {
		if whole == 0 {
			return 0
		}
		return float64(int(float64(part)*1000/float64(whole)+0.5)) / 10
	}
	f.FieldsPrefilledPercent = pct(f.FieldsPrefilled, f.FieldsAsked)
	f.MaterialsFromLicencesPercent = pct(f.MaterialsFromLicences, f.MaterialsAsked)
}

// Period is a span of days in China, both included; a zero From or To leaves that side open.
type Period struct {
	From, To time.Time
}

// bounds returns the period as store timestamps [from, to): midnight in China of From and of
// the day after To; an open side is 1970 or the far future.
func (p Period) bounds() (store.Timestamp, store.Timestamp) {
	from, to := time.Unix(0, 0).UTC(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if !p.From.IsZero() {
		from = deadline.Date(p.From)
	}
	if !p.To.IsZero() {
		to = deadline.Date(p.To).AddDate(0, 0, 1)
	}
	return store.NewTimestamp(from), store.NewTimestamp(to)
}

// Bounds returns the period as store timestamps [from, to), as the reuse report counts it:
// for the other reports over a period (hub/reform), so that both take the same cases.
func (p Period) Bounds() (from, to store.Timestamp) { return p.bounds() }

func (p Period) contains(t time.Time) bool {
	from, to := p.bounds()
	return !t.Before(from.Time) && t.Before(to.Time)
}

// ReuseReport measures how much less the applications of period p asked for (every case and
// every prefill when p is zero): per bundle and overall, the fields and materials each case's
// one form asked for, the fields a prefill supplied and the materials given as e-licences, and
// the prefills granted and refused. A case counts the latest prefill granted for its holder and
// bundle before it was submitted that no earlier case counted; a prefill counts for one case. A
// period that ends before it starts is a *problem.Error.
func (s *Service) ReuseReport(ctx context.Context, p Period) (*ReuseReport, error) {
	if !p.From.IsZero() && !p.To.IsZero() && p.To.Before(p.From) {
		return nil, problem.One("to", problem.RuleRange, "must not be before from")
	}
	cases, err := s.periodCases(ctx, p)
	if err != nil {
		return nil, err
	}
	t := &reuseTally{figures: map[string]*ReuseFigures{}}
	granted, err := s.tallyPrefills(ctx, p, t)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		s.tallyCase(c, granted, t)
	}
	return t.report(s.cat, p, s.cfg.Now()), nil
}

// periodCase is a case of the period with what the report needs of it.
type periodCase struct {
	ID            string                     `db:"id"`
	BundleCode    string                     `db:"bundle_code"`
	ApplicantType string                     `db:"applicant_type"`
	HolderID      string                     `db:"holder_id"`
	Form          store.JSON[map[string]any] `db:"form"`
	SubmittedAt   store.Timestamp            `db:"submitted_at"`
	matters       []string                   // its matters, in order
	fromLicences  int                        // materials given as e-licences
}

// periodCases reads the cases submitted in p, oldest first, with their matters and how many
// materials each gave as e-licences.
func (s *Service) periodCases(ctx context.Context, p Period) ([]*periodCase, error) {
	from, to := p.bounds()
	db := s.st.DB()
	var cases []*periodCase
	if err := db.SelectContext(ctx, &cases, db.Rebind(`SELECT id, bundle_code, applicant_type, holder_id, form, submitted_at FROM cases
		WHERE submitted_at >= ? AND submitted_at < ? ORDER BY submitted_at, id`), from, to); err != nil {
		return nil, fmt.Errorf("reading cases: %w", err)
	}
	byID := make(map[string]*periodCase, len(cases))
	for _, c := range cases {
		byID[c.ID] = c
	}
	var subs []struct {
		CaseID     string `db:"case_id"`
		MatterCode string `db:"matter_code"`
	}
	if err := db.SelectContext(ctx, &subs, db.Rebind(`SELECT s.case_id, s.matter_code FROM subcases s JOIN cases c ON c.id = s.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? ORDER BY s.case_id, s.position`), from, to); err != nil {
		return nil, fmt.Errorf("reading sub-cases: %w", err)
	}
	for _, sc := range subs {
		if c := byID[sc.CaseID]; c != nil {
			c.matters = append(c.matters, sc.MatterCode)
		}
	}
	var fromLicences []struct {
		CaseID string `db:"case_id"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &fromLicences, db.Rebind(`SELECT m.case_id, COUNT(*) AS n FROM case_materials m JOIN cases c ON c.id = m.case_id
		WHERE m.licence_number <> '' AND c.submitted_at >= ? AND c.submitted_at < ? GROUP BY m.case_id`), from, to); err != nil {
		return nil, fmt.Errorf("reading materials: %w", err)
	}
	for _, r := range fromLicences {
		if c := byID[r.CaseID]; c != nil {
			c.fromLicences = r.N
		}
	}
	return cases, nil
}

// grantedPrefill is a prefill granted, waiting for the case it fed.
type grantedPrefill struct {
	at     time.Time
	fields map[string]bool
	used   bool
}

// reuseTally is the report being counted: figures per bundle code, and the refusals of
// prefills whose bundle was never known (counted in the overall figures only).
type reuseTally struct {
	figures          map[string]*ReuseFigures
	refusedElsewhere int
}

func (t *reuseTally) bundle(code string) *ReuseFigures {
	if t.figures[code] == nil {
		t.figures[code] = &ReuseFigures{}
	}
	return t.figures[code]
}

// tallyPrefills counts the prefills of p granted and refused, from the audit log, and returns
// every granted prefill (of any time: one made before the period may feed a case in it) by
// holder reference and bundle, oldest first.
func (s *Service) tallyPrefills(ctx context.Context, p Period, t *reuseTally) (map[[2]string][]*grantedPrefill, error) {
	prefills, err := s.log.Entries(ctx, KindPrefill, "")
	if err != nil {
		return nil, err
	}
	granted := map[[2]string][]*grantedPrefill{}
	for _, e := range prefills {
		var d prefillDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			return nil, fmt.Errorf("reading audit row %d: %w", e.Seq, err)
		}
		if _, ok := s.cat.Bundle(d.Bundle); !ok {
			d.Bundle = "" // refused before the bundle was known
		}
		inPeriod := p.contains(e.At)
		switch {
		case e.Outcome == audit.Granted:
			if inPeriod {
				t.bundle(d.Bundle).PrefillsGranted++
			}
			gp := &grantedPrefill{at: e.At, fields: map[string]bool{}}
			for _, f := range d.Fields {
				gp.fields[f] = true
			}
			key := [2]string{e.Subject, d.Bundle}
			granted[key] = append(granted[key], gp)
		case !inPeriod:
		case d.Bundle == "":
			t.refusedElsewhere++
		default:
			t.bundle(d.Bundle).PrefillsRefused++
		}
	}
	return granted, nil
}

// tallyCase counts what case c's one form asked for and what shared data supplied: its
// materials given as e-licences, and the fields of the prefill it used, if any. A case whose
// bundle or selection the catalogue no longer has is not counted.
func (s *Service) tallyCase(c *periodCase, granted map[[2]string][]*grantedPrefill, t *reuseTally) {
	b, ok := s.cat.Bundle(c.BundleCode)
	if !ok {
		return
	}
	f := t.bundle(b.Code)
	f.Cases++
	of, err := s.cfg.Forms.Get(b, c.ApplicantType, c.matters)
	if err != nil {
		return // a selection the catalogue no longer allows: nothing to count it against
	}
	f.FieldsAsked += len(of.Fields)
	f.MaterialsAsked += len(of.Materials)
	f.MaterialsFromLicences += c.fromLicences
	// The holder's prefills were pseudonymised under whichever key was current then.
	var pick *grantedPrefill
	for _, ref := range s.keys.All(c.HolderID) {
		for _, gp := range granted[[2]string{ref, b.Code}] {
			if !gp.used && !gp.at.After(c.SubmittedAt.Time) && (pick == nil || !gp.at.Before(pick.at)) {
				pick = gp
			}
		}
	}
	if pick == nil {
		return
	}
	pick.used = true
	n := 0
	for code, v := range c.Form.V {
		if v != nil && pick.fields[code] {
			n++
		}
	}
	f.FieldsPrefilled += n
	if n > 0 {
		f.CasesPrefilled++
	}
}

// report is the tally as a report of p made at now: bundles in 序号 order, and the overall
// figures.
func (t *reuseTally) report(cat *catalogue.Catalogue, p Period, now time.Time) *ReuseReport {
	rep := &ReuseReport{GeneratedAt: now.UTC(), Bundles: []BundleReuse{}}
	if !p.From.IsZero() {
		rep.From = deadline.Date(p.From).Format(time.DateOnly)
	}
	if !p.To.IsZero() {
		rep.To = deadline.Date(p.To).Format(time.DateOnly)
	}
	for code, f := range t.figures {
		b, _ := cat.Bundle(code)
		f.percentages()
		rep.Bundles = append(rep.Bundles, BundleReuse{Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, ReuseFigures: *f})
		rep.Overall.add(*f)
	}
	sort.Slice(rep.Bundles, func(i, j int) bool { return rep.Bundles[i].Bundle.Seq < rep.Bundles[j].Bundle.Seq })
	rep.Overall.PrefillsRefused += t.refusedElsewhere
	rep.Overall.percentages()
	return rep
}
