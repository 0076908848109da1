// Package connectortest owns the conformance suite every department connector kind passes
// (Watermill's pubsub/tests is the model): [Run] checks, against a kind's [Harness], that each
// sub-case reaches the department with its mapped form and material references, that its
// effect happens once under duplicate delivery and restarts, that failures are retried or
// dead-lettered as connectors/CONTRACT.md says, that a failing department's breaker opens
// without slowing the others and closes again through half-open, that each case's sub-cases
// keep their order, that results flow back, and that no personal data reaches an error, a
// dead-letter reason, a status or a log line.
//
// A kind's test provides the department side ([Harness]) and declares what the kind can do
// ([Features]); the suite publishes realistic sub-cases — with a valid resident ID number, a
// mobile number and a home address, so that the leak check means something — and judges what
// the department saw and what the connector recorded, with hub/leaktest's leak check, which
// every other test that handles personal data uses too.
//
// The suite never sleeps to synchronise: it waits on conditions, each with a deadline
// ([Features.Timeout]), and fails rather than hangs.
//
// [Rig] is the test bench the kinds' own tests share: a connector's Run in the background,
// waiting on conditions, publishing sub-cases, consumer lag, recorded outcomes and logs, on the
// embedded broker and on Apache Kafka ([Backends]).
package connectortest
