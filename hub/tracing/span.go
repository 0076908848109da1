package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The names of the hub's spans: fixed strings, so that no value reaches a name.
const (
	// SpanIntake is a submission (POST /api/v1/cases, or an application a platform connector
	// pulled).
	SpanIntake = "cases.intake"
	// SpanDispatch is the outbox relay publishing a message to its topic.
	SpanDispatch = "outbox.dispatch"
	// SpanDepartmentEvent is a department's event applied to its sub-case: a callback, a
	// result from Kafka or from a front-end database.
	SpanDepartmentEvent = "cases.department_event"
)

// DeliverSpan names the span of a connector's attempt at handing a message to its department:
// "<kind>.deliver" (restpush.deliver …).
func DeliverSpan(kind string) string { return kind + ".deliver" }

// The attributes of the hub's spans. Only ids, codes and statuses: never a value an applicant
// gave, nor the text of an error or an answer (which may quote one).
const (
	KeyCaseID     = attribute.Key("yjshub.case.id")
	KeySubcaseID  = attribute.Key("yjshub.subcase.id")
	KeyDepartment = attribute.Key("yjshub.department")
	KeyMatter     = attribute.Key("yjshub.matter")
	KeyBundle     = attribute.Key("yjshub.bundle")
	KeyConnector  = attribute.Key("yjshub.connector")
	// KeyEventID is the id of a message (the envelope's) or of a department's event.
	KeyEventID = attribute.Key("yjshub.event.id")
	// KeyEventType is a message's CloudEvents type or a department event's type.
	KeyEventType = attribute.Key("yjshub.event.type")
	// KeyAttempt counts a delivery's attempts, from 1.
	KeyAttempt = attribute.Key("yjshub.delivery.attempt")
	// KeyOutcome is what the span's work came to, in a word: delivered, retry, refused …
	KeyOutcome = attribute.Key("yjshub.outcome")
	// KeyReplayed marks a request answered as an earlier one with the same key or event id.
	KeyReplayed = attribute.Key("yjshub.replayed")
	// KeyHTTPStatus is the HTTP status of the answer (OpenTelemetry's semantic convention).
	KeyHTTPStatus = attribute.Key("http.response.status_code")
	// KeyMessagingSystem and KeyDestination name where a message was published (OpenTelemetry's
	// semantic conventions).
	KeyMessagingSystem = attribute.Key("messaging.system")
	KeyDestination     = attribute.Key("messaging.destination.name")
)

// SetOutcome records what span's work came to: its outcome attribute and, when it failed, an
// error status described by the outcome only.
func SetOutcome(span trace.Span, outcome string, failed bool) {
	span.SetAttributes(KeyOutcome.String(outcome))
	if failed {
		span.SetStatus(codes.Error, outcome)
	}
}
