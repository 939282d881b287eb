"""Replaying dead letters: records in ``<topic>.dlq`` go back to ``<topic>`` once the cause
is fixed. Only what was in the dead-letter topic when the replay began is replayed, so a
record that fails again (and returns to the DLQ) is not looped over."""

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import DLQ_NULL_VALUE_HEADER, dead_letter_topic
from shared.settings import bootstrap_list

REPLAY_GROUP_PREFIX = "antt.dlq-replay."


@dataclass
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    error_type: str | None
    error: str | None
    attempts: str | None
    failed_at: str | None
    consumer_group: str | None
    replayed: bool


@dataclass
class ReplayResult:
    replayed: int
    pending_before: int


def _original_headers(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(key, value) for key, value in headers if not key.startswith("dlq_")]


async def pending_dead_letters(bootstrap_servers: str, topic: str) -> int:
    """Dead letters of ``topic`` not yet replayed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers),
        group_id=REPLAY_GROUP_PREFIX + topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        return (await _pending(consumer, bootstrap_servers, dead_letter_topic(topic)))[0]
    finally:
        await consumer.stop()


async def _partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(bootstrap_servers))
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0:  # no such topic: nothing was ever dead-lettered
        return []
    return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])


async def _pending(
    consumer: AIOKafkaConsumer, bootstrap_servers: str, dlq: str
) -> tuple[int, dict[TopicPartition, int]]:
    partitions = await _partitions(bootstrap_servers, dlq)
    if not partitions:
        return 0, {}
    ends = await consumer.end_offsets(partitions)
    beginnings = await consumer.beginning_offsets(partitions)
    committed = {tp: await consumer.committed(tp) for tp in partitions}
    pending = 0
    for tp in partitions:
        start = committed[tp] if committed[tp] is not None else beginnings[tp]
        pending += max(0, ends[tp] - start)
    return pending, ends


async def replay_dead_letters(
    bootstrap_servers: str,
    topic: str,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    dlq = dead_letter_topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers),
        group_id=REPLAY_GROUP_PREFIX + topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_list(bootstrap_servers), acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        pending, ends = await _pending(consumer, bootstrap_servers, dlq)
        target = pending if limit is None else min(pending, limit)
        if target == 0:
            return ReplayResult(0, pending)
        consumer.assign(list(ends))
        for tp in ends:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        replayed = 0
        done = {tp for tp, end in ends.items() if await consumer.position(tp) >= end}
        while replayed < target and len(done) < len(ends):
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if tp in done or replayed >= target or record.offset >= ends[tp]:
                        done.add(tp)
                        break
                    null = (DLQ_NULL_VALUE_HEADER, b"true") in record.headers
                    await producer.send_and_wait(
                        topic,
                        value=None if null else record.value,
                        key=record.key,
                        headers=_original_headers(list(record.headers)),
                    )
                    # Commit after the record is safely back on its topic.
                    await consumer.commit({tp: record.offset + 1})
                    replayed += 1
                    if on_progress:
                        on_progress(replayed, target)
                    if record.offset + 1 >= ends[tp]:
                        done.add(tp)
        return ReplayResult(replayed, pending)
    finally:
        await producer.stop()
        await consumer.stop()


async def list_dead_letters(
    bootstrap_servers: str, topic: str, limit: int = 100
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters of ``topic``, oldest first, and whether each has
    been replayed already (is behind the replay group's committed offset)."""
    dlq = dead_letter_topic(topic)
    partitions = await _partitions(bootstrap_servers, dlq)
    if not partitions:
        return []
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers), enable_auto_commit=False
    )
    replay_group = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers),
        group_id=REPLAY_GROUP_PREFIX + topic,
        enable_auto_commit=False,
    )
    await reader.start()
    await replay_group.start()
    letters: list[DeadLetter] = []
    try:
        ends = await reader.end_offsets(partitions)
        beginnings = await reader.beginning_offsets(partitions)
        replayed_up_to = {tp: await replay_group.committed(tp) or 0 for tp in partitions}
        reader.assign(partitions)
        for tp in partitions:
            reader.seek(tp, max(beginnings[tp], ends[tp] - limit))
        pending = {tp for tp in partitions if ends[tp] > beginnings[tp]}
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    headers = {k: v.decode(errors="replace") for k, v in record.headers}
                    letters.append(
                        DeadLetter(
                            partition=tp.partition,
                            offset=record.offset,
                            key=record.key.decode(errors="replace") if record.key else None,
                            event_id=headers.get("ce_id"),
                            error_type=headers.get("dlq_error_type"),
                            error=headers.get("dlq_error"),
                            attempts=headers.get("dlq_attempts"),
                            failed_at=headers.get("dlq_failed_at"),
                            consumer_group=headers.get("dlq_consumer_group"),
                            replayed=record.offset < replayed_up_to[tp],
                        )
                    )
                    if record.offset + 1 >= ends[tp]:
                        pending.discard(tp)
    finally:
        await replay_group.stop()
        await reader.stop()
    letters.sort(key=lambda letter: (letter.failed_at or "", letter.partition, letter.offset))
    return letters[-limit:]
