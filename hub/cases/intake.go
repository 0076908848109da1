package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/bus"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
	"yjshub/mapping"
)

var errNoRows = sql.ErrNoRows

// Application is one application for a bundle: what an applicant submits once.
type Application struct {
	// Bundle is the bundle's code or its 序号 (a JSON string or number).
	Bundle json.RawMessage `json:"bundle"`
	// ApplicantType is "enterprise" or "individual".
	ApplicantType string `json:"applicant_type"`
	// Matters are the chosen matter codes. Every required matter of the bundle must be among
	// them; omitted, the bundle's required matters are applied for and no optional one. An
	// empty list is not omitted (it chooses nothing), so it encodes as [] and only nil is left
	// out.
	Matters []string `json:"matters,omitzero"`
	// Form holds the canonical fields (field code → value).
	Form map[string]any `json:"form"`
	// Materials are the supplied documents, one per material type.
	Materials []MaterialInput `json:"materials"`
}

// MaterialInput is a supplied document, referenced by hash and location, or given as an
// e-licence of the hub's library (Licence, and no file fields) where the material's catalogue
// entry says which licence types satisfy it (免交).
type MaterialInput struct {
	Type     string      `json:"type"`
	Filename string      `json:"filename,omitempty"`
	SHA256   string      `json:"sha256,omitempty"`
	Size     int64       `json:"size,omitempty"`
	URI      string      `json:"uri,omitempty"`
	Licence  *LicenceRef `json:"licence,omitempty"`
}

// LicenceRef names an e-licence of the library by its type (licence name) and number.
type LicenceRef struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// pointerToken escapes a key as a JSON Pointer reference token (RFC 6901): a key with "/" or
// "~" would otherwise name another place.
var pointerToken = strings.NewReplacer("~", "~0", "/", "~1")

// maxBody bounds an application's size.
const maxBody = 1 << 20

// DecodeApplication reads an application strictly: malformed JSON is an error, unknown keys
// are problems. It also returns the SHA-256 of the body, which identifies the request for
// idempotency.
func DecodeApplication(r io.Reader) (Application, string, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return Application{}, "", err
	}
	if len(body) > maxBody {
		return Application{}, "", &ValidationError{Problems: []Problem{{Path: "", Rule: "max_size", Message: fmt.Sprintf("the application is larger than %d bytes", maxBody)}}}
	}
	sum := sha256.Sum256(body)
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return Application{}, "", &ValidationError{Problems: []Problem{{Path: "", Rule: "json", Message: "the body must be one JSON object"}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Application{}, "", &ValidationError{Problems: []Problem{{Path: "", Rule: "json", Message: "the body must be one JSON object, with nothing after it"}}}
	}
	var problems []Problem
	known := map[string]bool{"bundle": true, "applicant_type": true, "matters": true, "form": true, "materials": true}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			problems = append(problems, Problem{Path: "/" + pointerToken.Replace(k), Rule: "unknown_field", Message: "not a field of an application (bundle, applicant_type, matters, form, materials)"})
		}
	}
	var app Application
	app.Bundle = raw["bundle"]
	decodeInto := func(key string, v any) {
		b, ok := raw[key]
		if !ok || string(b) == "null" {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			problems = append(problems, Problem{Path: "/" + key, Rule: "type", Message: typeMessage(key, err)})
		}
	}
	decodeInto("applicant_type", &app.ApplicantType)
	decodeInto("matters", &app.Matters)
	decodeInto("form", &app.Form)
	decodeInto("materials", &app.Materials)
	if len(problems) > 0 {
		return app, "", &ValidationError{Problems: problems}
	}
	return app, hex.EncodeToString(sum[:]), nil
}

func typeMessage(key string, err error) string {
	want := map[string]string{
		"applicant_type": "a string",
		"matters":        "an array of matter codes",
		"form":           "an object of canonical fields",
		"materials":      "an array of {type, filename, sha256, size, uri} or {type, licence: {type, number}}",
	}[key]
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field != "" {
		return fmt.Sprintf("must be %s (%s has the wrong type)", want, ute.Field)
	}
	if strings.Contains(err.Error(), "unknown field") {
		return fmt.Sprintf("must be %s: %s", want, strings.TrimPrefix(err.Error(), "json: "))
	}
	return "must be " + want
}

