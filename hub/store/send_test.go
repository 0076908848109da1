package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/store"
	"yjshub/hub/store/storetest"
)

// Send writes a transaction's statements at once: in one round trip on PostgreSQL, one after
// another on SQLite. Either way they run in order inside the transaction, count as statements,
// and the first that fails fails the transaction, which then leaves nothing behind.
func TestSendWritesInOrderWithinTheTransaction(t *testing.T) {
	for name, open := range storetest.Backends() {
		t.Run(name, func(t *testing.T) {
			st := storetest.Migrated(open)(t)
			ctx := context.Background()
			const key = "idempotency_keys"
			before := st.Counts()
			err := st.InTx(ctx, func(tx *sqlx.Tx) error {
				var w store.Writes
				w.InsertRows(key, []string{"key", "request_hash", "status", "response", "created_at"}, [][]any{
					{"k1", "h1", 201, "{}", 1}, {"k2", "h2", 201, "{}", 1}})
				// Each statement sees the one before: the update finds the rows just inserted.
				w.UpdateRows(key, "key", []string{"request_hash"}, nil, [][]any{{"k1", "h1b"}, {"k2", "h2b"}})
				w.Exec("delete k2", `DELETE FROM idempotency_keys WHERE key = ? AND request_hash = ?`, "k2", "h2b")
				if w.Len() != 3 {
					t.Fatalf("%d statements, want 3", w.Len())
				}
				return st.Send(ctx, tx, &w)
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := st.DB().Select(&got, `SELECT key || '=' || request_hash FROM idempotency_keys ORDER BY key`); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != "k1=h1b" {
				t.Fatalf("rows %v, want k1=h1b", got)
			}
			d := st.Counts().Sub(before)
			if d.Statements < 3 || d.Transactions != 1 {
				t.Fatalf("counted %d statements and %d transactions for 3 and 1", d.Statements, d.Transactions)
			}
			wantPipelines := uint64(0)
			if st.Dialect() == store.DialectPostgres {
				wantPipelines = 1 // the three statements went in one round trip
			}
			if d.Pipelines != wantPipelines {
				t.Fatalf("%d pipelines, want %d", d.Pipelines, wantPipelines)
			}

			// A statement that fails (a duplicate key) fails the send with what it was, and
			// the transaction leaves nothing: not the statements before it, nor those after.
			err = st.InTx(ctx, func(tx *sqlx.Tx) error {
				var w store.Writes
				w.InsertRows(key, []string{"key", "request_hash", "status", "response", "created_at"}, [][]any{{"k3", "h3", 201, "{}", 1}})
				w.InsertRows(key, []string{"key", "request_hash", "status", "response", "created_at"}, [][]any{{"k1", "again", 201, "{}", 1}})
				w.Exec("insert k4", `INSERT INTO idempotency_keys (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)`, "k4", "h4", 201, "{}", 1)
				return st.Send(ctx, tx, &w)
			})
			if err == nil || !strings.Contains(err.Error(), "insert into idempotency_keys") {
				t.Fatalf("a duplicate key: got %v", err)
			}
			got = nil
			if err := st.DB().Select(&got, `SELECT key FROM idempotency_keys ORDER BY key`); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != "k1" {
				t.Fatalf("after the failed send: %v, want k1 alone", got)
			}

			// A statement that cannot be built is refused before anything is sent.
			err = st.InTx(ctx, func(tx *sqlx.Tx) error {
				var w store.Writes
				w.Exec("insert k5", `INSERT INTO idempotency_keys (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)`, "k5", "h5", 201, "{}", 1)
				w.InsertRows(key, []string{"key", "request_hash"}, [][]any{{"k6"}})
				return st.Send(ctx, tx, &w)
			})
			if err == nil || !strings.Contains(err.Error(), "row 0 has 1 values for 2 columns") {
				t.Fatalf("a short row: got %v", err)
			}
			var n int
			if err := st.DB().Get(&n, `SELECT COUNT(*) FROM idempotency_keys WHERE key = 'k5'`); err != nil || n != 0 {
				t.Fatalf("k5 written (%d, %v)", n, err)
			}
		})
	}
}
