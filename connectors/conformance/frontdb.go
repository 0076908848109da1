package conformance

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver: a PostgreSQL exchange database
	_ "modernc.org/sqlite"             // the sqlite driver: a SQLite exchange database

	"yjshub/connectors/frontdb"
	"yjshub/hub/event"
)

// KindFrontDB is the front-end exchange database (前置库): the kit writes sub-cases into the
// department's staging table, as the hub does, and reads what its system writes back.
const KindFrontDB = "frontdb"

// Check ids of the frontdb kind, in the order of the report; the callback checks follow.
const (
	CheckDBTables   = "db-tables"
	CheckDBPickup   = "db-pickup"
	CheckDBHandsOff = "db-hands-off"
)

// Default table names, as in connectors/frontdb/README.md.
const (
	defaultSubcaseTable = "yjs_subcase_in"
	defaultResultTable  = "yjs_result_out"
)

// tableName is a table name the kit puts into SQL: a bare or schema-qualified identifier.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// The columns of the exchange tables (connectors/frontdb/README.md).
var (
	subcaseColumns = []string{"seq", "id", "event_type", "case_id", "subcase_id", "matter_code", "department", "form_json", "materials_json", "envelope_json", "created_at", "picked_up_at"}
	resultColumns  = []string{"seq", "result_id", "subcase_id", "type", "time", "comment", "reason", "decision_number", "licences_json", "missing_json", "department_ref", "created_at", "processed_at", "error"}
)

// frontdbDriver is the database/sql driver of a DSN: pgx for a postgres:// URL, sqlite for
// anything else (a file name or file: URI).
func frontdbDriver(cfg Config) string {
	if cfg.Driver != "" {
		return cfg.Driver
	}
	if strings.HasPrefix(cfg.Target, "postgres://") || strings.HasPrefix(cfg.Target, "postgresql://") {
		return "pgx"
	}
	return "sqlite"
}

// exchange is the kit's view of the department's exchange database.
type exchange struct {
	db                    *sql.DB
	pg                    bool
	subcaseTab, resultTab string
}

// q rewrites the ? placeholders of query for the database's dialect.
func (x *exchange) q(query string) string {
	if !x.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resultRow is one row of the result table.
type resultRow struct {
	seq                                              int64
	resultID, typ                                    string
	at, comment, reason, decision, licences, missing sql.NullString
	processed, errText                               sql.NullString
}

// asEvent is the row as the department event the hub makes of it.
func (r resultRow) asEvent() ([]byte, error) {
	ev := map[string]any{"event_id": r.resultID, "type": r.typ}
	if r.at.Valid && r.at.String != "" {
		t, err := parseResultTime(r.at.String)
		if err != nil {
			return nil, fmt.Errorf("time %q is not a time (RFC 3339, or Beijing time without a zone)", r.at.String)
		}
		ev["time"] = t.Format(time.RFC3339Nano)
	}
	for k, v := range map[string]sql.NullString{"comment": r.comment, "reason": r.reason, "decision_number": r.decision} {
		if v.Valid {
			ev[k] = v.String
		}
	}
	for k, v := range map[string]sql.NullString{"licences": r.licences, "missing": r.missing} {
		if !v.Valid || v.String == "" {
			continue
		}
		var raw json.RawMessage
		if err := json.Unmarshal([]byte(v.String), &raw); err != nil {
			return nil, fmt.Errorf("%s_json is not JSON", k)
		}
		ev[k] = raw
	}
	return json.Marshal(ev)
}

// parseResultTime reads the result table's time as the hub does: RFC 3339, or without a zone
// as Beijing time, a space allowed for the T.
func parseResultTime(s string) (time.Time, error) {
	s = strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.FixedZone("CST", 8*3600))
}

