package sharing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/audit"
	"yjshub/hub/auth"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/mapping"
	"yjshub/problem"
)

// PrefillRequest asks what the hub already knows for a holder and a bundle
// (POST /api/v1/prefill).
type PrefillRequest struct {
	// Bundle is the bundle's code or 序号.
	Bundle json.RawMessage `json:"bundle"`
	// ApplicantType is enterprise or individual.
	ApplicantType string `json:"applicant_type"`
	// Holder is the enterprise's USCC, or the individual's identity document number or, for an
	// individual business (个体工商户), its 92… credit code (HolderProblem).
	Holder string `json:"holder"`
	// Matters are the applicant's selection of the bundle's matters, by code, as the one form
	// takes it. Empty: every matter of the bundle open to the applicant type.
	Matters []string `json:"matters,omitempty"`
	// Consent is the applicant's consent, for the purpose prefill.
	Consent *ConsentRef `json:"consent"`
}

// Prefill is what the hub already knows for a holder, restricted to what the bundle's one
// form asks: canonical fields with their sources, and the materials a valid e-licence of the
// holder satisfies (免交).
type Prefill struct {
	Bundle        event.BundleRef `json:"bundle"`
	ApplicantType string          `json:"applicant_type"`
	// Fields are the canonical fields known, by code.
	Fields map[string]PrefilledField `json:"fields"`
	// Materials are the bundle's materials a valid e-licence of the holder satisfies.
	Materials []SatisfiedMaterial `json:"materials"`
	// Licences are the holder's e-licences in the library, with their status.
	Licences []licences.Licence `json:"licences"`
	// AlreadyHeld are the valid e-licences the holder already holds of a type a selected matter
	// would issue: applying for that matter again would issue the holder a second one.
	AlreadyHeld []HeldLicence `json:"already_held"`
	// Reuse counts what the form asks and what shared data supplies.
	Reuse PrefillReuse `json:"reuse"`
	// AuditSeq is the audit log row that records this prefill.
	AuditSeq int64 `json:"audit_seq"`
}

// PrefilledField is one canonical field's value and where it comes from.
type PrefilledField struct {
	Title  string `json:"title"`
	Value  any    `json:"value"`
	Source Source `json:"source"`
}

// Source kinds.
const (
	SourceCase    = "case"
	SourceLicence = "licence"
)

// Source says where a prefilled value comes from: an earlier case (its id, the date it was
// submitted) or an e-licence (its id, the date it was issued).
type Source struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Date string `json:"date"`
}

// SatisfiedMaterial is a material of the bundle that an e-licence of the holder satisfies.
// Supply is the entry to put in the application's materials instead of an upload.
type SatisfiedMaterial struct {
	Code     string         `json:"code"`
	Name     string         `json:"name"`
	Required bool           `json:"required"`
	Matters  []string       `json:"matters"`
	Licence  LicenceSummary `json:"licence"`
	Supply   map[string]any `json:"supply"`
}

// LicenceSummary names an e-licence.
type LicenceSummary struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Number     string `json:"number"`
	Issuer     string `json:"issuer"`
	ValidUntil string `json:"valid_until,omitempty"`
}

// HeldLicence is a valid e-licence the holder already holds of the type a selected matter of
// the bundle issues.
type HeldLicence struct {
	// Matter is the matter's code, MatterName its name as the bundle lists it.
	Matter     string         `json:"matter"`
	MatterName string         `json:"matter_name"`
	Licence    LicenceSummary `json:"licence"`
	// Status is the licence's status today: valid (only valid licences are listed).
	Status string `json:"status"`
}

// PrefillReuse counts the fields and materials the one form asks and those shared data supplies.
type PrefillReuse struct {
	FieldsAsked        int `json:"fields_asked"`
	FieldsPrefilled    int `json:"fields_prefilled"`
	MaterialsAsked     int `json:"materials_asked"`
	MaterialsSatisfied int `json:"materials_satisfied"`
}

