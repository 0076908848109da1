// Package conformance owns the conformance kit for departmental IT: it runs the department
// side of the contract (connectors/CONTRACT.md) against a department's own implementation, so
// that the department can prove its system before it goes live. `yjshub conformance` is its
// command line.
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
// What the kit sends is realistic but marked as test data: every request carries the header
// X-Yjshub-Conformance: true, and every case, sub-case and envelope id starts with
// "conformance-". The applicant is the resident ID number's example from GB 11643.
package conformance
