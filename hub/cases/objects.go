package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/event"
	"yjshub/hub/links"
	"yjshub/hub/store"
	"yjshub/problem"
)

// Rules of the problems with a material given as an uploaded material object (at
// /materials/i/id).
const (
	// RuleMaterialObject: no material object of that id is the submitting client's. Another
	// client's object is refused with the same problem as an unknown one, so that the answer
	// never tells a client that an id it guessed exists.
	RuleMaterialObject = "material_object"
	// RuleMaterialHolder: the object was uploaded for another applicant than the case's.
	RuleMaterialHolder = "material_holder"
	// RuleMaterialType: the object was uploaded as another material type than the entry names.
	RuleMaterialType = "material_type"
	// RuleMaterialRemoved: the object was the client's, and was removed when its retention
	// ended (package retention): its bytes are no longer kept, and the file must be uploaded
	// again.
	RuleMaterialRemoved = "material_removed"
)

// materialObject is a material object (package uploads, table materials_uploaded) as intake
// reads it. Holder is personal data: it is compared, never written into a problem or a log.
type materialObject struct {
	ID          string `db:"id"`
	SHA256      string `db:"sha256"`
	Size        int64  `db:"size"`
	ContentType string `db:"content_type"`
	Filename    string `db:"filename"`
	Type        string `db:"type"`
	Holder      string `db:"holder"`
	// RemovedAt is set once retention removed the object.
	RemovedAt store.Timestamp `db:"removed_at"`
}

// objectSet are material objects of one owner, by id.
type objectSet map[string]materialObject

// objectsOf reads, in one statement, the material objects of owner that inputs name; an id of
// another owner's object, or of none, is not in the set. A case without an owner (submitted
// by no client) can name those of Config.AnonymousUploads, and none when that is empty.
func (s *Service) objectsOf(ctx context.Context, q sqlx.QueryerContext, owner string, inputs []MaterialInput) (objectSet, error) {
	if owner == "" {
		owner = s.cfg.AnonymousUploads
	}
	var ids []string
	for _, in := range inputs {
		if in.ID != "" {
			ids = append(ids, in.ID)
		}
	}
	set := objectSet{}
	if len(ids) == 0 || owner == "" {
		return set, nil
	}
	query, args, err := sqlx.In(`SELECT id, sha256, size, content_type, filename, type, holder, removed_at FROM materials_uploaded WHERE owner = ? AND id IN (?)`, owner, ids)
	if err != nil {
		return nil, err
	}
	var rows []materialObject
	if err := sqlx.SelectContext(ctx, q, &rows, s.st.DB().Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("reading material objects: %w", err)
	}
	for _, o := range rows {
		set[o.ID] = o
	}
	return set, nil
}