// plan is a validated application, ready to store.
type plan struct {
	app       Application
	bundle    *catalogue.Bundle
	oneForm   *mapping.OneForm
	subcases  []*plannedSubcase
	materials []*plannedMaterial
	holder    event.ApplicantRef
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
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks an application whole and returns every problem, or the plan. It reads the
// e-licence library (not in a transaction: call it before InTx).
func (s *Service) validate(ctx context.Context, app Application) (*plan, []Problem, error) {
	var problems []Problem
	add := func(path, rule, msg string, args ...any) {
		problems = append(problems, Problem{Path: path, Rule: rule, Message: fmt.Sprintf(msg, args...)})
	}
	p := &plan{app: app}

	// Bundle: code or seq.
	var bundleKey string
	if len(app.Bundle) == 0 || string(app.Bundle) == "null" {
		add("/bundle", "required", "name the bundle by its code or 序号")
	} else {
		var str string
		var num json.Number
		if json.Unmarshal(app.Bundle, &str) == nil {
			bundleKey = str
		} else if json.Unmarshal(app.Bundle, &num) == nil {
			bundleKey = num.String()
		} else {
			add("/bundle", "type", "must be a bundle code or 序号")
		}
	}
	if bundleKey != "" {
		if b, ok := s.cat.Bundle(bundleKey); ok {
			p.bundle = b
		} else {
			add("/bundle", "unknown_bundle", "no bundle has the code or 序号 %s", strconv.Quote(clip(bundleKey)))
		}
	}
	switch app.ApplicantType {
	case catalogue.Enterprise, catalogue.Individual:
	case "":
		add("/applicant_type", "required", "must be enterprise or individual")
	default:
		add("/applicant_type", "enum", "must be enterprise or individual")
	}
	if p.bundle == nil || (app.ApplicantType != catalogue.Enterprise && app.ApplicantType != catalogue.Individual) {
		// Without a bundle and an applicant type there is no form to check the rest against.
		return nil, problems, nil
	}

	// Matters: the chosen subset; required matters cannot be dropped.
	chosen := map[string]bool{}
	for i, code := range app.Matters {
		path := fmt.Sprintf("/matters/%d", i)
		entry, ok := bundleEntry(p.bundle, code)
		switch {
		case !ok:
			add(path, "unknown_matter", "%s is not a matter of bundle %d %s", strconv.Quote(clip(code)), p.bundle.Seq, p.bundle.Name)
			continue
		case chosen[code]:
			add(path, "duplicate", "%s is chosen twice", code)
			continue
		}
		m, _ := s.cat.Matter(entry.Matter)
		if !m.Handles(app.ApplicantType) {
			add(path, "applicant_type", "%s (%s) is not open to %s applicants", entry.Name, code, app.ApplicantType)
			continue
		}
		chosen[code] = true
	}
	var selected []string
	for _, e := range p.bundle.Matters {
		m, _ := s.cat.Matter(e.Matter)
		if !m.Handles(app.ApplicantType) {
			continue
		}
		if app.Matters == nil {
			if !e.Optional {
				selected = append(selected, e.Matter)
			}
			continue
		}
		if chosen[e.Matter] {
			selected = append(selected, e.Matter)
		} else if !e.Optional {
			add("/matters", "required_matter", "the required matter %s (%s) cannot be dropped", e.Name, e.Matter)
		}
	}
	if len(selected) == 0 && len(problems) == 0 {
		add("/matters", "required", "choose at least one matter")
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	of, err := s.forms.Get(p.bundle, app.ApplicantType, selected)
	if err != nil {
		var se *mapping.SelectionError
		if errors.As(err, &se) {
			return nil, se.Problems, nil
		}
		return nil, []Problem{{Path: "/matters", Rule: "selection", Message: err.Error()}}, nil
	}
	p.oneForm = of
	form := mapping.Form(app.Form)
	if app.Form == nil {
		form = mapping.Form{}
	}
	problems = append(problems, of.Validate(form)...)
	p.holder = holderOf(app.ApplicantType, form)
	mp, err := s.validateMaterials(ctx, p, of)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, mp...)
	if len(problems) > 0 {
		return nil, problems, nil
	}

	// Sub-cases: map each department's form now, except those waiting for a prerequisite
	// decided in this same case (their form takes the prerequisite's result).
	inCase := map[string]bool{}
	for _, sm := range of.Matters {
		inCase[sm.Code] = true
	}
	for i, sm := range of.Matters {
		m, _ := s.cat.Matter(sm.Code)
		ps := &plannedSubcase{id: newID("sc_"), entry: sm, matter: m, position: i}
		for _, pre := range m.Prerequisites {
			if inCase[pre] {
				ps.waitFor = append(ps.waitFor, pre)
			}
		}
		if len(ps.waitFor) == 0 {
			// Prerequisites outside the case feed the form from the holder's e-licences.
			results, err := s.outsideResults(ctx, s.st.DB(), m, inCase, p.holder.ID)
			if err != nil {
				return nil, nil, err
			}
			out, mp := mapping.Map(m, app.ApplicantType, form, results)
			for _, pr := range mp {
				pr.Path = "/form" + " (" + sm.Code + ": " + pr.Path + ")"
				problems = append(problems, pr)
			}
			ps.form = out
		}
		p.subcases = append(p.subcases, ps)
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	for _, pm := range p.materials {
		for _, ps := range p.subcases {
			if needs(ps.matter, pm.input.Type, app.ApplicantType) {
				pm.users = append(pm.users, ps.id)
			}
		}
	}
	return p, nil, nil
}

func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

func bundleEntry(b *catalogue.Bundle, code string) (catalogue.BundleEntry, bool) {
	for _, e := range b.Matters {
		if e.Matter == code {
			return e, true
		}
	}
	return catalogue.BundleEntry{}, false
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
// that satisfies the material, is valid and is held by the applicant.
func (s *Service) validateMaterials(ctx context.Context, p *plan, of *mapping.OneForm) ([]Problem, error) {
	var problems []Problem
	add := func(path, rule, msg string, args ...any) {
		problems = append(problems, Problem{Path: path, Rule: rule, Message: fmt.Sprintf(msg, args...)})
	}
	wanted := map[string]mapping.MaterialItem{}
	for _, mi := range of.Materials {
		wanted[mi.Code] = mi
	}
	seen := map[string]bool{}
	for i, in := range p.app.Materials {
		path := fmt.Sprintf("/materials/%d", i)
		mi, ok := wanted[in.Type]
		switch {
		case in.Type == "":
			add(path+"/type", "required", "name the material type")
			continue
		case !ok:
			if _, known := s.cat.Material(in.Type); known {
				add(path+"/type", "not_needed", "no chosen matter asks for %s", in.Type)
			} else {
				add(path+"/type", "unknown_material", "%s is not in the material catalogue", strconv.Quote(clip(in.Type)))
			}
			continue
		case seen[in.Type]:
			add(path+"/type", "duplicate", "%s is supplied twice: supply each material once", in.Type)
			continue
		}
		seen[in.Type] = true
		if in.Licence != nil {
			pm, problem, err := s.licenceMaterial(ctx, path, in, mi, p.holder.ID)
			if err != nil {
				return nil, err
			}
			if problem != nil {
				problems = append(problems, *problem)
				continue
			}
			p.materials = append(p.materials, pm)
			continue
		}
		if in.Filename == "" || len(in.Filename) > 255 || strings.ContainsAny(in.Filename, "/\\\x00") {
			add(path+"/filename", "filename", "must be a file name (1-255 bytes, no path separators)")
		}
		if !sha256RE.MatchString(in.SHA256) {
			add(path+"/sha256", "sha256", "must be the file's SHA-256 as 64 lower-case hex digits")
		}
		if in.Size <= 0 {
			add(path+"/size", "minimum", "must be the file's size in bytes, at least 1")
		}
		if u, err := url.Parse(in.URI); err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
			add(path+"/uri", "uri", "must be an absolute URI where the file can be fetched")
		}
		p.materials = append(p.materials, &plannedMaterial{id: newID("mt_"), input: in, name: mi.Name})
	}
	for _, mi := range of.Materials {
		if mi.Required && !seen[mi.Code] {
			add("/materials", "required_material", "%s (%s) is required by %s", mi.Name, mi.Code, strings.Join(mi.Matters, ", "))
		}
	}
	return problems, nil
}

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
func (s *Service) licenceMaterial(ctx context.Context, path string, in MaterialInput, mi mapping.MaterialItem, holderID string) (*plannedMaterial, *Problem, error) {
	lp := path + "/licence"
	problem := func(rule, msg string, args ...any) (*plannedMaterial, *Problem, error) {
		return nil, &Problem{Path: lp, Rule: rule, Message: fmt.Sprintf(msg, args...)}, nil
	}
	if in.Filename != "" || in.SHA256 != "" || in.Size != 0 || in.URI != "" {
		return nil, &Problem{Path: path, Rule: "one_of", Message: "give the material either as a file (filename, sha256, size, uri) or as an e-licence, not both"}, nil
	}
	ref := in.Licence
	if ref.Type == "" || ref.Number == "" {
		return problem("required", "name the e-licence by its type and number")
	}
	mat, _ := s.cat.Material(in.Type)
	if !mat.SatisfiedByLicence(ref.Type) {
		if len(mat.SatisfiedBy) == 0 {
			return problem(RuleLicenceType, "%s (%s) cannot be given as an e-licence: supply the file", mi.Name, in.Type)
		}
		return problem(RuleLicenceType, "%s (%s) can be given as an e-licence of type %s only", mi.Name, in.Type, strings.Join(mat.SatisfiedBy, ", "))
	}
	lic, err := s.lib.Get(ctx, ref.Type, ref.Number)
	if errors.Is(err, licences.ErrNotFound) {
		return problem(RuleLicenceUnknown, "the e-licence library has no %s with that number", clip(ref.Type))
	}
	if err != nil {
		return nil, nil, err
	}
	if holderID != "" && lic.HolderID != holderID {
		return problem(RuleLicenceHolder, "the %s is not held by the applicant: only the applicant's own e-licences can replace a material", lic.Type)
	}
	switch lic.Status {
	case licences.StatusExpired:
		return problem(RuleLicenceExpired, "the %s expired on %s: supply a valid one", lic.Type, lic.ValidUntil)
	case licences.StatusRevoked:
		when := ""
		if lic.RevokedAt != nil {
			when = " on " + lic.RevokedAt.In(deadline.China).Format(time.DateOnly)
		}
		return problem(RuleLicenceRevoked, "the %s was revoked by its issuer%s: %s", lic.Type, when, lic.RevokedReason)
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

// holderOf names the applicant a licence will be issued to.
func holderOf(applicantType string, form mapping.Form) event.ApplicantRef {
	str := func(k string) string { v, _ := form[k].(string); return v }
	if applicantType == catalogue.Enterprise {
		return event.ApplicantRef{Name: str("enterprise.name"), ID: str("enterprise.uscc"), IDType: "uscc"}
	}
	return event.ApplicantRef{Name: str("applicant.name"), ID: str("applicant.id_number"), IDType: "resident_id"}
}

// Submit validates an application and, when it is valid, stores the case, its sub-cases and
// materials and the dispatch messages in one transaction. With an idempotency key, a repeat
// with the same body returns the first answer (replayed=true) and a repeat with another body
// is a conflict. A refused application stores nothing.
func (s *Service) Submit(ctx context.Context, app Application, requestHash, idempotencyKey string) (view *CaseView, replayed bool, err error) {
	if idempotencyKey != "" {
		if v, ok, err := s.replay(ctx, idempotencyKey, requestHash); err != nil || ok {
			return v, ok, err
		}
	}
	p, problems, err := s.validate(ctx, app)
	if err != nil {
		return nil, false, err
	}
	if len(problems) > 0 {
		return nil, false, &ValidationError{Problems: problems}
	}
	caseID := newID("cs_")
	now := s.now()
	err = s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertCase(ctx, tx, caseID, p, now); err != nil {
			return err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		view = v
		if err := s.emitCaseEvent(ctx, tx, v, now); err != nil {
			return err
		}
		if idempotencyKey != "" {
			body, _ := json.Marshal(v)
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO idempotency_keys (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)`),
				idempotencyKey, requestHash, 201, string(body), store.NewTimestamp(now))
			if err != nil {
				return errIdempotencyRace
			}
		}
		return nil
	})
	if errors.Is(err, errIdempotencyRace) {
		// Another request with the same key committed first: answer as it was answered.
		v, ok, rerr := s.replay(ctx, idempotencyKey, requestHash)
		if rerr != nil || ok {
			return v, ok, rerr
		}
	}
	if err != nil {
		return nil, false, err
	}
	s.cfg.Notify()
	return view, false, nil
}

var errIdempotencyRace = errors.New("idempotency key taken concurrently")

func (s *Service) replay(ctx context.Context, key, hash string) (*CaseView, bool, error) {
	var row struct {
		Hash     string `db:"request_hash"`
		Response string `db:"response"`
	}
	err := s.st.DB().GetContext(ctx, &row, s.st.DB().Rebind(`SELECT request_hash, response FROM idempotency_keys WHERE key = ?`), key)
	if errors.Is(err, errNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if row.Hash != hash {
		return nil, false, &ConflictError{Reason: "this Idempotency-Key was used with a different request body"}
	}
	var v CaseView
	if err := json.Unmarshal([]byte(row.Response), &v); err != nil {
		return nil, false, err
	}
	return &v, true, nil
}

func (s *Service) insertCase(ctx context.Context, tx *sqlx.Tx, caseID string, p *plan, now time.Time) error {
	formJSON, err := json.Marshal(p.app.Form)
	if err != nil {
		return err
	}
	ts := store.NewTimestamp(now)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO cases (id, bundle_code, bundle_seq, applicant_type, holder_id, holder_name, state, form, catalogue_version, submitted_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		caseID, p.bundle.Code, p.bundle.Seq, p.app.ApplicantType, p.holder.ID, p.holder.Name, CaseInProgress, string(formJSON), s.cat.Version, ts, ts); err != nil {
		return fmt.Errorf("storing the case: %w", err)
	}
	// One multi-row INSERT per table: the materials, the sub-cases and their links.
	materials := make([][]any, 0, len(p.materials))
	var links [][]any
	for _, pm := range p.materials {
		in := pm.input
		var licID, licType, licNumber string
		var verified store.Timestamp
		if pm.licence != nil {
			licID, licType, licNumber, verified = pm.licence.ID, pm.licence.Type, pm.licence.Number, ts
		}
		materials = append(materials, []any{pm.id, caseID, in.Type, in.Filename, in.SHA256, in.Size, in.URI, licID, licType, licNumber, verified})
		for _, user := range pm.users {
			links = append(links, []any{user, pm.id})
		}
	}
	if err := store.InsertRows(ctx, tx, "case_materials", []string{"id", "case_id", "type", "filename", "sha256", "size", "uri",
		"licence_id", "licence_type", "licence_number", "licence_verified_at"}, materials); err != nil {
		return fmt.Errorf("storing the materials: %w", err)
	}
	subcases := make([][]any, 0, len(p.subcases))
	for _, ps := range p.subcases {
		state := StateDispatched
		if len(ps.waitFor) > 0 {
			state = StateWaiting
		}
		pre, _ := json.Marshal(nonNil(ps.waitFor))
		form, _ := json.Marshal(nonNilMap(ps.form))
		subcases = append(subcases, []any{ps.id, caseID, ps.position, ps.matter.Code, ps.entry.Name, ps.entry.Department, ps.entry.Optional,
			state, string(form), string(pre), ps.matter.PromisedLimit.WorkingDays, ps.matter.StatutoryLimit.WorkingDays, ts})
	}
	if err := store.InsertRows(ctx, tx, "subcases", []string{"id", "case_id", "position", "matter_code", "matter_name", "department",
		"optional", "state", "form", "prerequisites", "promised_days", "statutory_days", "updated_at"}, subcases); err != nil {
		return fmt.Errorf("storing the sub-cases: %w", err)
	}
	if err := store.InsertRows(ctx, tx, "subcase_materials", []string{"subcase_id", "material_id"}, links); err != nil {
		return fmt.Errorf("linking the materials: %w", err)
	}
	steps := []timelineStep{{typ: "submitted", detail: fmt.Sprintf("%d %s, %d matter(s), %d material(s)", p.bundle.Seq, p.bundle.Name, len(p.subcases), len(p.materials))}}
	var ready []string
	for _, ps := range p.subcases {
		if len(ps.waitFor) > 0 {
			steps = append(steps, timelineStep{subcaseID: ps.id, typ: StateWaiting, detail: "waits for " + strings.Join(ps.waitFor, ", ")})
			continue
		}
		ready = append(ready, ps.id)
	}
	if err := s.addTimelineSteps(ctx, tx, caseID, now, steps...); err != nil {
		return err
	}
	return s.dispatch(ctx, tx, caseID, ready, now)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// dispatch starts the clocks of sub-cases and enqueues their messages to their departments'
// topics, all at once: one deadline computation and one read of the case for the lot.
func (s *Service) dispatch(ctx context.Context, tx *sqlx.Tx, caseID string, subcaseIDs []string, now time.Time) error {
	if len(subcaseIDs) == 0 {
		return nil
	}
	ts := store.NewTimestamp(now)
	q, args, err := sqlx.In(`UPDATE subcases SET state = ?, clock_start = ?, dispatched_at = ?, updated_at = ? WHERE id IN (?)`,
		StateDispatched, ts, ts, ts, subcaseIDs)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
		return err
	}
	if err := s.refreshDeadlines(ctx, tx, caseID, now); err != nil {
		return err
	}
	var c caseRow
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return err
	}
	msgs := make([]store.OutboxMessage, 0, len(subcaseIDs))
	steps := make([]timelineStep, 0, len(subcaseIDs))
	for _, id := range subcaseIDs {
		msg, dept, err := s.dispatchMessage(ctx, tx, c, id, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		steps = append(steps, timelineStep{subcaseID: id, typ: StateDispatched, detail: "sent to " + s.deptName(dept)})
	}
	if err := s.addTimelineSteps(ctx, tx, caseID, now, steps...); err != nil {
		return err
	}
	return s.st.EnqueueOutbox(ctx, tx, msgs...)
}

func (s *Service) deptName(code string) string {
	if d, ok := s.cat.Department(code); ok {
		return d.Name
	}
	return code
}

// dispatchMessage builds the outbox message that carries a sub-case to its department.
func (s *Service) dispatchMessage(ctx context.Context, tx *sqlx.Tx, c caseRow, subcaseID string, now time.Time) (store.OutboxMessage, string, error) {
	caseID := c.ID
	var sc subcaseRow
	if err := tx.GetContext(ctx, &sc, tx.Rebind(`SELECT * FROM subcases WHERE id = ?`), subcaseID); err != nil {
		return store.OutboxMessage{}, "", err
	}
	var rows []struct {
		event.MaterialRef
		LicenceType   string `db:"licence_type"`
		LicenceNumber string `db:"licence_number"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT m.type AS type, m.filename AS filename, m.sha256 AS sha256, m.size AS size, m.uri AS uri,
		m.licence_type AS licence_type, m.licence_number AS licence_number
		FROM case_materials m JOIN subcase_materials sm ON sm.material_id = m.id WHERE sm.subcase_id = ? ORDER BY m.type`), subcaseID); err != nil {
		return store.OutboxMessage{}, "", err
	}
	mats := make([]event.MaterialRef, 0, len(rows))
	for _, r := range rows {
		ref := r.MaterialRef
		if m, ok := s.cat.Material(ref.Type); ok {
			ref.Name = m.Name
		}
		if r.LicenceNumber != "" {
			// Verified again as it leaves: a sub-case released later may find it revoked since.
			status := licences.StatusRevoked
			lic, err := s.lib.Find(ctx, tx, r.LicenceType, r.LicenceNumber)
			switch {
			case err == nil:
				status = lic.Status
			case !errors.Is(err, licences.ErrNotFound):
				return store.OutboxMessage{}, "", err
			}
			ref.Licence = &event.LicenceMaterial{Type: r.LicenceType, Number: r.LicenceNumber, Status: status, VerifiedAt: now}
		}
		mats = append(mats, ref)
	}
	m, _ := s.cat.Matter(sc.MatterCode)
	b, _ := s.cat.Bundle(c.BundleCode)
	var form map[string]any
	if err := json.Unmarshal([]byte(sc.Form), &form); err != nil {
		return store.OutboxMessage{}, "", err
	}
	var caseForm mapping.Form
	_ = json.Unmarshal([]byte(c.Form), &caseForm)
	holder := holderOf(c.ApplicantType, caseForm)
	data := event.SubcaseDispatched{
		CaseID: caseID, SubcaseID: subcaseID,
		Bundle:        event.BundleRef{Seq: b.Seq, Code: b.Code, Name: b.Name},
		Matter:        event.MatterRef{Code: m.Code, Name: sc.MatterName, Result: event.ResultRef{Kind: m.Result.Kind, Name: m.Result.Name}},
		Department:    sc.Department,
		ApplicantType: c.ApplicantType,
		Applicant:     &holder,
		Form:          form,
		Materials:     mats,
		Deadlines:     event.Deadlines{Promised: sc.DuePromised, Statutory: sc.DueStatutory},
		SubmittedAt:   c.SubmittedAt.Time,
		Callback:      s.callback(subcaseID),
	}
	id := newID("ev_")
	env, err := event.New(id, event.TypeSubcaseDispatched, subcaseID, now, data)
	if err != nil {
		return store.OutboxMessage{}, "", err
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return store.OutboxMessage{}, "", err
	}
	return store.OutboxMessage{EventID: id, Topic: bus.SubcaseTopic(sc.Department), Key: caseID, Payload: payload,
		Headers: map[string]string{"ce_type": event.TypeSubcaseDispatched, "ce_id": id}}, sc.Department, nil
}
