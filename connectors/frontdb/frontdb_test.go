package frontdb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/connectors/connectortest"
	"yjshub/connectors/frontdb"
	"yjshub/hub/blobs"
	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/hub/hubtest"
	"yjshub/hub/links"
	"yjshub/hub/store/storetest"
	"yjshub/problem"
)

// The case service is what the hub wires in as Results.
var _ frontdb.Results = (*cases.Service)(nil)

// database is a department's exchange database for one test: the driver and DSN the
// connector opens.
type database struct {
	driver, dsn string
}

func sqliteDatabase(t *testing.T) database {
	return database{driver: frontdb.DriverSQLite, dsn: filepath.Join(t.TempDir(), "qzk.db")}
}

// postgresDatabase is a fresh schema of the test PostgreSQL, found through search_path.
func postgresDatabase(t *testing.T) database {
	return database{driver: frontdb.DriverPostgres, dsn: storetest.PostgresSchemaURL(t)}
}

// backends returns the embedded broker with an SQLite and a PostgreSQL exchange database (the
// latter skipped without YJSHUB_TEST_DATABASE_URL), and Apache Kafka with PostgreSQL (or
// SQLite) when YJSHUB_TEST_KAFKA names a broker. With YJSHUB_REQUIRE_REAL set, a missing real
// service fails the test.
func backends(t *testing.T) []connectortest.Backend {
	t.Helper()
	return connectortest.BackendsWithDatabase(t, "yjshub-frontdb-test")
}

// openDB returns the backend's exchange database.
func openDB(t *testing.T, be connectortest.Backend) database {
	if be.Postgres {
		return postgresDatabase(t)
	}
	return sqliteDatabase(t)
}

func onEachBackend(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Helper()
	connectortest.OnEach(t, backends(t), func(t *testing.T, be connectortest.Backend) {
		d := openDB(t, be)
		test(t, newHarness(connectortest.NewRig(t, be.Open(t), 0), d))
	})
}

// harness is the shared rig with the department's exchange database and the case service.
type harness struct {
	*connectortest.Rig
	db      database
	results *fakeCases
	side    *sqlx.DB // the department's own connection
}

func newHarness(r *connectortest.Rig, db database) *harness {
	h := &harness{Rig: r, db: db, results: newFakeCases()}
	h.side = openSide(h.T, db)
	return h
}

// openSide opens the department's own connection to its exchange database, closed when the
// test ends.
func openSide(t *testing.T, db database) *sqlx.DB {
	t.Helper()
	dsn := db.dsn
	if db.driver == frontdb.DriverSQLite {
		dsn += "?_pragma=busy_timeout(10000)"
	}
	side, err := sqlx.Open(db.driver, dsn)
	if err != nil {
		t.Fatalf("open the department's connection: %v", err)
	}
	side.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = side.Close() })
	return side
}

func (h *harness) config() frontdb.Config {
	return frontdb.Config{Department: h.Dept, Driver: h.db.driver, DSN: h.db.dsn, PollInterval: 10 * time.Millisecond}
}

func (h *harness) connector(cfg frontdb.Config) *frontdb.Connector {
	h.T.Helper()
	c, err := frontdb.New(cfg, h.Bus, h.Rec, h.results, frontdb.WithLogger(h.Log))
	if err != nil {
		h.T.Fatalf("New: %v", err)
	}
	return c
}

func (h *harness) lag() int64 {
	h.T.Helper()
	return h.Lag("yjshub-frontdb-" + h.Dept)
}

// count counts the rows of table matching where (which may be empty).
func (h *harness) count(table, where string) int {
	h.T.Helper()
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := h.side.GetContext(h.Ctx, &n, q); err != nil {
		return -1 // the table may not exist yet
	}
	return n
}

func (h *harness) exec(q string, args ...any) {
	h.T.Helper()
	if _, err := h.side.ExecContext(h.Ctx, h.side.Rebind(q), args...); err != nil {
		h.T.Fatalf("%s: %v", q, err)
	}
}

// result is a row the department writes into the result table.
type result struct {
	id, subcase, typ, time, reason, licences, missing, departmentRef string
}

