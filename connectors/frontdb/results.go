package frontdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/cases"
	"yjshub/hub/connector"
	"yjshub/hub/event"
	"yjshub/jsonstrict"
	"yjshub/problem"
)

// Results applies what a department reports about a sub-case; *cases.Service implements it.
// ApplyEvent must be safe for concurrent use and idempotent on ev.EventID: the same event id
// with the same type again changes nothing and succeeds (replayed). Its errors decide what
// becomes of a result row: an illegal transition (errors.Is(err, cases.ErrConflict)), an
// invalid event (*problem.Error) or an unknown sub-case (cases.ErrNotFound) is
// permanent — the row is marked processed with the error and recorded as a dead letter; any
// other error is transient and the row is tried again at the next poll.
type Results interface {
	ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (res *cases.EventResult, replayed bool, err error)
}

// ResultsFunc adapts a function to [Results].
type ResultsFunc func(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (*cases.EventResult, bool, error)

// ApplyEvent calls f.
func (f ResultsFunc) ApplyEvent(ctx context.Context, subcaseID string, ev event.DepartmentEvent) (*cases.EventResult, bool, error) {
	return f(ctx, subcaseID, ev)
}

// resultRow is a row of the result table. Every column but the keys may be NULL: a
// department's system writes them.
type resultRow struct {
	Seq            int64          `db:"seq" json:"seq"`
	ResultID       string         `db:"result_id" json:"result_id"`
	SubcaseID      string         `db:"subcase_id" json:"subcase_id"`
	Type           string         `db:"type" json:"type"`
	Time           sql.NullString `db:"time" json:"-"`
	Comment        sql.NullString `db:"comment" json:"-"`
	Reason         sql.NullString `db:"reason" json:"-"`
	DecisionNumber sql.NullString `db:"decision_number" json:"-"`
	LicencesJSON   sql.NullString `db:"licences_json" json:"-"`
	MissingJSON    sql.NullString `db:"missing_json" json:"-"`
	DepartmentRef  sql.NullString `db:"department_ref" json:"-"`
}

// payload is the row as a dead letter keeps it: its columns as JSON, NULL as null.
func (r resultRow) payload() []byte {
	s := func(n sql.NullString) *string {
		if !n.Valid {
			return nil
		}
		return &n.String
	}
	b, _ := json.Marshal(struct {
		resultRow
		Time           *string `json:"time"`
		Comment        *string `json:"comment"`
		Reason         *string `json:"reason"`
		DecisionNumber *string `json:"decision_number"`
		LicencesJSON   *string `json:"licences_json"`
		MissingJSON    *string `json:"missing_json"`
		DepartmentRef  *string `json:"department_ref"`
	}{r, s(r.Time), s(r.Comment), s(r.Reason), s(r.DecisionNumber), s(r.LicencesJSON), s(r.MissingJSON), s(r.DepartmentRef)})
	return b
}

// timeLayouts are the forms the time column may take; a time without a zone is Beijing time.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999"}

var beijing = time.FixedZone("CST", 8*60*60)

// event turns the row into a department event; problem is non-empty when a column cannot be
// read. It names the column, never its value.
func (r resultRow) event() (ev event.DepartmentEvent, problem string) {
	ev = event.DepartmentEvent{EventID: r.ResultID, Type: strings.TrimSpace(r.Type), Comment: r.Comment.String,
		Reason: r.Reason.String, DecisionNumber: r.DecisionNumber.String, DepartmentRef: r.DepartmentRef.String}
	if v := strings.TrimSpace(r.Time.String); v != "" {
		var err error
		for _, layout := range timeLayouts {
			if ev.Time, err = time.ParseInLocation(layout, v, beijing); err == nil {
				break
			}
		}
		if err != nil {
			return ev, "time: not an RFC 3339 time"
		}
	}
	if v := strings.TrimSpace(r.LicencesJSON.String); v != "" {
		if err := strictJSON(v, &ev.Licences); err != nil {
			return ev, "licences_json: not a JSON array of licences (" + jsonProblem(err) + ")"
		}
	}
	if v := strings.TrimSpace(r.MissingJSON.String); v != "" {
		if err := strictJSON(v, &ev.Missing); err != nil {
			return ev, "missing_json: not a JSON array of missing items (" + jsonProblem(err) + ")"
		}
	}
	return ev, ""
}

func strictJSON(s string, v any) error {
	if ps := jsonstrict.Check([]byte(s), jsonstrict.Limits{}); len(ps) > 0 {
		return strictError(ps[0].Rule + " at " + strconv.Quote(ps[0].Path))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the input.
// strictError is JSON that jsonstrict refuses: its rule and path.
type strictError string

func (e strictError) Error() string { return string(e) }

func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	var st strictError
	switch {
	case errors.As(err, &st):
		return string(st)
	case errors.As(err, &ute):
		return "field " + ute.Field + " has the wrong type"
	case errors.As(err, &se):
		return "malformed JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// refusal says why ApplyEvent's err refuses a result for good, or "" when err is transient.
func (c *Connector) refusal(err error) string {
	var ve *problem.Error
	var ce *cases.ConflictError
	switch {
	case errors.As(err, &ve):
		return "the hub refused the result: " + ve.Error()
	case errors.As(err, &ce):
		return "the hub refused the result: " + c.scrub.text(ce.Reason)
	case errors.Is(err, cases.ErrConflict):
		return "the hub refused the result: it conflicts with the sub-case's state"
	case errors.Is(err, cases.ErrNotFound):
		return "the hub refused the result: no such sub-case"
	}
	return ""
}

// resultsTopic is the Topic of the dead letters of refused result rows.
func (c *Connector) resultsTopic() string { return Kind + ":" + c.cfg.Department + ":results" }

// pollResults reads the result table every PollInterval, at once again after a full batch
// that made progress, until ctx ends.
func (c *Connector) pollResults(ctx context.Context, db *sqlx.DB) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := c.cfg.PollInterval
		if c.pollOnce(ctx, db) {
			next = 0
		}
		t.Reset(next)
	}
}

// pollOnce applies the unprocessed result rows, oldest first, and reports whether it read a
// full batch and settled some of it (so that more may wait).
//
// A row applied (or recognised as applied before) is marked processed. A row refused for good
// is recorded as a dead letter, then marked processed with the reason in its error column, so
// that it never blocks the rows after it. A row that fails otherwise stays unprocessed for the
// next poll, and so do the later rows of its sub-case in this poll, which keeps each sub-case's
// events in order.
func (c *Connector) pollOnce(ctx context.Context, db *sqlx.DB) (more bool) {
	var rows []resultRow
	err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT seq, result_id, subcase_id, type, time, comment, reason,
		decision_number, licences_json, missing_json, department_ref FROM `+c.tables.Result+`
		WHERE processed_at IS NULL ORDER BY seq LIMIT ?`), c.cfg.BatchSize)
	if err != nil {
		if ctx.Err() == nil {
			msg := "reading results failed: " + c.scrub.error(err)
			c.stats.Failure(time.Now(), msg)
			c.log.WarnContext(ctx, "frontdb: reading the result table failed; the next poll tries again", "reason", msg)
		}
		return false
	}
	c.stats.polled(time.Now(), len(rows))
	held := map[string]bool{} // sub-cases with a row left for the next poll
	settled := 0
	for _, r := range rows {
		if ctx.Err() != nil {
			return false
		}
		if held[r.SubcaseID] {
			continue
		}
		ev, problem := r.event()
		if problem == "" {
			_, replayed, err := c.results.ApplyEvent(ctx, r.SubcaseID, ev)
			switch {
			case err == nil:
				if err := c.markProcessed(ctx, db, r.Seq, ""); err != nil {
					held[r.SubcaseID] = true
					c.transient(ctx, r, "marking the result processed failed: "+c.scrub.error(err))
					continue
				}
				settled++
				c.stats.applied.Add(1)
				c.stats.Succeeded(time.Now())
				c.log.DebugContext(ctx, "frontdb: result applied", "result_id", r.ResultID, "subcase_id", r.SubcaseID,
					"type", ev.Type, "seq", r.Seq, "replayed", replayed)
				continue
			case ctx.Err() != nil:
				return false
			}
			problem = c.refusal(err)
			if problem == "" {
				held[r.SubcaseID] = true
				c.transient(ctx, r, "applying the result failed: "+c.scrub.error(err))
				continue
			}
		}
		if err := c.refuse(ctx, db, r, problem); err != nil {
			held[r.SubcaseID] = true
			c.transient(ctx, r, "recording the refused result failed: "+c.scrub.error(err))
			continue
		}
		settled++
	}
	return len(rows) == c.cfg.BatchSize && settled > 0
}

// transient notes a result row left for the next poll.
func (c *Connector) transient(ctx context.Context, r resultRow, reason string) {
	c.stats.Retry()
	c.stats.Failure(time.Now(), reason)
	c.log.WarnContext(ctx, "frontdb: result not applied; the next poll tries again", "result_id", r.ResultID,
		"subcase_id", r.SubcaseID, "seq", r.Seq, "reason", reason)
}

// refuse records r as a dead letter and marks it processed with reason.
func (c *Connector) refuse(ctx context.Context, db *sqlx.DB, r resultRow, reason string) error {
	at := time.Now()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := c.rec.Failed(rctx, connector.Failure{
		Delivery: connector.Delivery{Connector: c.Name(), EventID: r.ResultID, SubcaseID: r.SubcaseID,
			Department: c.cfg.Department, Attempts: 1, At: at},
		Reason: reason, Topic: c.resultsTopic(), Offset: r.Seq, Key: []byte(r.SubcaseID), Payload: r.payload(),
	})
	if err != nil {
		return err
	}
	if err := c.markProcessed(rctx, db, r.Seq, reason); err != nil {
		return err
	}
	c.stats.refused.Add(1)
	c.stats.Failed()
	c.stats.Failure(at, reason)
	c.log.WarnContext(ctx, "frontdb: result refused for good, recorded as failed", "result_id", r.ResultID,
		"subcase_id", r.SubcaseID, "seq", r.Seq, "reason", reason)
	return nil
}

// markProcessed sets the row's processed_at, and its error when refusal is not empty.
func (c *Connector) markProcessed(ctx context.Context, db *sqlx.DB, seq int64, refusal string) error {
	var errCol any
	if refusal != "" {
		errCol = refusal
	}
	_, err := db.ExecContext(ctx, db.Rebind(`UPDATE `+c.tables.Result+` SET processed_at = ?, error = ?
		WHERE seq = ? AND processed_at IS NULL`), timeText(time.Now()), errCol, seq)
	return err
}
