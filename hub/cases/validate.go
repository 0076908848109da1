package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"yjshub/catalogue"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/mapping"
	"yjshub/problem"
)

// plan is a validated application, ready to store.
type plan struct {
	app       Application
	bundle    *catalogue.Bundle
	oneForm   *mapping.OneForm
	subcases  []*plannedSubcase
	materials []*plannedMaterial
	holder    event.ApplicantRef
	agent     *agentRow // nil: the applicant applies himself
	// owner is the submitting client: only its material objects may be named.
	owner string
}

type plannedSubcase struct {
	id       string
	entry    mapping.SelectedMatter
	matter   *catalogue.Matter
	position int
	waitFor  []string // prerequisite matter codes within this case
	form     map[string]any
}

type plannedMaterial struct {
	id      string
	input   MaterialInput
	name    string
	users   []string          // sub-case ids
	licence *licences.Licence // the e-licence it was given as, verified valid; nil for an upload
	file    int               // its place among the files of its material type, from 0
	object  *materialObject   // the material object it was given as; nil for the others
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks an application whole and returns every problem, or the plan. It reads the
// e-licence library (not in a transaction: call it before InTx). The stages run in order, each
// on what the one before established: the selection (bundle, applicant type, matters), then
// the form and the materials against the one form of that selection, then each department's
// form mapped from them. A stage with problems ends the check: the next would only report
// consequences of them.
func (s *Service) validate(ctx context.Context, owner string, app Application) (*plan, []problem.Problem, error) {
	p := &plan{app: app, owner: owner}
	selected, problems := s.validateSelection(p)
	if len(problems) > 0 {
		return nil, problems, nil
	}
	of, err := s.forms.Get(p.bundle, app.ApplicantType, selected)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			return nil, pe.Problems, nil
		}
		return nil, nil, err
	}
	p.oneForm = of
	form := mapping.Form(app.Form)
	if form == nil {
		form = mapping.Form{}
	}
	problems = of.Validate(form)
	p.holder = holderOf(app.ApplicantType, form)
	mp, err := s.validateMaterials(ctx, p, of)
	if err != nil {
		return nil, nil, err
	}
	agent, authorisation, ap, err := s.validateAgent(ctx, app.Agent, p.holder.ID)
	if err != nil {
		return nil, nil, err
	}
	p.agent = agent
	if authorisation != nil {
		p.materials = append(p.materials, authorisation)
	}
	problems = append(problems, ap...)
	if problems = append(problems, mp...); len(problems) > 0 {
		return nil, problems, nil
	}
	if problems, err = s.planSubcases(ctx, p, form); err != nil || len(problems) > 0 {
		return nil, problems, err
	}
	for _, pm := range p.materials {
		for _, ps := range p.subcases {
			// The proxy's authorisation belongs to no single matter: it covers the whole case.
			if pm.input.Type == AuthorisationMaterial || needs(ps.matter, pm.input.Type, app.ApplicantType) {
				pm.users = append(pm.users, ps.id)
			}
		}
	}
	return p, nil, nil
}

// validateSelection checks the bundle (a code or a 序号), the applicant type and the chosen
// matters, and returns the matter codes to apply for: the chosen ones, or without a choice the
// bundle's required matters open to the applicant type. Required matters cannot be dropped.
func (s *Service) validateSelection(p *plan) (selected []string, problems problem.List) {
	app := p.app
	add := problems.Add
	var bundleKey string
	if len(app.Bundle) == 0 || string(app.Bundle) == "null" {
		add("/bundle", problem.RuleRequired, "name the bundle by its code or 序号")
	} else {
		var str string
		var num json.Number
		if json.Unmarshal(app.Bundle, &str) == nil {
			bundleKey = strings.TrimSpace(str)
			if bundleKey == "" {
				add("/bundle", problem.RuleRequired, "name the bundle by its code or 序号: the code given is empty")
			}
		} else if json.Unmarshal(app.Bundle, &num) == nil {
			bundleKey = num.String()
		} else {
			add("/bundle", problem.RuleType, "must be a bundle code or 序号")
		}
	}
	if bundleKey != "" {
		if b, ok := s.cat.Bundle(bundleKey); ok {
			p.bundle = b
		} else {
			add("/bundle", mapping.RuleUnknownBundle, "no bundle has the code or 序号 %s", strconv.Quote(clip(bundleKey)))
		}
	}
	if p.bundle == nil {
		if pr := mapping.CheckApplicantType(app.ApplicantType, mapping.BodyPaths); pr != nil {
			problems = append(problems, *pr)
		}
		// Without a bundle there is no form to check the rest against.
		if len(problems) == 0 { // never go on without a bundle, whatever let it through
			add("/bundle", problem.RuleRequired, "name the bundle by its code or 序号")
		}
		return nil, problems
	}
	// The same check as the form and notice routes make, so that what they offer intake takes.
	selected, more := mapping.CheckSelection(s.cat, p.bundle, app.ApplicantType, app.Matters, mapping.BodyPaths)
	return selected, append(problems, more...)
}

