// Package conformance owns the conformance kit for departmental IT and for the integrated
// platforms: it runs the department side of the contract (connectors/CONTRACT.md) against a
// department's own implementation, or the platform side of the platform connector's contract
// against a platform's, so that either can prove its system before it goes live.
// `yjshub conformance` is its command line.
//
// For the REST push binding, [Run] POSTs sub-cases to the department's endpoint and checks
// that it
//
//   - accepts a well-formed sub-case (2xx);
//   - answers a repeated Idempotency-Key with 2xx or 409, never an error;
//   - refuses a sub-case without Idempotency-Key, a body that is not an envelope and a wrong
//     Content-Type with a 4xx the hub does not retry (a 5xx would be retried forever, a 2xx
//     would accept what it cannot deduplicate or read);
//   - answers every request within a limit;
//
// and, with Config.Callback, plays the hub's events endpoint
// (POST /api/v1/subcases/{id}/events) and checks that the department calls back, with events
// valid against schemas/events/department-event.schema.json, in an order the contract allows
// (received → accepted → a decision), and acts neither on the refused sub-cases nor twice on
// the repeated one.
//
// For the platform kind ([KindPlatform]), [Run] plays the hub against a platform's side of
// the platform connector's contract (connectors/platform/README.md): it pulls the platform's
// list of applications page by page and checks the pages, the items, the paging, that app_ids
// are unique and stable when a cursor is pulled again; then it pushes one document of each
// step (受理, 补正, 出件, 办结, 退件, 撤件, 撤销), one again, and, with a signing secret, one
// wrongly signed, which the platform must refuse.
//
// What the kit sends is realistic but marked as test data: every request carries the header
// X-Yjshub-Conformance: true, and every case, sub-case and envelope id starts with
// "conformance-". The applicant is the resident ID number's example from GB 11643.
package conformance
