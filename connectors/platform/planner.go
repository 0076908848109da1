package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"yjshub/connectors/casepush"
	"yjshub/hub/cases"
)

// Steps of a case that are pushed to its platform, and the status words (办件信息) they carry.
const (
	stepAccepted  = "accepted"  // 受理: the first sub-case accepted
	stepResult    = "result"    // 出件: a sub-case decided, with its e-licences (一端出件)
	stepCompleted = "completed" // 办结: every matter decided, with the outcome
	stepRejected  = "rejected"  // 退件: the application was not taken in
	stepRevoked   = "revoked"   // 撤销: an e-licence of a result revoked by its issuing department
)

var statusWords = map[string]string{stepAccepted: "受理", stepResult: "出件", stepCompleted: "办结", stepRejected: "退件", stepRevoked: "撤销"}

// acceptedStates are the sub-case states that may come only after, or with, acceptance; the
// timeline decides (a supplement may be asked for before acceptance).
var acceptedStates = []string{cases.StateAccepted, cases.StateSupplementRequested, cases.StateResubmitted, cases.StateSuspended, cases.StateApproved}

// planner tells the case-event runner what to push to the platform.
type planner struct{ c *Connector }

func (p planner) key(caseID, step string) string {
	return "platform:" + p.c.cfg.Name + ":" + caseID + ":" + step
}

// Steps: for a case that came from this platform, 受理 once a sub-case may be accepted, 出件
// for each decided sub-case, 办结 once the case is completed, and (with outbound.revoked) 撤销
// for each e-licence of its results since revoked.
func (p planner) Steps(ctx context.Context, ev cases.CaseUpdated) ([]casepush.Step, error) {
	_, ok, err := p.c.tables.appOf(ctx, ev.CaseID)
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
	for _, sc := range ev.Subcases {
		if sc.State == cases.StateApproved || sc.State == cases.StateRejected {
			steps = append(steps, casepush.Step{Key: p.key(ev.CaseID, stepResult+":"+sc.ID), CaseID: ev.CaseID, Name: stepResult, Subject: sc.ID})
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
	appID, ok, err := p.c.tables.appOf(ctx, ev.CaseID)
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
				return p.c.document(appID, v.ID, stepAccepted, e.At, bundle(v))
			}
		}
		return nil
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
			doc := p.c.document(appID, v.ID, stepResult, at, bundle(v))
			licences := []map[string]any{}
			for _, l := range v.Licences {
				if l.SubcaseID != sc.ID {
					continue
				}
				licences = append(licences, map[string]any{
					"type": l.Type, "type_code": l.TypeCode, "number": l.Number, "holder": l.Holder, "holder_id": l.HolderID,
					"holder_id_type": l.HolderIDType, "issuer": l.Issuer, "issuer_code": l.IssuerCode, "issued_at": l.IssuedAt,
					"valid_from": l.ValidFrom, "valid_until": l.ValidUntil, "status": l.Status,
					"file_uri": l.File.URI, "file_sha256": l.File.SHA256, "file_format": l.File.Format,
				})
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
		doc := p.c.document(appID, v.ID, stepCompleted, *v.CompletedAt, bundle(v))
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

func bundle(v *cases.CaseView) map[string]any {
	return map[string]any{"seq": v.Bundle.Seq, "code": v.Bundle.Code, "name": v.Bundle.Name}
}

// document starts a push document: what every step carries.
func (c *Connector) document(appID, caseID, step string, at time.Time, bundle ...map[string]any) map[string]any {
	doc := map[string]any{
		"platform": c.cfg.Name, "app_id": appID, "step": step, "status": statusWords[step],
		"time": at.In(cst).Format(c.cfg.TimeLayout),
	}
	if caseID != "" {
		doc["case_id"] = caseID
	}
	if len(bundle) > 0 {
		doc["bundle"] = bundle[0]
	}
	return doc
}
