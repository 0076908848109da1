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
	CaseID   string           `json:"case_id"`
	State    string           `json:"state"`
	Outcome  string           `json:"outcome,omitempty"`
	Bundle   event.BundleRef  `json:"bundle"`
	Deadline event.Deadlines  `json:"deadline"`
	Subcases []SubcaseSummary `json:"subcases"`
}

// SubcaseSummary is a sub-case in a case.updated event.
type SubcaseSummary struct {
	ID         string `json:"id"`
	MatterCode string `json:"matter_code"`
	Department string `json:"department"`
	State      string `json:"state"`
}

// emitCaseEvent enqueues the case's current state on yjs.case.event.
func (s *Service) emitCaseEvent(ctx context.Context, tx *sqlx.Tx, v *CaseView, now time.Time) error {
	caseID := v.ID
	data := CaseUpdated{CaseID: v.ID, State: v.State, Outcome: v.Outcome, Bundle: v.Bundle, Deadline: v.Deadline, Subcases: []SubcaseSummary{}}
	for _, sc := range v.Subcases {
		data.Subcases = append(data.Subcases, SubcaseSummary{ID: sc.ID, MatterCode: sc.MatterCode, Department: sc.Department.Code, State: sc.State})
	}
	id := newID("ev_")
	env, err := event.New(id, event.TypeCaseUpdated, caseID, now, data)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return s.st.EnqueueOutbox(ctx, tx, store.OutboxMessage{EventID: id, Topic: topicCaseEvent, Key: caseID, Payload: payload,
		Headers: map[string]string{"ce_type": event.TypeCaseUpdated, "ce_id": id}})
}