func (h *harness) writeResults(rs ...result) {
	h.T.Helper()
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	// One transaction: a poll sees all of the rows or none.
	tx, err := h.side.BeginTxx(h.Ctx, nil)
	if err != nil {
		h.T.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, r := range rs {
		if _, err := tx.ExecContext(h.Ctx, tx.Rebind(`INSERT INTO yjs_result_out (result_id, subcase_id, type, time, reason, licences_json, missing_json,
			department_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.id, r.subcase, r.typ, null(r.time), null(r.reason), null(r.licences), null(r.missing),
			null(r.departmentRef)); err != nil {
			h.T.Fatalf("insert result %s: %v", r.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		h.T.Fatal(err)
	}
}

// processed reads the result rows' processed_at and error, by result_id.
func (h *harness) processed() map[string]sql.NullString {
	h.T.Helper()
	var rows []struct {
		ID          string         `db:"result_id"`
		ProcessedAt sql.NullString `db:"processed_at"`
		Error       sql.NullString `db:"error"`
	}
	if err := h.side.SelectContext(h.Ctx, &rows, "SELECT result_id, processed_at, error FROM yjs_result_out"); err != nil {
		h.T.Fatalf("read results: %v", err)
	}
	out := map[string]sql.NullString{}
	for _, r := range rows {
		if r.ProcessedAt.Valid {
			out[r.ID] = r.Error
		}
	}
	return out
}

// subcase builds a dispatched sub-case envelope for the department, with a material.
func (h *harness) subcase(caseID string, form map[string]any) (id, subcaseID string, raw []byte) {
	h.T.Helper()
	return h.Dispatched(caseID, form, event.MaterialRef{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf",
		SHA256: strings.Repeat("ab", 32), Size: 182044, URI: "https://files.example/yyzz.pdf"})
}

func TestSubcasesAreStagedOnceAndCommittedAfterTheRowIsWritten(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(h.config())
		form := map[string]any{"SQRMC": "连云港海韵餐饮管理有限公司", "ZCZB": 100.5}
		id1, sc1, raw1 := h.subcase("cs-1", form)
		id2, _, raw2 := h.subcase("cs-1", nil)
		h.Publish("cs-1", raw1, raw2, raw1) // the repeat is a redelivery
		h.Start(c.Run)
		h.WaitFor("both sub-cases staged and every offset committed", func() bool {
			return h.count("yjs_subcase_in", "") == 2 && h.lag() == 0
		})

		var row struct {
			Seq        int64          `db:"seq"`
			ID         string         `db:"id"`
			EventType  string         `db:"event_type"`
			CaseID     string         `db:"case_id"`
			SubcaseID  string         `db:"subcase_id"`
			Matter     string         `db:"matter_code"`
			Department string         `db:"department"`
			Form       string         `db:"form_json"`
			Materials  string         `db:"materials_json"`
			Envelope   string         `db:"envelope_json"`
			CreatedAt  string         `db:"created_at"`
			PickedUp   sql.NullString `db:"picked_up_at"`
		}
		if err := h.side.GetContext(h.Ctx, &row, h.side.Rebind("SELECT * FROM yjs_subcase_in WHERE id = ?"), id1); err != nil {
			t.Fatalf("read the staged row: %v", err)
		}
		var gotForm map[string]any
		_ = json.Unmarshal([]byte(row.Form), &gotForm)
		var materials []event.MaterialRef
		_ = json.Unmarshal([]byte(row.Materials), &materials)
		created, err := time.Parse(time.RFC3339Nano, row.CreatedAt)
		if row.EventType != event.TypeSubcaseDispatched || row.CaseID != "cs-1" || row.SubcaseID != sc1 || row.Matter != "food-business-licence" || row.Department != h.Dept ||
			fmt.Sprint(gotForm) != fmt.Sprint(form) || len(materials) != 1 || materials[0].Size != 182044 ||
			row.Envelope != string(raw1) || err != nil || time.Since(created) > time.Minute || row.PickedUp.Valid {
			t.Errorf("staged row = %+v", row)
		}
		var emptyForm string
		if err := h.side.GetContext(h.Ctx, &emptyForm, h.side.Rebind("SELECT form_json FROM yjs_subcase_in WHERE id = ?"), id2); err != nil || emptyForm != "{}" {
			t.Errorf("a sub-case without a form has form_json %q (%v), want {}", emptyForm, err)
		}

		deliveries := h.Rec.Deliveries()
		seen := map[string]int{}
		for _, d := range deliveries {
			seen[d.EventID]++
			if d.Connector != "frontdb:"+h.Dept || d.Department != h.Dept || d.CaseID != "cs-1" {
				t.Errorf("delivery %+v", d)
			}
		}
		if seen[id1] != 2 || seen[id2] != 1 {
			t.Errorf("deliveries recorded %v; want %s twice (its redelivery recorded again) and %s once", seen, id1, id2)
		}
		if s := c.Status(); s.Delivered != 3 || s.Kind != "frontdb" || s.Topic != h.Topic || s.Detail["subcase_table"] != "yjs_subcase_in" {
			t.Errorf("status = %+v", s)
		}
	})
}

func TestResultsAreAppliedInOrderAndMarkedProcessed(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		h.results.add("sc-1", "sc-2")
		c := h.connector(h.config())
		h.Start(c.Run)
		// The last migration's column: every migration has run.
		h.WaitFor("the tables created", func() bool { return h.count("yjs_result_out", "department_ref IS NULL") == 0 })

		licences := `[{"type":"食品经营许可证","number":"JY13207070012345","holder":"连云港海韵餐饮管理有限公司",
			"holder_id":"91350100M000100Y43","holder_id_type":"uscc","issuer":"赣榆区行政审批局","issued_at":"2026-12-01",
			"valid_from":"2026-12-01","file":{"sha256":"` + strings.Repeat("9f", 32) + `","uri":"https://f.example/l.ofd","format":"ofd"}}]`
		h.writeResults(
			result{id: "r-1", subcase: "sc-1", typ: "accepted", time: "2026-11-27T10:00:00+08:00", departmentRef: "赣审受字第0042号"},
			result{id: "r-2", subcase: "sc-2", typ: "received", time: "2026-11-27 10:05:00"},
			result{id: "r-3", subcase: "sc-1", typ: "approved", licences: licences},
			result{id: "r-4", subcase: "sc-2", typ: "supplement_requested", missing: `[{"material":"lease-contract","note":"第二页"}]`},
		)
		h.WaitFor("every result processed", func() bool { return len(h.processed()) == 4 })

		for id, errCol := range h.processed() {
			if errCol.Valid {
				t.Errorf("result %s processed with error %q, want none", id, errCol.String)
			}
		}
		calls := h.results.snapshot()
		var order []string
		for _, cl := range calls {
			order = append(order, cl.ev.EventID)
		}
		if !slices.Equal(order, []string{"r-1", "r-2", "r-3", "r-4"}) {
			t.Errorf("applied %q, want the seq order r-1 … r-4", order)
		}
		byID := map[string]call{}
		for _, cl := range calls {
			byID[cl.ev.EventID] = cl
		}
		if cl := byID["r-1"]; cl.subcase != "sc-1" || cl.ev.Type != "accepted" || cl.ev.DepartmentRef != "赣审受字第0042号" ||
			!cl.ev.Time.Equal(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)) {
			t.Errorf("r-1 applied as %+v", cl)
		}
		if cl := byID["r-2"]; !cl.ev.Time.Equal(time.Date(2026, 11, 27, 2, 5, 0, 0, time.UTC)) {
			t.Errorf("r-2 (a time without a zone, in Beijing time) applied at %v", cl.ev.Time)
		}
		if cl := byID["r-3"]; len(cl.ev.Licences) != 1 || cl.ev.Licences[0].Number != "JY13207070012345" ||
			cl.ev.Licences[0].File.Format != "ofd" || !cl.ev.Time.IsZero() {
			t.Errorf("r-3 applied as %+v", cl.ev)
		}
		if cl := byID["r-4"]; len(cl.ev.Missing) != 1 || cl.ev.Missing[0].Material != "lease-contract" {
			t.Errorf("r-4 applied as %+v", cl.ev)
		}
		if got := h.results.state("sc-1"); got != "approved" {
			t.Errorf("sc-1 is %s, want approved", got)
		}
		h.WaitFor("the status to count the results", func() bool { return c.Status().Detail["results_applied"] == int64(4) })
		if s := c.Status(); s.LastSuccess == nil || s.Detail["results_refused"] != int64(0) {
			t.Errorf("status = %+v", s)
		}
	})
}

func TestARefusedResultIsDeadLetteredAndDoesNotBlockTheRest(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		h.results.add("sc-1", "sc-2")
		c := h.connector(h.config())
		h.Start(c.Run)
		// The last migration's column: every migration has run.
		h.WaitFor("the tables created", func() bool { return h.count("yjs_result_out", "department_ref IS NULL") == 0 })
		h.writeResults(
			result{id: "r-illegal", subcase: "sc-1", typ: "resumed"},                           // not suspended
			result{id: "r-invalid", subcase: "sc-1", typ: "rejected"},                          // no reason
			result{id: "r-licences", subcase: "sc-1", typ: "approved", licences: `{"x": 1}`},   // not an array
			result{id: "r-time", subcase: "sc-1", typ: "accepted", time: "yesterday"},          // not a time
			result{id: "r-unknown", subcase: "sc-404", typ: "accepted"},                        // no such sub-case
			result{id: "r-ok", subcase: "sc-1", typ: "accepted"},                               // goes through
			result{id: "r-ok-2", subcase: "sc-2", typ: "rejected", reason: "材料不全 13812345678"}, // goes through
		)
		h.WaitFor("every result processed", func() bool { return len(h.processed()) == 7 })

		want := map[string]string{
			"r-illegal":  "the hub refused the result: cannot go from dispatched to resumed",
			"r-invalid":  "the hub refused the result: invalid request: /reason: required",
			"r-licences": "licences_json: not a JSON array of licences",
			"r-time":     "time: not an RFC 3339 time",
			"r-unknown":  "the hub refused the result: no such sub-case",
		}
		got := h.processed()
		for id, reason := range want {
			if e := got[id]; !e.Valid || !strings.HasPrefix(e.String, reason) {
				t.Errorf("%s: error column %+v, want %q", id, e, reason)
			}
		}
		for _, id := range []string{"r-ok", "r-ok-2"} {
			if e := got[id]; e.Valid {
				t.Errorf("%s: error %q, want it applied", id, e.String)
			}
		}
		failures := h.Rec.Failures()
		if len(failures) != len(want) {
			t.Fatalf("recorded %d failures, want %d", len(failures), len(want))
		}
		var seqs []int64
		for _, f := range failures {
			var payload map[string]any
			if err := json.Unmarshal(f.Payload, &payload); err != nil || payload["result_id"] != f.EventID {
				t.Errorf("failure %s payload %s, want the row as JSON", f.EventID, f.Payload)
			}
			if !strings.HasPrefix(f.Reason, want[f.EventID]) || f.Topic != "frontdb:"+h.Dept+":results" ||
				f.Connector != "frontdb:"+h.Dept || f.Department != h.Dept || payload["seq"] != float64(f.Offset) {
				t.Errorf("failure %+v, reason %q, topic %s, offset %d", f.Delivery, f.Reason, f.Topic, f.Offset)
			}
			seqs = append(seqs, f.Offset)
		}
		if !slices.IsSorted(seqs) || seqs[0] == seqs[len(seqs)-1] {
			t.Errorf("dead-letter offsets %v, want the rows' distinct seq in order", seqs)
		}
		h.WaitFor("the status to count the results", func() bool {
			s := c.Status()
			return s.Detail["results_refused"] == int64(5) && s.Detail["results_applied"] == int64(2)
		})
		if s := c.Status(); s.Failed != 5 || s.DeadLetters != 5 || s.LastError == nil {
			t.Errorf("status = %+v", s)
		}
	})
}

func TestATransientFailureIsRetriedAndKeepsTheSubcasesOrder(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		h.results.add("sc-1", "sc-2")
		h.results.failOnce("r-1")
		c := h.connector(h.config())
		h.Start(c.Run)
		// The last migration's column: every migration has run.
		h.WaitFor("the tables created", func() bool { return h.count("yjs_result_out", "department_ref IS NULL") == 0 })
		h.writeResults(
			result{id: "r-1", subcase: "sc-1", typ: "accepted"},
			result{id: "r-2", subcase: "sc-1", typ: "approved"},
			result{id: "r-3", subcase: "sc-2", typ: "received"},
		)
		h.WaitFor("every result processed", func() bool { return len(h.processed()) == 3 })
		var order []string
		for _, cl := range h.results.snapshot() {
			order = append(order, cl.ev.EventID)
		}
		// r-1 fails; r-2, of the same sub-case, waits; r-3 goes on; the next poll applies both.
		if !slices.Equal(order, []string{"r-1", "r-3", "r-1", "r-2"}) {
			t.Errorf("attempts %q, want [r-1 r-3 r-1 r-2]", order)
		}
		for id, e := range h.processed() {
			if e.Valid {
				t.Errorf("%s processed with error %q", id, e.String)
			}
		}
		if failures := h.Rec.Failures(); len(failures) != 0 {
			t.Errorf("a transient failure was dead-lettered: %+v", failures)
		}
		h.WaitFor("the status to count the results", func() bool { return c.Status().Detail["results_applied"] == int64(3) })
		if s := c.Status(); s.Retries != 1 || !strings.Contains(s.LastErrorMessage, "applying the result failed") {
			t.Errorf("status = %+v", s)
		}
	})
}

func TestStagingWaitsForTheDatabaseAndCommitsOnlyAfterTheRowIsWritten(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(h.config())
		h.Start(c.Run)
		h.WaitFor("the connector polling", func() bool { return c.Status().Detail["last_poll"] != nil })
		h.exec("ALTER TABLE yjs_subcase_in RENAME TO yjs_subcase_away")
		id, _, raw := h.subcase("cs-w", nil)
		h.Publish("cs-w", raw)
		h.WaitFor("two failed attempts", func() bool { return c.Status().Retries >= 2 })
		if lag := h.lag(); lag != 1 {
			t.Fatalf("lag while the table is away = %d, want 1", lag)
		}
		if n := len(h.Rec.Deliveries()); n != 0 {
			t.Fatalf("a delivery was recorded although nothing was written")
		}
		h.exec("ALTER TABLE yjs_subcase_away RENAME TO yjs_subcase_in")
		h.WaitFor("the sub-case staged and committed", func() bool {
			return h.count("yjs_subcase_in", "") == 1 && h.lag() == 0
		})
		deliveries := h.Rec.Deliveries()
		if len(deliveries) != 1 || deliveries[0].EventID != id || deliveries[0].Attempts < 3 {
			t.Errorf("deliveries = %+v, want %s once after at least 3 attempts", deliveries, id)
		}
		if s := c.Status(); !strings.HasPrefix(s.LastErrorMessage, "staging failed: ") {
			t.Errorf("LastErrorMessage = %q", s.LastErrorMessage)
		}
	})
}

func TestAPoisonMessageIsDeadLetteredAndDoesNotBlockThePartition(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(h.config())
		poison := []byte(`{"specversion":"1.0","id":`)
		noCase := []byte(`{"specversion":"1.0","id":"ev-x","type":"cn.yjshub.subcase.dispatched","data":{}}`)
		id, _, raw := h.subcase("cs-p", nil)
		h.Publish("cs-p", poison, noCase, raw)
		h.Start(c.Run)
		h.WaitFor("the good message staged and all committed", func() bool {
			return h.count("yjs_subcase_in", "") == 1 && h.lag() == 0
		})
		failures := h.Rec.Failures()
		if len(failures) != 2 {
			t.Fatalf("recorded %d failures, want 2", len(failures))
		}
		for i, want := range [][]byte{poison, noCase} {
			if f := failures[i]; f.Reason != "undecodable message" || !bytes.Equal(f.Payload, want) || f.Topic != h.Topic {
				t.Errorf("failure %d = %+v (payload %q)", i, f.Delivery, f.Payload)
			}
		}
		if h.count("yjs_subcase_in", "id = '"+id+"'") != 1 {
			t.Errorf("the good message is not in the staging table")
		}
	})
}

func TestWithoutMigrateTheConnectorRequiresTheDepartmentsTables(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		cfg := h.config()
		no := false
		cfg.Migrate = &no
		c := h.connector(cfg)
		err := h.Wait(h.Start(c.Run))
		if err == nil || !strings.Contains(err.Error(), "the exchange tables are missing or lack columns (migrate is false") {
			t.Fatalf("Run without the tables and without migrating returned %v", err)
		}
		if h.count("yjs_subcase_in", "") != -1 {
			t.Fatalf("the connector created the tables although migrate is false")
		}

		// The department creates them (here by running the migrations once); now it runs.
		migrating := h.connector(h.config())
		r := h.Start(migrating.Run)
		h.WaitFor("the tables created", func() bool {
			return h.count("yjs_result_out", "") == 0 && migrating.Status().Detail["last_poll"] != nil
		})
		if err := h.Stop(r); err != nil {
			t.Fatalf("stop: %v", err)
		}
		_, _, raw := h.subcase("cs-m", nil)
		h.Publish("cs-m", raw)
		h.Start(c.Run)
		h.WaitFor("the sub-case staged", func() bool { return h.count("yjs_subcase_in", "") == 1 })
	})
}

func TestTablesMayHaveOtherNamesAndLiveInTheirOwnSchema(t *testing.T) {
	t.Parallel()
	b := connectortest.OpenEmbedded(t)
	for _, tc := range []struct {
		name   string
		db     func(t *testing.T) database
		schema bool
	}{
		{"sqlite", sqliteDatabase, false},
		{"postgres", func(t *testing.T) database {
			// The connection's search_path names a schema; the tables go to another one, which
			// the connector creates.
			return database{driver: frontdb.DriverPostgres, dsn: storetest.PostgresSchemaURL(t)}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(connectortest.NewRig(t, b, 0), tc.db(t))
			cfg := h.config()
			cfg.SubcaseTable, cfg.ResultTable = "rsj_in", "rsj_out"
			sub, res := "rsj_in", "rsj_out"
			if tc.schema {
				u, _ := url.Parse(h.db.dsn)
				cfg.Schema = u.Query().Get("search_path") + "_qzk"
				t.Cleanup(func() {
					_, _ = h.side.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+cfg.Schema+" CASCADE")
				})
				sub, res = cfg.Schema+".rsj_in", cfg.Schema+".rsj_out"
			}
			h.results.add("sc-1")
			c := h.connector(cfg)
			h.Start(c.Run)
			h.WaitFor("the tables created", func() bool { return h.count(res, "") == 0 })
			_, _, raw := h.subcase("cs-n", nil)
			h.Publish("cs-n", raw)
			h.exec(`INSERT INTO ` + res + ` (result_id, subcase_id, type) VALUES ('r-1', 'sc-1', 'accepted')`)
			h.WaitFor("the sub-case staged and the result processed", func() bool {
				return h.count(sub, "") == 1 && h.count(res, "processed_at IS NOT NULL") == 1
			})
			if h.count("yjs_subcase_in", "") != -1 {
				t.Errorf("the default tables were created too")
			}
			if s := c.Status(); s.Detail["subcase_table"] != sub || s.Detail["result_table"] != res {
				t.Errorf("status detail = %v", s.Detail)
			}
		})
	}
}

func TestMigrationsRunOnceAndAgainChangeNothing(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		for i := range 2 {
			c := h.connector(h.config())
			r := h.Start(c.Run)
			h.WaitFor("the tables ready", func() bool { return h.count("yjs_result_out", "") == 0 && c.Status().Detail["last_poll"] != nil })
			if err := h.Stop(r); err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("the migrations: %v %v", files, err)
		}
		if n := h.count("yjs_subcase_in_migrations", "version_id > 0"); n != len(files) {
			t.Errorf("the migration history holds %d applied migrations, want the %d there are", n, len(files))
		}
	})
}

func TestNoSecretOrPersonalDataInLogsErrorsOrStatus(t *testing.T) {
	t.Parallel()
	const (
		password = "pw-S3cr3t"
		idNumber = "11010519491231002X"
		mobile   = "13812345678"
	)
	ctx, cancel := context.WithTimeout(t.Context(), connectortest.RigTimeout)
	defer cancel()
	b := connectortest.OpenEmbedded(t)

	// Nothing listens on port 1: connecting fails, and the driver's error is what Run returns.
	for _, dsn := range []string{
		"postgres://hub:" + password + "@127.0.0.1:1/qzk?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 user=hub password=" + password + " dbname=qzk sslmode=disable connect_timeout=5",
		"postgresql://127.0.0.1:1/qzk?sslmode=disable&connect_timeout=5&password=" + password,
	} {
		var logs hubtest.SyncBuffer
		c, err := frontdb.New(frontdb.Config{Department: "rsj", Driver: frontdb.DriverPostgres, DSN: dsn}, b,
			connector.RecorderFuncs{}, newFakeCases(), frontdb.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		runErr := c.Run(ctx)
		if runErr == nil {
			t.Fatalf("Run against a closed port returned nil")
		}
		status, _ := json.Marshal(c.Status())
		var cfgLog hubtest.SyncBuffer
		slog.New(slog.NewTextHandler(&cfgLog, nil)).Info("config", "frontdb", frontdb.Config{DSN: dsn})
		for where, text := range map[string]string{"Run's error": runErr.Error(), "logs": logs.String(),
			"status": string(status), "config log": cfgLog.String(), "RedactDSN": frontdb.RedactDSN(dsn)} {
			if strings.Contains(text, password) {
				t.Errorf("%s contain the password:\n%s", where, text)
			}
		}
		if !strings.Contains(logs.String(), "not ready") {
			t.Errorf("the logs lack the failure, so they prove nothing:\n%s", logs.String())
		}
	}

	// Personal data travels through a working exchange database but reaches no log or reason.
	h := newHarness(connectortest.NewRig(t, b, 0), sqliteDatabase(t))
	h.results.add("sc-1")
	h.results.conflictReason = "证件号码 " + idNumber + " 与手机 " + mobile + " 不符"
	c := h.connector(h.config())
	_, _, raw := h.subcase("cs-pii", map[string]any{"SQRXM": "张三", "SFZHM": idNumber, "LXDH": mobile})
	h.Publish("cs-pii", raw)
	h.Start(c.Run)
	h.WaitFor("the sub-case staged", func() bool { return h.count("yjs_subcase_in", "form_json LIKE '%"+idNumber+"%'") == 1 })
	h.writeResults(result{id: "r-pii", subcase: "sc-1", typ: "accepted"})
	h.WaitFor("the result refused", func() bool { return len(h.processed()) == 1 })
	failures := h.Rec.Failures()
	status, _ := json.Marshal(c.Status())
	texts := map[string]string{"logs": h.Logs.String(), "status": string(status), "error column": h.processed()["r-pii"].String}
	if len(failures) == 1 {
		texts["failure reason"] = failures[0].Reason
	}
	if !strings.Contains(texts["failure reason"], "证件号码 ****************** 与手机 ***********") {
		t.Errorf("failure reason %q, want the department's words masked", texts["failure reason"])
	}
	for where, text := range texts {
		for _, s := range []string{idNumber, mobile, "张三"} {
			if strings.Contains(text, s) {
				t.Errorf("%s contain %q:\n%s", where, s, text)
			}
		}
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://hub:pw@db:5432/qzk?sslmode=disable", "postgres://hub:xxxxx@db:5432/qzk?sslmode=disable"},
		{"host=db user=hub password=pw dbname=qzk", "host=db user=hub password=xxxxx dbname=qzk"},
		{"host=db password='p w' dbname=qzk", "host=db password=xxxxx dbname=qzk"},
		{"/var/lib/qzk/exchange.db?_pragma=busy_timeout(5000)", "/var/lib/qzk/exchange.db?_pragma=busy_timeout(5000)"},
	} {
		if got := frontdb.RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	if err := (&frontdb.Config{Department: "rsj", Driver: "sqlite", DSN: "/tmp/x.db"}).Validate(); err != nil {
		t.Errorf("a minimal configuration: %v", err)
	}
	for _, n := range []int{1, 64} {
		if err := (&frontdb.Config{Department: "rsj", Driver: "sqlite", DSN: "/tmp/x.db", Concurrency: n}).Validate(); err != nil {
			t.Errorf("concurrency %d: %v", n, err)
		}
	}
	if err := (&frontdb.Config{Department: "rsj", Driver: "sqlite", DSN: "/tmp/x.db", Concurrency: -1}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "concurrency: -1 is not from 1 to 64") {
		t.Errorf("a negative concurrency: %v", err)
	}
	err := (&frontdb.Config{Department: "人社局", Driver: "mysql", DSN: " ", Schema: "Bad-Schema",
		SubcaseTable: "t; DROP TABLE x", ResultTable: "t; DROP TABLE x", PollInterval: -1, BatchSize: -1, GroupID: " g", Concurrency: 65}).Validate()
	for _, want := range []string{`department: "人社局"`, `driver: "mysql" is not`, "dsn: required", `schema: "Bad-Schema"`,
		`subcase_table: "t; DROP TABLE x"`, `result_table: "t; DROP TABLE x"`, "is also the subcase_table",
		"poll_interval: -1ns is negative", "batch_size: -1", `group_id: " g"`, "concurrency: 65 is not from 1 to 64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if err := (&frontdb.Config{Department: "rsj", Driver: "sqlite", DSN: "x.db", Schema: "s"}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "schema: only for driver pgx") {
		t.Errorf("a schema with sqlite: %v", err)
	}
	err = (&frontdb.Config{Department: "rsj", Driver: "pgx", DSN: "postgres://hub:pw-S3cr3t@db/qzk", PollInterval: -1}).Validate()
	if err == nil || strings.Contains(err.Error(), "pw-S3cr3t") {
		t.Errorf("validation error %v: want one, without the DSN's password", err)
	}
	_, err = frontdb.New(frontdb.Config{}, nil, nil, nil)
	for _, want := range []string{"department: required", "driver: required", "bus: required", "recorder: required", "results: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error does not contain %q:\n%v", want, err)
		}
	}
}

// fakeCases is the case service as far as results go: sub-cases with a state, the contract's
// transitions, idempotency on the event id, and failures on demand.
type fakeCases struct {
	mu             sync.Mutex
	states         map[string]string
	seen           map[string]string // event id → type
	calls          []call
	failing        map[string]bool // event ids whose next attempt fails transiently
	conflictReason string          // when set, every event is refused with this reason
}

type call struct {
	subcase string
	ev      event.DepartmentEvent
}

func newFakeCases() *fakeCases {
	return &fakeCases{states: map[string]string{}, seen: map[string]string{}, failing: map[string]bool{}}
}

func (f *fakeCases) add(subcases ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range subcases {
		f.states[s] = "dispatched"
	}
}

func (f *fakeCases) failOnce(eventID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing[eventID] = true
}

func (f *fakeCases) state(subcase string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[subcase]
}

func (f *fakeCases) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

var fakeTransitions = map[string]struct {
	from []string
	to   string
}{
	"received":             {[]string{"dispatched"}, "received"},
	"accepted":             {[]string{"dispatched", "received", "resubmitted"}, "accepted"},
	"supplement_requested": {[]string{"received", "accepted", "resubmitted"}, "supplement_requested"},
	"resumed":              {[]string{"suspended"}, "accepted"},
	"approved":             {[]string{"received", "accepted", "resubmitted"}, "approved"},
	"rejected":             {[]string{"dispatched", "received", "accepted", "resubmitted", "supplement_requested"}, "rejected"},
}

func (f *fakeCases) ApplyEvent(_ context.Context, subcaseID string, ev event.DepartmentEvent) (*cases.EventResult, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{subcase: subcaseID, ev: ev})
	if f.failing[ev.EventID] {
		delete(f.failing, ev.EventID)
		return nil, false, errors.New("store: connection reset")
	}
	if f.conflictReason != "" {
		return nil, false, &cases.ConflictError{Reason: f.conflictReason}
	}
	if ev.Type == "rejected" && ev.Reason == "" {
		return nil, false, problem.New(problem.Problem{Path: "/reason", Rule: problem.RuleRequired, Message: "give the reason"})
	}
	state, ok := f.states[subcaseID]
	if !ok {
		return nil, false, fmt.Errorf("sub-case: %w", cases.ErrNotFound)
	}
	if typ, ok := f.seen[ev.EventID]; ok && typ == ev.Type {
		return &cases.EventResult{}, true, nil
	}
	tr := fakeTransitions[ev.Type]
	if !slices.Contains(tr.from, state) {
		return nil, false, &cases.ConflictError{Reason: "cannot go from " + state + " to " + ev.Type}
	}
	f.states[subcaseID] = tr.to
	f.seen[ev.EventID] = ev.Type
	return &cases.EventResult{}, false, nil
}

// The applicant's supplement and withdrawal are staged like the dispatch, each with its type;
// any other message type is not a message about a sub-case.
func TestSupplementsAndWithdrawalsAreStagedWithTheirType(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(h.config())
		_, sc, raw := h.subcase("cs-f", nil)
		follow := func(id, typ string, data any) []byte {
			env, err := event.New(id, typ, sc, time.Now(), data)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(env)
			return b
		}
		mat := event.MaterialRef{Type: "business-licence", Name: "营业执照", Filename: "yyzz-v2.pdf", SHA256: strings.Repeat("cd", 32), Size: 9, URI: "https://files.example/v2.pdf"}
		resub := follow("ev-resub", event.TypeSubcaseResubmitted, event.SubcaseResubmitted{CaseID: "cs-f", SubcaseID: sc, SupplementID: "sp_1",
			Department: h.Dept, Asked: []event.Missing{{Material: "business-licence"}}, Materials: []event.MaterialRef{mat}, Fields: map[string]any{}, Form: map[string]any{"A": 1}})
		withdrawn := follow("ev-wd", event.TypeSubcaseWithdrawn, event.SubcaseWithdrawn{CaseID: "cs-f", SubcaseID: sc, Department: h.Dept, Reason: "不办了", WithdrawnAt: time.Now()})
		other := follow("ev-other", event.TypeCaseUpdated, map[string]any{"case_id": "cs-f", "subcase_id": sc})
		h.Publish("cs-f", raw, resub, withdrawn, other)
		h.Start(c.Run)
		h.WaitFor("three rows staged and the other message dead-lettered", func() bool {
			return h.count("yjs_subcase_in", "") == 3 && h.lag() == 0
		})
		var rows []struct {
			ID        string `db:"id"`
			Type      string `db:"event_type"`
			Materials string `db:"materials_json"`
		}
		if err := h.side.SelectContext(h.Ctx, &rows, "SELECT id, event_type, materials_json FROM yjs_subcase_in ORDER BY seq"); err != nil {
			t.Fatal(err)
		}
		if rows[1].ID != "ev-resub" || rows[1].Type != event.TypeSubcaseResubmitted || !strings.Contains(rows[1].Materials, "yyzz-v2.pdf") ||
			rows[2].ID != "ev-wd" || rows[2].Type != event.TypeSubcaseWithdrawn || rows[2].Materials != "[]" || rows[0].Type != event.TypeSubcaseDispatched {
			t.Fatalf("staged rows: %+v", rows)
		}
		if s := c.Status(); s.Failed != 1 {
			t.Fatalf("the case.updated message on a department's topic: %d failures, want 1", s.Failed)
		}
	})
}

// gatedRecorder records deliveries through rec; the delivery of event gated is held (holding
// closed) until a delivery of another case than its own has been recorded, and before is run
// when it is let through (or given up after connectortest.RetryWithin); outcome gets what
// holding it came to.
type gatedRecorder struct {
	connector.Recorder
	gated, gatedCase string
	before           func(ctx context.Context) error
	holding          chan struct{}
	other            chan struct{} // closed at the first delivery of another case
	holdOnce, once   sync.Once
	outcome          chan error
}

func (g *gatedRecorder) Delivered(ctx context.Context, d connector.Delivery) error {
	if d.EventID == g.gated {
		g.holdOnce.Do(func() { close(g.holding) })
		wait, cancel := context.WithTimeout(ctx, connectortest.RetryWithin)
		defer cancel()
		var err error
		select {
		case <-g.other:
			err = g.before(ctx)
		case <-wait.Done():
			err = errors.New("no sub-case of another case was staged while the first one of " + g.gatedCase + " was held")
		}
		select {
		case g.outcome <- err:
		default:
		}
		if err != nil {
			return err
		}
	}
	if err := g.Recorder.Delivered(ctx, d); err != nil {
		return err
	}
	if d.CaseID != g.gatedCase {
		g.once.Do(func() { close(g.other) })
	}
	return nil
}

func TestSubcasesOfDifferentCasesAreStagedAtOnceAndEachCasesInOrder(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		// The case ids go to different workers of the default 8 (the bus spreads keys by their
		// FNV-1a hash), so that nothing queues behind cs-a's held sub-case.
		caseIDs := []string{"cs-a", "cs-b", "cs-c", "cs-d", "cs-e"}
		published := map[string][]string{}
		raws := map[string][][]byte{}
		for _, k := range caseIDs {
			for range 3 {
				id, _, raw := h.subcase(k, nil)
				published[k] = append(published[k], id)
				raws[k] = append(raws[k], raw)
			}
		}
		// Staging cs-a's first sub-case is held (its delivery not recorded, its offset not
		// committed) until a sub-case of another case, published only once it is held, has been
		// staged and recorded: only a connector that handles sub-cases of different cases at
		// once gets there. cs-a's later sub-cases, published with the others, must wait for it.
		var aStaged int
		rec := &gatedRecorder{Recorder: h.Rec, gated: published["cs-a"][0], gatedCase: "cs-a",
			holding: make(chan struct{}), other: make(chan struct{}), outcome: make(chan error, 1),
			before: func(ctx context.Context) error {
				return h.side.GetContext(ctx, &aStaged, "SELECT COUNT(*) FROM yjs_subcase_in WHERE case_id = 'cs-a'")
			}}
		c, err := frontdb.New(h.config(), h.Bus, rec, h.results, frontdb.WithLogger(h.Log))
		if err != nil {
			t.Fatal(err)
		}
		h.Start(c.Run)
		h.Publish("cs-a", raws["cs-a"][0])
		h.WaitFor("the first sub-case of cs-a to be held", func() bool {
			select {
			case <-rec.holding:
				return true
			default:
				return false
			}
		})
		h.Publish("cs-a", raws["cs-a"][1:]...)
		for _, k := range caseIDs[1:] {
			h.Publish(k, raws[k]...)
		}
		h.WaitFor("every sub-case staged and every offset committed", func() bool {
			return h.count("yjs_subcase_in", "") == 15 && h.lag() == 0
		})

		if err := <-rec.outcome; err != nil {
			t.Fatal(err)
		}
		if aStaged != 1 {
			t.Errorf("%d sub-cases of cs-a were staged while its first one was being handled, want that one alone", aStaged)
		}
		seen := map[string]int{}
		for _, d := range h.Rec.Deliveries() {
			seen[d.EventID]++
		}
		for k, ids := range published {
			for _, id := range ids {
				if seen[id] != 1 {
					t.Errorf("the delivery of %s (case %s) was recorded %d times, want once", id, k, seen[id])
				}
			}
		}
		var rows []struct {
			ID     string `db:"id"`
			CaseID string `db:"case_id"`
		}
		if err := h.side.SelectContext(h.Ctx, &rows, "SELECT id, case_id FROM yjs_subcase_in ORDER BY seq"); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, r := range rows {
			got[r.CaseID] = append(got[r.CaseID], r.ID)
		}
		for k, want := range published {
			if !slices.Equal(got[k], want) {
				t.Errorf("case %s staged in the seq order %q, want the publish order %q", k, got[k], want)
			}
		}
	})
}

// A material the hub holds reaches the exchange table as its signed link and the link's expiry,
// not as bytes: the department's back office fetches the file through the link.
func TestTheLinkToAMaterialTheHubHoldsIsWrittenIntoTheExchangeTable(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		c := h.connector(h.config())
		exp := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
		sum := strings.Repeat("cd", 32)
		link := "https://hub.test/api/v1/files/" + sum + "?case=cs-1&dept=" + h.Dept + "&exp=1796376600&kid=k1&sig=abc"
		id, _, raw := h.Dispatched("cs-1", nil, event.MaterialRef{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf",
			SHA256: sum, Size: 182044, URI: link, ContentType: "application/pdf", LinkExpiresAt: &exp})
		h.Publish("cs-1", raw)
		h.Start(c.Run)
		h.WaitFor("the sub-case staged", func() bool { return h.count("yjs_subcase_in", "") == 1 && h.lag() == 0 })
		var got string
		if err := h.side.GetContext(h.Ctx, &got, h.side.Rebind("SELECT materials_json FROM yjs_subcase_in WHERE id = ?"), id); err != nil {
			t.Fatal(err)
		}
		var materials []event.MaterialRef
		if err := json.Unmarshal([]byte(got), &materials); err != nil {
			t.Fatal(err)
		}
		if len(materials) != 1 || materials[0].URI != link || materials[0].LinkExpiresAt == nil || !materials[0].LinkExpiresAt.Equal(exp) ||
			materials[0].ContentType != "application/pdf" || materials[0].SHA256 != sum {
			t.Fatalf("materials_json = %s", got)
		}
	})
}

// With material_files, the bytes of each material the hub holds are written into the file
// table with the sub-case, once per file however many sub-cases name it, each copy recorded as
// a read of the department through frontdb; a material on a platform's host (no link) is not;
// and a connector configured so without the hub's files does not start.
func TestWithMaterialFilesTheBytesOfHeldMaterialsAreWrittenOnceAndAudited(t *testing.T) {
	onEachBackend(t, func(t *testing.T, h *harness) {
		store, err := blobs.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		content := []byte("%PDF-1.7\n% a licence scan\n%%EOF\n")
		digest := sha256.Sum256(content)
		sum := hex.EncodeToString(digest[:])
		if _, err := store.Put(h.Ctx, sum, int64(len(content)), "application/pdf", bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var reads []links.Read
		audit := func(_ context.Context, r links.Read) error {
			mu.Lock()
			defer mu.Unlock()
			reads = append(reads, r)
			return nil
		}
		cfg := h.config()
		cfg.MaterialFiles = true
		if _, err := frontdb.New(cfg, h.Bus, h.Rec, h.results); err == nil || !strings.Contains(err.Error(), "material_files: the hub keeps no files") {
			t.Fatalf("New with material_files and no blob store: %v; want it refused, saying why", err)
		}
		c, err := frontdb.New(cfg, h.Bus, h.Rec, h.results, frontdb.WithLogger(h.Log), frontdb.WithMaterialFiles(store, audit))
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour).UTC()
		held := event.MaterialRef{Type: "business-licence", Name: "营业执照", Filename: "yyzz.pdf", SHA256: sum, Size: int64(len(content)),
			URI: "https://hub.test/api/v1/files/" + sum + "?sig=x", ContentType: "application/pdf", LinkExpiresAt: &exp}
		elsewhere := event.MaterialRef{Type: "id-card", Name: "身份证", Filename: "id.pdf", SHA256: strings.Repeat("ab", 32), Size: 10,
			URI: "https://files.example/id.pdf"}
		_, sc1, raw1 := h.Dispatched("cs-f1", nil, held, elsewhere)
		_, sc2, raw2 := h.Dispatched("cs-f2", nil, held)
		h.Publish("cs-f1", raw1)
		h.Publish("cs-f2", raw2)
		h.Start(c.Run)
		h.WaitFor("both sub-cases staged", func() bool { return h.count("yjs_subcase_in", "") == 2 && h.lag() == 0 })

		var rows []struct {
			SHA256      string `db:"sha256"`
			ContentType string `db:"content_type"`
			Size        int64  `db:"size"`
			Content     []byte `db:"content"`
		}
		if err := h.side.SelectContext(h.Ctx, &rows, "SELECT sha256, content_type, size, content FROM yjs_subcase_in_file"); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].SHA256 != sum || rows[0].ContentType != "application/pdf" || rows[0].Size != int64(len(content)) ||
			!bytes.Equal(rows[0].Content, content) {
			t.Fatalf("the file table holds %d rows: %+v; want the held file once, its bytes whole", len(rows), rows)
		}
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, r := range reads {
			if r.SHA256 != sum || r.Department != h.Dept || r.Connector != frontdb.Kind || r.Status != 200 {
				t.Errorf("audited read %+v; want the held file, by %s, through frontdb", r, h.Dept)
			}
			got = append(got, r.Case+"/"+r.Subcase)
		}
		slices.Sort(got)
		if want := []string{"cs-f1/" + sc1, "cs-f2/" + sc2}; !slices.Equal(slices.Compact(got), want) {
			t.Errorf("reads audited for %v; want one (or a repeat, on a retry) for each sub-case %v", got, want)
		}
	})
}
