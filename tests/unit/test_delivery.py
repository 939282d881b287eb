"""The shared delivery machinery: CloudEvents headers, outbox relay, dead letters."""

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.awards.app import Settings, create_app
from shared.cloudevents import (
    InvalidEnvelopeError,
    build_headers,
    headers_to_dict,
    parse_headers,
)
from shared.db import create_engine, create_session_factory, execute
from shared.events import AwardGranted, IncidentStatus, IncidentStatusChanged, RecipientKind
from shared.metrics import DeliveryMetrics
from shared.outbox import OutboxRelay, RelayResult, wake_on_commit
from shared.runtime import ServiceRuntime
from tests.support import eventually, lifespan, publish_event, running_app, unit_settings


def test_headers_round_trip():
    time = datetime(2023, 8, 19, 7, 30, tzinfo=UTC)
    headers = build_headers(
        event_id="e1",
        source="/antt/awards",
        event_type="award_granted",
        subject="a1",
        time=time,
        correlation_id="c1",
    )
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "vn.antt.award_granted"
    assert headers["ce_time"] == "2023-08-19T07:30:00Z"
    assert headers["content-type"] == "application/json"
    envelope = parse_headers({k: v.encode() for k, v in headers.items()})
    assert (envelope.id, envelope.subject, envelope.time, envelope.correlation_id) == (
        "e1",
        "a1",
        time,
        "c1",
    )
    assert envelope.event_type == "award_granted"


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_time", "ce_source", "ce_specversion"])
def test_missing_header_names_it(missing):
    headers = build_headers(
        event_id="e1", source="s", event_type="t", subject="x", time=datetime.now(UTC)
    )
    del headers[missing]
    with pytest.raises(InvalidEnvelopeError, match=missing):
        parse_headers(headers)


def test_headers_from_aiokafka_pairs():
    assert headers_to_dict([("ce_id", b"1"), ("x", None)]) == {"ce_id": "1", "x": ""}


def status_changed(teams):
    return IncidentStatusChanged(
        incident_id=uuid.uuid4(),
        area_id=uuid.uuid4(),
        category="theft",
        from_status=IncidentStatus.VERIFIED,
        to_status=IncidentStatus.RESOLVED,
        changed_at=datetime.now(UTC),
        credited_team_ids=teams,
        aggregate_version=3,
    )


async def dead_letters(broker: KafkaBroker, topic: str):
    received = []

    async def raw(_: KafkaMessage) -> None:
        return None  # a dead letter's value may be anything: keep the bytes

    @broker.subscriber(topic, group_id="test-dlq-reader", decoder=raw)
    async def collect(message: KafkaMessage) -> None:
        received.append((message.body, message.headers))

    return received


def headers_for(event_type: str, event_id: str) -> dict[str, str]:
    return build_headers(
        event_id=event_id, source="/x", event_type=event_type, subject="x", time=datetime.now(UTC)
    )


GOOD = status_changed([uuid.uuid4()]).model_dump_json().encode()
NO_ID = {k: v for k, v in headers_for("incident_status_changed", "x").items() if k != "ce_id"}
# (what is wrong, value, headers, the dlq_error_type, a phrase of dlq_error)
POISON = [
    ("failed contract", b'{"not": "an incident"}', headers_for("incident_status_changed", "p1"),
     "ValidationError", "contract: aggregate_version: Field required; incident_id"),
    ("invalid JSON", b"{oops", headers_for("incident_status_changed", "p2"),
     "ValidationError", "invalid JSON"),
    ("empty value", b"", headers_for("incident_status_changed", "p3"),
     "PoisonRecordError", "value is empty"),
    ("no headers", b"{}", {}, "InvalidEnvelopeError", "missing CloudEvents header(s): ce_id"),
    ("missing header", GOOD, NO_ID, "InvalidEnvelopeError", "ce_id"),
    ("wrong type", GOOD, headers_for("award_granted", "p4"),
     "PoisonRecordError", "does not belong on topic 'reporting.incident'"),
    ("foreign type", GOOD, {**headers_for("x", "p5"), "ce_type": "com.example.thing"},
     "PoisonRecordError", "not a vn.antt. event type"),
]  # fmt: skip


