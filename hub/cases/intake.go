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
	"yjshub/hub/event"
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
	// them; omitted, the bundle's required matters are applied for and no optional one.
	Matters []string `json:"matters,omitempty"`
	// Form holds the canonical fields (field code → value).
	Form map[string]any `json:"form"`
	// Materials are the supplied documents, one per material type.
	Materials []MaterialInput `json:"materials"`
}

// MaterialInput is a supplied document, referenced by hash and location.
type MaterialInput struct {
	Type     string `json:"type"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	URI      string `json:"uri"`
}

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
	var problems []Problem
	known := map[string]bool{"bundle": true, "applicant_type": true, "matters": true, "form": true, "materials": true}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			problems = append(problems, Problem{Path: "/" + k, Rule: "unknown_field", Message: "not a field of an application (bundle, applicant_type, matters, form, materials)"})
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
		"materials":      "an array of {type, filename, sha256, size, uri}",
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
	id    string
	input MaterialInput
	name  string
	users []string // sub-case ids
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks an application whole and returns every problem, or the plan.
func (s *Service) validate(app Application) (*plan, []Problem) {
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
		return nil, problems
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
		return nil, problems
	}
	of, err := s.forms.Get(p.bundle, app.ApplicantType, selected)
	if err != nil {
		var se *mapping.SelectionError
		if errors.As(err, &se) {
			return nil, se.Problems
		}
		return nil, []Problem{{Path: "/matters", Rule: "selection", Message: err.Error()}}
	}
	p.oneForm = of
	form := mapping.Form(app.Form)
	if app.Form == nil {
		form = mapping.Form{}
	}
	problems = append(problems, of.Validate(form)...)
	problems = append(problems, s.validateMaterials(p, of)...)
	if len(problems) > 0 {
		return nil, problems
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
			out, mp := mapping.Map(m, app.ApplicantType, form, nil)
			for _, pr := range mp {
				pr.Path = "/form" + " (" + sm.Code + ": " + pr.Path + ")"
				problems = append(problems, pr)
			}
			ps.form = out
		}
		p.subcases = append(p.subcases, ps)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	for _, pm := range p.materials {
		for _, ps := range p.subcases {
			if needs(ps.matter, pm.input.Type, app.ApplicantType) {
				pm.users = append(pm.users, ps.id)
			}
		}
	}
	p.holder = holderOf(app.ApplicantType, form)
	return p, nil
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

func (s *Service) validateMaterials(p *plan, of *mapping.OneForm) []Problem {
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
	return problems
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
	p, problems := s.validate(app)
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
	for _, pm := range p.materials {
		in := pm.input
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO case_materials (id, case_id, type, filename, sha256, size, uri) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			pm.id, caseID, in.Type, in.Filename, in.SHA256, in.Size, in.URI); err != nil {
			return fmt.Errorf("storing a material: %w", err)
		}
	}
	for _, ps := range p.subcases {
		state := StateDispatched
		if len(ps.waitFor) > 0 {
			state = StateWaiting
		}
		pre, _ := json.Marshal(nonNil(ps.waitFor))
		form, _ := json.Marshal(nonNilMap(ps.form))
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO subcases (id, case_id, position, matter_code, matter_name, department, optional, state, form, prerequisites, promised_days, statutory_days, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ps.id, caseID, ps.position, ps.matter.Code, ps.entry.Name, ps.entry.Department, ps.entry.Optional, state, string(form), string(pre),
			ps.matter.PromisedLimit.WorkingDays, ps.matter.StatutoryLimit.WorkingDays, ts); err != nil {
			return fmt.Errorf("storing a sub-case: %w", err)
		}
	}
	for _, pm := range p.materials {
		for _, user := range pm.users {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO subcase_materials (subcase_id, material_id) VALUES (?, ?)`), user, pm.id); err != nil {
				return fmt.Errorf("linking a material: %w", err)
			}
		}
	}
	if err := s.addTimeline(ctx, tx, caseID, "", "submitted", fmt.Sprintf("%d %s, %d matter(s), %d material(s)", p.bundle.Seq, p.bundle.Name, len(p.subcases), len(p.materials)), now); err != nil {
		return err
	}
	var ready []string
	for _, ps := range p.subcases {
		if len(ps.waitFor) > 0 {
			if err := s.addTimeline(ctx, tx, caseID, ps.id, StateWaiting, "waits for "+strings.Join(ps.waitFor, ", "), now); err != nil {
				return err
			}
			continue
		}
		ready = append(ready, ps.id)
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
	for _, id := range subcaseIDs {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, clock_start = ?, dispatched_at = ?, updated_at = ? WHERE id = ?`),
			StateDispatched, ts, ts, ts, id); err != nil {
			return err
		}
	}
	if err := s.refreshDeadlines(ctx, tx, caseID, now); err != nil {
		return err
	}
	var c caseRow
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return err
	}
	msgs := make([]store.OutboxMessage, 0, len(subcaseIDs))
	for _, id := range subcaseIDs {
		msg, dept, err := s.dispatchMessage(ctx, tx, c, id, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		if err := s.addTimeline(ctx, tx, caseID, id, StateDispatched, "sent to "+s.deptName(dept), now); err != nil {
			return err
		}
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
	var mats []event.MaterialRef
	if err := tx.SelectContext(ctx, &mats, tx.Rebind(`SELECT m.type AS type, m.filename AS filename, m.sha256 AS sha256, m.size AS size, m.uri AS uri
		FROM case_materials m JOIN subcase_materials sm ON sm.material_id = m.id WHERE sm.subcase_id = ? ORDER BY m.type`), subcaseID); err != nil {
		return store.OutboxMessage{}, "", err
	}
	for i := range mats {
		if m, ok := s.cat.Material(mats[i].Type); ok {
			mats[i].Name = m.Name
		}
	}
	if mats == nil {
		mats = []event.MaterialRef{}
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
