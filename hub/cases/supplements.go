package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/catalogue"
	"yjshub/hub/bus"
	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/store"
	"yjshub/mapping"
	"yjshub/problem"
)

// Supplement is what an applicant sends, through its platform, in answer to the supplement
// requests (补正) of a case's departments: new materials and corrected fields, for the items
// the departments asked for only.
type Supplement struct {
	// Materials replace, type by type, the case's materials of the types given.
	Materials []MaterialInput `json:"materials"`
	// Form holds the corrected canonical fields (field code → value).
	Form map[string]any `json:"form"`
	// Note is the applicant's remark to the departments (补正说明), optional.
	Note string `json:"note,omitempty"`
}

// SupplementView is a supplement as the case shows it: when it came, the sub-cases it
// answered, the materials it gave and the fields it corrected (codes only: values are the
// applicant's).
type SupplementView struct {
	ID         string         `json:"id"`
	ReceivedAt time.Time      `json:"received_at"`
	Subcases   []string       `json:"subcases"`
	Materials  []MaterialView `json:"materials"`
	Fields     []string       `json:"fields"`
	Note       string         `json:"note,omitempty"`
}

// Rules of the problems with a supplement.
const (
	RuleNotAsked       = "not_asked"       // no open supplement request of the case asks for the item
	RuleIncomplete     = "incomplete"      // a sub-case's request is answered in part only
	RuleNothingPending = "nothing_pending" // no sub-case of the case awaits a supplement
)

// MaxSupplement bounds a supplement's size in bytes.
const MaxSupplement = MaxApplication

// DecodeSupplement reads a supplement strictly, as DecodeApplication reads an application, and
// returns the SHA-256 of the body for idempotency.
func DecodeSupplement(r io.Reader) (Supplement, string, error) {
	body, hash, err := readStrict(r, MaxSupplement, "supplement")
	if err != nil {
		return Supplement{}, "", err
	}
	var sup Supplement
	dec := json.NewDecoder(bytes.NewReader(body)) // one value, nothing after it: jsonstrict saw to that
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sup); err != nil {
		return Supplement{}, "", problem.One("", problem.RuleJSON, "the body must be one JSON object {materials, form, note}: %s", jsonMessage(err))
	}
	return sup, hash, nil
}

// jsonMessage describes a decoding error without the input.
func jsonMessage(err error) string {
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &ute) && ute.Field != "":
		return ute.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// asked is what the open supplement requests of a case ask for, by item, and what each
// sub-case asks for.
type asked struct {
	materials map[string][]string // material code → sub-case ids
	fields    map[string][]string // canonical field → sub-case ids
	bySubcase map[string][]event.Missing
}

// Supplement takes an applicant's answer to the case's supplement requests: every item must be
// asked for by an open request, a sub-case's request is answered whole or not at all, materials
// are checked as at intake and fields against the one form with the correction applied. The
// answered sub-cases become resubmitted, their clocks run again, and each department receives a
// cn.yjshub.subcase.resubmitted message with what it asked for. With an idempotency key, a
// repeat with the same body returns the first answer (replayed = true).
func (s *Service) Supplement(ctx context.Context, owner, caseID string, sup Supplement, requestHash, idempotencyKey string) (view *CaseView, replayed bool, err error) {
	if idempotencyKey != "" {
		idempotencyKey = owner + "\x1fsupplement\x1f" + caseID + "\x1f" + idempotencyKey
		if v, ok, err := s.replay(ctx, idempotencyKey, requestHash); err != nil || ok {
			return v, ok, err
		}
	}
	now := s.now()
	defer func() {
		if err == nil && !replayed {
			s.cfg.Logger.Info("supplement received", "case_id", caseID, "materials", len(sup.Materials))
		}
	}()
	return s.idempotent(ctx, idempotencyKey, requestHash, 200, func(tx *sqlx.Tx) (*CaseView, error) {
		c, subs, err := s.lockedCase(ctx, tx, caseID)
		if err != nil {
			return nil, err
		}
		a := askedOf(subs)
		if len(a.bySubcase) == 0 {
			return nil, problem.One("", RuleNothingPending, "no matter of this case awaits a supplement")
		}
		answered, form, mats, problems, err := s.checkSupplement(ctx, tx, c, subs, a, sup)
		if err != nil {
			return nil, err
		}
		if len(problems) > 0 {
			return nil, problem.New(problems...)
		}
		if err := s.claimObjects(ctx, tx, sup.Materials); err != nil {
			return nil, err
		}
		if err := s.applySupplement(ctx, tx, c, subs, answered, form, mats, sup, now); err != nil {
			return nil, err
		}
		v, err := s.loadCase(ctx, tx, caseID)
		if err != nil {
			return nil, err
		}
		return v, s.emitCaseEvent(ctx, tx, v, now)
	})
}

