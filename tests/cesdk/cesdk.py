"""A department's side of the hub's Kafka binding, written with the official CloudEvents
Python SDK (cloudevents, its Kafka protocol binding) and confluent-kafka (librdkafka).

    cesdk.py read --brokers B --topic T --group G [--key K] --count N [--timeout S]
        Reads topic T from its beginning as consumer group G, exactly as named, the way a
        department's back office does. Every record must be a CloudEvent in the structured
        mode of the binding (content-type application/cloudevents+json, no ce_ headers) and
        decode with cloudevents' from_structured; the offsets are committed once read. Prints
        one JSON line per decoded event whose key is K (every event without --key) and exits
        once N were printed; exit 1 naming the record when one does not decode, 2 on timeout.

    cesdk.py publish --brokers B --topic T --key K --mode binary|structured
                     --id ID --source S --subject SUB --data JSON
        Publishes a department's event (type cn.yjshub.subcase.event) with to_binary or
        to_structured, partitioned with murmur2 as the hub documents (partitioner=murmur2_random),
        acks=all. Prints the record's headers, its partition and the topic's partition count.

Nothing of the applicant's is printed beyond the event's own data, which the calling test reads.
"""

import argparse
import json
import sys
import time

from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import KafkaMessage, from_structured, to_binary, to_structured
from confluent_kafka import Consumer, KafkaError, Producer

STRUCTURED = "application/cloudevents"


def fail(code, msg):
    print("cesdk: " + msg, file=sys.stderr)
    sys.exit(code)


def read(args):
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
    })
    consumer.subscribe([args.topic])
    printed, seen = 0, 0
    deadline = time.monotonic() + args.timeout
    try:
        while printed < args.count:
            if time.monotonic() > deadline:
                fail(2, f"timed out: {printed} of {args.count} events read from {args.topic} ({seen} records in all)")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                fail(1, f"consuming {args.topic}: {msg.error()}")
            seen += 1
            where = f"{msg.topic()} partition {msg.partition()} offset {msg.offset()}"
            headers = {k: v for k, v in (msg.headers() or [])}
            ct = headers.get("content-type", b"").decode()
            if not ct.startswith(STRUCTURED):
                fail(1, f"{where}: content-type {ct!r} does not name structured mode")
            ce = [k for k in headers if k.lower().startswith("ce_")]
            if ce:
                fail(1, f"{where}: structured mode with ce_ headers {ce}: a reader that looks for them takes it for binary")
            try:
                event = from_structured(KafkaMessage(headers=headers, key=msg.key(), value=msg.value()))
            except Exception as e:  # the SDK's own reason
                fail(1, f"{where}: from_structured: {type(e).__name__}: {e}")
            for attr in ("specversion", "id", "source", "type"):
                if not event.get(attr):
                    fail(1, f"{where}: no {attr}")
            if event["specversion"] != "1.0":
                fail(1, f"{where}: specversion {event['specversion']!r}")
            consumer.commit(message=msg, asynchronous=False)
            key = (msg.key() or b"").decode()
            if args.key and key != args.key:
                continue
            printed += 1
            print(json.dumps({"topic": msg.topic(), "key": key, "id": event["id"], "type": event["type"],
                              "source": event["source"], "subject": event.get("subject"),
                              "time": event.get("time"), "data": event.get_data()}), flush=True)
    finally:
        consumer.close()


def publish(args):
    attributes = {"id": args.id, "type": "cn.yjshub.subcase.event", "source": args.source,
                  "subject": args.subject, "datacontenttype": "application/json"}
    event = CloudEvent(attributes, json.loads(args.data))
    key = lambda _event: args.key  # noqa: E731 - the case id, as the hub requires
    if args.mode == "binary":
        message = to_binary(event, key_mapper=key)
    else:
        message = to_structured(event, key_mapper=key)
    producer = Producer({"bootstrap.servers": args.brokers, "acks": "all", "partitioner": "murmur2_random",
                         "enable.idempotence": True})
    errors, partitions = [], []

    def delivered(err, msg):
        if err:
            errors.append(err)
        else:
            partitions.append(msg.partition())

    producer.produce(args.topic, key=message.key, value=message.value, headers=list(message.headers.items()),
                     on_delivery=delivered)
    left = producer.flush(30)
    if left or errors:
        fail(1, f"publishing to {args.topic}: {errors or 'not acknowledged within 30s'}")
    count = len(producer.list_topics(args.topic, timeout=10).topics[args.topic].partitions)
    print(json.dumps({"mode": args.mode, "headers": sorted(message.headers), "partition": partitions[0],
                      "partitions": count}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("--brokers", required=True)
    r.add_argument("--topic", required=True)
    r.add_argument("--group", required=True)
    r.add_argument("--key", default="")
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--timeout", type=float, default=60)
    w = sub.add_parser("publish")
    for name in ("brokers", "topic", "key", "id", "source", "subject", "data"):
        w.add_argument("--" + name, required=True)
    w.add_argument("--mode", choices=("binary", "structured"), required=True)
    args = p.parse_args()
    read(args) if args.command == "read" else publish(args)


if __name__ == "__main__":
    main()
