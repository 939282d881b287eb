"""Transactional outbox: a service writes its state change and the event in one database
transaction; the relay publishes pending rows with the idempotent producer and marks
them sent. A crash between publish and mark re-publishes: consumers' inboxes absorb it."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.cloudevents import build_headers
from shared.db import SessionFactory, execute, shared_table
from shared.events import IntegrationEvent
from shared.logging import current_correlation_id, get_logger
from shared.metrics import DeliveryMetrics

log = get_logger()


def utcnow() -> datetime:
    return datetime.now(UTC)


def outbox_table(metadata: MetaData) -> Table:
    return shared_table(
        metadata,
        "outbox",
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("correlation_id", String(64), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )


class Outbox:
    """The outbox table of one service and the one way to add a row to it."""

    def __init__(self, metadata: MetaData, source: str) -> None:
        self.source = source
        self.table = outbox_table(metadata)

    async def add(self, session: AsyncSession, event: IntegrationEvent) -> str:
        """Stage ``event`` in the caller's transaction; it is published only if that commits."""
        event_id = str(uuid.uuid4())
        await execute(
            session,
            self.table.insert().values(
                event_id=event_id,
                topic=event.topic,
                event_type=event.event_type,
                message_key=event.subject,
                payload=event.model_dump_json(),
                correlation_id=current_correlation_id(),
                created_at=utcnow(),
                attempts=0,
            ),
        )
        return event_id

    async def purge_published(self, session: AsyncSession, keep_days: float) -> int:
        """Delete rows published more than ``keep_days`` ago: Kafka keeps the history."""
        cutoff = utcnow() - timedelta(days=keep_days)
        table = self.table
        result: Any = await execute(
            session,
            delete(table).where(table.c.published_at.is_not(None), table.c.published_at < cutoff),
        )
        return int(result.rowcount or 0)

    async def pending_count(self, session: AsyncSession) -> tuple[int, datetime | None]:
        row: Any = (
            await execute(
                session,
                select(func.count(), func.min(self.table.c.created_at)).where(
                    self.table.c.published_at.is_(None)
                ),
            )
        ).one()
        return int(row[0]), row[1]


@dataclass
class RelayResult:
    published: int
    failed: bool


class OutboxRelay:
    """Publishes pending outbox rows in the order they were written."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: SessionFactory,
        broker: KafkaBroker,
        metrics: DeliveryMetrics,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
    ) -> None:
        self.outbox = outbox
        self.sessions = sessions
        self.broker = broker
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a commit that added rows)."""
        self._wake.set()

    async def publish_pending(self) -> RelayResult:
        table = self.outbox.table
        published = 0
        async with self.sessions() as session:
            rows = (
                (
                    await execute(
                        session,
                        select(table)
                        .where(table.c.published_at.is_(None))
                        .order_by(table.c.id)
                        .limit(self.batch_size)
                        # Replicas on PostgreSQL share the work without publishing a row twice.
                        .with_for_update(skip_locked=True),
                    )
                )
                .mappings()
                .all()
            )
            for row in rows:
                try:
                    await self._publish(row)
                except Exception as exc:
                    self.metrics.relay_failures.inc()
                    log.warning("outbox_publish_failed", topic=row["topic"], error=str(exc))
                    await execute(
                        session,
                        update(table)
                        .where(table.c.id == row["id"])
                        .values(attempts=table.c.attempts + 1, last_error=str(exc)[:2000]),
                    )
                    await session.commit()
                    # Stop here: later rows of the same aggregate must not overtake this one.
                    return RelayResult(published, failed=True)
                await execute(
                    session,
                    update(table)
                    .where(table.c.id == row["id"])
                    .values(published_at=utcnow(), attempts=table.c.attempts + 1),
                )
                published += 1
                self.metrics.relay_published.labels(topic=row["topic"]).inc()
            await session.commit()
            pending, oldest = await self.outbox.pending_count(session)
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_oldest_age.set(
            (utcnow() - _aware(oldest)).total_seconds() if oldest else 0.0
        )
        return RelayResult(published, failed=False)

    async def _publish(self, row: Any) -> None:
        headers = build_headers(
            event_id=row["event_id"],
            source=self.outbox.source,
            event_type=row["event_type"],
            subject=row["message_key"],
            time=_aware(row["created_at"]),
            correlation_id=row["correlation_id"],
        )
        await self.broker.publish(
            row["payload"].encode("utf-8"),
            topic=row["topic"],
            key=row["message_key"].encode("utf-8"),
            headers=headers,
            correlation_id=row["correlation_id"] or row["event_id"],
        )

    async def purge(self, keep_days: float) -> int:
        async with self.sessions() as session:
            purged = await self.outbox.purge_published(session, keep_days)
            await session.commit()
        if purged:
            self.metrics.outbox_purged.inc(purged)
            log.info("outbox_purged", rows=purged, keep_days=keep_days)
        return purged

    async def run(self) -> None:
        """Relay until cancelled; back off while the broker is unreachable."""
        backoff = self.poll_seconds
        while True:
            try:
                result = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_relay_error", error=str(exc))
                result = RelayResult(0, failed=True)
            if result.failed:
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = self.poll_seconds
            if result.published >= self.batch_size and not result.failed:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp here is written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
