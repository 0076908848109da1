package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// maxInsertParams bounds the placeholders of one INSERT: below SQLite's historical limit of 999
// (current builds allow 32766, PostgreSQL 65535), so a statement never fails on it.
const maxInsertParams = 999

// InsertRows inserts rows into table in as few statements as the placeholder limit allows:
// INSERT INTO table (columns) VALUES (…), (…) …, rows in the order given. Every row must have
// one value per column. table and columns are SQL identifiers from the code, never input.
func InsertRows(ctx context.Context, tx *sqlx.Tx, table string, columns []string, rows [][]any) error {
	if tx == nil {
		return errors.New("store: insert rows: no transaction")
	}
	var w Writes
	w.InsertRows(table, columns, rows)
	return w.execEach(ctx, tx)
}

// UpdateRows sets columns of the rows of table whose key column has the given values, in as
// few statements as the placeholder limit allows: UPDATE table SET column = CASE key WHEN …
// THEN … END, … WHERE key IN (…). Each of rows is the key's value then one value per column.
// casts names the SQL type a column's values are cast to where the database cannot infer it
// from a placeholder (BIGINT, INTEGER); the others are text. Identifiers come from the code,
// never input.
func UpdateRows(ctx context.Context, tx *sqlx.Tx, table, key string, columns []string, casts map[string]string, rows [][]any) error {
	if tx == nil {
		return errors.New("store: update rows: no transaction")
	}
	var w Writes
	w.UpdateRows(table, key, columns, casts, rows)
	return w.execEach(ctx, tx)
}

// Writes are statements that a transaction sends together, in order, once it has read what it
// needs: [Store.Send] sends them in one round trip on PostgreSQL (a pipeline) and one after
// another on SQLite, whose statements never leave the process. A statement that cannot be
// built (a row of the wrong width, a message that is not valid) is kept as the Writes' error,
// which Send returns before sending anything.
type Writes struct {
	stmts []writeStmt
	errs  []error
}

type writeStmt struct {
	query string // with ? placeholders
	args  []any
	what  string // for errors: "insert into cases"
}

// Len is the number of statements.
func (w *Writes) Len() int { return len(w.stmts) }

// Exec adds a statement (? placeholders).
func (w *Writes) Exec(what, query string, args ...any) {
	w.stmts = append(w.stmts, writeStmt{query: query, args: args, what: what})
}

// InsertRows adds what InsertRows would send.
func (w *Writes) InsertRows(table string, columns []string, rows [][]any) {
	if len(columns) == 0 || len(columns) > maxInsertParams {
		w.errs = append(w.errs, fmt.Errorf("store: insert into %s: %d columns", table, len(columns)))
		return
	}
	for i, r := range rows {
		if len(r) != len(columns) {
			w.errs = append(w.errs, fmt.Errorf("store: insert into %s: row %d has %d values for %d columns", table, i, len(r), len(columns)))
			return
		}
	}
	perStatement := maxInsertParams / len(columns)
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	for start := 0; start < len(rows); start += perStatement {
		chunk := rows[start:min(start+perStatement, len(rows))]
		var q strings.Builder
		q.WriteString(head)
		args := make([]any, 0, len(chunk)*len(columns))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			args = append(args, r...)
		}
		w.Exec("insert into "+table, q.String(), args...)
	}
}

// UpdateRows adds what UpdateRows would send.
func (w *Writes) UpdateRows(table, key string, columns []string, casts map[string]string, rows [][]any) {
	perRow := 2*len(columns) + 1
	if len(columns) == 0 || perRow > maxInsertParams {
		w.errs = append(w.errs, fmt.Errorf("store: update %s: %d columns", table, len(columns)))
		return
	}
	for i, r := range rows {
		if len(r) != len(columns)+1 {
			w.errs = append(w.errs, fmt.Errorf("store: update %s: row %d has %d values for a key and %d columns", table, i, len(r), len(columns)))
			return
		}
	}
	perStatement := maxInsertParams / perRow
	for start := 0; start < len(rows); start += perStatement {
		chunk := rows[start:min(start+perStatement, len(rows))]
		var q strings.Builder
		args := make([]any, 0, len(chunk)*perRow)
		q.WriteString("UPDATE " + table + " SET ")
		for c, col := range columns {
			if c > 0 {
				q.WriteString(", ")
			}
			then := "?"
			if t := casts[col]; t != "" {
				then = "CAST(? AS " + t + ")"
			}
			q.WriteString(col + " = CASE " + key)
			for _, r := range chunk {
				q.WriteString(" WHEN ? THEN " + then)
				args = append(args, r[0], r[1+c])
			}
			q.WriteString(" END")
		}
		q.WriteString(" WHERE " + key + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")")
		for _, r := range chunk {
			args = append(args, r[0])
		}
		w.Exec("update "+table, q.String(), args...)
	}
}

// execEach sends the statements one at a time through tx.
func (w *Writes) execEach(ctx context.Context, tx *sqlx.Tx) error {
	if err := errors.Join(w.errs...); err != nil {
		return err
	}
	for _, st := range w.stmts {
		if _, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...); err != nil {
			return fmt.Errorf("store: %s: %w", st.what, err)
		}
	}
	return nil
}
