package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/hub/cases"
	"yjshub/hub/event"
	"yjshub/hub/links"
)

// Steps of a case that are pushed to its platform, and the status words (办件信息) they carry.
const (
	stepAccepted  = "accepted"  // 受理: the first sub-case accepted
	stepResult    = "result"    // 出件: a sub-case decided, with its e-licences (一端出件)
	stepCompleted = "completed" // 办结: every matter decided, with the outcome
	stepRejected  = "rejected"  // 退件: the application was not taken in
	stepRevoked   = "revoked"   // 撤销: an e-licence of a result revoked by its issuing department
	// stepSupplement is 补正: a department asks the applicant for missing materials or fields.
	stepSupplement = "supplement"
	// stepWithdrawn is 撤件: the applicant withdrew the case, or one optional sub-case of it.
	stepWithdrawn = "withdrawn"
)

var statusWords = map[string]string{stepAccepted: "受理", stepResult: "出件", stepCompleted: "办结", stepRejected: "退件", stepRevoked: "撤销",
	stepSupplement: "补正", stepWithdrawn: "撤件"}

// acceptedStates are the sub-case states that may come only after, or with, acceptance; the
// timeline decides (a supplement may be asked for before acceptance).
var acceptedStates = []string{cases.StateAccepted, cases.StateSupplementRequested, cases.StateResubmitted, cases.StateSuspended, cases.StateApproved}

// planner tells the case-event runner what to push to the platform.
type planner struct{ c *Connector }

func (p planner) key(caseID, step string) string {
	return "platform:" + p.c.cfg.Name + ":" + caseID + ":" + step
}

// Steps: for a case that came from this platform, 受理 once a sub-case may be accepted, 补正
// for each request for supplement of a sub-case (numbered: a sub-case may ask more than once),
// 出件 for each decided sub-case, 办结 once the case is completed, 撤件 once the case, or an
// optional sub-case of it, is withdrawn, and (with outbound.revoked) 撤销 for each e-licence
// of its results since revoked.
func (p planner) Steps(ctx context.Context, ev cases.CaseUpdated) ([]casepush.Step, error) {
	_, _, ok, err := p.c.tables.caseApplication(ctx, ev.CaseID)
	if err != nil || !ok {
		return nil, err
	}
	var steps []casepush.Step
	for _, sc := range ev.Subcases {
		if slices.Contains(acceptedStates, sc.State) {
			steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepAccepted), CaseID: ev.CaseID, Name: stepAccepted})
			break
		}
	}
	var timeline []cases.TimelineEntry
	for _, sc := range ev.Subcases {
		if sc.State != cases.StateSupplementRequested {
			continue
		}
		if timeline == nil {
			v, err := p.c.cases.Get(ctx, ev.CaseID)
			if err != nil {
				return nil, err
			}
			timeline = v.Timeline
		}
		n := 0
		for _, e := range timeline {
			if e.SubcaseID == sc.ID && e.Type == cases.StateSupplementRequested {
				n++
			}
		}
		steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, fmt.Sprintf("%s:%s:%d", stepSupplement, sc.ID, max(n, 1))), CaseID: ev.CaseID,
			Name: stepSupplement, Subject: sc.ID})
	}
	for _, sc := range ev.Subcases {
		if sc.State == cases.StateApproved || sc.State == cases.StateRejected {
			steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepResult+":"+sc.ID), CaseID: ev.CaseID, Name: stepResult, Subject: sc.ID})
		}
	}
	// 撤件 before 办结: withdrawing the last open matter completes the case with the others.
	if ev.State == cases.CaseWithdrawn {
		steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepWithdrawn), CaseID: ev.CaseID, Name: stepWithdrawn})
	} else {
		for _, sc := range ev.Subcases {
			if sc.State == cases.StateWithdrawn {
				steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepWithdrawn+":"+sc.ID), CaseID: ev.CaseID, Name: stepWithdrawn, Subject: sc.ID})
			}
		}
	}
	if ev.State == cases.CaseCompleted {
		steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepCompleted), CaseID: ev.CaseID, Name: stepCompleted})
	}
	revoked, err := p.revokedSteps(ctx, ev)
	if err != nil {
		return nil, err
	}
	return append(steps, revoked...), nil
}

