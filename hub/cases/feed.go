package cases

import (
	"context"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
	"yjshub/hub/store"
	"yjshub/problem"
)

// The change feed (GET /api/v1/events) is the applicant-facing steps of the timeline
// (case_events rows with a text), numbered across cases by feed_seq. A step is numbered only
// after its transaction has committed — by the first reader that finds it unnumbered, under a
// lock — so numbers only grow in the order steps become visible, and a cursor never skips a
// step that committed late.

// feedLock is the PostgreSQL advisory lock key under which steps are numbered.
const feedLock = 7_310_014

// FeedQuery selects feed entries.
type FeedQuery struct {
	// Owner limits the feed to one client's cases; AllOwners lifts the limit (operators).
	Owner     string
	AllOwners bool
	// AllSteps adds the steps applicants are not shown (a sub-case delivered to its
	// department's system, or not): for operators.
	AllSteps bool
	// After is the cursor of the last entry seen ("" or "0": from the start).
	After string
	// Limit bounds the page (default 100, at most 1000).
	Limit int
	// Wait, when no entry is there yet, is how long to wait for one (long poll; at most 60s).
	Wait time.Duration
}

// FeedEntry is one step of one case, as a platform follows it.
type FeedEntry struct {
	Cursor      string         `json:"cursor"`
	CaseID      string         `json:"case_id"`
	ExternalRef string         `json:"external_ref,omitempty"`
	SubcaseID   string         `json:"subcase_id,omitempty"`
	Type        string         `json:"type"`
	Label       string         `json:"label"`
	Text        string         `json:"text"`
	At          time.Time      `json:"at"`
	Data        map[string]any `json:"data"`
}

// Feed is a page of the change feed. Next is the cursor to ask after next time: the last
// entry's, or the one asked after when there is none.
type Feed struct {
	Items []FeedEntry `json:"items"`
	Next  string      `json:"next"`
}

// feedPoll is how often a long poll looks for steps committed by other hub instances.
const feedPoll = time.Second

// Events returns the feed entries after a cursor, waiting up to q.Wait for one when there is
// none yet.
func (s *Service) Events(ctx context.Context, q FeedQuery) (*Feed, error) {
	var ps problem.List
	after := int64(0)
	if q.After != "" {
		n, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || n < 0 {
			ps.Add("after", problem.RuleInvalid, "must be a cursor the feed gave (a non-negative integer)")
		}
		after = n
	}
	switch {
	case q.Limit == 0:
		q.Limit = 100
	case q.Limit < 1 || q.Limit > 1000:
		ps.Add("limit", problem.RuleMaximum, "must be 1 to 1000")
	}
	if q.Wait < 0 || q.Wait > time.Minute {
		ps.Add("wait", problem.RuleMaximum, "must be 0s to 60s")
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	until := time.Now().Add(q.Wait)
	for {
		signal := s.feedSignal()
		if err := s.sequence(ctx); err != nil {
			return nil, err
		}
		f, err := s.readFeed(ctx, q, after)
		if err != nil || len(f.Items) > 0 {
			return f, err
		}
		left := time.Until(until)
		if left <= 0 {
			return f, nil
		}
		t := time.NewTimer(min(left, feedPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return f, nil
		case <-signal:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) readFeed(ctx context.Context, q FeedQuery, after int64) (*Feed, error) {
	sql := `SELECT e.feed_seq, e.case_id, c.external_ref, e.subcase_id, e.type, e.text, e.at, e.data
		FROM case_events e JOIN cases c ON c.id = e.case_id WHERE e.feed_seq > ?`
	if !q.AllSteps {
		sql += ` AND e.text <> ''`
	}
	args := []any{after}
	if !q.AllOwners {
		sql += ` AND c.owner = ?`
		args = append(args, q.Owner)
	}
	sql += ` ORDER BY e.feed_seq LIMIT ?`
	args = append(args, q.Limit)
	var rows []struct {
		Seq         int64                      `db:"feed_seq"`
		CaseID      string                     `db:"case_id"`
		ExternalRef string                     `db:"external_ref"`
		SubcaseID   string                     `db:"subcase_id"`
		Type        string                     `db:"type"`
		Text        string                     `db:"text"`
		At          store.Timestamp            `db:"at"`
		Data        store.JSON[map[string]any] `db:"data"`
	}
	db := s.st.DB()
	if err := db.SelectContext(ctx, &rows, db.Rebind(sql), args...); err != nil {
		return nil, err
	}
	f := &Feed{Items: []FeedEntry{}, Next: strconv.FormatInt(after, 10)}
	for _, r := range rows {
		data := r.Data.V
		if data == nil {
			data = map[string]any{}
		}
		f.Items = append(f.Items, FeedEntry{Cursor: strconv.FormatInt(r.Seq, 10), CaseID: r.CaseID, ExternalRef: r.ExternalRef,
			SubcaseID: r.SubcaseID, Type: r.Type, Label: label(StepLabels, r.Type), Text: r.Text, At: r.At.In(deadline.China), Data: data})
		f.Next = strconv.FormatInt(r.Seq, 10)
	}
	return f, nil
}

// sequence numbers the committed steps that have no feed number yet, in the order of their
// time, after the highest number given.
func (s *Service) sequence(ctx context.Context) error {
	db := s.st.DB()
	var pending []int
	if err := db.SelectContext(ctx, &pending, `SELECT 1 FROM case_events WHERE feed_seq IS NULL LIMIT 1`); err != nil || len(pending) == 0 {
		return err
	}
	return s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		if s.st.Dialect() == store.DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, feedLock); err != nil {
				return err
			}
		}
		// One statement numbers the batch: the steps without a number, in the order of their
		// time, each after the highest number given (IS NOT NULL: read from the partial index
		// of the numbers, not the whole table).
		_, err := tx.ExecContext(ctx, `UPDATE case_events AS e SET feed_seq = n.num
			FROM (SELECT case_id, seq, (SELECT COALESCE(MAX(feed_seq), 0) FROM case_events WHERE feed_seq IS NOT NULL) + ROW_NUMBER() OVER (ORDER BY at, case_id, seq) AS num
				FROM case_events WHERE feed_seq IS NULL ORDER BY at, case_id, seq LIMIT 1000) AS n
			WHERE e.case_id = n.case_id AND e.seq = n.seq`)
		return err
	})
}

// feedSignal returns a channel closed at the next commit of this service that added steps.
func (s *Service) feedSignal() <-chan struct{} {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.feedCh == nil {
		s.feedCh = make(chan struct{})
	}
	return s.feedCh
}

// committed is called after a transaction that changed a case committed: the relay publishes
// what it enqueued, and long polls of the feed look again.
func (s *Service) committed() {
	s.cfg.Notify()
	s.feedMu.Lock()
	if s.feedCh != nil {
		close(s.feedCh)
		s.feedCh = nil
	}
	s.feedMu.Unlock()
}