// objectMaterial checks a material given as a material object and plans it with the object's
// file: the object is among objs (the submitting client's), its holder is the case's applicant
// and its type the entry's. Every problem is reported, each at path/id.
func objectMaterial(objs objectSet, path string, in MaterialInput, holderID string) (*plannedMaterial, []problem.Problem) {
	ip := path + "/id"
	refuse := func(rule, msg string, args ...any) []problem.Problem {
		return []problem.Problem{{Path: ip, Rule: rule, Message: fmt.Sprintf(msg, args...), Material: in.Type}}
	}
	if in.Filename != "" || in.SHA256 != "" || in.Size != 0 || in.URI != "" || in.Licence != nil {
		return nil, []problem.Problem{{Path: path, Rule: problem.RuleOneOf, Material: in.Type,
			Message: "give the material either by the id of an uploaded material, as a file (filename, sha256, size, uri) or as an e-licence, one of them"}}
	}
	o, ok := objs[in.ID]
	if !ok {
		return nil, refuse(RuleMaterialObject, "no uploaded material has the id %s: upload the file first (/api/v1/uploads)", strconv.Quote(clip(in.ID)))
	}
	if !o.RemovedAt.IsZero() {
		return nil, removedObject(path, in)
	}
	var ps []problem.Problem
	if holderID != "" && o.Holder != holderID {
		ps = append(ps, refuse(RuleMaterialHolder, "the uploaded material belongs to another applicant: upload the applicant's own file")...)
	}
	if o.Type != in.Type {
		ps = append(ps, refuse(RuleMaterialType, "the uploaded material is a %s, not a %s", o.Type, in.Type)...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	file := MaterialInput{Type: in.Type, ID: o.ID, Filename: o.Filename, SHA256: o.SHA256, Size: o.Size}
	return &plannedMaterial{id: newID("mt_"), input: file, object: &o}, nil
}

// removedObject is the problem with an entry naming a material object that retention removed.
func removedObject(path string, in MaterialInput) []problem.Problem {
	return []problem.Problem{{Path: path + "/id", Rule: RuleMaterialRemoved, Material: in.Type,
		Message: fmt.Sprintf("the uploaded material %s was removed when its retention period ended: upload the file again", strconv.Quote(clip(in.ID)))}}
}

// claimObjects takes, in the transaction that links them to a case, the rows of the material
// objects inputs name, and clears their due time: a case still open keeps them however long
// it stays open (package retention computes it again once the case has ended). On PostgreSQL
// the update holds each row's lock until the transaction ends, as the retention sweeper's
// removal does, so that the two are decided one after the other: an object the sweeper
// removed meanwhile is not claimed, and the case is refused with the problem of a removed
// object, every such entry named.
func (s *Service) claimObjects(ctx context.Context, tx *sqlx.Tx, inputs []MaterialInput) error {
	var ids []string
	for _, in := range inputs {
		if in.ID != "" {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In(`UPDATE materials_uploaded SET expires_at = NULL WHERE removed_at IS NULL AND id IN (?) RETURNING id`, ids)
	if err != nil {
		return err
	}
	var claimed []string
	if err := tx.SelectContext(ctx, &claimed, tx.Rebind(query), args...); err != nil {
		return fmt.Errorf("taking the material objects: %w", err)
	}
	if len(claimed) == len(ids) {
		return nil
	}
	var ps []problem.Problem
	for i, in := range inputs {
		if in.ID != "" && !slices.Contains(claimed, in.ID) {
			ps = append(ps, removedObject(fmt.Sprintf("/materials/%d", i), in)...)
		}
	}
	return problem.New(ps...)
}

// signRef puts into ref, a material the hub holds, a link to its bytes signed for dept, the
// case and the sub-case, and when it expires. Without a keyring (Config.Links) ref is left as
// it is.
func (s *Service) signRef(ref *event.MaterialRef, dept, caseID, subcaseID string) error {
	if s.cfg.Links == nil {
		return nil
	}
	var via string
	if s.cfg.LinkVia != nil {
		via = s.cfg.LinkVia(dept)
	}
	link, err := s.cfg.Links.SignLink(links.Link{Method: http.MethodGet, SHA256: ref.SHA256, Department: dept, Case: caseID, Subcase: subcaseID,
		Via: via, TTL: s.cfg.LinkTTL})
	if err != nil {
		return fmt.Errorf("signing a material's link: %w", err)
	}
	exp, err := LinkExpiry(link)
	if err != nil {
		return err
	}
	ref.URI, ref.LinkExpiresAt = s.cfg.FilesBase+link, &exp
	return nil
}

// LinkExpiry is when a link that links.Keyring signed expires, read from the link itself (its
// exp parameter): the keyring's clock, not the caller's, set it.
func LinkExpiry(link string) (time.Time, error) {
	_, query, _ := strings.Cut(link, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading a link's expiry: %w", err)
	}
	sec, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading a link's expiry: %w", err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// addReads puts into v, on each uploaded material, the reads of its bytes the audit log keeps
// for the case (package links writes them, kind links.AuditKind, detail links.Read).
//
// The log is read by kind and by the case id in the row's detail: the ids are "cs_" and hex,
// so the pattern matches nothing but this case's reads, and the detail is decoded and checked
// again before a read is shown.
func (s *Service) addReads(ctx context.Context, tx *sqlx.Tx, v *CaseView) error {
	held := map[string][]int{}
	for i, m := range v.Materials {
		if m.Object != "" {
			held[m.SHA256] = append(held[m.SHA256], i)
		}
	}
	if len(held) == 0 || !caseIDRE.MatchString(v.ID) {
		return nil
	}
	var rows []struct {
		At     store.Timestamp `db:"at"`
		Detail string          `db:"detail"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT at, detail FROM audit_log WHERE kind = ? AND detail LIKE ? ORDER BY seq`),
		links.AuditKind, `%"case":"`+v.ID+`"%`); err != nil {
		return fmt.Errorf("reading the material reads of the case: %w", err)
	}
	for _, r := range rows {
		var d links.Read
		if json.Unmarshal([]byte(r.Detail), &d) != nil || d.Case != v.ID {
			continue
		}
		read := MaterialRead{At: r.At.In(deadline.China), Department: d.Department, Subcase: d.Subcase, Client: d.Client, Via: d.Connector, Range: d.Range}
		for _, i := range held[d.SHA256] {
			v.Materials[i].Reads = append(v.Materials[i].Reads, read)
		}
	}
	return nil
}

// caseIDRE is what a case id is (newID("cs_")): nothing a LIKE pattern treats specially.
var caseIDRE = regexp.MustCompile(`^cs_[0-9a-f]{32}$`)
