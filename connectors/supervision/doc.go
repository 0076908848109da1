// Package supervision owns the supervision connector (互联网+监管): every approval the hub
// records — a sub-case approved by its department — is pushed once, as a supervision record,
// to the Lianyungang "互联网+监管" platform, so that the supervising department can follow
// up (审管衔接: 事前事中事后全链条监管). README.md describes the record.
//
// The connector consumes yjs.case.event in its own group (default yjshub-supervision); for
// each sub-case the event shows approved it builds the record from the case as it is now and
// POSTs it with the record id as Idempotency-Key, through connectors/casepush: the record is
// pushed once (connector_pushes), 5xx and timeouts are retried with capped backoff, a 4xx makes
// the case event a dead letter (its replay pushes the record again).
//
// The holder's resident ID number is masked (110105********002X) unless the configuration
// says the endpoint is authorised to receive it (mask_holder_id: false); a unified social
// credit code identifies an enterprise publicly and is always sent.
package supervision
