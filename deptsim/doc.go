// Package deptsim owns the department simulator: a stand-in for the back-office systems of
// the departments that handle sub-cases, so that the hub can be run and watched end to end
// without a real department attached.
//
// A [Simulator] is an [net/http.Handler] that implements the REST push binding of
// connectors/CONTRACT.md for any number of departments at once: the hub is configured with the
// endpoint http://<simulator>/departments/<code>/subcases for each department it should
// simulate. For every sub-case it accepts, the simulator calls the hub back at the envelope's
// data.callback with the events a department would send — received, accepted, then approved
// (with an e-licence when the matter issues one), rejected or supplement_requested, as
// [DeptConfig.Decision] says.
//
// # Endpoints
//
//	POST /departments/{dept}/subcases   the push endpoint of department {dept}
//	GET  /stats                         what was received and called back, per department and sub-case
//	GET  /healthz                       liveness
//
// # Behaviour worth knowing
//
//   - Every response carries the header X-Yjshub-Simulated: true, every callback request
//     carries it too, and every log line has the attribute simulated=true. Decision and
//     licence numbers start with 模拟 / SIM and licence files have sim:// URIs, so nothing the
//     simulator produces can be taken for a real department's output.
//   - Its acceptance carries its own acceptance number (department_ref, 模拟…受字…), and a
//     licence the type code the dispatch named, a credit code made up for the simulated
//     department (well-formed, 11320707…, so that the hub builds the licence's identifier), one
//     face item and a seal description marked （模拟）.
//   - A push is checked against the contract: Content-Type application/cloudevents+json
//     (else 415), an Idempotency-Key equal to the envelope id, type
//     cn.yjshub.subcase.dispatched, data.department equal to {dept}, data.subcase_id and an
//     absolute http(s) data.callback (else 400, listing every problem at once).
//   - A repeated Idempotency-Key, or a new message for a sub-case already accepted, is
//     answered 200 with the first answer's body and schedules nothing (no second effect).
//   - [DeptConfig.FailureRate] of pushes are answered [DeptConfig.FailureStatus] before any
//     of the above bookkeeping takes effect, as a flaky department would; retries of the hub
//     are subject to it too.
//   - Callbacks are retried on network errors and 5xx with exponential backoff capped at 2s,
//     for [DefaultCallbackRetry] (see [WithCallbackRetry]) — longer than the hub takes to
//     restart, so a case survives `make run`, Ctrl-C, `make run`. A 409
//     (the hub finds the transition illegal) ends the sub-case's sequence; another 4xx gives
//     up that one event and the sequence goes on. Event ids are derived from the sub-case id
//     and the event type, so the hub recognises a retried callback.
//   - Decision and licence numbers are derived from the sub-case id, not counted: a restarted
//     simulator never issues a number the hub has already recorded for another holder, and a
//     sub-case the hub delivers again gets the same number, which the hub takes as a repeat.
//   - [DeptConfig.Delay] is waited before every callback, the first included, which also
//     gives the hub time to record the delivery before the first event arrives.
//   - Before it decides, a department fetches every material whose uri is a link to a file
//     the hub keeps (/api/v1/files/…, absolute or relative to the hub's address, the
//     callback's), with its API key when [WithHubKeys] gives one, and checks the bytes' size
//     and sha256 against the message. A link the hub refuses (403, 410, another error after
//     three tries) or bytes that do not match make the sub-case rejected, the reason naming
//     the material's type and what failed (never the link, a capability). [Simulator.Fetches]
//     lists what was fetched; DeptStats counts materials fetched and refused. Materials on
//     other servers are not fetched.
//   - Before an approval that issues an e-licence, a department with an API key
//     ([WithHubKeys]) uploads the licence's file, a small generated PDF marked SIMULATED
//     E-LICENCE, to the hub (PUT /api/v1/files/{sha256} at the callback's address, the licence
//     type as its type, the holder's number as its holder) and names it in the approval by
//     file.object_id; without a key, from a hub that keeps no files (404, 405), or on any
//     failure, the file is given by its sim:// uri as before. DeptStats counts the files
//     uploaded.
//   - Personal data (the form, data.applicant) is sent back to the hub in licences but never
//     written to a log line or an error message; a 4xx answer of the hub is logged by its
//     error code and problem paths only.
//
// State (idempotency keys, statistics) lives in memory and is lost on
// restart: the simulator is a development and demonstration tool, not a department. The
// memory is bounded, so that a simulator under load for hours does not grow: sub-cases whose
// callbacks are running are always kept, and of the others only the most recently pushed
// [DefaultRetention] (see [WithRetention]); a forgotten sub-case's Idempotency-Key is no
// longer recognised. A decided sub-case keeps only its counters, not the form it was
// dispatched with; a supplement for it is answered 409 already_decided.
package deptsim
