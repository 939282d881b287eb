"""On real Kafka, every kind of record that cannot become an event reaches ``<topic>.dlq``
with its error, is counted, and can be replayed (it fails again and returns, once)."""

import asyncio
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.test_slice import plain_record, replay_with_cli

pytestmark = pytest.mark.integration

TOPIC = "reporting.incident"  # read by awards


def good_headers(event_type: str = "incident_status_changed") -> list[tuple[str, bytes]]:
    return plain_record(event_type, "x", "/antt/reporting", {})["headers"]


def without(name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in good_headers() if k != name]


# kind → (value, headers, what dlq_error says)
POISON: dict[str, tuple[bytes | None, list[tuple[str, bytes]], str]] = {
    "missing header": (b"{}", without("ce_id"), "missing CloudEvents header(s): ce_id"),
    "wrong type": (b"{}", good_headers("award_granted"), "does not belong on topic"),
    "failed contract": (b'{"incident_id": 1}', good_headers(), "contract:"),
    "invalid JSON": (b"{oops", good_headers(), "invalid JSON"),
    "empty value": (b"", good_headers(), "value is empty"),
    "null value": (None, good_headers(), "value is null"),
    # a header that is not UTF-8 reaches the wrapper instead of failing inside FastStream
    "undecodable header": (b"{}", [*without("ce_id"), ("ce_id", b"\xff\xfe")], "contract:"),
}


async def dead_letters(bootstrap: str, keys: set[bytes], copies: int = 1) -> dict:
    """The dead letters with these keys, by key, once each has ``copies`` of them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[bytes, list] = {}

    def complete() -> bool:
        return all(len(found.get(key, [])) >= copies for key in keys)

    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [description] = await admin.describe_topics([f"{TOPIC}.dlq"])
        finally:
            await admin.close()
        partitions = [
            TopicPartition(f"{TOPIC}.dlq", p["partition"]) for p in description["partitions"]
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline and not complete():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key in keys:
                        found.setdefault(record.key, []).append(record)
    finally:
        await consumer.stop()
    assert complete(), {key: len(found.get(key, [])) for key in keys}
    return found


async def dead_letter_total(stack) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        metrics = (await client.get(f"{stack.url('awards')}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(f'antt_dead_letters_total{{topic="{TOPIC}"}}')
    )


async def test_every_poison_kind_is_dead_lettered_counted_and_replayable(stack):
    bootstrap = stack.kafka.bootstrap_servers
    keys = {kind: f"poison-{uuid.uuid4()}".encode() for kind in POISON}
    counted_before = await dead_letter_total(stack)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for kind, (value, headers, _) in POISON.items():
            await producer.send_and_wait(TOPIC, value=value, key=keys[kind], headers=headers)
    finally:
        await producer.stop()

    found = await dead_letters(bootstrap, set(keys.values()))
    for kind, (value, _, phrase) in POISON.items():
        [letter] = found[keys[kind]]
        headers = {k: v.decode(errors="replace") for k, v in letter.headers}
        assert phrase in headers["dlq_error"], (kind, headers["dlq_error"])
        assert headers["dlq_original_topic"] == TOPIC, kind
        assert headers["dlq_consumer_group"] == f"awards.{TOPIC}", kind
        assert letter.value == (value or b""), kind
        assert (headers.get("dlq_value_null") == "true") is (value is None), kind
    assert await dead_letter_total(stack) >= counted_before + len(POISON)

    # A replay puts each back on its topic, a null as a null: each fails again, once.
    await replay_with_cli(bootstrap, TOPIC)
    again = await dead_letters(bootstrap, set(keys.values()), copies=2)
    for kind, (value, _, phrase) in POISON.items():
        assert len(again[keys[kind]]) == 2, kind
        headers = {k: v.decode(errors="replace") for k, v in again[keys[kind]][1].headers}
        assert phrase in headers["dlq_error"], kind
        assert (headers.get("dlq_value_null") == "true") is (value is None), kind
