// Package conformance owns the conformance kit for departmental IT and for the integrated
// platforms: it plays the hub's side of the department contract (connectors/CONTRACT.md) for
// every department kind, or the hub's side of the platform connector's contract, against a
// system's own implementation, so that its team can prove it before it goes live.
// `yjshub conformance` is its command line.
//
// Every check can fail, and none passes for what it has not seen: a refusal counts only as the
// status the contract asks for with a JSON reason, and only from a system that accepted the
// well-formed request; "every answer in time" fails when requests got no answer; the checks
// of events, pick-ups and commits fail when nothing could be observed. A system that is down,
// answers 404 to everything or accepts anything fails them all but what it has really shown.
//
// The kinds ([Run] with Config.Kind):
//
//   - restpush: POSTs sub-cases to the department's endpoint — a well-formed one, a repeat,
//     one without Idempotency-Key (400), a body that is not an envelope (400), a wrong
//     Content-Type (415), with a signing secret a forged and a stale signature (401) — and
//     times every answer; with Config.Callback it plays the events endpoint
//     (POST /api/v1/subcases/{id}/events) and checks the department's events: valid against
//     schemas/events/department-event.schema.json, in an order the contract allows, none about
//     refused or repeated deliveries.
//   - restpull ([KindRestPull]): serves the department's inbox in the hub API's shape and the
//     events endpoint; the department's client, pointed at the kit, must poll within the
//     hub's bounds, acknowledge under its lease, handle a redelivered item (its first ack
//     answered 409) once, and report its events.
//   - frontdb ([KindFrontDB]): writes a sub-case into the exchange database's staging table
//     and checks that the department's system picks it up, writes result rows that are valid
//     events in order, and leaves the hub's rows and columns alone.
//   - kafka ([KindKafka]): publishes a sub-case to the department's topic in structured
//     CloudEvents mode and checks that the department's own consumer group commits past it and
//     that its records on yjs.result are CloudEvents the hub takes, structured or binary.
//   - platform ([KindPlatform]): pulls the platform's list of applications page by page and
//     checks pages, items, paging and stable app_ids; then pushes one document of each step
//     (受理, 补正, 出件, 办结, 退件, 撤件, 撤销), one again and, with a signing secret, one
//     wrongly signed, which the platform must refuse.
//
// Config.Progress receives a line as each check starts and ends and, during long waits, the
// time waited so far; the [Report] holds every check with its result and reason, as a table or
// JSON.
//
// What the kit sends is realistic but marked as test data: every HTTP request carries the
// header X-Yjshub-Conformance: true, and every case, sub-case and envelope id starts with
// "conformance-". The applicant is the resident ID number's example from GB 11643.
package conformance
