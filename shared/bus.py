"""The Kafka bus: broker factory, topic creation, and the one way a service subscribes
to an event (consumer group, ack after the database commit, inbox, retries, dead letters)."""

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.subscriber.usecase import BatchSubscriber
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.cloudevents import (
    TYPE_PREFIX,
    Envelope,
    InvalidEnvelopeError,
    headers_to_dict,
    parse_headers,
)
from shared.db import SessionFactory, transaction
from shared.events import DLQ_NULL_VALUE_HEADER, EVENT_TYPES, IntegrationEvent, dead_letter_topic
from shared.inbox import Inbox
from shared.logging import BROKER_LOGGER, bind_correlation_id, get_logger
from shared.metrics import DeliveryMetrics
from shared.settings import ServiceSettings

log = get_logger()

E = TypeVar("E", bound=IntegrationEvent)
EventHandler = Callable[[AsyncSession, E, Envelope], Awaitable[None]]
# Applies a run of consecutive events, as the handlers would one by one.
BatchHandler = Callable[[AsyncSession, Sequence[tuple[E, Envelope]]], Awaitable[None]]


def create_broker(settings: ServiceSettings, registry: CollectorRegistry) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name)],
        graceful_timeout=15.0,
        # Its lines go through the service's log handler (JSON in production), not its own.
        logger=logging.getLogger(BROKER_LOGGER),
        # "Received"/"Processed" per message batch: DEBUG, as metrics count them; rebalances
        # (INFO) and handler errors (ERROR) keep their own levels.
        log_level=logging.DEBUG,
    )


# Every topic keeps its records for ever: the log is the history read models rebuild from.
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


def topic_config(settings: ServiceSettings) -> dict[str, str]:
    """The settings a topic is created with, beside its partitions and replication factor."""
    return {**TOPIC_CONFIG, "min.insync.replicas": str(settings.kafka_min_insync_replicas)}


@dataclasses.dataclass(frozen=True)
class TopicDifference:
    """An existing topic set up otherwise than this service's settings ask."""

    topic: str
    setting: str
    found: str
    wanted: str
    fix: str


