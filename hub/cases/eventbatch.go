package cases

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/event"
	"yjshub/hub/licences"
	"yjshub/hub/store"
)

// maxEventBatch bounds the department events recorded in one transaction, eventBatchTimeout
// the transaction.
const (
	maxEventBatch     = 128
	eventBatchTimeout = 30 * time.Second
)

// eventWriters bounds the batches written at once: on PostgreSQL a few, each on a connection of
// its own (two batches naming one case wait for each other on its row, which every batch takes
// in the order of the cases' ids, so they never wait in a cycle); SQLite has one writer.
func (s *Service) eventWriters() int {
	if s.st.Dialect() == store.DialectPostgres {
		return 4
	}
	return 1
}

// eventBatcher records the department events reported at about the same time in one
// transaction of about ten statements, whatever their number (group commit), as
// deliveryBatcher does deliveries: a caller that finds fewer writers at work than
// eventWriters becomes one, and whoever arrives meanwhile waits for a writer's next batch. A
// lone event is written at once, so batching adds no wait when the hub is quiet.
//
// A batch reads the cases its events name, their sub-cases, pauses and materials, and which of
// the events were recorded before, all at once; it then applies the events in the order they
// arrived to those rows in memory, with the same checks and the same effects as one event's
// transaction (applyEvent), and writes what changed in one statement a table. Each event gets
// its own answer: one refused (an illegal transition, a licence issued before) changes
// nothing and holds back no other. The events whose effects reach beyond the rows read — a
// supplement request, a suspension and a resumption with their pauses, and any event of a case
// with a sub-case still waiting for a prerequisite, which an approval may release or a
// rejection cancel — are applied after the batch, one transaction each, with the later events
// of their case. A batch that fails whole is applied again one event at a time.
type eventBatcher struct {
	mu      sync.Mutex
	queue   []*pendingEvent
	writers int // writing now
}

// pendingEvent is an event waiting for its batch, then its outcome.
type pendingEvent struct {
	subcaseID string
	ev        event.DepartmentEvent
	at, now   time.Time
	clamped   bool

	// The case's trace context and what names the event in its span (events.go: traceEvent),
	// set by whoever applies the event once it found the sub-case.
	caseID, department, matter, caseTrace string

	res      *EventResult
	replayed bool
	err      error
	done     chan struct{}
}

// apply queues p and waits for its outcome.
func (b *eventBatcher) apply(ctx context.Context, s *Service, p *pendingEvent) (*EventResult, bool, error) {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := b.writers < s.eventWriters()
	if lead {
		b.writers++
	}
	b.mu.Unlock()
	if lead {
		go s.writeEvents()
	}
	select {
	case <-p.done:
		return p.res, p.replayed, p.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// writeEvents writes batches until the queue is empty.
func (s *Service) writeEvents() {
	b := &s.events
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxEventBatch)
		if n == 0 {
			b.writers--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()

		s.writeEventsTogether(batch)
	}
}

// writeEventsTogether applies a batch of events and closes each one's done: the batch in one
// transaction, then the events it leaves for later, or every event alone when the batch fails.
func (s *Service) writeEventsTogether(batch []*pendingEvent) {
	// Not the callers' contexts: one leaving must not cancel the others' batch.
	ctx, cancel := context.WithTimeout(context.Background(), eventBatchTimeout)
	var later []*pendingEvent
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		later, err = s.writeEventBatch(ctx, tx, batch)
		return err
	})
	cancel()
	if err != nil {
		// One event may be what failed the batch (a licence another instance issued
		// meanwhile, say): each is applied on its own, so that the others are not held back
		// by it and its own outcome reaches its caller.
		s.cfg.Logger.Warn("a batch of department events failed: applying each alone", "events", len(batch), "error", err)
		later = batch
	} else {
		isLater := make(map[*pendingEvent]bool, len(later))
		for _, p := range later {
			isLater[p] = true
		}
		changed := false
		for _, p := range batch {
			if !isLater[p] {
				changed = changed || (p.err == nil && !p.replayed)
				close(p.done)
			}
		}
		if changed {
			s.committed()
		}
	}
	for _, p := range later {
		ctx, cancel := context.WithTimeout(context.Background(), eventBatchTimeout)
		s.applyOne(ctx, p)
		cancel()
		close(p.done)
	}
}

