package frontdb_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/frontdb"
	"yjshub/hub/bus"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
)

// TestConformance runs the connector conformance suite with a department system that reads
// the staging table and writes the result table, on the embedded broker with SQLite and
// PostgreSQL and, when YJSHUB_TEST_KAFKA names one, on Apache Kafka.
func TestConformance(t *testing.T) {
	features := connectortest.Features{
		Ordered:         true,
		Restartable:     true,
		ResultsFlowBack: true,
		// The department's side of the exchange is its database: it cannot answer an insert
		// with a 5xx or a refusal, and the hub calls no endpoint that a breaker would guard.
		// A database that fails is retried (TestStagingWaitsForTheDatabaseAndCommitsOnlyAfterTheRowIsWritten).
		Retries: false, PermanentFailures: false, Breaker: false,
	}
	connectortest.RunOnEach(t, features, backends(t),
		func(t *testing.T, env connectortest.Env, b *bus.Bus, be connectortest.Backend) connectortest.Harness {
			return newSuiteHarness(t, b, openDB(t, be), env)
		})
}

// suiteHarness is a department system on its exchange database: it picks up the staged
// sub-cases and writes its results into the result table.
type suiteHarness struct {
	*connectortest.HarnessBase
	db   database
	side *sqlx.DB
	env  connectortest.Env
}

func newSuiteHarness(t *testing.T, b *bus.Bus, db database, env connectortest.Env) *suiteHarness {
	h := &suiteHarness{HarnessBase: connectortest.NewHarnessBase(t, b), db: db, env: env, side: openSide(t, db)}
	pollCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.pickUp(pollCtx) }()
	t.Cleanup(func() { stop(); <-done }) // before the connection closes
	return h
}

func (h *suiteHarness) NewConnector(t *testing.T) connector.Connector {
	results := frontdb.ResultsFunc(func(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (*cases.EventResult, bool, error) {
		return nil, false, h.env.Events.ApplyEvent(ctx, subcaseID, ev)
	})
	c, err := frontdb.New(frontdb.Config{Department: h.Department(), Driver: h.db.driver, DSN: h.db.dsn, PollInterval: 5 * time.Millisecond},
		h.Bus(), h.env.Recorder, results, frontdb.WithLogger(h.env.Logger))
	if err != nil {
		t.Fatalf("frontdb.New: %v", err)
	}
	return c
}

// Report writes ev into the result table, as the department's system does; a repeat of a
// result_id is the department writing the same row again, which the key absorbs.
func (h *suiteHarness) Report(t *testing.T, subcaseID string, ev event.DepartmentEvent) {
	t.Helper()
	text := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	asJSON := func(v any, empty bool) any {
		if empty {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var at any
	if !ev.Time.IsZero() {
		at = ev.Time.Format(time.RFC3339Nano)
	}
	if _, err := h.side.ExecContext(t.Context(), h.side.Rebind(`INSERT INTO yjs_result_out
		(result_id, subcase_id, type, time, comment, reason, decision_number, licences_json, missing_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (result_id) DO NOTHING`),
		ev.EventID, subcaseID, ev.Type, at, text(ev.Comment), text(ev.Reason), text(ev.DecisionNumber),
		asJSON(ev.Licences, ev.Licences == nil), asJSON(ev.Missing, ev.Missing == nil)); err != nil {
		t.Fatalf("write the result: %v", err)
	}
}

// pickUp is the department system: every few milliseconds (its polling interval) it takes the
// staged rows not picked up yet, in seq order, and marks them picked up.
func (h *suiteHarness) pickUp(ctx context.Context) {
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var rows []struct {
			ID         string `db:"id"`
			CaseID     string `db:"case_id"`
			SubcaseID  string `db:"subcase_id"`
			Department string `db:"department"`
			Form       string `db:"form_json"`
			Materials  string `db:"materials_json"`
			Envelope   string `db:"envelope_json"`
		}
		// The table appears once the connector has migrated the database.
		if err := h.side.SelectContext(ctx, &rows, `SELECT id, case_id, subcase_id, department, form_json, materials_json,
			envelope_json FROM yjs_subcase_in WHERE picked_up_at IS NULL ORDER BY seq`); err != nil {
			continue
		}
		for _, r := range rows {
			rec := connectortest.ReceivedFrom(r.ID, []byte(r.Envelope))
			rec.CaseID, rec.SubcaseID, rec.Department = r.CaseID, r.SubcaseID, r.Department
			rec.Form, rec.Materials = nil, nil
			_ = json.Unmarshal([]byte(r.Form), &rec.Form)
			_ = json.Unmarshal([]byte(r.Materials), &rec.Materials)
			if _, err := h.side.ExecContext(ctx, h.side.Rebind(`UPDATE yjs_subcase_in SET picked_up_at = ? WHERE id = ?`),
				time.Now().UTC().Format(time.RFC3339Nano), r.ID); err != nil {
				break
			}
			h.Saw(rec)
		}
	}
}
