"""Transactional outbox: a service writes its state change and the event in one database
transaction; the relay publishes pending rows with the idempotent producer and marks
them sent. A crash between publish and mark re-publishes: consumers' inboxes absorb it."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.response import KafkaPublishCommand
from faststream.response.publish_type import PublishType
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.cloudevents import build_headers
from shared.db import (
    SessionFactory,
    advisory_lock_key,
    execute,
    session_class,
    shared_table,
    transaction,
)
from shared.events import IntegrationEvent
from shared.logging import current_correlation_id, get_logger
from shared.metrics import DeliveryMetrics

log = get_logger()
# How long past its own bound a stopping relay may take to mark its batch before it is
# cancelled (a database that does not answer).
STOP_GRACE_SECONDS = 2.0
BACKLOG_MEASURE_SECONDS = 1.0  # how stale the backlog gauges may be while the relay is busy
# Set in a session's info by Outbox.add; read (and cleared) when its transaction ends.
ROWS_ADDED = "antt.outbox_rows_added"


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
        self._insert = self.table.insert()  # built once; each row's values are parameters

    async def add(self, session: AsyncSession, event: IntegrationEvent) -> str:
        """Stage ``event`` in the caller's transaction; it is published only if that commits."""
        event_id = str(uuid.uuid4())
        row = {
            "event_id": event_id,
            "topic": event.topic,
            "event_type": event.event_type,
            "message_key": event.subject,
            "payload": event.model_dump_json(),
            "correlation_id": current_correlation_id(),
            "created_at": utcnow(),
            "attempts": 0,
        }
        await execute(session, self._insert, [row])
        session.info[ROWS_ADDED] = True  # wake_on_commit: publish when this commits
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

    async def pending_count(
        self, source: AsyncSession | AsyncConnection
    ) -> tuple[int, datetime | None]:
        """Rows not yet published, and when the oldest was written."""
        connection = source if isinstance(source, AsyncConnection) else await source.connection()
        counted = select(func.count(), func.min(self.table.c.created_at)).where(
            self.table.c.published_at.is_(None)
        )
        row: Any = (await connection.execute(counted)).one()
        return int(row[0]), row[1]


