// Package kafkaconn owns the kafka connector kind, for departments whose systems speak Kafka:
// the department consumes its sub-case topic yjs.subcase.<dept> directly, in a consumer group
// of its own, and publishes its events about each sub-case (received, accepted, approved …) to
// the results topic yjs.result. README.md is the department-side contract: topics, keys,
// envelope types, headers, and what to publish back.
//
// The hub runs two kinds of connector for this:
//
//   - [Connector], one per department of kind kafka, follows the department's consumer group:
//     its Status names the topic and the department's group, so the connector manager reports
//     the department's lag, and it records each sub-case as delivered (Recorder.Delivered)
//     once the department has committed its offset — the committed offset's advance is what
//     "delivered" means for a department that consumes on its own. The department's group is
//     its own, used exactly as its connectors file names it (bus.DeclareForeignGroup): the
//     bus's namespace prefixes only the hub's topics and groups. It keeps its place in a
//     group of its own (TrackGroup), so a restart neither loses nor repeats much.
//   - [Results], one per deployment, consumes yjs.result in the group ResultsGroup and applies
//     each event to its case (cases.Service.ApplyEvent). It reads a CloudEvent in either
//     content mode of the Kafka protocol binding, structured or binary (event.DecodeKafka).
//     An event whose transition is not legal yet — read ahead of its predecessor — is
//     published again after a backoff and applied once the predecessor is, for at most
//     ResultsConfig.ConflictRetry (retry.go). A message that cannot be applied for
//     good — undecodable, from a department that does not handle the sub-case, about an
//     unknown sub-case, a conflict past its retries or an invalid event — is recorded as
//     a dead letter with its topic, partition, offset and key, and committed: a poison message
//     never blocks its partition. Any other error leaves the message uncommitted; it is
//     applied again later, which is harmless since ApplyEvent is idempotent per event_id.
//
// Nothing of an event's content reaches a log line or an error: only ids, positions and
// reasons built from paths and rules.
package kafkaconn