async def ensure_topics(settings: ServiceSettings, topics: Iterable[str]) -> list[TopicDifference]:
    """Create the topics this service publishes to or reads from, if missing, keeping
    their records for ever; warn about each way an existing topic differs from the
    settings (partitions, replication factor, min.insync.replicas, retention)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service_name}-admin",
    )
    await admin.start()
    try:
        wanted = set(topics)
        existing = set(await admin.list_topics())
        missing = sorted(wanted - existing)
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=topic,
                        num_partitions=settings.kafka_topic_partitions,
                        replication_factor=settings.kafka_replication_factor,
                        topic_configs=topic_config(settings),
                    )
                    for topic in missing
                ]
            )
            log.info(
                "topics_created",
                topics=missing,
                partitions=settings.kafka_topic_partitions,
                replication_factor=settings.kafka_replication_factor,
                min_insync_replicas=settings.kafka_min_insync_replicas,
            )
        differences = await topic_differences(admin, settings, sorted(wanted & existing))
        for difference in differences:
            event = (
                "topic_expires_history"
                if difference.setting == "retention.ms"
                else "topic_differs_from_settings"
            )
            log.warning(
                event,
                topic=difference.topic,
                setting=difference.setting,
                found=difference.found,
                wanted=difference.wanted,
                fix=difference.fix,
            )
        return differences
    finally:
        await admin.close()


async def topic_differences(
    admin: AIOKafkaAdminClient, settings: ServiceSettings, topics: list[str]
) -> list[TopicDifference]:
    """Each way the existing ``topics`` differ from what ``settings`` would create."""
    if not topics:
        return []
    differences: list[TopicDifference] = []
    configs = await topic_configs(admin, topics, ("retention.ms", "min.insync.replicas"))
    for description in await described_topics(admin, topics):
        topic = description["topic"]
        partitions = description["partitions"]
        if description["error_code"] != 0 or not partitions:
            log.warning("topic_not_described", topic=topic, error_code=description["error_code"])
            continue
        if len(partitions) < settings.kafka_topic_partitions:
            differences.append(
                TopicDifference(
                    topic,
                    "partitions",
                    str(len(partitions)),
                    str(settings.kafka_topic_partitions),
                    f"kafka-topics --alter --topic {topic} "
                    f"--partitions {settings.kafka_topic_partitions} (keys move to new "
                    "partitions: do it before events of one aggregate are in flight)",
                )
            )
        replicas = min(len(partition["replicas"]) for partition in partitions)
        if replicas != settings.kafka_replication_factor:
            differences.append(
                TopicDifference(
                    topic,
                    "replication_factor",
                    str(replicas),
                    str(settings.kafka_replication_factor),
                    "kafka-reassign-partitions --execute with a plan giving each partition "
                    f"{settings.kafka_replication_factor} replicas",
                )
            )
        found = configs.get(topic, {})
        insync = str(settings.kafka_min_insync_replicas)
        if found.get("min.insync.replicas", insync) != insync:
            differences.append(
                TopicDifference(
                    topic,
                    "min.insync.replicas",
                    found["min.insync.replicas"],
                    insync,
                    f"kafka-configs --alter --entity-type topics --entity-name {topic} "
                    f"--add-config min.insync.replicas={insync}",
                )
            )
        if found.get("retention.ms", "-1") != "-1":
            differences.append(
                TopicDifference(
                    topic,
                    "retention.ms",
                    found["retention.ms"],
                    "-1",
                    f"kafka-configs --alter --entity-type topics --entity-name {topic} "
                    "--add-config retention.ms=-1",
                )
            )
    return differences


async def described_topics(
    admin: AIOKafkaAdminClient, topics: list[str], within: float = 10.0
) -> list[dict[str, Any]]:
    """The topics' descriptions, once each has its partitions' leaders (a topic created a
    moment ago has none for a while)."""
    deadline = time.monotonic() + within
    while True:
        descriptions: list[dict[str, Any]] = await admin.describe_topics(topics)
        settled = all(
            d["error_code"] == 0
            and d["partitions"]
            and all(p["leader"] >= 0 for p in d["partitions"])
            for d in descriptions
        )
        if settled or time.monotonic() > deadline:
            return descriptions
        await asyncio.sleep(0.2)


async def topic_configs(
    admin: AIOKafkaAdminClient, topics: list[str], names: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The named configuration entries of each topic, as the broker reports them."""
    if not topics:
        return {}
    wanted = set(names)
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    )
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            _, _, _, name, entries = resource[:5]
            for entry in entries:
                if entry[0] in wanted:
                    found.setdefault(name, {})[entry[0]] = entry[1]
    return found


async def topic_retention(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, str]:
    """Each topic's ``retention.ms`` as the broker reports it."""
    configs = await topic_configs(admin, topics, ("retention.ms",))
    return {topic: entries["retention.ms"] for topic, entries in configs.items()}


def _validation_summary(exc: ValidationError) -> str:
    # Field paths and rules only: a payload's values (a name, say) never reach a header.
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_input=False)[:10]
    )


LOGGED_IDS = 20  # ids named in one log line about a batch, at most


class PoisonRecordError(ValueError):
    """A record that can never become an event of its topic: dead-lettered at once."""


def _lenient_headers(record: Any) -> Any:
    # FastStream decodes header values strictly; a bad one must reach the wrapper, not crash.
    headers = [
        (key, value if isinstance(value, bytes) else b"")
        for key, value in (getattr(record, "headers", None) or ())
    ]
    clean = [(key, value.decode("utf-8", "replace").encode()) for key, value in headers]
    return dataclasses.replace(record, headers=clean)


async def _keep_raw_batch(records: tuple[Any, ...], parse: Callable[[Any], Awaitable[Any]]) -> Any:
    # FastStream's parser decodes every record's headers, which nothing reads: the wrapper
    # decodes each record itself, as it came. The first record is enough for the frame.
    message = await parse((_lenient_headers(records[0]),))
    message.raw_message = records
    message.body = [record.value or b"" for record in records]  # the batch's size, in metrics
    return message


def _fetch_without_idle_sleep(subscriber: Any) -> None:
    """After an empty fetch FastStream's batch subscriber sleeps as long as it waited, and a
    record that arrives meanwhile waits up to ``batch_timeout_ms`` (5 ms on average at 20):
    ask again at once instead. ``getmany`` itself waits up to the timeout, and returns as
    soon as any record is there."""
    subscriber_class = type(subscriber)
    if getattr(subscriber_class, "get_msg", None) is not _BATCH_GET_MSG:
        raise RuntimeError(
            f"{subscriber_class.__name__} is not FastStream's batch subscriber this fetch "
            "replaces: check shared/bus.py against the pinned faststream"
        )

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        fetched = await consumer.getmany(
            timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
        )
        return tuple(chain.from_iterable(fetched.values()))

    subscriber.get_msg = get_msg