// runFrontDB writes a sub-case into the staging table and judges what the department's
// system does with it: picks it up, writes valid results in an allowed order, and leaves the
// hub's rows and columns alone. The kit then marks the result rows processed, as the hub does.
func (k *kit) runFrontDB(ctx context.Context) error {
	h, err := newHub()
	if err != nil {
		return err
	}
	k.hub = h
	k.report.Target = frontdb.RedactDSN(k.cfg.Target)
	driver := frontdbDriver(k.cfg)
	dsn := k.cfg.Target
	if driver == "sqlite" {
		dsn = frontdb.SQLiteDSN(dsn) // the department's system writes the same file meanwhile
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("conformance: the exchange database %s: %w", frontdb.RedactDSN(k.cfg.Target), err)
	}
	defer db.Close()
	x := &exchange{db: db, pg: driver == "pgx", subcaseTab: k.cfg.SubcaseTable, resultTab: k.cfg.ResultTable}
	wait := k.cfg.CallbackWait
	valid := k.subcase("valid")

	var tablesOK bool
	k.check(Check{ID: CheckDBTables, Title: "the exchange tables are there with every column", Required: true}, func() (string, string) {
		var missing []string
		for tab, cols := range map[string][]string{x.subcaseTab: subcaseColumns, x.resultTab: resultColumns} {
			if _, err := db.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+tab+" WHERE 1 = 0"); err != nil {
				missing = append(missing, fmt.Sprintf("%s: %s", tab, dbError(err, k.cfg.Target)))
			}
		}
		if len(missing) > 0 {
			return Fail, strings.Join(missing, "; ") + " (create them as connectors/frontdb/README.md says, or let the hub migrate)"
		}
		tablesOK = true
		return Pass, x.subcaseTab + ", " + x.resultTab
	})
	if !tablesOK {
		for _, c := range append([]Check{frontdbChecks()[1], frontdbChecks()[2]}, callbackChecks()[:3]...) {
			c.Result, c.Reason = Fail, "nothing to judge: the exchange tables cannot be read"
			k.add(c)
		}
		return nil
	}
	var env event.Envelope
	_ = json.Unmarshal(valid.raw, &env)
	var data event.SubcaseDispatched
	_ = json.Unmarshal(env.Data, &data)
	form, _ := json.Marshal(data.Form)
	materials, _ := json.Marshal(data.Materials)
	if _, err := db.ExecContext(ctx, x.q("INSERT INTO "+x.subcaseTab+` (id, event_type, case_id, subcase_id, matter_code, department, form_json, materials_json, envelope_json, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		valid.id, event.TypeSubcaseDispatched, valid.caseID, valid.subcaseID, data.Matter.Code, data.Department, string(form), string(materials), string(valid.raw),
		time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("conformance: writing the sub-case into %s: %s", x.subcaseTab, dbError(err, k.cfg.Target))
	}
	k.progress.printf("     wrote sub-case %s into %s; waiting for the department's system", valid.subcaseID, x.subcaseTab)

	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop := k.waiting("the department's system to pick the row up and write results", wait)
	seen := map[string]bool{}
	var rows []resultRow
	var pickedUp sql.NullString
	var readErr error
	rowGone := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
poll:
	for {
		if err := db.QueryRowContext(wctx, x.q("SELECT picked_up_at FROM "+x.subcaseTab+" WHERE id = ?"), valid.id).Scan(&pickedUp); err == sql.ErrNoRows {
			rowGone = true
		}
		fresh, err := x.results(wctx, valid.subcaseID, seen)
		if err != nil && wctx.Err() == nil {
			readErr = err
		}
		for _, r := range fresh {
			rows = append(rows, r)
			seen[r.resultID] = true
			body, err := r.asEvent()
			if err != nil {
				h.record(valid.subcaseID, http.StatusUnprocessableEntity, fmt.Sprintf("row %s: %v", r.resultID, err))
				continue
			}
			status, problem := h.apply(valid.subcaseID, body)
			h.record(valid.subcaseID, status, problem)
		}
		if pickedUp.Valid && h.settledQuiet(valid.subcaseID) {
			break
		}
		select {
		case <-wctx.Done():
			break poll
		case <-tick.C:
		}
	}
	stop()

	k.check(frontdbChecks()[1], func() (string, string) {
		switch {
		case !pickedUp.Valid && rowGone:
			return Fail, "the kit's row is gone, never marked picked up: take a row by setting picked_up_at, never by deleting it"
		case !pickedUp.Valid:
			return Fail, fmt.Sprintf("picked_up_at of the kit's row is still NULL after %v", wait)
		default:
			if _, err := parseResultTime(pickedUp.String); err != nil {
				return Fail, fmt.Sprintf("picked_up_at %q is not a time (RFC 3339 in UTC)", pickedUp.String)
			}
			return Pass, "picked_up_at " + pickedUp.String
		}
	})
	k.check(frontdbChecks()[2], func() (string, string) {
		var problems []string
		var envelope string
		switch err := db.QueryRowContext(ctx, x.q("SELECT envelope_json FROM "+x.subcaseTab+" WHERE id = ?"), valid.id).Scan(&envelope); {
		case err == sql.ErrNoRows:
			problems = append(problems, "the kit's staging row is gone: the hub never deletes one, and keeps it for the record")
		case err != nil:
			problems = append(problems, "the staging row cannot be read: "+dbError(err, k.cfg.Target))
		case envelope != string(valid.raw):
			problems = append(problems, "the staging row's envelope_json was changed")
		}
		for _, r := range rows {
			if r.processed.Valid || r.errText.Valid {
				problems = append(problems, fmt.Sprintf("result %s was written with processed_at or error set: those are the hub's, and a row with processed_at is never read", r.resultID))
				break
			}
		}
		if readErr != nil {
			problems = append(problems, "the result table cannot be read: "+readErr.Error())
		}
		if len(problems) == 0 && !pickedUp.Valid && len(rows) == 0 {
			return Fail, "nothing to judge: the department's system did nothing with the row"
		}
		if len(problems) > 0 {
			return Fail, strings.Join(problems, "; ")
		}
		return Pass, "staging row intact, results left for the hub"
	})
	for _, c := range k.judgeCallbacks(valid.subcaseID, answer{status: http.StatusOK})[:3] {
		k.add(c)
	}
	x.markProcessed(ctx, rows, h)
	return nil
}

func frontdbChecks() []Check {
	return []Check{
		{ID: CheckDBTables, Title: "the exchange tables are there with every column", Required: true},
		{ID: CheckDBPickup, Title: "the department's system picks the row up (sets picked_up_at, a time)", Required: true},
		{ID: CheckDBHandsOff, Title: "the hub's rows and columns are left alone (staging row, processed_at, error)", Required: true},
	}
}

// results reads the result rows of a sub-case not seen yet, in seq order.
func (x *exchange) results(ctx context.Context, subcaseID string, seen map[string]bool) ([]resultRow, error) {
	rs, err := x.db.QueryContext(ctx, x.q(`SELECT seq, result_id, type, time, comment, reason, decision_number, licences_json, missing_json, processed_at, error
		FROM `+x.resultTab+` WHERE subcase_id = ? ORDER BY seq`), subcaseID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []resultRow
	for rs.Next() {
		var r resultRow
		if err := rs.Scan(&r.seq, &r.resultID, &r.typ, &r.at, &r.comment, &r.reason, &r.decision, &r.licences, &r.missing, &r.processed, &r.errText); err != nil {
			return out, err
		}
		if !seen[r.resultID] {
			out = append(out, r)
		}
	}
	return out, rs.Err()
}

// markProcessed sets processed_at, and error where the hub would refuse the row, on the rows
// the kit judged: the department sees them handled as the hub would handle them.
func (x *exchange) markProcessed(ctx context.Context, rows []resultRow, h *hub) {
	_, calls := h.snapshot()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i, r := range rows {
		var problem sql.NullString
		if i < len(calls) && calls[i].problem != "" {
			problem = sql.NullString{String: calls[i].problem, Valid: true}
		}
		_, _ = x.db.ExecContext(ctx, x.q("UPDATE "+x.resultTab+" SET processed_at = ?, error = ? WHERE result_id = ? AND processed_at IS NULL"), now, problem, r.resultID)
	}
}

// dbError says what went wrong without the DSN's password, which drivers may repeat.
func dbError(err error, dsn string) string {
	msg := err.Error()
	if red := frontdb.RedactDSN(dsn); red != dsn {
		msg = strings.ReplaceAll(msg, dsn, red)
	}
	return msg
}
