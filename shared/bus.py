"""The Kafka bus: broker factory, topic creation, and the one way a service subscribes
to an event (consumer group, ack after the database commit, inbox, retries, dead letters)."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.cloudevents import Envelope, InvalidEnvelopeError, ce_type_for, parse_headers
from shared.db import SessionFactory, transaction
from shared.events import IntegrationEvent, dead_letter_topic
from shared.inbox import Inbox
from shared.logging import bind_correlation_id, get_logger
from shared.metrics import DeliveryMetrics
from shared.settings import ServiceSettings

log = get_logger()

E = TypeVar("E", bound=IntegrationEvent)
EventHandler = Callable[[AsyncSession, E, Envelope], Awaitable[None]]


def create_broker(settings: ServiceSettings, registry: CollectorRegistry) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name)],
        graceful_timeout=15.0,
    )


async def ensure_topics(settings: ServiceSettings, topics: Iterable[str]) -> None:
    """Create the topics this service publishes to or reads from, if missing."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-admin",
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(topics) - existing)
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=topic,
                        num_partitions=settings.kafka_topic_partitions,
                        replication_factor=settings.kafka_replication_factor,
                    )
                    for topic in missing
                ]
            )
            log.info("topics_created", topics=missing)
    finally:
        await admin.close()


class EventConsumer:
    """Subscribes handlers so that each event takes effect once, or lands in ``.dlq``."""

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
        self.service = settings.service_name
        self.topics: list[str] = []
        self.groups: dict[str, str] = {}  # consumer group → topic

    def subscribe(self, event_cls: type[E], handler: EventHandler[E]) -> None:
        topic = event_cls.event_type
        group_id = f"{self.service}.{handler.__name__}"
        self.topics.append(topic)
        self.groups[group_id] = topic

        async def consume(message: KafkaMessage) -> None:
            await self._consume(message, event_cls, handler, group_id)

        consume.__name__ = handler.__name__
        consume.__doc__ = handler.__doc__
        # Offsets are committed only after the handler's transaction (AckPolicy.ACK);
        # a new consumer group reads from the start, as read models need all history.
        options: dict[str, Any] = {"auto_offset_reset": "earliest", "title": f"{group_id}:{topic}"}
        ack = AckPolicy.ACK
        self.broker.subscriber(topic, group_id=group_id, ack_policy=ack, **options)(consume)

    async def _consume(
        self,
        message: KafkaMessage,
        event_cls: type[E],
        handler: EventHandler[E],
        group_id: str,
    ) -> None:
        topic = event_cls.event_type
        try:
            envelope = parse_headers(message.headers)
            if envelope.type != ce_type_for(topic):
                raise InvalidEnvelopeError(
                    f"ce_type {envelope.type!r} does not belong on topic {topic!r}"
                )
            event = event_cls.model_validate_json(message.body)
        except (InvalidEnvelopeError, ValidationError, ValueError) as exc:
            # A malformed record will never succeed: dead-letter it at once.
            await self._dead_letter(message, topic, group_id, exc, attempts=1)
            return
        bind_correlation_id(envelope.correlation_id)
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with transaction(self.sessions) as session:
                    claimed = await self.inbox.claim(
                        session, event_id=envelope.id, consumer=group_id, event_type=topic
                    )
                    if not claimed:
                        self.metrics.inbox_duplicates.labels(topic=topic).inc()
                        log.info("event_duplicate_skipped", topic=topic, event_id=envelope.id)
                        return
                    await handler(session, event, envelope)
                log.info("event_handled", topic=topic, event_id=envelope.id, handler=group_id)
                return
            except Exception as exc:
                self.metrics.handler_failures.labels(topic=topic).inc()
                log.warning(
                    "event_handler_failed",
                    topic=topic,
                    event_id=envelope.id,
                    attempt=attempt,
                    error_type=type(exc).__name__,
                )
                if attempt == self.max_attempts:
                    await self._dead_letter(message, topic, group_id, exc, attempts=attempt)
                    return
                await asyncio.sleep(self.backoff * attempt)

    async def _dead_letter(
        self,
        message: KafkaMessage,
        topic: str,
        group_id: str,
        error: Exception,
        attempts: int,
    ) -> None:
        record: Any = message.raw_message
        headers = {key: value for key, value in message.headers.items() if isinstance(value, str)}
        headers.update(
            {
                "dlq_original_topic": topic,
                "dlq_original_partition": str(getattr(record, "partition", "")),
                "dlq_original_offset": str(getattr(record, "offset", "")),
                "dlq_consumer_group": group_id,
                "dlq_error_type": type(error).__name__,
                "dlq_error": str(error)[:2000],
                "dlq_attempts": str(attempts),
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }
        )
        try:
            await self.broker.publish(
                message.body,
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
