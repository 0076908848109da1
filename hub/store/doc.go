// Package store owns the hub's SQL database: opening PostgreSQL or SQLite
// through one sqlx handle, the embedded schema migrations, transactions, and the
// tables every hub instance shares — catalogue versions, the transactional
// outbox and the consumer inbox.
//
// # Backends
//
// [Open] takes a URL. postgres:// and postgresql:// URLs use pgx's database/sql
// driver; sqlite:PATH, file:PATH or a plain path use the pure Go SQLite driver
// with WAL journalling, a 10 s busy timeout, foreign keys on and
// synchronous=NORMAL. PostgreSQL is the production backend, SQLite the
// embedded default; the conformance suite in package storetest runs on both.
//
// # Portable SQL
//
// One set of migrations serves both databases, so the schema keeps to what both
// understand:
//
//   - Timestamps are BIGINT microseconds since the Unix epoch, always UTC, read
//     and written through [Timestamp]. PostgreSQL's TIMESTAMPTZ has no SQLite
//     counterpart (SQLite would store text whose ordering depends on its
//     format), whereas an integer orders, compares and round-trips identically
//     on both; microseconds are PostgreSQL's own timestamp precision. NULL is
//     the zero time.
//   - JSON documents (outbox payloads and headers) are TEXT. They must be valid
//     UTF-8 without NUL bytes, which PostgreSQL refuses in text; the store checks
//     this itself so both backends reject the same input.
//   - Flags may be BOOLEAN: SQLite stores 0/1 and database/sql scans either into
//     a Go bool.
//   - Upserts use INSERT … ON CONFLICT (PostgreSQL ≥ 9.5, SQLite ≥ 3.24), whose
//     RowsAffected is 0 when the conflict branch was taken on both.
//   - Queries are written with ? placeholders and passed through Rebind.
//
// Where a statement cannot be shared — a database-assigned integer key is one —
// the migration has two variants with the same version and name,
// NNNNN_name.postgres.sql and NNNNN_name.sqlite.sql, and [Store.Migrate] reads
// only the one for its dialect. Today only the outbox table differs.
//
// # SQLite and concurrency
//
// SQLite allows one writer at a time. Rather than let concurrent writers meet
// SQLITE_BUSY, the store gives SQLite a pool of exactly one connection, so
// transactions queue in Go and run one after another. The consequence: inside
// [Store.InTx] use only the transaction, never another Store method that does
// not take it, or the call waits for the connection the transaction holds.
package store
