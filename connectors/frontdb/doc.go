// Package frontdb owns the front-end exchange database connector (前置库): many departments'
// back offices exchange data with other systems only through a database both sides can reach.
// The hub writes each sub-case into the department's staging table and polls the department's
// result table; README.md describes the tables for departmental IT, and migrations/ creates
// them (on PostgreSQL or SQLite, through sqlx).
//
// # Sub-cases in
//
// The connector consumes the department's sub-case topic and inserts each sub-case into the
// staging table (yjs_subcase_in by default) with INSERT … ON CONFLICT DO NOTHING on the
// envelope id; once the row is written it records the delivery and commits the offset, so a
// redelivery writes nothing twice. While the database fails the message waits, uncommitted,
// and is retried with capped backoff; later sub-cases of the case wait behind it.
//
// # Results out
//
// Every Config.PollInterval the connector reads the result table's rows whose processed_at is
// NULL, in seq order, turns each into a department event whose event id is the row's
// result_id, and applies it through [Results] (the case service). Applied rows — also rows
// the hub recognises as applied before, by their result_id — get processed_at. A row the hub
// refuses for good (an illegal transition, an invalid event, an unknown sub-case, a column
// that does not parse) is recorded as a dead letter (Topic "frontdb:<department>:results",
// Offset the row's seq) and marked processed with the reason in its error column, so it never
// blocks the rows after it. Any other failure leaves the row, and the later rows of its
// sub-case, for the next poll.
//
// Several hub instances may run the connector for one department: the staging insert is
// idempotent, and a result row two instances apply at once is applied once, the second
// attempt being recognised by its result_id.
//
// # Secrets and personal data
//
// The DSN may hold a password: logs, errors and the status show it only through [RedactDSN],
// and driver errors are scrubbed of it. Rows hold applicants' personal data and are never
// logged; text from the database is masked (runs of 11 or more digits) before it is logged or
// recorded.
package frontdb
