// Package restpush owns the REST push connector: it consumes one department's
// sub-case topic and POSTs every sub-case, as the CloudEvents envelope it was
// published as, to the department's back-office endpoint, following the
// department contract in connectors/CONTRACT.md.
//
// # Delivery
//
// A message's offset is committed only after its outcome has been recorded
// through the [Recorder]: delivered (2xx, or 409 because the department already
// has it) or failed for good (another 4xx, an undecodable message, or
// Retry.MaxAttempts used up). Anything else — 5xx, 408, 429, timeouts,
// connection failures — is retried with capped exponential backoff and jitter
// (delivery.Backoff) for as long as the connector runs, so a sub-case is never
// skipped, and the sub-cases of one case (one Kafka key, one partition) reach
// the department in the order they were published. Every attempt carries the
// envelope id as Idempotency-Key; since delivery is at least once (a restart
// between the department's answer and the commit repeats the POST), the
// department must treat a repeated key as the same delivery.
//
// delivery.Classify is the one table that decides which answers are retried.
//
// # Breaker
//
// A circuit breaker (sony/gobreaker) guards the endpoint. Retryable failures
// in a row open it; refusals (4xx) do not, since a department that answers is
// up. While it is open no request is made: the message at hand waits, without
// being committed, until the breaker lets a probe through, and the probe's
// success closes it. [Connector.Stats] reports its state.
//
// # Secrets and personal data
//
// The endpoint may carry credentials in its userinfo or query and
// Config.Headers may hold API keys: both are sent, but logs, errors, stats and
// failure reasons show the endpoint only through delivery.RedactEndpoint and header values
// never. Payloads hold applicants' personal data and are never logged; text
// that comes from outside (a department's error message, a transport error) is
// scrubbed of those secrets, and runs of 11 or more digits — ID numbers,
// mobiles — are masked before it is logged or recorded.
package restpush