// Build reads the case as it is now and builds each step's document.
func (p planner) Build(ctx context.Context, ev cases.CaseUpdated, steps []casepush.Step) ([]casepush.Push, error) {
	appID, retaken, ok, err := p.c.tables.caseApplication(ctx, ev.CaseID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("application of the case: %w", cases.ErrNotFound)
	}
	v, err := p.c.cases.Get(ctx, ev.CaseID)
	if err != nil {
		return nil, err
	}
	var pushes []casepush.Push
	for _, s := range steps {
		doc, out := p.document(v, appID, s), p.c.cfg.Outbound
		if doc != nil && s.Name == stepAccepted && retaken {
			doc["resubmission"] = true // the applicant's corrected application after a 退件
		}
		if s.Name == stepRevoked {
			if doc, err = p.revocation(ctx, v, appID, s); err != nil {
				return nil, err
			}
			out = *p.c.revokedOut
		}
		if doc == nil {
			continue // not due yet
		}
		body, err := json.Marshal(out.apply(doc))
		if err != nil {
			return nil, err
		}
		pushes = append(pushes, casepush.Push{Step: s, Body: body})
	}
	return pushes, nil
}

// document is a step's document in the hub's terms (README.md), nil when the case does not
// call for it yet.
func (p planner) document(v *cases.CaseView, appID string, s casepush.Step) map[string]any {
	switch s.Name {
	case stepAccepted:
		for _, e := range v.Timeline {
			if e.Type == cases.StateAccepted || e.Type == cases.StateApproved {
				doc := p.c.caseDocument(appID, v, stepAccepted, e.At)
				doc["accepted_at"] = p.c.formatTime(e.At)
				doc["promised_date"] = v.Deadline.Promised
				doc["department"] = map[string]any{"code": "", "name": ""}
				for _, sc := range v.Subcases {
					if sc.ID == e.SubcaseID {
						doc["department"] = map[string]any{"code": sc.Department.Code, "name": sc.Department.Name}
					}
				}
				return doc
			}
		}
		return nil
	case stepSupplement:
		for _, sc := range v.Subcases {
			if sc.ID != s.Subject {
				continue
			}
			at := v.SubmittedAt
			for _, e := range v.Timeline {
				if e.SubcaseID == sc.ID && e.Type == cases.StateSupplementRequested {
					at = e.At // the latest request
				}
			}
			missing := []map[string]any{}
			for _, m := range sc.Missing {
				missing = append(missing, map[string]any{"material": m.Material, "field": m.Field, "note": m.Note})
			}
			doc := p.c.caseDocument(appID, v, stepSupplement, at)
			doc["supplement"] = map[string]any{
				"subcase_id": sc.ID, "matter_code": sc.MatterCode, "matter_name": sc.MatterName,
				"department_code": sc.Department.Code, "department_name": sc.Department.Name,
				"missing": missing, "deadline": sc.SupplementDeadline, "reply_to": "/api/v1/cases/" + v.ID + "/supplements",
			}
			return doc
		}
		return nil
	case stepWithdrawn:
		return p.withdrawal(v, appID, s)
	case stepResult:
		for _, sc := range v.Subcases {
			if sc.ID != s.Subject || (sc.State != cases.StateApproved && sc.State != cases.StateRejected) {
				continue
			}
			at := v.SubmittedAt
			for _, e := range v.Timeline {
				if e.SubcaseID == sc.ID && e.Type == sc.State {
					at = e.At
				}
			}
			doc := p.c.caseDocument(appID, v, stepResult, at)
			licences := []map[string]any{}
			for _, l := range v.Licences {
				if l.SubcaseID != sc.ID {
					continue
				}
				lic := map[string]any{
					"type": l.Type, "type_code": l.TypeCode, "number": l.Number, "holder": l.Holder, "holder_id": l.HolderID,
					"holder_id_type": l.HolderIDType, "issuer": l.Issuer, "issuer_code": l.IssuerCode, "issued_at": l.IssuedAt,
					"valid_from": l.ValidFrom, "valid_until": l.ValidUntil, "status": l.Status, "identifier": l.Identifier,
					"file_uri": l.File.URI, "file_sha256": l.File.SHA256, "file_format": l.File.Format,
				}
				if link := p.c.licenceLink(v.ID, l.Licence); link != "" {
					lic["file_link"] = link
				}
				licences = append(licences, lic)
			}
			doc["result"] = map[string]any{
				"subcase_id": sc.ID, "matter_code": sc.MatterCode, "matter_name": sc.MatterName,
				"department_code": sc.Department.Code, "department_name": sc.Department.Name,
				"state": sc.State, "decision_number": sc.DecisionNumber, "reason": sc.Reason, "licences": licences,
			}
			return doc
		}
		return nil
	case stepCompleted:
		if v.State != cases.CaseCompleted || v.CompletedAt == nil {
			return nil
		}
		doc := p.c.caseDocument(appID, v, stepCompleted, *v.CompletedAt)
		doc["outcome"] = v.Outcome
		results := []map[string]any{}
		for _, sc := range v.Subcases {
			results = append(results, map[string]any{"subcase_id": sc.ID, "matter_code": sc.MatterCode, "matter_name": sc.MatterName,
				"department_code": sc.Department.Code, "state": sc.State})
		}
		doc["results"] = results
		return doc
	}
	return nil
}

