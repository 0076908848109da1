// Package tracing owns the hub's distributed tracing: the W3C Trace Context (traceparent,
// tracestate) that follows a case from intake through the Kafka headers of its sub-case
// messages to each department's system and back, the spans the hub makes on that way, and
// their export over OTLP/HTTP when an endpoint is configured.
//
// The way of a case, as spans of one trace:
//
//	cases.intake               POST /api/v1/cases (a child of the platform's traceparent, if sent)
//	└─ outbox.dispatch         the relay publishing a sub-case message to its department's topic
//	   └─ <kind>.deliver       each attempt at handing it to the department (a REST push carries
//	                           the traceparent header; Kafka departments read it from the record)
//	cases.department_event     a department's callback or result: a child of the traceparent it
//	                           carries, else of the case's intake
//
// The case keeps its intake's traceparent (cases.traceparent, migration 00021), so that its
// view shows the trace id, sub-cases released later carry the same trace, and events that
// arrive without a trace context join the case's trace. Dispatched sub-cases also carry it in
// their CloudEvents envelope (the distributed tracing extension), which reaches a department
// whatever its kind: restpull inbox items and front-end database rows hold the envelope.
//
// Spans never carry personal data: their names are fixed, and their attributes are ids and
// codes (case, sub-case, department, matter, connector, event type, HTTP status), made by the
// helpers of this package only.
//
// Without an exporter the hub still makes real, sampled span contexts (an SDK tracer provider
// without processors, [Default]), so that every case has a trace id and every message carries
// one. [New] makes the provider that `yjshub serve` passes to every service and connector.
package tracing
