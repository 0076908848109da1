package cases

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/event"
	"yjshub/hub/store"
)

// CaseUpdated is the data of a case.updated event on yjs.case.event: what platforms follow.
type CaseUpdated struct {
	CaseID string `json:"case_id"`
	// CaseNumber is the case number (办件编号); absent for cases submitted before numbers.
	CaseNumber string           `json:"case_number,omitempty"`
	State      string           `json:"state"`
	Outcome    string           `json:"outcome,omitempty"`
	Bundle     event.BundleRef  `json:"bundle"`
	Deadline   event.Deadlines  `json:"deadline"`
	Subcases   []SubcaseSummary `json:"subcases"`
}

// SubcaseSummary is a sub-case in a case.updated event.
type SubcaseSummary struct {
	ID         string `json:"id"`
	MatterCode string `json:"matter_code"`
	Department string `json:"department"`
	State      string `json:"state"`
	// DepartmentRef is the department's own number for the sub-case, once it gave one.
	DepartmentRef string `json:"department_ref,omitempty"`
}

// emitCaseEvent enqueues the case's current state on yjs.case.event.
func (s *Service) emitCaseEvent(ctx context.Context, tx *sqlx.Tx, v *CaseView, now time.Time) error {
	return s.emitCaseUpdated(ctx, tx, caseUpdatedOf(v), now)
}

// caseUpdatedOf describes a case, for its case.updated message, from its view.
func caseUpdatedOf(v *CaseView) CaseUpdated {
	data := CaseUpdated{CaseID: v.ID, CaseNumber: v.Number, State: v.State, Outcome: v.Outcome, Bundle: v.Bundle, Deadline: v.Deadline, Subcases: []SubcaseSummary{}}
	for _, sc := range v.Subcases {
		data.Subcases = append(data.Subcases, SubcaseSummary{ID: sc.ID, MatterCode: sc.MatterCode, Department: sc.Department.Code, State: sc.State,
			DepartmentRef: sc.DepartmentRef})
	}
	return data
}

// caseUpdated describes a case, for its case.updated message, from its rows.
func (s *Service) caseUpdated(c caseRow, subs []subcaseRow) CaseUpdated {
	data := CaseUpdated{CaseID: c.ID, CaseNumber: c.Number, State: c.State, Outcome: c.Outcome, Bundle: event.BundleRef{Seq: c.BundleSeq, Code: c.BundleCode},
		Deadline: s.deadlinesOf(c.DuePromised, c.DueStatutory), Subcases: make([]SubcaseSummary, 0, len(subs))}
	if b, ok := s.cat.Bundle(c.BundleCode); ok {
		data.Bundle.Name = b.Name
	}
	for _, sc := range subs {
		data.Subcases = append(data.Subcases, SubcaseSummary{ID: sc.ID, MatterCode: sc.MatterCode, Department: sc.Department, State: sc.State,
			DepartmentRef: sc.DepartmentRef})
	}
	return data
}

// emitCaseUpdated enqueues a case.updated message.
func (s *Service) emitCaseUpdated(ctx context.Context, tx *sqlx.Tx, data CaseUpdated, now time.Time) error {
	msg, err := caseUpdatedMessage(data, now)
	if err != nil {
		return err
	}
	return s.st.EnqueueOutbox(ctx, tx, msg)
}

// caseUpdatedMessage is the outbox message of a case.updated event.
func caseUpdatedMessage(data CaseUpdated, now time.Time) (store.OutboxMessage, error) {
	caseID := data.CaseID
	id := newID("ev_")
	env, err := event.New(id, event.TypeCaseUpdated, caseID, now, data)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	return store.OutboxMessage{EventID: id, Topic: topicCaseEvent, Key: caseID, Payload: payload,
		Headers: map[string]string{"ce_type": event.TypeCaseUpdated, "ce_id": id}}, nil
}
