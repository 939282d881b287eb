"""Consumer lag is read from Kafka: end offsets minus the group's committed offsets."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry

from shared.lag import measure_consumer_lag
from shared.metrics import ConsumerLagMetrics

pytestmark = pytest.mark.integration


async def test_lag_counts_uncommitted_messages_per_partition(kafka):
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"m{n}".encode(), partition=0)
    finally:
        await producer.stop()
    registry = CollectorRegistry()
    metrics = ConsumerLagMetrics(registry)

    lag: dict = {}
    for _ in range(40):  # a fresh broker elects the group coordinator on first use
        lag = await measure_consumer_lag(kafka.bootstrap_servers, {group: topic}, metrics)
        if lag:
            break
        await asyncio.sleep(0.5)
    assert lag[(group, topic, 0)] == 5  # nothing committed yet: all of it
    assert (
        registry.get_sample_value(
            "antt_consumer_lag_messages",
            {"consumer_group": group, "topic": topic, "partition": "0"},
        )
        == 5
    )

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "")})
    finally:
        await consumer.stop()
    lag = await measure_consumer_lag(kafka.bootstrap_servers, {group: topic}, metrics)
    assert lag[(group, topic, 0)] == 2