// lockedCase locks a case (lockCase) and reads it with its sub-cases in order.
func (s *Service) lockedCase(ctx context.Context, tx *sqlx.Tx, caseID string) (caseRow, []subcaseRow, error) {
	var c caseRow
	var subs []subcaseRow
	if err := s.lockCase(ctx, tx, caseID); err != nil {
		return c, nil, err
	}
	if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT * FROM cases WHERE id = ?`), caseID); err != nil {
		return c, nil, err
	}
	err := tx.SelectContext(ctx, &subs, tx.Rebind(`SELECT * FROM subcases WHERE case_id = ? ORDER BY position`), caseID)
	return c, subs, err
}

func askedOf(subs []subcaseRow) asked {
	a := asked{materials: map[string][]string{}, fields: map[string][]string{}, bySubcase: map[string][]event.Missing{}}
	for _, sc := range subs {
		if sc.State != StateSupplementRequested {
			continue
		}
		a.bySubcase[sc.ID] = sc.Missing.V
		for _, m := range sc.Missing.V {
			if m.Material != "" {
				a.materials[m.Material] = append(a.materials[m.Material], sc.ID)
			}
			if m.Field != "" {
				a.fields[m.Field] = append(a.fields[m.Field], sc.ID)
			}
		}
	}
	return a
}

// checkSupplement checks a supplement against what is asked and returns the sub-cases it
// answers, the case's form with the corrections applied and the planned materials.
func (s *Service) checkSupplement(ctx context.Context, tx *sqlx.Tx, c caseRow, subs []subcaseRow, a asked, sup Supplement) (answered []string, form mapping.Form, mats []*plannedMaterial, problems []problem.Problem, err error) {
	var ps problem.List
	touched := map[string]bool{}
	given := map[string]bool{}
	files := map[string]int{}
	// In the supplement's transaction: a store of one writer would otherwise wait on itself.
	objs, err := s.objectsOf(ctx, tx, c.Owner, sup.Materials)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for i, in := range sup.Materials {
		path := fmt.Sprintf("/materials/%d", i)
		users, ok := a.materials[in.Type]
		switch {
		case in.Type == "":
			ps.Add(path+"/type", problem.RuleRequired, "name the material type")
			continue
		case !ok:
			ps = append(ps, problem.Problem{Path: path + "/type", Rule: RuleNotAsked, Material: in.Type,
				Message: "no open supplement request of this case asks for this material"})
			continue
		}
		cm, _ := s.cat.Material(in.Type)
		maxFiles := catalogue.DefaultMaxFiles
		if cm != nil {
			maxFiles = cm.Files()
		}
		if files[in.Type] >= maxFiles {
			rule, msg := problem.RuleDuplicate, "the material is supplied twice: supply it once"
			if maxFiles > 1 {
				rule, msg = RuleMaxFiles, fmt.Sprintf("the material takes at most %d files", maxFiles)
			}
			ps = append(ps, problem.Problem{Path: path + "/type", Rule: rule, Material: in.Type, Message: msg})
			continue
		}
		files[in.Type]++
		given["material:"+in.Type] = true
		for _, u := range users {
			touched[u] = true
		}
		name := in.Type
		if cm != nil {
			name = cm.Name
		}
		pm, mp, err := s.checkMaterialInput(ctx, objs, path, in, mapping.MaterialItem{Code: in.Type, Name: name}, c.HolderID)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		ps = append(ps, mp...)
		if pm != nil {
			pm.file = files[in.Type] - 1
			mats = append(mats, pm)
		}
	}
	form = mapping.Form{}
	for k, v := range c.Form.V {
		form[k] = v
	}
	codes := make([]string, 0, len(sup.Form))
	for k := range sup.Form {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	for _, code := range codes {
		users, ok := a.fields[code]
		if !ok {
			ps = append(ps, problem.Problem{Path: "/form/" + pointerToken.Replace(code), Rule: RuleNotAsked, Field: code,
				Message: "no open supplement request of this case asks for this field"})
			continue
		}
		given["field:"+code] = true
		for _, u := range users {
			touched[u] = true
		}
		if sup.Form[code] == nil {
			delete(form, code)
		} else {
			form[code] = sup.Form[code]
		}
	}
	if len(touched) == 0 && len(ps) == 0 {
		ps.Add("", problem.RuleRequired, "give the materials or fields a supplement request asks for")
	}
	for _, sc := range subs {
		if !touched[sc.ID] {
			continue
		}
		for _, m := range a.bySubcase[sc.ID] {
			switch {
			case m.Material != "" && !given["material:"+m.Material]:
				ps = append(ps, problem.Problem{Path: "/materials", Rule: RuleIncomplete, Material: m.Material,
					Message: fmt.Sprintf("%s asks for this material too: answer its request whole", s.deptName(sc.Department))})
			case m.Field != "" && !given["field:"+m.Field]:
				ps = append(ps, problem.Problem{Path: "/form", Rule: RuleIncomplete, Field: m.Field,
					Message: fmt.Sprintf("%s asks for this field too: answer its request whole", s.deptName(sc.Department))})
			}
		}
		answered = append(answered, sc.ID)
	}
	if len(sup.Note) > 500 {
		ps.Add("/note", problem.RuleMaxLength, "at most 500 characters")
	}
	if len(ps) > 0 {
		return nil, nil, nil, ps, nil
	}
	// The corrected form is checked whole against the case's one form: a correction may break
	// a rule that joins fields.
	b, ok := s.cat.Bundle(c.BundleCode)
	if !ok {
		return nil, nil, nil, nil, fmt.Errorf("the case's bundle %s is no longer in the catalogue", c.BundleCode)
	}
	var selected []string
	for _, sc := range subs {
		selected = append(selected, sc.MatterCode)
	}
	of, err := s.forms.Get(b, c.ApplicantType, selected)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// What the correction breaks: the problems of the corrected form that the form as taken in
	// did not have (one taken in under an older catalogue may have some of its own).
	before := map[[2]string]bool{}
	for _, p := range of.Validate(mapping.Form(c.Form.V)) {
		before[[2]string{p.Path, p.Rule}] = true
	}
	for _, p := range of.Validate(form) {
		if !before[[2]string{p.Path, p.Rule}] {
			ps = append(ps, p)
		}
	}
	return answered, form, mats, ps, nil
}

// applySupplement stores a checked supplement: the materials replaced, the form corrected, the
// answered sub-cases resubmitted with their pauses ended, and the messages to their departments.
func (s *Service) applySupplement(ctx context.Context, tx *sqlx.Tx, c caseRow, subs []subcaseRow, answered []string, form mapping.Form,
	mats []*plannedMaterial, sup Supplement, now time.Time) error {
	ts := store.NewTimestamp(now)
	supID := newID("sp_")
	byID := map[string]subcaseRow{}
	byMatter := map[string]subcaseRow{}
	for _, sc := range subs {
		byID[sc.ID], byMatter[sc.MatterCode] = sc, sc
	}
	// Each material given replaces the case's materials of its type; its links go to the
	// sub-cases the old one served and to every sub-case that needs it.
	type replaced struct {
		Type     string `json:"type"`
		Filename string `json:"filename"`
		SHA256   string `json:"sha256"`
	}
	var old []replaced
	var types []string
	byType := map[string][]*plannedMaterial{}
	for _, pm := range mats {
		if byType[pm.input.Type] == nil {
			types = append(types, pm.input.Type)
		}
		byType[pm.input.Type] = append(byType[pm.input.Type], pm)
	}
	for _, typ := range types {
		var prior []struct {
			ID       string `db:"id"`
			Filename string `db:"filename"`
			SHA256   string `db:"sha256"`
		}
		if err := tx.SelectContext(ctx, &prior, tx.Rebind(`SELECT id, filename, sha256 FROM case_materials WHERE case_id = ? AND type = ? ORDER BY file_index`), c.ID, typ); err != nil {
			return err
		}
		users := map[string]bool{}
		for _, p := range prior {
			old = append(old, replaced{Type: typ, Filename: p.Filename, SHA256: p.SHA256})
			var linked []string
			if err := tx.SelectContext(ctx, &linked, tx.Rebind(`SELECT subcase_id FROM subcase_materials WHERE material_id = ?`), p.ID); err != nil {
				return err
			}
			for _, l := range linked {
				users[l] = true
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM subcase_materials WHERE material_id = ?`), p.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM case_materials WHERE id = ?`), p.ID); err != nil {
				return err
			}
		}
		for _, sc := range subs {
			if m, ok := s.cat.Matter(sc.MatterCode); ok && needs(m, typ, c.ApplicantType) && sc.State != StateCancelled && sc.State != StateWithdrawn {
				users[sc.ID] = true
			}
		}
		ids := make([]string, 0, len(users))
		for u := range users {
			ids = append(ids, u)
		}
		sort.Strings(ids)
		for _, pm := range byType[typ] {
			pm.users = ids
		}
		if err := s.insertMaterials(ctx, tx, c.ID, byType[typ], ts); err != nil {
			return err
		}
	}
	fields := make([]string, 0, len(sup.Form))
	for k := range sup.Form {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	if len(fields) > 0 {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET form = ?, updated_at = ? WHERE id = ?`), store.JSONOf(map[string]any(form)), ts, c.ID); err != nil {
			return err
		}
	}
	given := make([]storedMaterial, len(mats))
	for i, ref := range materialRefs(mats, now) {
		given[i] = storedMaterial{ID: mats[i].id, MaterialRef: ref}
	}
	body := map[string]any{"materials": given, "fields": fields, "replaced": old, "note": sup.Note}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO case_supplements (id, case_id, received_at, subcases, body) VALUES (?, ?, ?, ?, ?)`),
		supID, c.ID, ts, store.JSONOf(answered), store.JSONOf(body)); err != nil {
		return fmt.Errorf("recording the supplement: %w", err)
	}
	steps := []timelineStep{{typ: StepSupplemented, detail: fmt.Sprintf("supplement %s: %d material(s), %d field(s) for %d matter(s)", supID, len(mats), len(fields), len(answered)),
		text: fmt.Sprintf("已提交补正：材料%d份、信息%d项", len(mats), len(fields)), data: map[string]any{"supplement_id": supID, "subcases": answered}}}
	msgs := make([]store.OutboxMessage, 0, len(answered))
	c.Form.V = form
	for _, id := range answered {
		sc := byID[id]
		out, err := s.mapSubcase(ctx, tx, c, byMatter, sc, form)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET state = ?, form = ?, missing = '[]', supplement_deadline = '', updated_at = ? WHERE id = ?`),
			StateResubmitted, store.JSONOf(out), ts, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE subcase_pauses SET ended_at = ? WHERE subcase_id = ? AND ended_at IS NULL`), ts, id); err != nil {
			return err
		}
		msg, err := s.resubmittedMessage(c, sc, supID, out, mats, sup, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		steps = append(steps, timelineStep{subcaseID: id, typ: StateResubmitted, detail: "supplement " + supID + " sent to " + s.deptName(sc.Department), names: s.namesOf(sc)})
	}
	if err := s.addTimelineSteps(ctx, tx, c.ID, now, steps...); err != nil {
		return err
	}
	if err := s.st.EnqueueOutbox(ctx, tx, msgs...); err != nil {
		return err
	}
	return s.refreshDeadlines(ctx, tx, c.ID, now)
}

// resubmittedMessage is the message that carries a supplement to a department: the items its
// request asked for, and its form mapped again.
func (s *Service) resubmittedMessage(c caseRow, sc subcaseRow, supID string, form map[string]any, mats []*plannedMaterial, sup Supplement, now time.Time) (store.OutboxMessage, error) {
	var mine []*plannedMaterial
	var fields []string
	for _, m := range sc.Missing.V {
		for _, pm := range mats {
			if m.Material != "" && pm.input.Type == m.Material {
				mine = append(mine, pm)
			}
		}
		if m.Field != "" {
			if _, ok := sup.Form[m.Field]; ok {
				fields = append(fields, m.Field)
			}
		}
	}
	corrected := map[string]any{}
	for _, f := range fields {
		corrected[f] = sup.Form[f]
	}
	refs := materialRefs(mine, now)
	for i, pm := range mine {
		if pm.object != nil {
			if err := s.signRef(&refs[i], sc.Department, c.ID, sc.ID); err != nil {
				return store.OutboxMessage{}, err
			}
		}
	}
	data := event.SubcaseResubmitted{CaseID: c.ID, SubcaseID: sc.ID, SupplementID: supID, Matter: s.matterRef(sc), Department: sc.Department,
		Asked: sc.Missing.V, Materials: refs, Fields: corrected, Form: form, Note: sup.Note, Callback: s.callback(sc.ID)}
	id := newID("ev_")
	env, err := event.New(id, event.TypeSubcaseResubmitted, sc.ID, now, data)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	return store.OutboxMessage{EventID: id, Topic: bus.SubcaseTopic(sc.Department), Key: c.ID, Payload: payload,
		Headers: map[string]string{"ce_type": event.TypeSubcaseResubmitted, "ce_id": id}}, nil
}

func materialRefs(mats []*plannedMaterial, verifiedAt time.Time) []event.MaterialRef {
	out := make([]event.MaterialRef, 0, len(mats))
	for _, pm := range mats {
		ref := event.MaterialRef{Type: pm.input.Type, Name: pm.name, Filename: pm.input.Filename, SHA256: pm.input.SHA256, Size: pm.input.Size, URI: pm.input.URI}
		if pm.licence != nil {
			ref.Licence = &event.LicenceMaterial{Type: pm.licence.Type, Number: pm.licence.Number, Status: pm.licence.Status, VerifiedAt: verifiedAt}
		}
		if pm.object != nil {
			ref.ContentType = pm.object.ContentType
		}
		out = append(out, ref)
	}
	return out
}

// storedMaterial is a material of a supplement as its record keeps it: the case material's id
// (which a later supplement may replace in turn) and the file.
type storedMaterial struct {
	ID string `json:"id"`
	event.MaterialRef
}

// loadSupplements returns a case's supplements in order.
func (s *Service) loadSupplements(ctx context.Context, tx *sqlx.Tx, caseID string) ([]SupplementView, error) {
	var rows []struct {
		ID         string               `db:"id"`
		ReceivedAt store.Timestamp      `db:"received_at"`
		Subcases   store.JSON[[]string] `db:"subcases"`
		Body       store.JSON[struct {
			Materials []storedMaterial `json:"materials"`
			Fields    []string         `json:"fields"`
			Note      string           `json:"note"`
		}] `db:"body"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, received_at, subcases, body FROM case_supplements WHERE case_id = ? ORDER BY received_at, id`), caseID); err != nil {
		return nil, err
	}
	out := []SupplementView{}
	for _, r := range rows {
		v := SupplementView{ID: r.ID, ReceivedAt: r.ReceivedAt.In(deadline.China), Subcases: nonNil(r.Subcases.V), Materials: []MaterialView{},
			Fields: nonNil(r.Body.V.Fields), Note: r.Body.V.Note}
		for _, m := range r.Body.V.Materials {
			v.Materials = append(v.Materials, MaterialView{ID: m.ID, Type: m.Type, Name: m.Name, Filename: m.Filename, SHA256: m.SHA256, Size: m.Size, URI: m.URI, UsedBy: []string{}})
		}
		out = append(out, v)
	}
	return out, nil
}

// requestProblems checks a department's supplement request against the catalogue: each item
// names a material the matter asks for (for this applicant type), or a field its form reads —
// a canonical field, or the department's own field name, which is taken as the canonical field
// it comes from. It returns the items with fields made canonical.
func (s *Service) requestProblems(sc subcaseRow, applicantType string, missing []event.Missing) ([]event.Missing, []problem.Problem) {
	m, ok := s.cat.Matter(sc.MatterCode)
	if !ok {
		return missing, nil
	}
	all, _ := mapping.InputsFor(m, applicantType)
	var ps []problem.Problem
	out := make([]event.Missing, len(missing))
	for i, item := range missing {
		out[i] = item
		path := fmt.Sprintf("/missing/%d", i)
		if item.Material != "" && !needs(m, item.Material, applicantType) {
			rule, msg := RuleUnknownMaterial, "the material catalogue has no such material"
			if _, known := s.cat.Material(item.Material); known {
				rule, msg = RuleNotNeeded, "the matter does not ask for this material"
			}
			ps = append(ps, problem.Problem{Path: path + "/material", Rule: rule, Material: item.Material, Message: msg})
		}
		if item.Field == "" {
			continue
		}
		if slices.Contains(all, item.Field) {
			continue
		}
		canonical := ""
		for _, f := range m.Form {
			if f.Field == item.Field && f.From != "" {
				canonical = f.From
			}
		}
		if canonical == "" {
			ps = append(ps, problem.Problem{Path: path + "/field", Rule: problem.RuleUnknownField,
				Message: "not a field the matter's form reads (a canonical field, or a form field taken from one)"})
			continue
		}
		out[i].Field = canonical
	}
	return out, ps
}

// checkMaterialInput checks one supplied material as intake does: a material object owner
// uploaded for the applicant, a file (name, hash, size and a location on an allowed host) or
// an e-licence of the library that satisfies it, held by the applicant and valid.
//
// objs are the submitting client's material objects the inputs name (objectsOf).
func (s *Service) checkMaterialInput(ctx context.Context, objs objectSet, path string, in MaterialInput, mi mapping.MaterialItem, holderID string) (*plannedMaterial, []problem.Problem, error) {
	if in.ID != "" {
		pm, ps := objectMaterial(objs, path, in, holderID)
		if pm != nil {
			pm.name = mi.Name
		}
		return pm, ps, nil
	}
	if in.Licence != nil {
		pm, refused, err := s.licenceMaterial(ctx, path, in, mi, holderID)
		if err != nil || refused != nil {
			if refused != nil {
				refused.Material = in.Type
			}
			return nil, problemsOf(refused), err
		}
		return pm, nil, nil
	}
	var ps problem.List
	if in.Filename == "" || len(in.Filename) > 255 || strings.ContainsAny(in.Filename, "/\\\x00") {
		ps.Add(path+"/filename", problem.RuleFilename, "must be a file name (1-255 bytes, no path separators)")
	}
	if !sha256RE.MatchString(in.SHA256) {
		ps.Add(path+"/sha256", problem.RuleSHA256, "must be the file's SHA-256 as 64 lower-case hex digits")
	}
	if in.Size <= 0 {
		ps.Add(path+"/size", problem.RuleMinimum, "must be the file's size in bytes, at least 1")
	}
	if up := s.cfg.MaterialHosts.problem(path+"/uri", in.URI); up != nil {
		ps = append(ps, *up)
	}
	for i := range ps {
		ps[i].Material = in.Type
	}
	if len(ps) > 0 {
		return nil, ps, nil
	}
	return &plannedMaterial{id: newID("mt_"), input: in, name: mi.Name}, nil, nil
}

func problemsOf(p *problem.Problem) []problem.Problem {
	if p == nil {
		return nil
	}
	return []problem.Problem{*p}
}

// insertMaterials stores planned materials of a case and links each to the sub-cases that use
// it: one multi-row INSERT per table.
func (s *Service) insertMaterials(ctx context.Context, tx *sqlx.Tx, caseID string, pms []*plannedMaterial, ts store.Timestamp) error {
	var w store.Writes
	addMaterials(&w, caseID, pms, ts)
	return s.st.Send(ctx, tx, &w)
}

// addMaterials adds to w the statements that store planned materials and link them to their
// sub-cases.
func addMaterials(w *store.Writes, caseID string, pms []*plannedMaterial, ts store.Timestamp) {
	materials := make([][]any, 0, len(pms))
	var links [][]any
	for _, pm := range pms {
		in := pm.input
		var licID string
		if pm.licence != nil {
			licID = pm.licence.ID
		}
		r := pm.row(ts)
		materials = append(materials, []any{pm.id, caseID, in.Type, pm.file, in.Filename, in.SHA256, in.Size, in.URI, licID, r.LicenceType, r.LicenceNumber, r.LicenceVerifiedAt,
			r.ObjectID, r.ContentType})
		for _, user := range pm.users {
			links = append(links, []any{user, pm.id})
		}
	}
	w.InsertRows("case_materials", []string{"id", "case_id", "type", "file_index", "filename", "sha256", "size", "uri",
		"licence_id", "licence_type", "licence_number", "licence_verified_at", "object_id", "content_type"}, materials)
	w.InsertRows("subcase_materials", []string{"subcase_id", "material_id"}, links)
}

// row is a planned material's row as stored at ts.
func (pm *plannedMaterial) row(ts store.Timestamp) materialRow {
	in := pm.input
	r := materialRow{ID: pm.id, Type: in.Type, Filename: in.Filename, SHA256: in.SHA256, Size: in.Size, URI: in.URI}
	if pm.licence != nil {
		r.LicenceType, r.LicenceNumber, r.LicenceVerifiedAt = pm.licence.Type, pm.licence.Number, ts
	}
	if pm.object != nil {
		r.ObjectID, r.ContentType = pm.object.ID, pm.object.ContentType
	}
	return r
}

// ref is a planned material as a dispatch message references it; an e-licence with the status
// intake found when it verified it, now.
func (pm *plannedMaterial) ref(s *Service, now time.Time) event.MaterialRef {
	in := pm.input
	ref := event.MaterialRef{Type: in.Type, Filename: in.Filename, SHA256: in.SHA256, Size: in.Size, URI: in.URI}
	if m, ok := s.cat.Material(in.Type); ok {
		ref.Name = m.Name
	}
	if pm.licence != nil {
		ref.Licence = &event.LicenceMaterial{Type: pm.licence.Type, Number: pm.licence.Number, Status: pm.licence.Status, VerifiedAt: now}
	}
	if pm.object != nil {
		ref.ContentType = pm.object.ContentType
	}
	return ref
}

// matterRef names a sub-case's matter and its result for a message to its department.
func (s *Service) matterRef(sc subcaseRow) event.MatterRef {
	ref := event.MatterRef{Code: sc.MatterCode, Name: sc.MatterName}
	if m, ok := s.cat.Matter(sc.MatterCode); ok {
		ref.Result = event.ResultRef{Kind: m.Result.Kind, Name: m.Result.Name, LicenceTypeCode: m.Result.LicenceTypeCode}
	}
	return ref
}