async def test_every_poison_kind_goes_to_the_dead_letter_topic_with_its_error(database_url):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")
    async with running_app(app) as (client, runtime):
        for _, value, headers, _, _ in POISON:
            await runtime.broker.publish(value, topic="reporting.incident", headers=headers)
        assert len(received) == len(POISON)
        for (kind, value, headers, error_type, phrase), (body, dlq_headers) in zip(
            POISON, received, strict=True
        ):
            assert body == value, kind
            assert dlq_headers["dlq_original_topic"] == "reporting.incident", kind
            assert dlq_headers["dlq_consumer_group"] == "awards.reporting.incident", kind
            assert dlq_headers["dlq_error_type"] == error_type, kind
            assert phrase in dlq_headers["dlq_error"], kind
            assert dlq_headers.get("ce_id") == headers.get("ce_id"), kind
        metrics = (await client.get("/metrics")).text
        expected = f'antt_dead_letters_total{{topic="reporting.incident"}} {len(POISON)}.0'
        assert expected in metrics
        # the consumer keeps going after poison
        event = status_changed([uuid.uuid4()])
        await publish_event(runtime.broker, event)
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).mappings().all()
        assert [row["event_type"] for row in rows] == ["incident_status_changed"]


async def test_a_type_the_service_does_not_handle_is_skipped_and_counted(database_url):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "registry.team.dlq")
    async with running_app(app) as (client, runtime):
        # a newer registry could publish a team event this awards does not know yet
        await runtime.broker.publish(
            b'{"team_id": "x"}', topic="registry.team", headers=headers_for("team_renamed", "s1")
        )
        metrics = (await client.get("/metrics")).text
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).all()
    assert received == []
    assert rows == []
    assert (
        'antt_events_skipped_total{topic="registry.team",type="vn.antt.team_renamed"} 1.0'
        in metrics
    )


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(database_url, monkeypatch):
    app = create_app(unit_settings(Settings, database_url, consumer_max_attempts=3))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")
    calls = 0

    async def broken(*_args):
        nonlocal calls
        calls += 1
        raise RuntimeError("database went away")

    async with running_app(app) as (_, runtime):
        service = runtime.consumer  # handlers close over the service; patch the method used
        from services.awards.scores.service import Scores

        monkeypatch.setattr(Scores, "credit_resolutions", broken)
        team = uuid.uuid4()
        await publish_event(runtime.broker, status_changed([team]))
        assert calls == 3
        assert len(received) == 1
        assert received[0][1]["dlq_attempts"] == "3"
        assert received[0][1]["dlq_error"] == "database went away"
        # nothing half-written: the inbox did not record the failed event
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).all()
        assert rows == []
        assert service.max_attempts == 3


async def test_relay_keeps_rows_when_publishing_fails_and_sends_them_later(database_url):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        async with runtime.sessions() as session:
            for n in range(3):
                await runtime.outbox.add(session, award(n))
            await session.commit()
        original = runtime.relay.produce
        attempts = 0

        async def failing(*args, **kwargs):
            nonlocal attempts
            attempts += 1
            raise ConnectionError("broker unreachable")

        runtime.relay.produce = failing  # type: ignore[method-assign]
        result = await runtime.relay.publish_pending()
        assert (result.published, result.failed, attempts) == (0, True, 1)
        runtime.relay.produce = original  # type: ignore[method-assign]
        result = await runtime.relay.publish_pending()
        assert (result.published, result.failed) == (3, False)
        async with runtime.sessions() as session:
            rows = (
                (
                    await execute(
                        session,
                        select(runtime.outbox.table).order_by(runtime.outbox.table.c.id),
                    )
                )
                .mappings()
                .all()
            )
        assert [row["attempts"] for row in rows] == [2, 1, 1]
        assert rows[0]["last_error"] == "broker unreachable"
        assert all(row["published_at"] for row in rows)


def backlog_gauges(runtime: ServiceRuntime) -> tuple[float, bool]:
    """The pending rows the relay reports, and whether it reports an oldest age."""
    metrics = runtime.relay.metrics
    return metrics.outbox_pending._value.get(), metrics.outbox_oldest_age._value.get() > 0


