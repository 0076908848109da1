package cases

import (
	"context"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/event"
)

// SubcaseEvent is an event about a sub-case, for ApplyEventsTogether.
type SubcaseEvent struct {
	SubcaseID string
	Event     event.DepartmentEvent
}

// EventOutcome is what ApplyEvent answers.
type EventOutcome struct {
	Result   *EventResult
	Replayed bool
	Err      error
}

// ApplyEventAlone applies an event in a transaction of its own: the way of an event that a
// batch leaves for later, and of every event when the hub is quiet but for the batching.
func (s *Service) ApplyEventAlone(ctx context.Context, subcaseID string, ev event.DepartmentEvent) EventOutcome {
	p, err := s.pending(ctx, subcaseID, ev)
	if err != nil {
		return EventOutcome{Err: err}
	}
	s.applyOne(ctx, p)
	return EventOutcome{p.res, p.replayed, p.err}
}

// ApplyEventsTogether applies events as one batch, in this order, as the hub does with events
// reported at about the same time.
func (s *Service) ApplyEventsTogether(evs []SubcaseEvent) []EventOutcome {
	out := make([]EventOutcome, len(evs))
	var batch []*pendingEvent
	var at []int
	for i, e := range evs {
		p, err := s.pending(context.Background(), e.SubcaseID, e.Event)
		if err != nil {
			out[i].Err = err
			continue
		}
		batch = append(batch, p)
		at = append(at, i)
	}
	s.writeEventsTogether(batch)
	for j, p := range batch {
		out[at[j]] = EventOutcome{p.res, p.replayed, p.err}
	}
	return out
}

// DispatchMaterials reads the materials of sub-cases as a dispatch after intake (a release)
// references them.
func (s *Service) DispatchMaterials(ctx context.Context, subcaseIDs []string) (out map[string][]event.MaterialRef, err error) {
	err = s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		out, err = s.dispatchMaterials(ctx, tx, subcaseIDs, s.now())
		return err
	})
	return out, err
}