def wake_on_commit(sessions: SessionFactory, wake: Callable[[], None]) -> None:
    """Call ``wake`` after each commit of a session from ``sessions`` that added outbox rows,
    whoever made it: an HTTP request, a consumer's handler, a periodic job."""
    target = session_class(sessions)

    @event.listens_for(target, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.get(ROWS_ADDED):
            wake()

    @event.listens_for(target, "after_transaction_end")
    def _ended(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # committed (woken above) or rolled back: forget
            session.info.pop(ROWS_ADDED, None)


@dataclass
class RelayResult:
    published: int
    failed: bool


class OutboxRelay:
    """Publishes pending outbox rows in the order they were written, in pipelined batches:
    read a batch in a short transaction, send every row without waiting for its
    acknowledgement (the idempotent producer keeps a partition's order), await them all,
    then mark the acknowledged rows sent with one UPDATE. No transaction is open, and no
    lock held, while it talks to Kafka. On PostgreSQL one replica at a time relays (a
    session-level advisory lock), so two never interleave one aggregate's rows. Stopped
    (``stop``), it finishes the batch in hand within a bound rather than dropping it."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: SessionFactory,
        broker: KafkaBroker,
        metrics: DeliveryMetrics,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.outbox = outbox
        self.sessions = sessions
        self.broker = broker
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._one_pass = asyncio.Lock()  # one pass at a time in this process
        self._task: asyncio.Task[None] | None = None
        # Done once ``stop`` is called; the batch in hand may take until the deadline.
        self._stop_requested: asyncio.Future[None] | None = None
        self._stop_deadline = 0.0
        self._backlog_measured = float("-inf")
        # Built once, not at each pass: building cost more than running it for a row or two.
        table = outbox.table
        self._pending = (
            select(table)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(batch_size)
        )
        self._mark_sent = (
            update(table)
            .where(table.c.id.in_(bindparam("ids", expanding=True)))
            .values(published_at=bindparam("now"), attempts=table.c.attempts + 1)
        )
        self.lock_key = advisory_lock_key(f"outbox-relay:{outbox.source}")
        # On PostgreSQL, the connection holding the relay's lock while this replica leads.
        self._lead: AsyncConnection | None = None

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a commit that added rows)."""
        self._wake.set()

    def start(self) -> "asyncio.Task[None]":
        """Relay in a task of its own until ``stop``."""
        self._stop_requested = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self.run(), name="outbox-relay")
        return self._task

    async def stop(self, seconds: float = 3.0) -> None:
        """Stop the relay ``start`` began. Waiting for rows, it stops at once; in the middle
        of a batch it finishes it: sends the rest, awaits the acknowledgements for up to
        ``seconds``, marks the acknowledged rows sent (the others stay pending and go
        out after the next start), then stops. Cancelled if that overruns by a few seconds."""
        task, self._task = self._task, None
        loop = asyncio.get_running_loop()
        self._stop_deadline = loop.time() + seconds
        requested = self._stop_signal()
        if not requested.done():
            requested.set_result(None)
        self._wake.set()
        try:
            if task is None or task.done():
                return
            await asyncio.wait({task}, timeout=seconds + STOP_GRACE_SECONDS)
            if not task.done():
                log.warning("outbox_relay_stop_overran", seconds=seconds + STOP_GRACE_SECONDS)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif not task.cancelled() and task.exception() is not None:
                log.error("outbox_relay_crashed", error=repr(task.exception()))
        finally:
            self._stop_requested = None
            if self._lead is not None:
                await self._give_up_lead(self._lead, unlock=True)

    def _stop_signal(self) -> "asyncio.Future[None]":
        loop = asyncio.get_running_loop()
        if self._stop_requested is None or self._stop_requested.get_loop() is not loop:
            self._stop_requested = loop.create_future()
        return self._stop_requested

    async def _finish_unless_stopped(self, work: Coroutine[Any, Any, Any]) -> bool:
        """Await ``work``; once the relay is asked to stop, until the stop's deadline at most,
        then cancel it. Whether it finished."""
        requested = self._stop_signal()
        task = asyncio.ensure_future(work)
        try:
            if not requested.done():
                await asyncio.wait({task, requested}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                remaining = self._stop_deadline - asyncio.get_running_loop().time()
                if remaining > 0:
                    await asyncio.wait({task}, timeout=remaining)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            return False
        task.result()  # an unexpected error is the pass's
        return True

    async def publish_pending(self) -> RelayResult:
        async with self._one_pass, self._relay_turn() as (ours, connection):
            if not ours:
                # Another replica relays; it reports the backlog, not this one.
                self.metrics.outbox_pending.set(0)
                self.metrics.outbox_oldest_age.set(0.0)
                return RelayResult(0, failed=False)
            return await self._relay_batch(connection)

    @asynccontextmanager
    async def _relay_turn(self) -> AsyncIterator[tuple[bool, AsyncConnection | None]]:
        """Whether this process may relay now, and on PostgreSQL the connection the pass's
        statements run on. There: the connection of this replica's lead, which holds a
        session-level advisory lock from the pass that took it until the relay stops or a
        pass fails (in autocommit: no transaction stays open); a replica without the lead
        tries for it at each pass and skips the pass when another holds it. SQLite has one
        process per database file: always."""
        engine: AsyncEngine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            yield True, None
            return
        lead = self._lead or await self._take_lead(engine)
        if lead is None:
            yield False, None
            return
        try:
            yield True, lead
        except BaseException:
            # The connection may be what failed: give the lead up with it (closing the
            # connection ends the lock too), and try for it again at the next pass.
            await self._give_up_lead(lead, unlock=False)
            raise

    async def _take_lead(self, engine: AsyncEngine) -> AsyncConnection | None:
        connection = await engine.connect()
        try:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken = await autocommit.scalar(_TRY_LOCK, {"key": self.lock_key})
        except BaseException:
            await connection.invalidate()
            raise
        if not taken:
            await connection.close()
            return None
        self._lead = autocommit
        log.info("outbox_relay_leads", source=self.outbox.source)
        return autocommit

    async def _give_up_lead(self, lead: AsyncConnection, *, unlock: bool) -> None:
        if self._lead is lead:
            self._lead = None
        if unlock:
            with contextlib.suppress(Exception):
                await lead.execute(_UNLOCK, {"key": self.lock_key})
                await lead.close()
                return
        # Never hand a connection that may still hold the lock back to the pool: closing
        # it ends the database session, and the lock with it.
        await lead.invalidate()

    @asynccontextmanager
    async def _statements(self, held: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """Where a pass runs a read or its marks: on PostgreSQL the connection that holds
        the relay's lock, where each statement commits by itself (no BEGIN, COMMIT or
        checkout of their own: half a pass's round trips); on SQLite a short transaction."""
        if held is not None:
            yield held
            return
        async with transaction(self.sessions) as session:
            yield await session.connection()

    async def _relay_batch(self, held: AsyncConnection | None = None) -> RelayResult:
        table = self.outbox.table
        async with self._statements(held) as connection:  # over before Kafka is asked
            rows = (await connection.execute(self._pending)).mappings().all()
        if not rows:
            await self._measure_backlog(held, nothing_pending=True)
            return RelayResult(0, failed=False)
        acknowledged, failures = await self._send_all(rows)
        now = utcnow()
        async with self._statements(held) as connection:  # one short write for the batch
            if acknowledged:
                await connection.execute(
                    self._mark_sent, {"ids": [row["id"] for row in acknowledged], "now": now}
                )
            if failures:
                errors = {row["id"]: str(error)[:2000] for row, error in failures}
                await connection.execute(
                    update(table)
                    .where(table.c.id.in_(list(errors)))
                    .values(
                        attempts=table.c.attempts + 1,
                        last_error=case(errors, value=table.c.id),
                    ),
                )
        for row in acknowledged:
            self.metrics.relay_published.labels(topic=row["topic"]).inc()
            self.metrics.outbox_delay.observe((now - _aware(row["created_at"])).total_seconds())
        for row, error in failures:
            self.metrics.relay_failures.inc()
            log.warning("outbox_publish_failed", topic=row["topic"], error=str(error))
        await self._measure_backlog(held)
        return RelayResult(len(acknowledged), failed=bool(failures))

    async def _send_all(self, rows: Sequence[Any]) -> tuple[list[Any], list[tuple[Any, Any]]]:
        """Send ``rows`` (in id order) without waiting for each acknowledgement, then wait
        for them all. Returns the rows to mark sent and the failed rows with their errors.
        A row after a failed row of the same aggregate is not marked even if acknowledged:
        it goes out again after that one, so the aggregate's last record stays its newest."""
        sent: list[tuple[Any, asyncio.Future[Any] | None]] = []
        failures: list[tuple[Any, BaseException]] = []
        # Asked to stop, the relay still finishes the batch in hand, within the stop's bound.
        all_sent = await self._finish_unless_stopped(self._send_rows(rows, sent, failures))
        futures = {future for _, future in sent if future is not None}
        if futures:
            # asyncio.wait, not gather: a cancelled relay must not cancel the producer's futures.
            await self._finish_unless_stopped(asyncio.wait(futures))
        acknowledged = []
        held_back: set[tuple[str, str]] = set()
        unanswered = 0
        for row, future in sent:
            aggregate = (row["topic"], row["message_key"])
            error: BaseException | None = None
            if future is not None and not future.done():
                # The relay stopped before Kafka answered: the row stays pending, as do the
                # aggregate's rows after it, and goes out again after the next start.
                future.add_done_callback(_retrieve)
                held_back.add(aggregate)
                unanswered += 1
                continue
            if future is not None and future.cancelled():
                error = asyncio.CancelledError("publish cancelled")
            elif future is not None:
                error = future.exception()
            if error is not None:
                failures.append((row, error))
                held_back.add(aggregate)
            elif aggregate not in held_back:
                acknowledged.append(row)
        failures.sort(key=lambda failure: int(failure[0]["id"]))
        if unanswered or not all_sent:
            log.warning(
                "outbox_relay_stopped_mid_batch",
                acknowledged=len(acknowledged),
                left_pending=len(rows) - len(acknowledged) - len(failures),
            )
        return acknowledged, failures

    async def _send_rows(
        self,
        rows: Sequence[Any],
        sent: list[tuple[Any, "asyncio.Future[Any] | None"]],
        failures: list[tuple[Any, BaseException]],
    ) -> None:
        for row in rows:
            try:
                sent.append((row, await self._send(row)))
            except Exception as exc:
                # Not even handed to the producer (broker unreachable, producer stopped):
                # the rest would fail alike, and after this one in any case.
                failures.append((row, exc))
                break

    async def _send(self, row: Any) -> "asyncio.Future[Any] | None":
        """Hand ``row`` to the producer; the future resolves when Kafka acknowledges it
        (the in-memory test broker delivers at once and returns None)."""
        headers = build_headers(
            event_id=row["event_id"],
            source=self.outbox.source,
            event_type=row["event_type"],
            subject=row["message_key"],
            time=_aware(row["created_at"]),
            correlation_id=row["correlation_id"],
        )
        acknowledgement: Any = await self.produce(
            row["payload"].encode("utf-8"),
            topic=row["topic"],
            key=row["message_key"].encode("utf-8"),
            headers=headers,
            correlation_id=row["correlation_id"] or row["event_id"],
            no_confirm=True,
        )
        if acknowledgement is None:
            return None
        return asyncio.ensure_future(acknowledgement)

    async def produce(
        self,
        value: bytes,
        *,
        topic: str,
        key: bytes,
        headers: dict[str, str],
        correlation_id: str,
        no_confirm: bool,
    ) -> Any:
        """One record to the broker's producer, past FastStream's publish middlewares: their
        per-record metrics cost a third of the relay's CPU, and the relay counts its own
        (``antt_outbox_published_messages_total``, by topic)."""
        return await self.broker.config.producer.publish(
            KafkaPublishCommand(
                value,
                topic=topic,
                key=key,
                headers=headers,
                correlation_id=correlation_id,
                no_confirm=no_confirm,
                _publish_type=PublishType.PUBLISH,
            )
        )

    async def _measure_backlog(
        self, held: AsyncConnection | None = None, nothing_pending: bool = False
    ) -> None:
        """Set the backlog gauges: at once when a read found nothing pending, otherwise
        with a count at most once every ``BACKLOG_MEASURE_SECONDS`` (a busy relay passes
        after every committed request, and the count was a third of each pass)."""
        if nothing_pending:
            self.metrics.outbox_pending.set(0)
            self.metrics.outbox_oldest_age.set(0.0)
            self._backlog_measured = time.monotonic()
            return
        if time.monotonic() - self._backlog_measured < BACKLOG_MEASURE_SECONDS:
            return
        self._backlog_measured = time.monotonic()
        async with self._statements(held) as connection:
            pending, oldest = await self.outbox.pending_count(connection)
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_oldest_age.set(
            (utcnow() - _aware(oldest)).total_seconds() if oldest else 0.0
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
        """Relay until ``stop`` (or cancelled); back off while the broker is unreachable."""
        backoff = self.poll_seconds
        requested = self._stop_signal()
        while not requested.done():
            # Cleared before the pass reads: a commit during the pass leaves it set, and the
            # wait below returns at once for the rows that pass could not see.
            self._wake.clear()
            try:
                result = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_relay_error", error=str(exc))
                result = RelayResult(0, failed=True)
            if requested.done():
                break
            if result.failed:
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = self.poll_seconds
            if result.failed:
                # Commits do not cut a back-off short; a stop does.
                await asyncio.wait({requested}, timeout=backoff)
                continue
            if result.published >= self.batch_size:
                continue
            # Not asyncio.wait_for: on 3.11 it swallows a cancel that lands as the wake is
            # set, and the service's shutdown would hang on this loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()


_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


def _retrieve(future: "asyncio.Future[Any]") -> None:
    # An acknowledgement that came too late: its outcome is seen at the next start.
    if not future.cancelled():
        future.exception()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp here is written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