async def test_the_backlog_is_counted_at_most_once_a_second_and_zero_once_drained(
    database_url, monkeypatch
):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        original = runtime.relay.produce

        async def failing(*args, **kwargs):
            raise ConnectionError("broker unreachable")

        runtime.relay.produce = failing  # type: ignore[method-assign]
        await add_to_outbox(runtime, award(0), award(1))
        await runtime.relay.publish_pending()
        assert backlog_gauges(runtime) == (2, True)  # counted at the first pass
        await add_to_outbox(runtime, award(2))
        await runtime.relay.publish_pending()
        assert backlog_gauges(runtime) == (2, True)  # not counted again within the second
        monkeypatch.setattr("shared.outbox.BACKLOG_MEASURE_SECONDS", 0.0)
        await runtime.relay.publish_pending()
        assert backlog_gauges(runtime) == (3, True)
        monkeypatch.setattr("shared.outbox.BACKLOG_MEASURE_SECONDS", 3600.0)
        runtime.relay.produce = original  # type: ignore[method-assign]
        assert (await runtime.relay.publish_pending()).published == 3
        await runtime.relay.publish_pending()  # finds nothing pending: zero, without a count
        assert backlog_gauges(runtime) == (0, False)


def award(n: int, award_id: uuid.UUID | None = None, version: int = 1) -> AwardGranted:
    return AwardGranted(
        award_id=award_id or uuid.uuid4(),
        nomination_id=uuid.uuid4(),
        recipient_kind=RecipientKind.INDIVIDUAL,
        recipient_id=uuid.uuid4(),
        recipient_name=f"Người {n}",
        award_form="giay_khen",
        authority="ward_committee",
        reason="r",
        decision_number=f"{n}/QĐ",
        granted_on=datetime.now(UTC),
        aggregate_version=version,
    )