// prefillDetail is what the audit log keeps of a prefill: codes and sources, never values.
type prefillDetail struct {
	Bundle        string   `json:"bundle,omitempty"`
	ApplicantType string   `json:"applicant_type,omitempty"`
	Purpose       string   `json:"purpose,omitempty"`
	Consent       string   `json:"consent,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Fields        []string `json:"fields,omitempty"`
	Cases         []string `json:"cases,omitempty"`
	Licences      []string `json:"licences,omitempty"`
	Materials     []string `json:"materials,omitempty"`
	// AlreadyHeld are the selected matters whose licence type the holder already holds.
	AlreadyHeld []string `json:"already_held,omitempty"`
	// Client is the API client that asked (hub/auth); empty when the API does not authenticate.
	Client string `json:"client,omitempty"`
}

// clientOf names the API client of ctx for the audit log.
func clientOf(ctx context.Context) string {
	c, _ := auth.FromContext(ctx)
	return c.Name
}

// Prefill returns what the hub knows for a holder and a bundle, given the holder's consent for
// the purpose prefill. A malformed request is a *problem.Error, a request no valid consent
// covers a RefusedError; both are written to the audit log as refused, and nothing else is
// stored. A granted prefill is written to the audit log with the codes of what it returned.
func (s *Service) Prefill(ctx context.Context, req PrefillRequest) (*Prefill, error) {
	var problems []problem.Problem
	b, bp := s.bundleOf(req.Bundle)
	if bp != nil {
		problems = append(problems, *bp)
	}
	if req.ApplicantType != catalogue.Enterprise && req.ApplicantType != catalogue.Individual {
		problems = append(problems, problem.Problem{Path: "/applicant_type", Rule: mapping.RuleUnknownApplicantType, Message: "must be enterprise or individual"})
	}
	hp := HolderProblem("/holder", req.ApplicantType, req.Holder)
	if hp != nil {
		problems = append(problems, *hp)
	}
	var of *mapping.OneForm
	if len(problems) == 0 {
		var err error
		of, err = s.cfg.Forms.Get(b, req.ApplicantType, req.Matters)
		var pe *problem.Error
		switch {
		case errors.As(err, &pe):
			for _, p := range pe.Problems {
				if !strings.HasPrefix(p.Path, "/") { // the one form names its query parameters
					p.Path = "/" + p.Path
				}
				problems = append(problems, p)
			}
		case err != nil:
			return nil, err
		}
	}
	detail := prefillDetail{ApplicantType: req.ApplicantType, Client: clientOf(ctx)}
	if b != nil {
		detail.Bundle = b.Code
	}
	subject := ""
	if hp == nil {
		subject = s.keys.Of(req.Holder)
	}
	if req.Consent != nil {
		detail.Purpose = req.Consent.Purpose
	}
	if len(problems) > 0 {
		detail.Reason = "invalid_request"
		if _, err := s.log.AppendAlone(ctx, audit.Entry{Kind: KindPrefill, Outcome: audit.Refused, Subject: subject, Detail: detail}); err != nil {
			return nil, err
		}
		return nil, problem.New(problems...)
	}
	// The consent's use, what is shared and the audit row commit together, or none of them.
	var out *Prefill
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		consent, err := s.useConsent(ctx, tx, req.Consent, "/consent", PurposePrefill, req.Holder, b)
		detail.Consent = consent
		if err != nil {
			return err
		}
		if out, err = s.collect(ctx, tx, b, req.ApplicantType, req.Holder, of); err != nil {
			return err
		}
		sources := map[string]map[string]bool{SourceCase: {}, SourceLicence: {}}
		for code, f := range out.Fields {
			detail.Fields = append(detail.Fields, code)
			sources[f.Source.Kind][f.Source.ID] = true
		}
		for _, m := range out.Materials {
			detail.Materials = append(detail.Materials, m.Code)
			sources[SourceLicence][m.Licence.ID] = true
		}
		for _, h := range out.AlreadyHeld {
			if n := len(detail.AlreadyHeld); n == 0 || detail.AlreadyHeld[n-1] != h.Matter {
				detail.AlreadyHeld = append(detail.AlreadyHeld, h.Matter)
			}
			sources[SourceLicence][h.Licence.ID] = true
		}
		sort.Strings(detail.Fields)
		detail.Cases, detail.Licences = sortedKeys(sources[SourceCase]), sortedKeys(sources[SourceLicence])
		rec, err := s.log.Append(ctx, tx, audit.Entry{Kind: KindPrefill, Outcome: audit.Granted, Subject: subject, Detail: detail})
		out.AuditSeq = rec.Seq
		return err
	})
	var refused *RefusedError
	if errors.As(err, &refused) {
		detail.Reason = refused.Rule
		if _, aerr := s.log.AppendAlone(ctx, audit.Entry{Kind: KindPrefill, Outcome: audit.Refused, Subject: subject, Detail: detail}); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// collect gathers the fields and materials known for a holder that the one form asks.
// q is the transaction the prefill runs in.
func (s *Service) collect(ctx context.Context, q licences.Queryer, b *catalogue.Bundle, applicantType, holder string, of *mapping.OneForm) (*Prefill, error) {
	out := &Prefill{Bundle: event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name}, ApplicantType: applicantType,
		Fields: map[string]PrefilledField{}, Materials: []SatisfiedMaterial{}}
	asked := map[string]*catalogue.Field{}
	for _, f := range of.Fields {
		if fld, ok := s.cat.Field(f.Code); ok {
			asked[f.Code] = fld
		}
	}
	take := func(code string, v any, src Source) {
		fld := asked[code]
		if v == nil || fld == nil || len(fld.Check(v)) > 0 {
			return // absent, or no longer valid under the catalogue's current rules
		}
		out.Fields[code] = PrefilledField{Title: fld.Name, Value: v, Source: src}
	}

	// Earlier cases, most recent first: the latest value of each field wins.
	var cases []struct {
		ID          string          `db:"id"`
		Form        string          `db:"form"`
		SubmittedAt store.Timestamp `db:"submitted_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &cases, q.Rebind(`SELECT id, form, submitted_at FROM cases WHERE holder_id = ? AND applicant_type = ?
		ORDER BY submitted_at DESC, id DESC`), holder, applicantType); err != nil {
		return nil, fmt.Errorf("reading the holder's cases: %w", err)
	}
	for _, c := range cases {
		var form map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(c.Form)))
		dec.UseNumber()
		if err := dec.Decode(&form); err != nil {
			return nil, fmt.Errorf("reading case %s: %w", c.ID, err)
		}
		date := deadline.Date(c.SubmittedAt.Time).Format(time.DateOnly)
		for code, v := range form {
			if _, done := out.Fields[code]; !done {
				take(code, v, Source{Kind: SourceCase, ID: c.ID, Date: date})
			}
		}
	}

	// E-licences: what their issuers say beats what an applicant once typed.
	held, err := s.lib.HeldBy(ctx, q, holder)
	if err != nil {
		return nil, err
	}
	out.Licences = held
	latest := func(types ...string) *licences.Licence {
		for i := range held { // most recently issued first
			if held[i].Status != licences.StatusValid {
				continue
			}
			for _, t := range types {
				if held[i].Type == t {
					return &held[i]
				}
			}
		}
		return nil
	}
	for code, fld := range asked {
		if fld.FromLicence == nil {
			continue
		}
		if l := latest(fld.FromLicence.Type); l != nil {
			take(code, l.Result()[fld.FromLicence.Field], Source{Kind: SourceLicence, ID: l.ID, Date: l.IssuedAt})
		}
	}
	for _, mi := range of.Materials {
		mat, ok := s.cat.Material(mi.Code)
		if !ok || len(mat.SatisfiedBy) == 0 {
			continue
		}
		l := latest(mat.SatisfiedBy...)
		if l == nil {
			continue
		}
		out.Materials = append(out.Materials, SatisfiedMaterial{Code: mi.Code, Name: mi.Name, Required: mi.Required, Matters: mi.Matters,
			Licence: LicenceSummary{ID: l.ID, Type: l.Type, Number: l.Number, Issuer: l.Issuer, ValidUntil: l.ValidUntil},
			Supply:  map[string]any{"type": mi.Code, "licence": map[string]string{"type": l.Type, "number": l.Number}}})
	}
	out.AlreadyHeld = alreadyHeld(s.cat, of.Matters, held)
	out.Reuse = PrefillReuse{FieldsAsked: len(of.Fields), FieldsPrefilled: len(out.Fields),
		MaterialsAsked: len(of.Materials), MaterialsSatisfied: len(out.Materials)}
	return out, nil
}

// alreadyHeld lists, for each selected matter in the bundle's order, the valid licences of held
// (most recently issued first) of a type the matter issues.
func alreadyHeld(cat *catalogue.Catalogue, selected []mapping.SelectedMatter, held []licences.Licence) []HeldLicence {
	out := []HeldLicence{}
	for _, sm := range selected {
		m, ok := cat.Matter(sm.Code)
		if !ok {
			continue
		}
		for _, lt := range m.LicenceTypes() {
			for _, l := range held {
				if l.Status != licences.StatusValid || l.Type != lt.Name {
					continue
				}
				out = append(out, HeldLicence{Matter: sm.Code, MatterName: sm.Name, Status: l.Status,
					Licence: LicenceSummary{ID: l.ID, Type: l.Type, Number: l.Number, Issuer: l.Issuer, ValidUntil: l.ValidUntil}})
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RefuseMalformedPrefill writes the audit row of a prefill request whose body could not be
// read at all: every prefill, even one refused before it was understood, is in the log.
func (s *Service) RefuseMalformedPrefill(ctx context.Context) error {
	_, err := s.log.AppendAlone(ctx, audit.Entry{Kind: KindPrefill, Outcome: audit.Refused, Detail: prefillDetail{Reason: "malformed_request", Client: clientOf(ctx)}})
	return err
}
