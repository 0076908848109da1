// Package deadletter keeps the messages connectors could not deliver for good — refused by the
// external system, given up after the configured attempts, or undecodable — with the reason,
// so that operators can see them (GET /api/v1/dlq, yjshub dlq list) and replay them once the
// cause is mended (POST /api/v1/dlq/{id}/replay, yjshub dlq replay). A replay publishes the
// message again, unchanged, to the topic it came from: it keeps its envelope id, so the
// external system recognises a message it already has by its Idempotency-Key.
//
// Every dead letter is also published to the Kafka topic yjs.dlq.<kind>.<target>, for tools
// that watch Kafka rather than the hub's API.
package deadletter

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"yjshub/hub/bus"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/store"
)

// ErrNotFound: no dead letter with that id.
var ErrNotFound = errors.New("dead letter not found")

// ErrNotReplayable: the dead letter did not come from a Kafka topic (a front-end database's
// result row, say), so there is nothing to publish again; mend it at its source.
var ErrNotReplayable = errors.New("dead letter not replayable")

// States of a dead letter.
const (
	StateDead     = "dead"     // waiting for an operator
	StateReplayed = "replayed" // published again
)

// Letter is a dead letter. Payload holds personal data: it is served to operators through the
// API, never logged.
type Letter struct {
	ID          string     `json:"id" db:"id"`
	Connector   string     `json:"connector" db:"connector"`
	Department  string     `json:"department,omitempty" db:"department"`
	EventID     string     `json:"event_id,omitempty" db:"event_id"`
	CaseID      string     `json:"case_id,omitempty" db:"case_id"`
	SubcaseID   string     `json:"subcase_id,omitempty" db:"subcase_id"`
	Topic       string     `json:"topic" db:"topic"`
	Partition   int        `json:"partition" db:"partition_no"`
	Offset      int64      `json:"offset" db:"offset_no"`
	Key         string     `json:"key,omitempty" db:"msg_key"`
	Payload     string     `json:"-" db:"payload"`
	Reason      string     `json:"reason" db:"reason"`
	Status      int        `json:"status,omitempty" db:"status"`
	Attempts    int        `json:"attempts" db:"attempts"`
	State       string     `json:"state" db:"state"`
	CreatedAt   time.Time  `json:"created_at" db:"-"`
	ReplayedAt  *time.Time `json:"replayed_at,omitempty" db:"-"`
	ReplayCount int        `json:"replay_count" db:"replay_count"`
}

type row struct {
	Letter
	Created  store.Timestamp `db:"created_at"`
	Replayed store.Timestamp `db:"replayed_at"`
}

func (r row) letter() Letter {
	l := r.Letter
	l.CreatedAt = r.Created.Time
	if !r.Replayed.IsZero() {
		t := r.Replayed.Time
		l.ReplayedAt = &t
	}
	return l
}

// Store keeps dead letters in the hub's SQL store and replays them through the bus.
type Store struct {
	st  *store.Store
	bus *bus.Bus
	now func() time.Time
}

// New returns a dead-letter store.
func New(st *store.Store, b *bus.Bus) *Store {
	return &Store{st: st, bus: b, now: time.Now}
}

// Topic is the Kafka topic that mirrors a connector's dead letters.
func Topic(connectorName string) string {
	return bus.DLQTopic(strings.ReplaceAll(connectorName, ":", "."))
}

// encodePayload keeps a payload as text: UTF-8 JSON as it is, anything else base64 with a
// prefix, so the store never refuses a poison message.
func encodePayload(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsRune(string(b), 0) {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}

func decodePayload(s string) []byte {
	if rest, ok := strings.CutPrefix(s, "base64:"); ok {
		if b, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return b
		}
	}
	return []byte(s)
}

