// Package delivery owns what every outbound HTTP delivery of the hub shares, whoever the
// receiver is — a department's back office (restpush), an integrated platform or the
// supervision platform (casepush), a department endpoint under test (conformance):
//
//   - the one retry table, [Classify]: 2xx and 409 are delivered, 408, 429, 5xx and every
//     transport failure are retried, any other 4xx is refused for good;
//   - the capped exponential [Backoff] with jitter, its [RetryConfig], and [Wait];
//   - reading an answer's body with a limit ([ReadBody]) and the receiver's own explanation
//     out of it ([ReceiverMessage]), masked and cut short;
//   - naming a transport failure ([ErrorKind]) and keeping secrets out of every text
//     ([RedactEndpoint], [Scrubber]);
//   - checking an endpoint, extra headers and a signing secret ([ValidateEndpoint],
//     [ValidateHeaders], [ValidateSigningSecret]);
//   - the [Client] that POSTs a JSON document under an Idempotency-Key, signed when a secret
//     is set, one attempt at a time ([Client.Post]) or until it is settled ([Client.Deliver]).
//
// It is a leaf: it knows nothing of the bus, the store or the case flow, so that the
// connector kinds share it without importing one another (Alertmanager keeps its equivalent in
// notify/util.go).
package delivery
