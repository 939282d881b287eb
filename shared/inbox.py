"""Inbox: each consumed event id is recorded in the same transaction as the consumer's
change, so a redelivered event changes nothing."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import execute, execute_per_database, per_database, shared_table


def inbox_table(metadata: MetaData) -> Table:
    return shared_table(
        metadata,
        "inbox",
        Column("event_id", String(64), primary_key=True),
        Column("consumer", String(200), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


class Inbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table = inbox_table(metadata)
        self._claims = per_database(
            lambda dialect: (
                dialect.insert(self.table)
                .on_conflict_do_nothing(index_elements=["event_id", "consumer"])
                .returning(self.table.c.event_id)
            )
        )

    async def claim(
        self, session: AsyncSession, *, event_id: str, consumer: str, event_type: str
    ) -> bool:
        """Record the event as processed by ``consumer``; False if it already was.

        Two replicas racing on one event both pass the check, but the primary key lets
        only one transaction commit; the other rolls back and is retried as a duplicate.
        """
        seen = await execute(
            session,
            select(self.table.c.event_id).where(
                self.table.c.event_id == event_id, self.table.c.consumer == consumer
            ),
        )
        if seen.first() is not None:
            return False
        await execute(
            session,
            self.table.insert().values(
                event_id=event_id,
                consumer=consumer,
                event_type=event_type,
                processed_at=datetime.now(UTC),
            ),
        )
        return True

    async def claim_all(
        self, session: AsyncSession, *, consumer: str, events: list[tuple[str, str]]
    ) -> set[str]:
        """Record a batch of ``(event_id, event_type)`` as processed by ``consumer`` in one
        statement; returns the ids not recorded before (a duplicate's claim does nothing).

        On PostgreSQL a replica claiming the same id at once waits for the other's
        transaction, and finds it claimed if that commits."""
        if not events:
            return set()
        now = datetime.now(UTC)
        rows = [
            {"event_id": event_id, "consumer": consumer, "event_type": event_type,
             "processed_at": now}
            for event_id, event_type in dict(events).items()
        ]  # fmt: skip
        # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs from one
        # cached compilation, where .values(rows) would compile a new statement per batch.
        result = await execute_per_database(session, self._claims, rows)
        return {row[0] for row in result}