// planSubcases plans one sub-case per matter of the one form, each department's form mapped
// now from form, except those waiting for a prerequisite decided in this same case (their form
// takes the prerequisite's result). Prerequisites outside the case feed the form from the
// holder's e-licences. A form that does not map is a problem at /form, naming the matter.
func (s *Service) planSubcases(ctx context.Context, p *plan, form mapping.Form) ([]problem.Problem, error) {
	var problems []problem.Problem
	inCase := map[string]bool{}
	for _, sm := range p.oneForm.Matters {
		inCase[sm.Code] = true
	}
	mapper := mapping.NewCaseMapper(p.app.ApplicantType, form) // one expression environment for the case
	for i, sm := range p.oneForm.Matters {
		m, _ := s.cat.Matter(sm.Code)
		ps := &plannedSubcase{id: newID("sc_"), entry: sm, matter: m, position: i}
		for _, pre := range m.Prerequisites {
			if inCase[pre] {
				ps.waitFor = append(ps.waitFor, pre)
			}
		}
		if len(ps.waitFor) == 0 {
			results, err := s.outsideResults(ctx, s.st.DB(), m, inCase, p.holder.ID)
			if err != nil {
				return nil, err
			}
			out, mp := mapper.Map(m, results)
			for _, pr := range mp {
				pr.Path = "/form" + " (" + sm.Code + ": " + pr.Path + ")"
				problems = append(problems, pr)
			}
			ps.form = out
		}
		p.subcases = append(p.subcases, ps)
	}
	return problems, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// needs reports whether a matter requires (or accepts) a material for an applicant type.
func needs(m *catalogue.Matter, material, applicantType string) bool {
	for _, n := range m.Materials {
		if n.Material != material {
			continue
		}
		if len(n.ApplicantTypes) == 0 {
			return true
		}
		for _, t := range n.ApplicantTypes {
			if t == applicantType {
				return true
			}
		}
	}
	return false
}

// outsideResults returns the results of a matter's prerequisites that are not in the case, from
// the holder's valid e-licences of the type each prerequisite issues: a licence issued in an
// earlier case (or imported) feeds the form as a prerequisite decided in this case would.
func (s *Service) outsideResults(ctx context.Context, q licences.Queryer, m *catalogue.Matter, inCase map[string]bool, holderID string) (mapping.Results, error) {
	var results mapping.Results
	for _, pre := range m.Prerequisites {
		pm, ok := s.cat.Matter(pre)
		if inCase[pre] || !ok || pm.Result.Kind != "licence" {
			continue
		}
		lic, err := s.lib.LatestValid(ctx, q, holderID, pm.Result.Name)
		if err != nil {
			return nil, err
		}
		if lic != nil {
			if results == nil {
				results = mapping.Results{}
			}
			results[pre] = lic.Result()
		}
	}
	return results, nil
}

// validateMaterials checks the supplied materials: each a file, or an e-licence of the library
// that satisfies the material, is valid and is held by the applicant; no material has more
// files than the catalogue allows (max_files); and every material the form requires is there,
// conditional ones (告知承诺书 when fire.commitment is true) included. Problems about an entry
// are at /materials/<index>/…, a missing material at /materials; both name the material.
func (s *Service) validateMaterials(ctx context.Context, p *plan, of *mapping.OneForm) ([]problem.Problem, error) {
	var problems problem.List
	add := func(material, path, rule, msg string, args ...any) {
		problems = append(problems, problem.Problem{Path: path, Rule: rule, Message: fmt.Sprintf(msg, args...), Material: material})
	}
	files := map[string]int{}
	objs, err := s.objectsOf(ctx, s.st.DB(), p.owner, p.app.Materials)
	if err != nil {
		return nil, err
	}
	objects := map[string]bool{}
	for i, in := range p.app.Materials {
		path := fmt.Sprintf("/materials/%d", i)
		if in.ID != "" {
			// One object is linked to the case once: a second entry would be a second file.
			if objects[in.ID] {
				add(in.Type, path+"/id", problem.RuleDuplicate, "the uploaded material %s is named twice: name it once", strconv.Quote(clip(in.ID)))
				continue
			}
			objects[in.ID] = true
		}
		mi, ok := of.Material(in.Type)
		switch {
		case in.Type == "":
			add("", path+"/type", problem.RuleRequired, "name the material type")
			continue
		case !ok:
			if _, known := s.cat.Material(in.Type); known {
				add(in.Type, path+"/type", RuleNotNeeded, "no chosen matter asks for %s", in.Type)
			} else {
				add("", path+"/type", RuleUnknownMaterial, "%s is not in the material catalogue", strconv.Quote(clip(in.Type)))
			}
			continue
		case files[in.Type] >= mi.MaxFiles:
			if mi.MaxFiles == 1 {
				add(in.Type, path+"/type", problem.RuleDuplicate, "%s is supplied twice: supply it once", in.Type)
			} else {
				add(in.Type, path+"/type", RuleMaxFiles, "%s takes at most %d files", in.Type, mi.MaxFiles)
			}
			continue
		}
		files[in.Type]++
		pm, ps, err := s.checkMaterialInput(ctx, objs, path, in, mi, p.holder.ID)
		if err != nil {
			return nil, err
		}
		problems = append(problems, ps...)
		if pm != nil {
			pm.file = files[in.Type] - 1
			p.materials = append(p.materials, pm)
		}
	}
	for _, rm := range of.RequiredMaterials(mapping.Form(p.app.Form), nil) {
		if files[rm.Code] == 0 {
			add(rm.Code, "/materials", RuleRequiredMaterial, "%s (%s) is required by %s", rm.Name, rm.Code, strings.Join(rm.By, ", "))
		}
	}
	return problems, nil
}

// Rules of the problems intake reports besides the shared ones (package problem) and the one
// form's (package mapping).
const (
	RuleNotOpenToApplicant = mapping.RuleNotOpenToApplicant // a chosen matter is not open to the applicant type
	RuleRequiredMatter     = mapping.RuleRequiredMatter     // a required matter of the bundle was dropped
	RuleEitherOr           = mapping.RuleEitherOr           // not exactly one matter of an either-or group was chosen
	RuleNotNeeded          = "not_needed"                   // no chosen matter asks for the material
	RuleUnknownMaterial    = "unknown_material"             // the material catalogue has no such material
	RuleRequiredMaterial   = "required_material"            // a required material is missing
	RuleMaxFiles           = "max_files"                    // more files of a material than the catalogue allows
	RuleHolder             = "holder"                       // an issued licence's holder is not the case's applicant
	RuleUnknownDepartment  = "unknown_department"
)

// Rules of the problems with a material given as an e-licence (at /materials/i/licence).
const (
	RuleLicenceType    = "licence_type"    // the material cannot be given as a licence of that type
	RuleLicenceUnknown = "licence_unknown" // the library has no such licence
	RuleLicenceHolder  = "licence_holder"  // the licence is not the applicant's
	RuleLicenceExpired = "licence_expired"
	RuleLicenceRevoked = "licence_revoked"
)

// licenceMaterial checks a material given as an e-licence and plans it with the licence's file.
// Messages never contain the applicant's or the holder's identifiers.
func (s *Service) licenceMaterial(ctx context.Context, path string, in MaterialInput, mi mapping.MaterialItem, holderID string) (*plannedMaterial, *problem.Problem, error) {
	lp := path + "/licence"
	refuse := func(rule, msg string, args ...any) (*plannedMaterial, *problem.Problem, error) {
		return nil, &problem.Problem{Path: lp, Rule: rule, Message: fmt.Sprintf(msg, args...)}, nil
	}
	if in.Filename != "" || in.SHA256 != "" || in.Size != 0 || in.URI != "" {
		return nil, &problem.Problem{Path: path, Rule: problem.RuleOneOf, Message: "give the material either as a file (filename, sha256, size, uri) or as an e-licence, not both"}, nil
	}
	ref := in.Licence
	if ref.Type == "" || ref.Number == "" {
		return refuse(problem.RuleRequired, "name the e-licence by its type and number")
	}
	mat, _ := s.cat.Material(in.Type)
	if !mat.SatisfiedByLicence(ref.Type) {
		if len(mat.SatisfiedBy) == 0 {
			return refuse(RuleLicenceType, "%s (%s) cannot be given as an e-licence: supply the file", mi.Name, in.Type)
		}
		return refuse(RuleLicenceType, "%s (%s) can be given as an e-licence of type %s only", mi.Name, in.Type, strings.Join(mat.SatisfiedBy, ", "))
	}
	lic, err := s.lib.Get(ctx, ref.Type, ref.Number)
	if errors.Is(err, licences.ErrNotFound) {
		return refuse(RuleLicenceUnknown, "the e-licence library has no %s with that number", clip(ref.Type))
	}
	if err != nil {
		return nil, nil, err
	}
	if holderID != "" && lic.HolderID != holderID {
		return refuse(RuleLicenceHolder, "the %s is not held by the applicant: only the applicant's own e-licences can replace a material", lic.Type)
	}
	switch lic.Status {
	case licences.StatusExpired:
		return refuse(RuleLicenceExpired, "the %s expired on %s: supply a valid one", lic.Type, lic.ValidUntil)
	case licences.StatusRevoked:
		when := ""
		if lic.RevokedAt != nil {
			when = " on " + lic.RevokedAt.In(deadline.China).Format(time.DateOnly)
		}
		return refuse(RuleLicenceRevoked, "the %s was revoked by its issuer%s: %s", lic.Type, when, lic.RevokedReason)
	}
	file := in
	file.Filename = licenceFilename(lic)
	file.SHA256, file.Size, file.URI = lic.File.SHA256, lic.File.Size, lic.File.URI
	return &plannedMaterial{id: newID("mt_"), input: file, name: mi.Name, licence: lic}, nil, nil
}

// licenceFilename names a licence's file: its number and format, without path separators.
func licenceFilename(l *licences.Licence) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, l.Number)
	if l.File.Format != "" {
		name += "." + l.File.Format
	}
	return name
}

// holderOf names the applicant a licence will be issued to, and under whom the e-licences it
// already holds are looked up (免交, 免填): an enterprise by its unified social credit code; an
// individual business by its own credit code and registered name (see IndividualBusiness); a
// natural person by the number of the identity document they gave, of that document's kind
// (event.PersonalIDTypes; 居民身份证 when the form does not say): a platform's holder code
// follows the kind, so a passport holder is not called a resident ID holder.
func holderOf(applicantType string, form mapping.Form) event.ApplicantRef {
	str := func(k string) string { v, _ := form[k].(string); return v }
	switch {
	case applicantType == catalogue.Enterprise:
		return event.ApplicantRef{Name: str("enterprise.name"), ID: str("enterprise.uscc"), IDType: "uscc"}
	case IndividualBusiness(applicantType, form):
		return event.ApplicantRef{Name: str("individual_business.name"), ID: str("individual_business.uscc"), IDType: "uscc"}
	}
	kind, ok := event.PersonalIDTypes[str("applicant.id_type")]
	if !ok {
		kind = event.IDResident
	}
	return event.ApplicantRef{Name: str("applicant.name"), ID: str("applicant.id_number"), IDType: kind}
}