// Add keeps a failed message. The same message (connector, topic, partition, offset) is kept
// once. The copy for yjs.dlq.* goes through the outbox in the same transaction.
func (s *Store) Add(ctx context.Context, f connector.Failure) (string, error) {
	id := "dl_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
	at := f.At
	if at.IsZero() {
		at = s.now()
	}
	payload := encodePayload(f.Payload)
	err := s.st.InTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO dead_letters (id, connector, department, event_id, case_id, subcase_id, topic, partition_no, offset_no,
			msg_key, payload, reason, status, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (connector, topic, partition_no, offset_no) DO NOTHING`),
			id, f.Connector, f.Department, f.EventID, f.CaseID, f.SubcaseID, f.Topic, f.Partition, f.Offset,
			encodePayload(f.Key), payload, f.Reason, f.Status, f.Attempts, store.NewTimestamp(at))
		if err != nil {
			return fmt.Errorf("keeping a dead letter: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM dead_letters WHERE connector = ? AND topic = ? AND partition_no = ? AND offset_no = ?`),
				f.Connector, f.Topic, f.Partition, f.Offset)
		}
		return s.st.EnqueueOutbox(ctx, tx, store.OutboxMessage{EventID: id, Topic: Topic(f.Connector), Key: string(f.Key),
			Payload: []byte(payload), Headers: map[string]string{"dlq_connector": f.Connector, "dlq_reason": f.Reason, "dlq_id": id}})
	})
	return id, err
}

// Filter selects dead letters.
type Filter struct {
	Connector string // empty: all
	State     string // empty: all
	Limit     int    // default 100, at most 1000
}

// List returns dead letters, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Letter, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	q := `SELECT * FROM dead_letters WHERE 1 = 1`
	var args []any
	if f.Connector != "" {
		q += ` AND connector = ?`
		args = append(args, f.Connector)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, f.Limit)
	var rows []row
	if err := s.st.DB().SelectContext(ctx, &rows, s.st.DB().Rebind(q), args...); err != nil {
		return nil, err
	}
	out := make([]Letter, len(rows))
	for i, r := range rows {
		out[i] = r.letter()
	}
	return out, nil
}

// Counts returns the number of dead letters waiting per connector.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Connector string `db:"connector"`
		N         int64  `db:"n"`
	}
	if err := s.st.DB().SelectContext(ctx, &rows, s.st.DB().Rebind(`SELECT connector, COUNT(*) AS n FROM dead_letters WHERE state = ? GROUP BY connector`), StateDead); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Connector] = r.N
	}
	return out, nil
}

// StateCount is the number of one connector's dead letters in one state.
type StateCount struct {
	Connector string `db:"connector"`
	State     string `db:"state"`
	N         int64  `db:"n"`
}

// CountsByState counts the dead letters per connector and state, replayed ones included (for
// the hub's metrics). It reads only the index on (connector, state).
func (s *Store) CountsByState(ctx context.Context) ([]StateCount, error) {
	var out []StateCount
	if err := s.st.DB().SelectContext(ctx, &out, `SELECT connector, state, COUNT(*) AS n FROM dead_letters GROUP BY connector, state ORDER BY connector, state`); err != nil {
		return nil, fmt.Errorf("counting dead letters: %w", err)
	}
	return out, nil
}

// Get returns one dead letter.
func (s *Store) Get(ctx context.Context, id string) (Letter, error) {
	var r row
	err := s.st.DB().GetContext(ctx, &r, s.st.DB().Rebind(`SELECT * FROM dead_letters WHERE id = ?`), id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Letter{}, ErrNotFound
		}
		return Letter{}, err
	}
	return r.letter(), nil
}

// PayloadBytes returns a dead letter's message as it was consumed.
func (l Letter) PayloadBytes() []byte { return decodePayload(l.Payload) }

// Replay publishes a dead letter again to the topic it came from, with its key and payload
// unchanged, and marks it replayed. Replaying a replayed letter publishes it again.
func (s *Store) Replay(ctx context.Context, id string) (Letter, error) {
	l, err := s.Get(ctx, id)
	if err != nil {
		return Letter{}, err
	}
	if bus.ValidateTopic(l.Topic) != nil {
		return Letter{}, fmt.Errorf("%w: it came from %s, not from a Kafka topic; mend it there", ErrNotReplayable, l.Topic)
	}
	msg := bus.Message{Topic: l.Topic, Key: decodePayload(l.Key), Value: l.PayloadBytes(),
		Headers: event.KafkaHeaders(map[string]string{"dlq_replay_of": l.ID})} // a CloudEvent in structured mode, as the relay writes
	if err := s.bus.Publish(ctx, msg); err != nil {
		return Letter{}, fmt.Errorf("replaying %s: %w", id, err)
	}
	if _, err := s.st.DB().ExecContext(ctx, s.st.DB().Rebind(`UPDATE dead_letters SET state = ?, replayed_at = ?, replay_count = replay_count + 1 WHERE id = ?`),
		StateReplayed, store.NewTimestamp(s.now()), id); err != nil {
		return Letter{}, err
	}
	return s.Get(ctx, id)
}
