// Package bus owns the hub's Kafka traffic: the connection to the brokers (or
// an embedded Kafka-protocol broker when none are configured), the topic names
// the hub uses and their creation, publishing with full acknowledgement, and
// at-least-once consumption through consumer groups.
//
// # Brokers
//
// With [Config.Brokers] set, a [Bus] talks to an Apache Kafka cluster. With it
// empty, [Open] starts an in-process broker (franz-go's kfake) that keeps its
// log, topics and committed group offsets under [Config.DataDir]/kafka, so a
// single-node hub needs no Kafka installation and loses nothing on restart.
// Both speak the Kafka protocol; the rest of the hub cannot tell them apart.
//
// # Security
//
// [Config.TLS] and [Config.SASL] (SCRAM-SHA-512 or SCRAM-SHA-256) secure every
// connection the bus makes to external brokers — the writer's, the consumer
// groups', the admin calls' — as Kafka's SASL_SSL listeners ask. The embedded
// broker listens on 127.0.0.1 in plaintext only.
//
// # Delivery guarantees
//
// [Bus.Publish] waits until every in-sync replica has the messages
// (RequiredAcks = all). The message key picks the partition, so messages with
// the same key (the case id) are consumed in the order they were published.
//
// [Bus.Subscribe] commits a message's offset only after its handler returned
// nil. A handler that fails stops the subscription without committing, and the
// next consumer of the group receives that message again. Delivery is therefore
// at least once: handlers make their effects idempotent (the hub records
// processed event ids in the same SQL transaction as the effect).
//
// # Topics
//
// Topics are never created implicitly: producers refuse unknown topics, and
// [Bus.EnsureTopics] creates the ones the hub needs. [SubcaseTopic],
// [TopicResult], [TopicCaseEvent] and [DLQTopic] name them.
package bus