// batchCase is a case as a batch holds it: its rows as read, then as the batch's events left
// them.
type batchCase struct {
	c      caseRow
	subs   []subcaseRow // in position order
	pauses []pauseRow
	// later: an event of this case is applied after the batch, and so are the case's events
	// that arrived after it.
	later   bool
	touched bool
	dirty   map[int]bool // sub-cases whose row changed, by index
}

// batchable reports whether a batch applies an event that passed its checks to its case's rows
// in hand (see eventBatcher).
func batchable(typ string, bc *batchCase, sc subcaseRow) bool {
	switch typ {
	case event.Received, event.Accepted, event.Approved, event.Rejected:
	default:
		return false
	}
	for _, o := range bc.subs {
		if o.State == StateWaiting {
			return false
		}
	}
	for _, p := range bc.pauses {
		if p.SubcaseID == sc.ID && p.EndedAt.IsZero() {
			return false // a rejection ends the open pause
		}
	}
	return true
}

// writeEventBatch applies a batch of events in tx and returns those to be applied after it,
// one at a time. Each other event's outcome is set.
func (s *Service) writeEventBatch(ctx context.Context, tx *sqlx.Tx, batch []*pendingEvent) (later []*pendingEvent, err error) {
	subIDs := make([]string, 0, len(batch))
	eventIDs := make([]string, 0, len(batch))
	for _, p := range batch {
		p.res, p.replayed, p.err = nil, false, nil
		subIDs = append(subIDs, p.subcaseID)
		eventIDs = append(eventIDs, p.ev.EventID)
	}
	// The cases, held to the end of the transaction (in the order of their ids, as every
	// batch takes them, so that two never wait for each other).
	q, args, err := sqlx.In(`SELECT `+caseColumnsNoForm+` FROM cases WHERE id IN (SELECT case_id FROM subcases WHERE id IN (?)) ORDER BY id`, subIDs)
	if err != nil {
		return nil, err
	}
	if s.st.Dialect() == store.DialectPostgres {
		q += " FOR NO KEY UPDATE"
	}
	var caseRows []caseRow
	if err := tx.SelectContext(ctx, &caseRows, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("reading the cases: %w", err)
	}
	cases := make(map[string]*batchCase, len(caseRows))
	caseIDs := make([]string, 0, len(caseRows))
	for _, c := range caseRows {
		cases[c.ID] = &batchCase{c: c, dirty: map[int]bool{}}
		caseIDs = append(caseIDs, c.ID)
	}
	type place struct {
		bc *batchCase
		i  int
	}
	where := map[string]place{}
	mats := map[string][]string{}
	prior := map[[2]string]string{}
	if len(caseIDs) > 0 {
		// The sub-cases with their pauses (a row each, or one with none) and the types of
		// their materials, in one statement. Each material's type is looked up by its key, so
		// that no estimate of a fast-growing table can turn the lookup into a scan of it.
		agg := `group_concat(DISTINCT t.type ORDER BY t.type)`
		if s.st.Dialect() == store.DialectPostgres {
			agg = `string_agg(DISTINCT t.type, ',' ORDER BY t.type)`
		}
		var rows []struct {
			subcaseRow
			PauseKind     *string         `db:"pause_kind"`
			PauseStarted  store.Timestamp `db:"pause_started"`
			PauseEnded    store.Timestamp `db:"pause_ended"`
			MaterialTypes *string         `db:"material_types"`
		}
		q, args, err := sqlx.In(`SELECT `+subcaseColumnsNoForm+`, p.kind AS pause_kind, p.started_at AS pause_started, p.ended_at AS pause_ended,
			(SELECT `+agg+` FROM (SELECT (SELECT m.type FROM case_materials m WHERE m.id = sm.material_id) AS type
				FROM subcase_materials sm WHERE sm.subcase_id = s.id) t) AS material_types
			FROM subcases s LEFT JOIN subcase_pauses p ON p.subcase_id = s.id WHERE s.case_id IN (?) ORDER BY s.case_id, s.position, p.started_at`, caseIDs)
		if err != nil {
			return nil, err
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("reading the sub-cases: %w", err)
		}
		for _, r := range rows {
			if _, ok := where[r.ID]; !ok {
				bc := cases[r.CaseID]
				bc.subs = append(bc.subs, r.subcaseRow)
				where[r.ID] = place{bc, len(bc.subs) - 1}
				if r.MaterialTypes != nil && *r.MaterialTypes != "" {
					mats[r.ID] = strings.Split(*r.MaterialTypes, ",")
				}
			}
			if r.PauseKind != nil {
				bc := where[r.ID].bc
				bc.pauses = append(bc.pauses, pauseRow{SubcaseID: r.ID, Kind: *r.PauseKind, StartedAt: r.PauseStarted, EndedAt: r.PauseEnded})
			}
		}
		var priors []struct {
			SubcaseID string `db:"subcase_id"`
			EventID   string `db:"event_id"`
			Type      string `db:"type"`
		}
		q, args, err = sqlx.In(`SELECT subcase_id, event_id, type FROM department_events WHERE subcase_id IN (?) AND event_id IN (?)`, subIDs, eventIDs)
		if err != nil {
			return nil, err
		}
		if err := tx.SelectContext(ctx, &priors, tx.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("reading the events recorded: %w", err)
		}
		for _, r := range priors {
			prior[[2]string{r.SubcaseID, r.EventID}] = r.Type
		}
	}
	// The licences the approvals issue, as the library holds them already.
	var names []licences.TypeNumber
	for _, p := range batch {
		for _, l := range p.ev.Licences {
			names = append(names, licences.TypeNumber{Type: l.Type, Number: l.Number})
		}
	}
	held, err := s.lib.Held(ctx, tx, names)
	if err != nil {
		return nil, err
	}

	var (
		devents, caseEvents [][]any
		issued              []licences.Issued
		msgs                []store.OutboxMessage
	)
	for _, p := range batch {
		at, ok := where[p.subcaseID]
		if !ok {
			p.err = NotFound("sub-case")
			continue
		}
		bc := at.bc
		p.caseID, p.caseTrace = bc.c.ID, bc.c.TraceParent
		p.department, p.matter = bc.subs[at.i].Department, bc.subs[at.i].MatterCode
		if bc.later {
			later = append(later, p)
			continue
		}
		sc := &bc.subs[at.i]
		key := [2]string{p.subcaseID, p.ev.EventID}
		if t, ok := prior[key]; ok {
			if t != p.ev.Type {
				p.err = priorConflict(p.ev.EventID, t)
				continue
			}
			// The same event again: the answer describes the case as it is now.
			p.replayed = true
			p.res = s.eventResult(bc.c, *sc, bc.pauses, mats[sc.ID], false)
			continue
		}
		ev := p.ev
		if err := s.checkEvent(*sc, bc.c, &ev, p.at); err != nil {
			p.err = err
			continue
		}
		if !batchable(ev.Type, bc, *sc) {
			bc.later = true
			later = append(later, p)
			continue
		}
		matter, _ := s.cat.Matter(sc.MatterCode)
		var lics []licences.Issued
		var conflict error
		for _, l := range ev.Licences {
			n := licences.TypeNumber{Type: l.Type, Number: l.Number}
			if held[n] {
				conflict = &ConflictError{Reason: fmt.Sprintf("a %s numbered %s was already issued", l.Type, l.Number)}
				break
			}
			held[n] = true
			lics = append(lics, licences.Issued{Licence: licences.Completed(matter, l), Source: licences.SourceHub, Department: sc.Department,
				CaseID: bc.c.ID, SubcaseID: sc.ID, MatterCode: sc.MatterCode})
		}
		if conflict != nil {
			for _, l := range lics {
				delete(held, licences.TypeNumber{Type: l.Licence.Type, Number: l.Licence.Number})
			}
			p.err = conflict
			continue
		}
		issued = append(issued, lics...)

		// The event's effects, as applyEvent has them: its record, the sub-case's new state,
		// the timeline step (made of the sub-case as it was), the deadlines, the case's
		// completion, the case.updated message.
		step := s.eventStep(bc.c.ID, *sc, ev, p.at, p.clamped)
		ts, nowTS := store.NewTimestamp(p.at), store.NewTimestamp(p.now)
		devents = append(devents, []any{sc.ID, ev.EventID, ev.Type, ts, store.JSONOf(ev)})
		prior[key] = ev.Type
		sc.State = transitions[ev.Type].to
		if ev.DecisionNumber != "" {
			sc.DecisionNumber = ev.DecisionNumber
		}
		if ev.Reason != "" {
			sc.Reason = ev.Reason
		}
		if sc.DepartmentRef == "" {
			sc.DepartmentRef = ev.DepartmentRef
		}
		sc.Missing, sc.SupplementDeadline, sc.UpdatedAt = store.JSONOf(ev.Missing), ev.Deadline, nowTS
		bc.dirty[at.i], bc.touched = true, true
		bc.c.EventSeq++
		caseEvents = append(caseEvents, stepRow(bc.c.ID, bc.c.EventSeq, ts, step, *step.names))
		changed, _ := s.computeDeadlines(&bc.c, bc.subs, bc.pauses, p.now)
		for _, i := range changed {
			bc.dirty[i] = true
		}
		if bc.c.State == CaseInProgress {
			states := make([]string, len(bc.subs))
			for i, o := range bc.subs {
				states[i] = o.State
			}
			if state, outcome, step, ok := completion(states); ok {
				bc.c.State, bc.c.Outcome, bc.c.CompletedAt, bc.c.UpdatedAt = state, outcome, nowTS, nowTS
				bc.c.EventSeq++
				caseEvents = append(caseEvents, stepRow(bc.c.ID, bc.c.EventSeq, nowTS, step, subcaseName{}))
			}
		}
		msg, err := caseUpdatedMessage(s.caseUpdated(bc.c, bc.subs), p.now)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, msg)
		p.res = s.eventResult(bc.c, *sc, bc.pauses, mats[sc.ID], p.clamped)
	}

	if len(devents) == 0 {
		return later, nil
	}
	// What changed, one statement a table, sent at once.
	var w store.Writes
	w.InsertRows("department_events", []string{"subcase_id", "event_id", "type", "at", "body"}, devents)
	var subRows, caseRowsOut [][]any
	for _, id := range caseIDs {
		bc := cases[id]
		if !bc.touched {
			continue
		}
		c := bc.c
		caseRowsOut = append(caseRowsOut, []any{c.ID, c.EventSeq, c.State, c.Outcome, c.CompletedAt, c.UpdatedAt, c.DuePromised, c.DueStatutory})
		for i, sc := range bc.subs {
			if bc.dirty[i] {
				subRows = append(subRows, []any{sc.ID, sc.State, sc.DecisionNumber, sc.Reason, sc.Missing, sc.SupplementDeadline, sc.UpdatedAt,
					sc.DuePromised, sc.DueStatutory, sc.DepartmentRef})
			}
		}
	}
	w.UpdateRows("subcases", "id", []string{"state", "decision_number", "reason", "missing", "supplement_deadline", "updated_at",
		"due_promised", "due_statutory", "department_ref"}, map[string]string{"updated_at": "BIGINT"}, subRows)
	w.UpdateRows("cases", "id", []string{"event_seq", "state", "outcome", "completed_at", "updated_at", "due_promised", "due_statutory"},
		map[string]string{"event_seq": "INTEGER", "completed_at": "BIGINT", "updated_at": "BIGINT"}, caseRowsOut)
	w.InsertRows("case_events", caseEventColumns, caseEvents)
	s.lib.RecordAll(&w, issued)
	w.Outbox(msgs...)
	return later, s.st.Send(ctx, tx, &w)
}
