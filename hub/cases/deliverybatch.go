package cases

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/connector"
	"yjshub/hub/store"
)

// maxDeliveryBatch bounds the deliveries recorded in one transaction, deliveryBatchTimeout
// the transaction.
const (
	maxDeliveryBatch     = 200
	deliveryBatchTimeout = 30 * time.Second
)

// deliveryBatcher records the deliveries that the connectors report at about the same time in
// one transaction of five statements, whatever their number (group commit): the first caller
// to find no batch being written writes the queue, and whoever arrives meanwhile waits for the
// next batch. A lone delivery is written at once, so batching adds no wait when the hub is
// quiet; under load the batches grow.
type deliveryBatcher struct {
	mu      sync.Mutex
	queue   []*pendingDelivery
	writing bool
}

type pendingDelivery struct {
	d    connector.Delivery
	done chan error
}

// recordDelivered queues d and waits until its batch is committed. A caller whose ctx ends
// first gets ctx's error; its delivery may still be recorded, which is harmless: a delivery
// recorded again changes nothing.
func (s *Service) recordDelivered(ctx context.Context, d connector.Delivery) error {
	if d.At.IsZero() {
		d.At = s.now()
	}
	p := &pendingDelivery{d: d, done: make(chan error, 1)}
	b := &s.deliveries
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.writing
	b.writing = true
	b.mu.Unlock()
	if lead {
		go s.writeDeliveries()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeDeliveries writes batches until the queue is empty.
func (s *Service) writeDeliveries() {
	b := &s.deliveries
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxDeliveryBatch)
		if n == 0 {
			b.writing = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()

		// Not the callers' contexts: one leaving must not cancel the others' batch.
		ctx, cancel := context.WithTimeout(context.Background(), deliveryBatchTimeout)
		err := s.st.InTx(ctx, func(tx *sqlx.Tx) error { return s.writeDeliveryBatch(ctx, tx, batch) })
		cancel()
		if err != nil {
			// One delivery may be what failed the batch (a message naming a case or sub-case
			// this store does not hold, say): each is recorded on its own, so that the others
			// are not held back by it and its own outcome reaches its caller.
			for _, p := range batch {
				ctx, cancel := context.WithTimeout(context.Background(), deliveryBatchTimeout)
				p.done <- s.recordDelivery(ctx, p.d, "delivered", "")
				cancel()
			}
			continue
		}
		for _, p := range batch {
			p.done <- err
		}
	}
}

// writeDeliveryBatch records a batch of deliveries: their rows, one timeline step each on the
// cases whose sub-case had not been delivered yet, and the sub-cases' delivery time. The cases'
// rows are taken (for their timeline numbers) before the sub-cases', as a department's callback
// takes them, so that the two never wait for each other in a cycle; and only this writer
// records deliveries, so two batches never do either.
func (s *Service) writeDeliveryBatch(ctx context.Context, tx *sqlx.Tx, batch []*pendingDelivery) error {
	rows := make([][]any, 0, len(batch))
	seen := map[string]bool{}
	for _, p := range batch {
		d := p.d
		if seen[d.EventID] {
			continue // the same message twice in one batch: one row
		}
		seen[d.EventID] = true
		rows = append(rows, []any{d.EventID, d.SubcaseID, d.Department, "delivered", d.Status, d.Attempts, "", store.NewTimestamp(d.At)})
	}
	// A repeat changes nothing; a replayed dead letter that now got through turns "failed"
	// into "delivered". RETURNING names the rows that changed: those get a step.
	var changed []string
	tuple := "(?, ?, ?, ?, ?, ?, ?, ?)"
	args := make([]any, 0, len(rows)*8)
	for _, r := range rows {
		args = append(args, r...)
	}
	if err := tx.SelectContext(ctx, &changed, tx.Rebind(`INSERT INTO deliveries (event_id, subcase_id, department, outcome, status, attempts, reason, at)
		VALUES `+strings.TrimSuffix(strings.Repeat(tuple+", ", len(rows)), ", ")+` ON CONFLICT (event_id) DO UPDATE SET outcome = excluded.outcome,
		status = excluded.status, attempts = excluded.attempts, reason = excluded.reason, at = excluded.at
		WHERE deliveries.outcome <> excluded.outcome RETURNING event_id`), args...); err != nil {
		return fmt.Errorf("recording deliveries: %w", err)
	}
	isChanged := make(map[string]bool, len(changed))
	for _, id := range changed {
		isChanged[id] = true
	}
	var todo []connector.Delivery
	for _, p := range batch {
		if isChanged[p.d.EventID] && p.d.SubcaseID != "" {
			todo = append(todo, p.d)
			delete(isChanged, p.d.EventID)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	// The case of each sub-case is the one its message named (the hub wrote it); the
	// sub-cases' update below checks it, and a batch where one is wrong is recorded again one
	// delivery at a time, where each sub-case's case is looked up.
	steps := map[string][]connector.Delivery{} // by case
	for _, d := range todo {
		if d.CaseID == "" {
			return errors.New("recording deliveries: a message named no case")
		}
		steps[d.CaseID] = append(steps[d.CaseID], d)
	}
	caseIDs := make([]string, 0, len(steps))
	for c := range steps {
		caseIDs = append(caseIDs, c)
	}
	sort.Strings(caseIDs)
	// Number the steps: each case's event_seq grows by its count of steps.
	var when strings.Builder
	seqArgs := make([]any, 0, 3*len(caseIDs))
	for _, c := range caseIDs {
		when.WriteString(" WHEN ? THEN CAST(? AS INTEGER)")
		seqArgs = append(seqArgs, c, len(steps[c]))
	}
	for _, c := range caseIDs {
		seqArgs = append(seqArgs, c)
	}
	var numbered []struct {
		ID  string `db:"id"`
		Seq int    `db:"event_seq"`
	}
	cases := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(caseIDs)), ", ") + `)`
	if s.st.Dialect() == store.DialectPostgres {
		// The rows taken in the order of their ids, as a batch of department events takes
		// them, so that the two never wait for each other in a cycle.
		cases = `(SELECT id FROM cases WHERE id IN ` + cases + ` ORDER BY id FOR NO KEY UPDATE)`
	}
	if err := tx.SelectContext(ctx, &numbered, tx.Rebind(`UPDATE cases SET event_seq = event_seq + CASE id`+when.String()+` END
		WHERE id IN `+cases+` RETURNING id, event_seq`), seqArgs...); err != nil {
		return fmt.Errorf("numbering the timeline: %w", err)
	}
	if len(numbered) != len(caseIDs) {
		return errors.New("recording deliveries: a message named a case this store does not hold")
	}
	var events [][]any
	var deliveredIDs []string
	var deliveredAt []any
	for _, n := range numbered {
		ds := steps[n.ID]
		seq := n.Seq - len(ds)
		for _, d := range ds {
			seq++
			detail := fmt.Sprintf("%s system took it (HTTP %d, attempt %d)", s.deptName(d.Department), d.Status, d.Attempts)
			if d.Status == 0 {
				// Not over HTTP: the department consumed it from Kafka (or its front-end database).
				detail = s.deptName(d.Department) + " system took it"
			}
			events = append(events, []any{n.ID, seq, store.NewTimestamp(d.At), d.SubcaseID, StepDelivered, detail, "", store.JSONOf(map[string]any{})})
			deliveredIDs = append(deliveredIDs, d.SubcaseID)
			deliveredAt = append(deliveredAt, d.SubcaseID, store.NewTimestamp(d.At))
		}
	}
	if err := store.InsertRows(ctx, tx, "case_events", caseEventColumns, events); err != nil {
		return fmt.Errorf("recording the timeline: %w", err)
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(deliveredIDs)), ", ")
	upArgs := append(deliveredAt, anySlice(deliveredIDs)...)
	var updated []struct {
		ID     string `db:"id"`
		CaseID string `db:"case_id"`
	}
	if err := tx.SelectContext(ctx, &updated, tx.Rebind(`UPDATE subcases SET delivered_at = CASE id`+strings.Repeat(" WHEN ? THEN CAST(? AS BIGINT)", len(deliveredIDs))+` END,
		delivery_error = '' WHERE id IN (`+in+`) RETURNING id, case_id`), upArgs...); err != nil {
		return err
	}
	caseOf := make(map[string]string, len(updated))
	for _, u := range updated {
		caseOf[u.ID] = u.CaseID
	}
	for _, d := range todo {
		if caseOf[d.SubcaseID] != d.CaseID {
			return errors.New("recording deliveries: a sub-case is not in the case its message named")
		}
	}
	return nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