// withdrawal is the 撤件 document: of the whole case (no subject), or of one sub-case, named.
func (p planner) withdrawal(v *cases.CaseView, appID string, s casepush.Step) map[string]any {
	at := time.Now()
	if s.Subject == "" {
		if v.State != cases.CaseWithdrawn {
			return nil
		}
		for _, e := range v.Timeline {
			if e.Type == cases.CaseWithdrawn {
				at = e.At
			}
		}
		doc := p.c.caseDocument(appID, v, stepWithdrawn, at)
		doc["withdrawn"] = map[string]any{"scope": "case"}
		return doc
	}
	for _, sc := range v.Subcases {
		if sc.ID != s.Subject || sc.State != cases.StateWithdrawn {
			continue
		}
		for _, e := range v.Timeline {
			if e.SubcaseID == sc.ID && e.Type == cases.StateWithdrawn {
				at = e.At
			}
		}
		doc := p.c.caseDocument(appID, v, stepWithdrawn, at)
		doc["withdrawn"] = map[string]any{"scope": "subcase", "subcase_id": sc.ID, "matter_code": sc.MatterCode, "matter_name": sc.MatterName,
			"department_code": sc.Department.Code, "department_name": sc.Department.Name}
		return doc
	}
	return nil
}

func bundle(v *cases.CaseView) map[string]any {
	return map[string]any{"seq": v.Bundle.Seq, "code": v.Bundle.Code, "name": v.Bundle.Name}
}

// document starts a push document: what every step carries.
func (c *Connector) document(appID, caseID, step string, at time.Time, bundle ...map[string]any) map[string]any {
	doc := map[string]any{
		"platform": c.cfg.Name, "app_id": appID, "step": step, "status": statusWords[step],
		"time": c.formatTime(at),
	}
	if caseID != "" {
		doc["case_id"] = caseID
	}
	if len(bundle) > 0 {
		doc["bundle"] = bundle[0]
	}
	return doc
}

// caseDocument is document for a step of case v: its id, its case number (办件编号) where it has
// one, and its bundle.
func (c *Connector) caseDocument(appID string, v *cases.CaseView, step string, at time.Time) map[string]any {
	doc := c.document(appID, v.ID, step, at, bundle(v))
	if v.Number != "" {
		doc["case_number"] = v.Number
	}
	return doc
}

// formatTime writes a time in China Standard Time in the configured layout.
func (c *Connector) formatTime(at time.Time) string { return at.In(cst).Format(c.cfg.TimeLayout) }

// licenceLinkVia names the library as what carried a link to a licence's file, in the audit
// log of reads (as the library's own answers do).
const licenceLinkVia = "library"

// licenceLink is a link to the file of licence l of case caseID that the hub holds (its
// department uploaded it: file.object_id), signed for this platform (its party is the
// connector's name) and the case, via the library; "" without the hub's link keys or such a
// file, or when it cannot be signed (logged).
func (c *Connector) licenceLink(caseID string, l event.Licence) string {
	if c.links == nil || l.File.ObjectID == "" || l.File.SHA256 == "" || caseID == "" {
		return ""
	}
	link, err := c.links.SignLink(links.Link{Method: http.MethodGet, SHA256: l.File.SHA256, Department: c.cfg.Name, Case: caseID,
		Via: licenceLinkVia, TTL: links.MaxTTL})
	if err != nil {
		c.log.Warn("a licence's file link cannot be signed", "case_id", caseID, "error", err)
		return ""
	}
	return c.filesBase + link
}
