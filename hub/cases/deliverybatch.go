package cases

import (
	"context"
	"database/sql"
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
// one transaction of four statements, whatever their number (group commit): the first caller
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
				p.done <- s.recordDeliveredAlone(ctx, p.d)
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
// cases whose sub-case had not been delivered yet, and the sub-cases' delivery time. A
// sub-case's first delivery step takes the number reserved for it when it was dispatched, so
// recording it takes the sub-case's row and not the case's; only a later message's step is
// numbered from its case's row.
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
		status = excluded.status, attempts = excluded.attempts, reason = excluded.reason, at = excluded.at, next_attempt_at = NULL
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
	// Each sub-case's case, and the number reserved for its first delivery step when it was
	// dispatched: read, not held. A batch where a message names another case than its
	// sub-case's is recorded again one delivery at a time.
	subIDs := make([]string, 0, len(todo))
	for _, d := range todo {
		if d.CaseID == "" {
			return errors.New("recording deliveries: a message named no case")
		}
		subIDs = append(subIDs, d.SubcaseID)
	}
	q, qargs, err := sqlx.In(`SELECT id, case_id, delivered_seq FROM subcases WHERE id IN (?)`, subIDs)
	if err != nil {
		return err
	}
	var subs []struct {
		ID     string        `db:"id"`
		CaseID string        `db:"case_id"`
		Seq    sql.NullInt64 `db:"delivered_seq"`
	}
	if err := tx.SelectContext(ctx, &subs, tx.Rebind(q), qargs...); err != nil {
		return fmt.Errorf("reading the sub-cases: %w", err)
	}
	type sub struct {
		caseID string
		seq    int
	}
	bySub := make(map[string]*sub, len(subs))
	for _, r := range subs {
		bySub[r.ID] = &sub{caseID: r.CaseID, seq: int(r.Seq.Int64)} // 0: none reserved
	}
	// Each step takes its sub-case's reserved number, once; the others (a later message, a
	// sub-case dispatched before numbers were reserved) are numbered from their case's
	// event_seq, the cases' rows taken in the order of their ids, as a batch of department
	// events takes them, so that the two never wait for each other in a cycle.
	seqOf := make([]int, len(todo))
	counted := map[string]int{} // by case
	for i, d := range todo {
		sc := bySub[d.SubcaseID]
		if sc == nil || sc.caseID != d.CaseID {
			return errors.New("recording deliveries: a sub-case is not in the case its message named")
		}
		if sc.seq > 0 {
			seqOf[i], sc.seq = sc.seq, 0
			continue
		}
		counted[d.CaseID]++
	}
	if len(counted) > 0 {
		caseIDs := make([]string, 0, len(counted))
		for c := range counted {
			caseIDs = append(caseIDs, c)
		}
		sort.Strings(caseIDs)
		var when strings.Builder
		seqArgs := make([]any, 0, 3*len(caseIDs))
		for _, c := range caseIDs {
			when.WriteString(" WHEN ? THEN CAST(? AS INTEGER)")
			seqArgs = append(seqArgs, c, counted[c])
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
			cases = `(SELECT id FROM cases WHERE id IN ` + cases + ` ORDER BY id FOR NO KEY UPDATE)`
		}
		if err := tx.SelectContext(ctx, &numbered, tx.Rebind(`UPDATE cases SET event_seq = event_seq + CASE id`+when.String()+` END
			WHERE id IN `+cases+` RETURNING id, event_seq`), seqArgs...); err != nil {
			return fmt.Errorf("numbering the timeline: %w", err)
		}
		if len(numbered) != len(caseIDs) {
			return errors.New("recording deliveries: a message named a case this store does not hold")
		}
		next := map[string]int{}
		for _, n := range numbered {
			next[n.ID] = n.Seq - counted[n.ID]
		}
		for i, d := range todo {
			if seqOf[i] == 0 {
				next[d.CaseID]++
				seqOf[i] = next[d.CaseID]
			}
		}
	}
	var events [][]any
	deliveredIDs := make([]string, 0, len(todo))
	var deliveredAt []any
	for i, d := range todo {
		detail := fmt.Sprintf("%s system took it (HTTP %d, attempt %d)", s.deptName(d.Department), d.Status, d.Attempts)
		if d.Status == 0 {
			// Not over HTTP: the department consumed it from Kafka (or its front-end database).
			detail = s.deptName(d.Department) + " system took it"
		}
		events = append(events, []any{d.CaseID, seqOf[i], store.NewTimestamp(d.At), d.SubcaseID, StepDelivered, detail, "", store.JSONOf(map[string]any{})})
		deliveredIDs = append(deliveredIDs, d.SubcaseID)
		deliveredAt = append(deliveredAt, d.SubcaseID, store.NewTimestamp(d.At))
	}
	if err := store.InsertRows(ctx, tx, "case_events", caseEventColumns, events); err != nil {
		return fmt.Errorf("recording the timeline: %w", err)
	}
	// The sub-cases' delivery time (of a sub-case's first delivery in the batch); their
	// reserved numbers are taken.
	in := strings.TrimSuffix(strings.Repeat("?, ", len(deliveredIDs)), ", ")
	upArgs := append(deliveredAt, anySlice(deliveredIDs)...)
	_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE subcases SET delivered_at = CASE id`+strings.Repeat(" WHEN ? THEN CAST(? AS BIGINT)", len(deliveredIDs))+` END,
		delivery_error = '', delivered_seq = NULL WHERE id IN (`+in+`)`), upArgs...)
	return err
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
