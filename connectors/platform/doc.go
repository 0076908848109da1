// Package platform owns the platform connector kind: the integrated platforms through which
// applicants apply — 江苏政务服务网 "一件事" (provincial) and 连云港市政务服务一体化平台
// (municipal) — connected by configuration alone (README.md is the contract).
//
// Inbound, the connector pulls the applications submitted on the platform page by page
// (GET {pull_url}?cursor=…&limit=…), turns each into a hub application by the declarative
// field mapping of its configuration (platform field path → bundle, applicant_type, matters,
// form.<canonical field>, materials, with value maps), and submits it to the case service with
// the idempotency key platform:<name>:<app_id>: an application pulled twice becomes one case.
// platform_applications records which application became which case; the cursor
// (platform_cursors) moves only once every item before it is recorded. An application with
// problems of the applicant's is recorded as a dead letter (its problems by path and rule, no
// values) and reported to the platform as 退件, with the platform's own field paths; one the
// hub cannot take through a fault of its own (its mapping or configuration) is a dead letter
// only, held with its document and tried again every round until it is taken in or answered.
// A corrected application under the same app_id after its 退件 is taken as a new submission.
// Neither ever holds up the next.
//
// Outbound, the connector follows yjs.case.event (connectors/casepush) and, for the cases that
// came from its platform, pushes 受理 when the first sub-case is accepted (with the time, the
// department and the promised date), 补正 for each request for supplement, 出件 with the
// decision and the e-licences (metadata and file) of each decided sub-case (一端出件), and
// 办结 with the outcome when the case completes, 撤件 when the case or an optional sub-case
// is withdrawn — each once, with an Idempotency-Key per case and step, renamed and recoded by the outbound mapping. With outbound.revoked it also pushes
// 撤销 once per e-licence of those results that the issuing department has since revoked
// (read from the e-licence library, the reason's digit runs masked).
//
// With licences_url, the connector also pulls the platform's e-licences page by page the same
// way (a cursor of its own, platform_licence_cursors), maps each by licence_fields to the hub's
// e-licence and imports it into the e-licence library with origin platform:<name>: the same
// licence again changes nothing; one that cannot be mapped or that the library refuses is a
// dead letter and a rejected record in platform_licences (problems by path and rule, no
// values), and never holds up the next.
//
// Package platformsim simulates a platform for the tests.
package platform
