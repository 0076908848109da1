package sharing

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"yjshub/problem"

	"yjshub/hub/audit"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
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

type grantedPrefill struct {
	seq    int64
	at     time.Time
	fields map[string]bool
	used   bool
}

// ReuseReport computes the report over every case and every prefill in the store.
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

func (p Period) contains(t time.Time) bool {
	from, to := p.bounds()
	return !t.Before(from.Time) && t.Before(to.Time)
}

func (s *Service) ReuseReport(ctx context.Context, p Period) (*ReuseReport, error) {
	if !p.From.IsZero() && !p.To.IsZero() && p.To.Before(p.From) {
		return nil, problem.New(problem.Problem{Path: "to", Rule: problem.RuleRange, Message: "must not be before from"})
	}
	from, to := p.bounds()
	db := s.st.DB()
	var cases []struct {
		ID            string          `db:"id"`
		BundleCode    string          `db:"bundle_code"`
		ApplicantType string          `db:"applicant_type"`
		HolderID      string          `db:"holder_id"`
		Form          string          `db:"form"`
		SubmittedAt   store.Timestamp `db:"submitted_at"`
	}
	if err := db.SelectContext(ctx, &cases, db.Rebind(`SELECT id, bundle_code, applicant_type, holder_id, form, submitted_at FROM cases
		WHERE submitted_at >= ? AND submitted_at < ? ORDER BY submitted_at, id`), from, to); err != nil {
		return nil, fmt.Errorf("reading cases: %w", err)
	}
	var subs []struct {
		CaseID     string `db:"case_id"`
		MatterCode string `db:"matter_code"`
	}
	if err := db.SelectContext(ctx, &subs, db.Rebind(`SELECT s.case_id, s.matter_code FROM subcases s JOIN cases c ON c.id = s.case_id
		WHERE c.submitted_at >= ? AND c.submitted_at < ? ORDER BY s.case_id, s.position`), from, to); err != nil {
		return nil, fmt.Errorf("reading sub-cases: %w", err)
	}
	matters := map[string][]string{}
	for _, sc := range subs {
		matters[sc.CaseID] = append(matters[sc.CaseID], sc.MatterCode)
	}
	var fromLicences []struct {
		CaseID string `db:"case_id"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &fromLicences, db.Rebind(`SELECT m.case_id, COUNT(*) AS n FROM case_materials m JOIN cases c ON c.id = m.case_id
		WHERE m.licence_number <> '' AND c.submitted_at >= ? AND c.submitted_at < ? GROUP BY m.case_id`), from, to); err != nil {
		return nil, fmt.Errorf("reading materials: %w", err)
	}
	byLicence := map[string]int{}
	for _, r := range fromLicences {
		byLicence[r.CaseID] = r.N
	}

	figures := map[string]*ReuseFigures{}
	fig := func(bundle string) *ReuseFigures {
		if figures[bundle] == nil {
			figures[bundle] = &ReuseFigures{}
		}
		return figures[bundle]
	}
	prefills, err := s.log.Entries(ctx, "prefill", "")
	if err != nil {
		return nil, err
	}
	granted := map[[2]string][]*grantedPrefill{} // by holder reference and bundle, in order
	refusedElsewhere := 0                        // refused before a bundle was known
	for _, e := range prefills {
		var d prefillDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			return nil, fmt.Errorf("reading audit row %d: %w", e.Seq, err)
		}
		if _, ok := s.cat.Bundle(d.Bundle); !ok {
			d.Bundle = "" // refused before the bundle was known
		}
		inPeriod := p.contains(e.At)
		if e.Outcome != audit.Granted {
			switch {
			case !inPeriod:
			case d.Bundle == "":
				refusedElsewhere++
			default:
				fig(d.Bundle).PrefillsRefused++
			}
			continue
		}
		if inPeriod {
			fig(d.Bundle).PrefillsGranted++
		}
		gp := &grantedPrefill{seq: e.Seq, at: e.At, fields: map[string]bool{}}
		for _, f := range d.Fields {
			gp.fields[f] = true
		}
		key := [2]string{e.Subject, d.Bundle}
		granted[key] = append(granted[key], gp)
	}

	for _, c := range cases {
		b, ok := s.cat.Bundle(c.BundleCode)
		if !ok {
			continue // a bundle the catalogue no longer has
		}
		f := fig(b.Code)
		f.Cases++
		of, err := s.cfg.Forms.Get(b, c.ApplicantType, matters[c.ID])
		if err != nil {
			continue // a selection the catalogue no longer allows: nothing to count it against
		}
		f.FieldsAsked += len(of.Fields)
		f.MaterialsAsked += len(of.Materials)
		f.MaterialsFromLicences += byLicence[c.ID]
		// The latest unused prefill for this holder and bundle made before the case.
		var pick *grantedPrefill
		for _, gp := range granted[[2]string{audit.SubjectRef(c.HolderID), b.Code}] {
			if !gp.used && !gp.at.After(c.SubmittedAt.Time) {
				pick = gp
			}
		}
		if pick == nil {
			continue
		}
		pick.used = true
		var form map[string]any
		if err := json.Unmarshal([]byte(c.Form), &form); err != nil {
			return nil, fmt.Errorf("reading case %s: %w", c.ID, err)
		}
		n := 0
		for code, v := range form {
			if v != nil && pick.fields[code] {
				n++
			}
		}
		f.FieldsPrefilled += n
		if n > 0 {
			f.CasesPrefilled++
		}
	}

	rep := &ReuseReport{GeneratedAt: s.cfg.Now().UTC(), Bundles: []BundleReuse{}}
	if !p.From.IsZero() {
		rep.From = deadline.Date(p.From).Format(time.DateOnly)
	}
	if !p.To.IsZero() {
		rep.To = deadline.Date(p.To).Format(time.DateOnly)
	}
	for code, f := range figures {
		b, _ := s.cat.Bundle(code)
		f.percentages()
		rep.Bundles = append(rep.Bundles, BundleReuse{Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, ReuseFigures: *f})
		rep.Overall.add(*f)
	}
	sort.Slice(rep.Bundles, func(i, j int) bool { return rep.Bundles[i].Bundle.Seq < rep.Bundles[j].Bundle.Seq })
	rep.Overall.PrefillsRefused += refusedElsewhere
	rep.Overall.percentages()
	return rep, nil
}