async def test_outbox_row_vanishes_with_a_rolled_back_transaction(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (_, runtime):
        async with runtime.sessions() as session:
            await runtime.outbox.add(session, award(1))
            await session.rollback()
        async with runtime.sessions() as session:
            assert (await runtime.outbox.pending_count(session))[0] == 0


async def test_purge_deletes_only_rows_published_longer_ago_than_kept(database_url):
    # The service's own purge (at start, then hourly) keeps all: only the calls below purge.
    settings = unit_settings(Settings, database_url, outbox_poll_seconds=60, outbox_keep_days=1e5)
    app = create_app(settings)
    runtime = app.state.runtime
    table = runtime.outbox.table
    async with relay_by_hand(app):
        async with runtime.sessions() as session:
            for n in range(3):
                await runtime.outbox.add(session, award(n))
            await session.commit()
        assert (await runtime.relay.publish_pending()).published == 3
        async with runtime.sessions() as session:
            await runtime.outbox.add(session, award(9))  # still pending: never purged
            old = datetime(2020, 1, 1, tzinfo=UTC)
            await execute(session, update(table).where(table.c.id == 1).values(published_at=old))
            await session.commit()
        assert await runtime.relay.purge(keep_days=7) == 1
        assert await runtime.relay.purge(keep_days=7) == 0
        async with runtime.sessions() as session:
            rows = (await execute(session, select(table.c.id, table.c.published_at))).all()
        metrics = generate_latest(runtime.registry).decode()
    assert sorted(row[0] for row in rows) == [2, 3, 4]
    assert [row[0] for row in rows if row[1] is None] == [4]
    assert "antt_outbox_purged_rows_total 1.0" in metrics


@contextlib.asynccontextmanager
async def relay_by_hand(app) -> AsyncIterator[ServiceRuntime]:
    """The app on the in-memory broker with its relay loop stopped: the test alone calls
    ``publish_pending`` (a commit that adds outbox rows would wake the loop)."""
    runtime: ServiceRuntime = app.state.runtime
    async with TestKafkaBroker(runtime.broker), lifespan(app):
        loop = next(task for task in runtime._tasks if task.get_name() == "outbox-relay")
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        yield runtime


class PipelinedKafka:
    """``OutboxRelay.produce(..., no_confirm=True)`` as aiokafka does it: each send returns a
    future that Kafka settles later. Here nothing is acknowledged before ``batch`` rows were
    sent (a relay awaiting each acknowledgement before the next send would wait for ever),
    and so on for each ``batch`` after; the sends of a batch numbered in ``refuse`` (from 0)
    then fail, and every send waits for ``gate``."""

    def __init__(
        self, batch: int, refuse: set[int] | None = None, gate: asyncio.Event | None = None
    ) -> None:
        self.batch = batch
        self.refuse = refuse or set()
        self.gate = gate
        self.keys: list[str] = []
        self.all_sent = asyncio.Event()
        self._futures: list[asyncio.Future[None]] = []

    async def publish(self, message, *, topic, key, headers, correlation_id, no_confirm=False):
        assert no_confirm, "the relay must not wait for each acknowledgement"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.keys.append(key.decode())
        self._futures.append(future)
        if len(self._futures) == self.batch:
            self.all_sent.set()
            futures, self._futures = self._futures, []
            asyncio.get_running_loop().create_task(self._settle(futures))
        return future

    async def _settle(self, futures: list[asyncio.Future[None]]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        for number, future in enumerate(futures):
            if number in self.refuse:
                future.set_exception(ConnectionError("not acknowledged: leader lost"))
            else:
                future.set_result(None)


@contextlib.contextmanager
def outbox_updates(engine: AsyncEngine) -> Iterator[list[str]]:
    """The UPDATE statements sent to the outbox table while inside."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def outbox_rows(runtime: ServiceRuntime) -> list:
    table = runtime.outbox.table
    async with runtime.sessions() as session:
        return list((await execute(session, select(table).order_by(table.c.id))).mappings().all())


async def add_to_outbox(runtime: ServiceRuntime, *events: AwardGranted) -> None:
    async with runtime.sessions() as session:
        for granted in events:
            await runtime.outbox.add(session, granted)
        await session.commit()


async def test_relay_sends_a_whole_batch_then_marks_it_sent_with_one_update(database_url):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        events = [award(n) for n in range(5)]
        await add_to_outbox(runtime, *events)
        kafka = PipelinedKafka(batch=5)
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        with outbox_updates(runtime.engine) as updates:
            result = await asyncio.wait_for(runtime.relay.publish_pending(), timeout=10)
        rows = await outbox_rows(runtime)
    assert result == RelayResult(5, failed=False)
    assert kafka.keys == [granted.subject for granted in events]  # in the order written
    assert len(updates) == 1
    assert all(row["published_at"] and row["attempts"] == 1 for row in rows)


async def test_relay_marks_the_acknowledged_rows_sent_and_not_the_failed_one(database_url):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        second = uuid.uuid4()
        # a; b1 (not acknowledged); b2, the same award after it (acknowledged); c
        events = [award(1), award(2, second), award(3, second, version=2), award(4)]
        await add_to_outbox(runtime, *events)
        runtime.relay.produce = PipelinedKafka(batch=4, refuse={1}).publish  # type: ignore[method-assign]
        with outbox_updates(runtime.engine) as updates:
            failed = await asyncio.wait_for(runtime.relay.publish_pending(), timeout=10)
        after_failure = await outbox_rows(runtime)
        kafka = PipelinedKafka(batch=2)
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        retried = await asyncio.wait_for(runtime.relay.publish_pending(), timeout=10)
        after_retry = await outbox_rows(runtime)
        metrics = generate_latest(runtime.registry).decode()
    assert failed == RelayResult(2, failed=True)
    assert len(updates) == 2  # one marks the acknowledged rows, one records the failure
    a, b1, b2, c = after_failure
    assert a["published_at"] and c["published_at"] and (a["attempts"], c["attempts"]) == (1, 1)
    assert (b1["published_at"], b1["attempts"]) == (None, 1)
    assert "leader lost" in b1["last_error"]
    # acknowledged, but behind b1: sent again after it, so the award's last record is its newest
    assert (b2["published_at"], b2["attempts"], b2["last_error"]) == (None, 0, None)
    assert retried == RelayResult(2, failed=False)
    assert kafka.keys == [str(second), str(second)]
    assert [row["attempts"] for row in after_retry] == [1, 2, 1, 1]
    assert all(row["published_at"] for row in after_retry)
    assert "antt_outbox_publish_failures_total 1.0" in metrics


@pytest.mark.parametrize("blocked_in", ["send", "acknowledgement"])
async def test_relay_holds_no_write_lock_while_it_talks_to_kafka(tmp_path, blocked_in):
    path = tmp_path / "service.db"
    app = create_app(unit_settings(Settings, f"sqlite+aiosqlite:///{path}", outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        await add_to_outbox(runtime, *(award(n) for n in range(3)))
        gate = asyncio.Event()
        kafka = PipelinedKafka(batch=3, gate=gate if blocked_in == "acknowledgement" else None)
        reached = kafka.all_sent
        if blocked_in == "send":
            reached = asyncio.Event()

            async def stuck_on_second_send(message, **kwargs):
                if len(kafka.keys) == 1:  # Kafka stops answering in the middle of the batch
                    reached.set()
                    await gate.wait()
                return await kafka.publish(message, **kwargs)

            runtime.relay.produce = stuck_on_second_send  # type: ignore[method-assign]
        else:
            runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        relaying = asyncio.create_task(runtime.relay.publish_pending())
        await asyncio.wait_for(reached.wait(), timeout=10)
        assert not relaying.done()

        # Another writer (an HTTP request) commits while the relay waits on Kafka, which
        # it does until the gate opens: a lock the relay held would outlast any timeout.
        # (2 s, not less: the periodic purges, started with the app, write briefly too; and
        # in a thread, so that the event loop lets such a purge reach its commit meanwhile.)
        def write_meanwhile() -> None:
            writer = sqlite3.connect(path, timeout=2, isolation_level=None)
            try:
                writer.execute("BEGIN IMMEDIATE")
                writer.execute("UPDATE outbox SET last_error = 'written meanwhile' WHERE id = 3")
                writer.execute("COMMIT")
            finally:
                writer.close()

        await asyncio.to_thread(write_meanwhile)
        gate.set()
        result = await asyncio.wait_for(relaying, timeout=10)
        rows = await outbox_rows(runtime)
    assert result == RelayResult(3, failed=False)
    assert all(row["published_at"] for row in rows)
    assert rows[2]["last_error"] == "written meanwhile"


def other_replica(runtime, url: str) -> tuple[OutboxRelay, PipelinedKafka, Any]:
    """A second replica of the service's relay: same database, its own engine and producer."""
    engine = create_engine(url)
    kafka = PipelinedKafka(batch=1)
    broker = create_app(unit_settings(Settings, url)).state.runtime.broker
    relay = OutboxRelay(
        runtime.outbox, create_session_factory(engine), broker, DeliveryMetrics(CollectorRegistry())
    )
    relay.produce = kafka.publish  # type: ignore[method-assign]
    return relay, kafka, engine


async def test_one_replica_relays_at_a_time_on_postgresql(postgres):
    url = await postgres.create_database()
    app = create_app(unit_settings(Settings, url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        await add_to_outbox(runtime, award(1), award(2))
        gate = asyncio.Event()
        kafka = PipelinedKafka(batch=2, gate=gate)
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        relaying = asyncio.create_task(runtime.relay.publish_pending())
        await asyncio.wait_for(kafka.all_sent.wait(), timeout=10)
        other, other_kafka, engine = other_replica(runtime, url)
        try:
            skipped = await other.publish_pending()
            async with engine.connect() as connection:
                in_transaction = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND state LIKE 'idle in transaction%'"
                    )
                )
            gate.set()
            assert await asyncio.wait_for(relaying, timeout=10) == RelayResult(2, failed=False)
            # The first keeps the lead between its passes: the row written next is its own.
            await add_to_outbox(runtime, award(3))
            skipped_between = await other.publish_pending()
            kafka.batch = 1
            assert await runtime.relay.publish_pending() == RelayResult(1, failed=False)
            # Once it stops, it gives the lead back, and the other relays.
            await runtime.relay.stop()
            await add_to_outbox(runtime, award(4))
            relayed = await asyncio.wait_for(other.publish_pending(), timeout=10)
        finally:
            gate.set()
            await other.stop()
            await engine.dispose()
    assert skipped == RelayResult(0, failed=False)
    assert in_transaction == 0  # nobody holds a transaction open while Kafka answers
    assert skipped_between == RelayResult(0, failed=False)
    assert relayed == RelayResult(1, failed=False)  # the lock was given back
    assert len(other_kafka.keys) == 1


async def test_a_replica_whose_connection_is_lost_gives_the_lead_to_another(postgres):
    # The leader's database session ends (a restarted server, a dropped connection): the
    # lock ends with it, the leader's next pass fails and lets the lead go, and the other
    # replica takes it at its next pass.
    url = await postgres.create_database()
    app = create_app(unit_settings(Settings, url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        runtime.relay.produce = PipelinedKafka(batch=1).publish  # type: ignore[method-assign]
        await add_to_outbox(runtime, award(1))
        assert await runtime.relay.publish_pending() == RelayResult(1, failed=False)
        other, other_kafka, engine = other_replica(runtime, url)
        try:
            await add_to_outbox(runtime, award(2))
            assert await other.publish_pending() == RelayResult(0, failed=False)
            async with engine.connect() as connection:
                ended = await connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE "
                        "locktype = 'advisory' AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
            with pytest.raises(DBAPIError):
                await runtime.relay.publish_pending()
            relayed = await asyncio.wait_for(other.publish_pending(), timeout=10)
            await add_to_outbox(runtime, award(3))
            skipped = await runtime.relay.publish_pending()  # the other leads now
            relayed_next = await other.publish_pending()
        finally:
            await other.stop()
            await engine.dispose()
    assert ended == 1
    assert relayed == RelayResult(1, failed=False)
    assert skipped == RelayResult(0, failed=False)
    assert relayed_next == RelayResult(1, failed=False)
    assert len(other_kafka.keys) == 2


async def test_a_pass_on_postgresql_runs_on_the_connection_that_holds_the_lock(postgres):
    # Each statement commits by itself there: no BEGIN, COMMIT or pool checkout of its own;
    # the lock is taken by the first pass and kept for the next ones.
    url = await postgres.create_database()
    app = create_app(unit_settings(Settings, url, outbox_poll_seconds=60))
    async with relay_by_hand(app) as runtime:
        runtime.relay.produce = PipelinedKafka(batch=2).publish  # type: ignore[method-assign]
        engine = runtime.engine.sync_engine
        seen: list[str] = []

        def statement(_conn, _cursor, sql: str, *_: object) -> None:
            seen.append(sql.split()[0] + (" lock" if "advisory" in sql else ""))

        def checkout(*_: object) -> None:
            seen.append("checkout")

        def commit(_conn) -> None:
            seen.append("COMMIT")

        passes = []
        for pair in ((1, 2), (3, 4)):
            await add_to_outbox(runtime, *(award(n) for n in pair))
            seen = []
            event.listen(engine, "before_cursor_execute", statement)
            event.listen(engine, "commit", commit)
            event.listen(engine.pool, "checkout", checkout)
            try:
                result = await runtime.relay.publish_pending()
            finally:
                event.remove(engine, "before_cursor_execute", statement)
                event.remove(engine, "commit", commit)
                event.remove(engine.pool, "checkout", checkout)
            passes.append((result, seen))
        rows = await outbox_rows(runtime)
    # the first: one checkout, the lock, the read, the mark, the backlog's count
    assert passes[0] == (
        RelayResult(2, failed=False),
        ["checkout", "SELECT lock", "SELECT", "UPDATE", "SELECT"],
    )
    # the next (within a second, so no count): the read and the mark
    assert passes[1] == (RelayResult(2, failed=False), ["SELECT", "UPDATE"])
    assert all(row["published_at"] and row["attempts"] == 1 for row in rows)


async def test_a_commit_that_adds_outbox_rows_wakes_the_relay(database_url):
    # Polling once a minute: only the wake-up can publish within the test's few seconds.
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with running_app(app) as (_, runtime):

        async def nothing_pending() -> bool:
            async with runtime.sessions() as session:
                return (await runtime.outbox.pending_count(session))[0] == 0

        for n in range(2):  # the first may meet the relay's first pass; the second cannot
            await add_to_outbox(runtime, award(n))  # a plain session: no HTTP request
            await eventually(nothing_pending, within=5)
            await asyncio.sleep(0.1)
        # each row's wait from its writing to Kafka's acknowledgement is measured
        exposed = generate_latest(runtime.registry).decode()
        assert "antt_outbox_publish_delay_seconds_count 2.0" in exposed


async def test_only_a_committed_transaction_that_added_outbox_rows_wakes(database_url):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    async with running_app(app) as (_, runtime):
        wakes: list[int] = []
        wake_on_commit(runtime.sessions, lambda: wakes.append(1))
        other_factory = create_session_factory(runtime.engine)  # no listener on it
        async with runtime.sessions() as session:
            await runtime.outbox.add(session, award(1))
            await session.rollback()
            await execute(session, text("SELECT 1"))
            await session.commit()  # the rolled-back row is forgotten
            assert wakes == []
            await runtime.outbox.add(session, award(2))
            await session.commit()
            assert wakes == [1]
            await execute(session, text("SELECT 1"))
            await session.commit()
            assert wakes == [1]
        async with other_factory() as session:
            await runtime.outbox.add(session, award(3))
            await session.commit()
        assert wakes == [1]