_BATCH_GET_MSG = BatchSubscriber.get_msg


async def _records_as_body(message: Any) -> tuple[Any, ...]:
    # The handler takes the batch's records as its body, undecoded: decoding happens in
    # EventConsumer, where every failure can be dead-lettered. (A KafkaMessage parameter
    # would be resolved from FastStream's context in a worker thread: a thread hop a batch.)
    return tuple(message.raw_message)


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A record of a batch, decoded into the event its ``ce_type`` names."""

    record: Any
    envelope: Envelope
    event: IntegrationEvent

    @property
    def key(self) -> bytes | None:
        return getattr(self.record, "key", None)


@dataclasses.dataclass
class Subscription:
    contract: type[IntegrationEvent]
    handler: EventHandler[Any]
    batch_handler: BatchHandler[Any] | None = None


@dataclasses.dataclass
class Retry:
    """An event set aside from its batch: how often it has failed, and why, so far."""

    delivery: Delivery
    attempts: int = 0
    error: Exception | None = None


def partitions_behind(consumer: Any, topic: str) -> dict[int, bool]:
    """For each partition of ``topic`` assigned to ``consumer`` (an aiokafka consumer):
    whether it has records it has not handed out yet. Read from the state its own
    ``position()`` and ``highwater()`` read, without their waits and assertions (a private
    attribute of aiokafka, pinned in uv.lock; tests/unit/test_not_yet_known.py reads it on
    a real consumer); empty when there is no such consumer (not started, or the in-memory
    test broker's stand-in)."""
    subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return {}
    behind: dict[int, bool] = {}
    for tp in assignment.tps:
        if tp.topic != topic:
            continue
        state = assignment.state_value(tp)
        behind[tp.partition] = (
            state is None
            or state.highwater is None
            or not state.has_valid_position
            or state.position < state.highwater
        )
    return behind


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class EventConsumer:
    """One Kafka subscription per topic, consumed in batches: decodes each record into the
    event its ``ce_type`` names, claims the batch in the inbox and applies it in one
    transaction, then commits the offsets; skips (and counts) types the service does not
    handle, and dead-letters whatever cannot become an event or keeps failing on its own."""

    def __init__(
        self,
        broker: KafkaBroker,
        sessions: SessionFactory,
        inbox: Inbox,
        metrics: DeliveryMetrics,
        settings: ServiceSettings,
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.inbox = inbox
        self.metrics = metrics
        self.max_attempts = settings.consumer_max_attempts
        self.backoff = settings.consumer_retry_backoff_seconds
        self.batch_max = settings.consumer_batch_max
        self.batch_wait_ms = settings.consumer_batch_wait_ms
        self.service = settings.service_name
        # topic → ce event type → its contract and handlers
        self.handlers: dict[str, dict[str, Subscription]] = {}
        self.groups: dict[str, str] = {}  # consumer group → topic
        # What catching_up reads, all in memory: each topic's FastStream subscriber (its
        # aiokafka consumer once started), the batches being applied now, and the lag of
        # every partition at the last measurement (``lag_measured``, every replica's).
        self.subscribers: dict[str, Any] = {}
        self.applying: Counter[str] = Counter()
        self.measured_lag: dict[tuple[str, int], int] = {}

    @property
    def topics(self) -> list[str]:
        return list(self.handlers)

    def group_for(self, topic: str) -> str:
        return f"{self.service}.{topic}"

    def subscribe(
        self,
        event_cls: type[E],
        handler: EventHandler[E],
        *,
        batch_handler: BatchHandler[E] | None = None,
    ) -> None:
        """Handle ``event_cls`` with ``handler``; the first handler of a topic subscribes.
        ``batch_handler``, if given, applies a run of consecutive events at once, with the
        same effect as their handlers applied to each in turn; events of several types may
        share one, and a run then spans them."""
        topic = event_cls.topic
        if topic not in self.handlers:
            self.handlers[topic] = {}
            self._subscribe_topic(topic)
        if event_cls.event_type in self.handlers[topic]:
            raise ValueError(f"{event_cls.event_type} already has a handler in {self.service}")
        self.handlers[topic][event_cls.event_type] = Subscription(event_cls, handler, batch_handler)

    def _subscribe_topic(self, topic: str) -> None:
        group_id = self.group_for(topic)
        self.groups[group_id] = topic

        async def consume(records: Any) -> None:
            self.applying[topic] += 1
            try:
                await self._consume_batch(records, topic, group_id)
            finally:
                self.applying[topic] -= 1

        consume.__name__ = topic.replace(".", "_")
        consume.__doc__ = f"Events of {topic}, in batches, dispatched by ce_type."
        # Offsets are committed only after the batch's transaction (AckPolicy.ACK). Topics
        # keep every event for ever, so a new group reads the whole history from the start.
        options: dict[str, Any] = {
            "auto_offset_reset": "earliest",
            "parser": _keep_raw_batch,
            "decoder": _records_as_body,
            "title": f"{group_id}:{topic}",
            "batch": True,
            "max_records": self.batch_max,
            "batch_timeout_ms": self.batch_wait_ms,
        }
        ack = AckPolicy.ACK
        subscriber = self.broker.subscriber(topic, group_id=group_id, ack_policy=ack, **options)
        subscriber(consume)
        _fetch_without_idle_sleep(subscriber)
        self.subscribers[topic] = subscriber

    def lag_measured(self, measured: dict[tuple[str, str, int], int]) -> None:
        """Keep what a lag measurement found, (group, topic, partition) → records behind."""
        for (_, topic, partition), lag in measured.items():
            self.measured_lag[(topic, partition)] = lag

    def catching_up(self, topic: str) -> bool:
        """Whether events of ``topic`` may still be on their way into this service's
        database, answered from memory (no Kafka round trip): a batch of it is being
        applied; a partition this replica reads has records it has not been handed yet
        (aiokafka's position below the highwater mark of its last fetch, or no fetch or
        position yet); or a partition it does not read (another replica's, or all of them
        while a rebalance is under way) was behind at the last lag measurement."""
        if self.applying[topic]:
            return True
        own = partitions_behind(getattr(self.subscribers.get(topic), "consumer", None), topic)
        if any(own.values()):
            return True
        return any(
            lag > 0
            for (measured_topic, partition), lag in self.measured_lag.items()
            if measured_topic == topic and partition not in own
        )

    def decode(self, topic: str, record: Any) -> tuple[Envelope, IntegrationEvent] | None:
        """The record as an event of ``topic``; None for a type this service does not
        handle. Raises PoisonRecordError for anything that can never become an event."""
        try:
            envelope = parse_headers(headers_to_dict(record.headers or ()))
        except InvalidEnvelopeError as exc:
            raise PoisonRecordError(str(exc)) from exc
        if not envelope.type.startswith(TYPE_PREFIX):
            raise PoisonRecordError(f"ce_type {envelope.type!r} is not a vn.antt. event type")
        contract = EVENT_TYPES.get(envelope.event_type)
        if contract is not None and contract.topic != topic:
            raise PoisonRecordError(
                f"ce_type {envelope.type!r} does not belong on topic {topic!r} "
                f"(its topic is {contract.topic!r})"
            )
        handled = self.handlers[topic].get(envelope.event_type)
        if handled is None:
            return None
        if record.value is None:
            raise PoisonRecordError("the record's value is null (a tombstone), not an event")
        if not record.value:
            raise PoisonRecordError("the record's value is empty, not an event")
        try:
            event = handled.contract.model_validate_json(record.value)
        except ValidationError as exc:
            kind = "invalid JSON" if exc.errors()[0]["type"] == "json_invalid" else "contract"
            raise PoisonRecordError(f"{kind}: {_validation_summary(exc)}") from exc
        return envelope, event

    async def _consume_batch(self, records: tuple[Any, ...], topic: str, group_id: str) -> None:
        deliveries: list[Delivery] = []
        for record in records:
            try:
                decoded = self.decode(topic, record)
            except PoisonRecordError as exc:
                await self._dead_letter(record, topic, group_id, exc, attempts=1)
                continue
            if decoded is None:
                event_type = headers_to_dict(record.headers or ()).get("ce_type", "")
                self.metrics.skipped.labels(topic=topic, type=event_type[:100]).inc()
                continue
            deliveries.append(Delivery(record, *decoded))
        if deliveries:
            self.metrics.batch_size.labels(topic=topic).observe(len(deliveries))
            await self._apply(deliveries, topic, group_id)

    async def _apply(self, deliveries: list[Delivery], topic: str, group_id: str) -> None:
        """The whole batch in one transaction; if it fails, event by event."""
        try:
            async with transaction(self.sessions) as session:
                fresh = await self._claim_all(session, deliveries, topic, group_id)
                await self._handle_runs(session, fresh, topic)
        except Exception as exc:
            if _connection_lost(exc):
                await self._wait_for_database(topic, exc)
            self.metrics.batch_failures.labels(topic=topic).inc()
            log.warning(
                "event_batch_failed",
                topic=topic,
                events=len(deliveries),
                error_type=type(exc).__name__,
            )
            if len(deliveries) == 1:  # the batch was this event's first attempt
                self._handler_failed(deliveries[0], topic, 1, exc)
                await self._apply_alone(Retry(deliveries[0], 1, exc), topic, group_id)
                return
        else:
            applied_ms = time.time() * 1000  # records carry their send time in milliseconds
            age = self.metrics.event_age.labels(topic=topic)
            for delivery in fresh:
                sent_ms = getattr(delivery.record, "timestamp", None) or -1
                if sent_ms > 0:  # a record of the oldest message format has no timestamp
                    age.observe(max(0.0, applied_ms - sent_ms) / 1000)
            # One line a batch; its correlation ids lead back to the requests that caused it.
            log.info(
                "event_batch_handled",
                topic=topic,
                events=len(fresh),
                duplicates=len(deliveries) - len(fresh),
                correlation_ids=sorted(
                    {d.envelope.correlation_id for d in fresh if d.envelope.correlation_id}
                )[:LOGGED_IDS],
            )
            return
        for retry in await self._apply_each(deliveries, topic, group_id):
            await self._apply_alone(retry, topic, group_id)

    async def _claim_all(
        self, session: AsyncSession, deliveries: list[Delivery], topic: str, group_id: str
    ) -> list[Delivery]:
        """Claim the batch in the inbox with one statement; the events not seen before, in
        order (a record published twice counts once)."""
        claimed = await self.inbox.claim_all(
            session,
            consumer=group_id,
            events=[(d.envelope.id, d.event.event_type) for d in deliveries],
        )
        fresh = []
        for delivery in deliveries:
            if delivery.envelope.id in claimed:
                claimed.discard(delivery.envelope.id)
                fresh.append(delivery)
        if len(fresh) < len(deliveries):
            self.metrics.inbox_duplicates.labels(topic=topic).inc(len(deliveries) - len(fresh))
            kept = {id(d) for d in fresh}
            log.info(
                "event_duplicates_skipped",
                topic=topic,
                count=len(deliveries) - len(fresh),
                event_ids=[d.envelope.id for d in deliveries if id(d) not in kept][:LOGGED_IDS],
            )
        return fresh

    async def _handle_runs(
        self, session: AsyncSession, deliveries: list[Delivery], topic: str
    ) -> None:
        """Apply events in order; a run of consecutive events that share a batch handler
        (one type, or several types handled alike) goes to it at once."""
        subscriptions = self.handlers[topic]
        start = 0
        while start < len(deliveries):
            batch_handler = subscriptions[deliveries[start].event.event_type].batch_handler
            end = start + 1
            while (
                batch_handler is not None
                and end < len(deliveries)
                and subscriptions[deliveries[end].event.event_type].batch_handler is batch_handler
            ):
                end += 1
            if batch_handler is not None:
                run = deliveries[start:end]
                await batch_handler(session, [(d.event, d.envelope) for d in run])
            else:
                delivery = deliveries[start]
                bind_correlation_id(delivery.envelope.correlation_id)
                handler = subscriptions[delivery.event.event_type].handler
                await handler(session, delivery.event, delivery.envelope)
            start = end

    async def _apply_each(
        self, deliveries: list[Delivery], topic: str, group_id: str
    ) -> list["Retry"]:
        """One transaction, a savepoint per event: the events that fail are set aside, with
        every later event of the same aggregate (its order must hold), to be retried alone."""
        set_aside: list[Retry] = []
        try:
            async with transaction(self.sessions) as session:
                blocked: set[bytes | None] = set()
                for delivery in deliveries:
                    if delivery.key in blocked:
                        set_aside.append(Retry(delivery))
                        continue
                    try:
                        async with session.begin_nested():
                            await self._apply_in(session, delivery, topic, group_id)
                    except Exception as exc:
                        if _connection_lost(exc):
                            raise
                        self._handler_failed(delivery, topic, attempt=1, error=exc)
                        set_aside.append(Retry(delivery, 1, exc))
                        blocked.add(delivery.key)
        except Exception as exc:
            if _connection_lost(exc):
                await self._wait_for_database(topic, exc)
            log.warning("event_batch_failed_one_by_one", topic=topic, error_type=type(exc).__name__)
            return [Retry(delivery) for delivery in deliveries]
        return set_aside

    async def _apply_in(
        self, session: AsyncSession, delivery: Delivery, topic: str, group_id: str
    ) -> None:
        envelope, event = delivery.envelope, delivery.event
        bind_correlation_id(envelope.correlation_id)
        claimed = await self.inbox.claim(
            session, event_id=envelope.id, consumer=group_id, event_type=event.event_type
        )
        if not claimed:
            self.metrics.inbox_duplicates.labels(topic=topic).inc()
            log.info("event_duplicate_skipped", topic=topic, event_id=envelope.id)
            return
        await self.handlers[topic][event.event_type].handler(session, event, envelope)

    async def _apply_alone(self, retry: "Retry", topic: str, group_id: str) -> None:
        """One event in its own transaction, retried with back-off, then dead-lettered."""
        attempt, error = retry.attempts, retry.error
        while attempt < self.max_attempts or error is None:
            if error is not None:
                await asyncio.sleep(self.backoff * attempt)
            attempt += 1
            try:
                async with transaction(self.sessions) as session:
                    await self._apply_in(session, retry.delivery, topic, group_id)
                return
            except Exception as exc:
                if _connection_lost(exc):
                    await self._wait_for_database(topic, exc)
                self._handler_failed(retry.delivery, topic, attempt, exc)
                error = exc
        await self._dead_letter(retry.delivery.record, topic, group_id, error, attempt)

    def _handler_failed(
        self, delivery: Delivery, topic: str, attempt: int, error: Exception
    ) -> None:
        self.metrics.handler_failures.labels(topic=topic).inc()
        log.warning(
            "event_handler_failed",
            topic=topic,
            type=delivery.event.event_type,
            event_id=delivery.envelope.id,
            attempt=attempt,
            error_type=type(error).__name__,
        )

    async def _wait_for_database(self, topic: str, error: Exception) -> None:
        """The database is unreachable: not the events' fault, so none is dead-lettered. The
        batch is handed back uncommitted and read again once the back-off has passed."""
        log.error("event_batch_database_unreachable", topic=topic, error_type=type(error).__name__)
        await asyncio.sleep(max(self.backoff, 1.0))
        raise NackMessage() from error

    async def _dead_letter(
        self,
        record: Any,
        topic: str,
        group_id: str,
        error: Exception | None,
        attempts: int,
    ) -> None:
        error = error or RuntimeError("failed every attempt")
        headers = {
            key: value
            for key, value in headers_to_dict(record.headers or ()).items()
            if not key.startswith("dlq_")
        }
        cause = error.__cause__ if isinstance(error, PoisonRecordError) else None
        headers.update(
            {
                "dlq_original_topic": topic,
                "dlq_original_partition": str(getattr(record, "partition", "")),
                "dlq_original_offset": str(getattr(record, "offset", "")),
                "dlq_consumer_group": group_id,
                "dlq_error_type": type(cause or error).__name__,
                "dlq_error": str(error)[:2000],
                "dlq_attempts": str(attempts),
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }
        )
        if record.value is None:
            headers[DLQ_NULL_VALUE_HEADER] = "true"  # so a replay restores the null
        try:
            await self.broker.publish(
                record.value or b"",
                topic=dead_letter_topic(topic),
                key=getattr(record, "key", None),
                headers=headers,
            )
        except Exception as exc:
            # Not dead-lettered: leave the offset uncommitted so the message comes back.
            log.error("dead_letter_failed", topic=topic, error=str(exc))
            raise NackMessage() from exc
        self.metrics.dead_letters.labels(topic=topic).inc()
        log.error(
            "event_dead_lettered",
            topic=topic,
            dlq=dead_letter_topic(topic),
            error_type=type(error).__name__,
            attempts=attempts,
        )
