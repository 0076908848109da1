// Package casepush owns what the connectors that follow cases share: they consume the case
// events on yjs.case.event (cn.yjshub.case.updated) and push documents about those cases to an
// external system — progress, results and e-licences to the applicant's platform (一端出件),
// approval records to the supervision platform (互联网+监管).
//
// A [Planner] says what a case event calls for, as steps with an idempotency key each; the
// [Runner] pushes each step that is not pushed yet with a delivery.Client, records it in the
// connector_pushes table, and commits the event's offset only then. A step is pushed once
// under at-least-once consumption: a redelivered event finds its steps recorded, and a repeat
// that slips through (a crash between the push and its record) carries the same
// Idempotency-Key, which the receiver must treat as the same document.
//
// The client decides retryability with delivery.Classify, the hub's one table: 2xx and 409
// are delivered; other 4xx are refused for good — the case event becomes a dead letter (with
// its topic, partition, offset and key) and the step is recorded refused, so that later events
// do not push it again, while a replay of the dead letter does; 5xx, 408, 429, timeouts and
// connection failures are retried in place with capped exponential backoff and jitter, holding
// the case's later events (and the commits of its partition) so that a case's steps keep their
// order. Events of different cases are handled at once, up to RunnerConfig.Concurrency.
//
// Secrets (header values, credentials in the endpoint) and personal data never reach a log
// line, an error or a failure reason: reasons quote a receiver's JSON "message" only, masked.
package casepush
