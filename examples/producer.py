# Each line of stdin becomes one record of TOPIC keyed by KEY (the workspace id), with
# confluent-kafka's defaults: python3 examples/producer.py BROKERS TOPIC KEY
import sys

from confluent_kafka import Producer

brokers, topic, key = sys.argv[1:]
errors = []


def delivered(err, msg):
    if err is not None:
        errors.append(err)


producer = Producer({"bootstrap.servers": brokers})
for line in sys.stdin:
    producer.produce(topic, key=key, value=line.rstrip("\n"), on_delivery=delivered)
    producer.poll(0)
producer.flush()
if errors:
    sys.exit(f"not delivered: {errors}")
