"""Batched consumption: one inbox statement, one transaction and one offset commit for a
batch; a failing event re-applied on its own so only it is retried and dead-lettered."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaAckableMessage
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from services.awards.app import Settings, create_app
from services.awards.replicas.models import TeamContribution
from services.awards.scores.service import Scores
from shared.db import execute
from shared.events import (
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
    TeamRegistered,
    TeamRole,
)
from tests.support import deliver_batch, event_record, publish_event, running_app, unit_settings
from tests.unit.test_delivery import status_changed


async def dead_letters(broker: KafkaBroker, topic: str) -> list[dict[str, str]]:
    received: list[dict[str, str]] = []

    async def raw(_: KafkaMessage) -> None:
        return None

    @broker.subscriber(topic, group_id="test-dlq-reader", decoder=raw)
    async def collect(message: KafkaMessage) -> None:
        received.append(message.headers)

    return received


class Statements:
    """The SQL statements the engine runs while counting, and the commits of transactions
    that wrote to the inbox (the relay and gauges run their own beside them)."""

    def __init__(self, engine: Any) -> None:
        self.sql: list[str] = []
        self.commits = 0
        self.counting = False
        self._claiming: set[int] = set()
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counting:
            self.sql.append(statement)
            if _is_inbox_insert(statement):
                self._claiming.add(id(conn))

    def _commit(self, conn: Any) -> None:
        if self.counting and id(conn) in self._claiming:
            self._claiming.discard(id(conn))
            self.commits += 1

    def inbox_inserts(self) -> int:
        return sum(1 for sql in self.sql if _is_inbox_insert(sql))


def _is_inbox_insert(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO INBOX")


async def inbox_ids(runtime: Any) -> set[str]:
    async with runtime.sessions() as session:
        rows = await execute(session, select(runtime.inbox.table.c.event_id))
        return {row[0] for row in rows}


async def resolved(runtime: Any, team: uuid.UUID) -> int:
    async with runtime.sessions() as session:
        contribution = await session.get(TeamContribution, team)
        return contribution.resolved_incidents if contribution else 0


async def test_a_batch_is_claimed_in_one_statement_and_committed_once(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (client, runtime):
        team = uuid.uuid4()
        records = [event_record(status_changed([team]), offset=n) for n in range(40)]
        statements = Statements(runtime.engine)
        statements.counting = True
        await deliver_batch(runtime.broker, records)
        statements.counting = False
        assert statements.inbox_inserts() == 1
        assert statements.commits == 1
        assert await resolved(runtime, team) == 40
        assert len(await inbox_ids(runtime)) == 40
        metrics = (await client.get("/metrics")).text
        assert 'antt_consumer_batch_events_count{topic="reporting.incident"} 1.0' in metrics
        assert 'antt_consumer_batch_events_sum{topic="reporting.incident"} 40.0' in metrics
        # how old each event was when applied: from its record's timestamp to the commit
        assert 'antt_consumer_event_age_seconds_count{topic="reporting.incident"} 40.0' in metrics
        assert (
            'antt_consumer_event_age_seconds_bucket{le="60.0",topic="reporting.incident"} 40.0'
            in metrics
        )


async def test_a_record_twice_in_a_batch_and_a_batch_read_again_count_once(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (client, runtime):
        team = uuid.uuid4()
        records = [event_record(status_changed([team]), offset=n) for n in range(5)]
        # the relay re-published the third record after a crash: same ce_id, later offset
        twice = [*records, records[2]]
        await deliver_batch(runtime.broker, twice)
        await deliver_batch(runtime.broker, twice)  # offsets not committed: read again
        assert await resolved(runtime, team) == 5
        assert len(await inbox_ids(runtime)) == 5
        metrics = (await client.get("/metrics")).text
        assert 'antt_inbox_duplicates_skipped_total{topic="reporting.incident"} 7.0' in metrics


async def test_a_failing_event_is_retried_alone_and_dead_lettered_the_rest_take_effect(
    database_url, monkeypatch
):
    app = create_app(unit_settings(Settings, database_url, consumer_max_attempts=3))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")
    team = uuid.uuid4()
    first, poison, third = (status_changed([team]) for _ in range(3))
    # a later change of the poison event's incident: same key, must not overtake it
    after_poison = poison.model_copy(
        update={"aggregate_version": 4, "to_status": IncidentStatus.MEDIATED}
    )
    calls: list[tuple[uuid.UUID, int]] = []
    original = Scores.credit_resolutions

    async def poisoned(
        self: Scores, session: Any, events: list[tuple[IncidentStatusChanged, str]]
    ) -> None:
        for ev, _ in events:
            calls.append((ev.incident_id, ev.aggregate_version))
            if ev.incident_id == poison.incident_id and ev.aggregate_version == 3:
                raise RuntimeError("cannot apply this one")
        await original(self, session, events)

    monkeypatch.setattr(Scores, "credit_resolutions", poisoned)
    async with running_app(app) as (client, runtime):
        records = [
            event_record(ev, offset=n) for n, ev in enumerate([first, poison, third, after_poison])
        ]
        await deliver_batch(runtime.broker, records)
        ids = [dict(record.headers)["ce_id"].decode() for record in records]
        assert await inbox_ids(runtime) == {ids[0], ids[2], ids[3]}
        assert await resolved(runtime, team) == 2  # first and third
        assert len(received) == 1
        assert received[0]["ce_id"] == ids[1]
        assert received[0]["dlq_attempts"] == "3"
        assert received[0]["dlq_error"] == "cannot apply this one"
        poison_key = (poison.incident_id, 3)
        # once in the whole batch, then three attempts of its own
        assert calls.count(poison_key) == 4
        # its aggregate's next event waits until it is dead-lettered
        last_poison_call = len(calls) - 1 - calls[::-1].index(poison_key)
        assert calls.index((poison.incident_id, 4)) > last_poison_call
        metrics = (await client.get("/metrics")).text
        assert 'antt_consumer_batch_failures_total{topic="reporting.incident"} 1.0' in metrics


async def test_a_lost_database_dead_letters_nothing_and_leaves_the_batch_uncommitted(
    database_url, monkeypatch
):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")

    async def unreachable(*_: Any) -> None:
        raise OperationalError(
            "SELECT 1", {}, ConnectionError("server closed"), connection_invalidated=True
        )

    monkeypatch.setattr(Scores, "credit_resolutions", unreachable)
    settled: list[str] = []

    async def nack(self: KafkaAckableMessage) -> None:
        settled.append("nack")  # a real consumer seeks back: the batch is read again

    async def ack(self: KafkaAckableMessage) -> None:
        settled.append("ack")

    monkeypatch.setattr(KafkaAckableMessage, "nack", nack)
    monkeypatch.setattr(KafkaAckableMessage, "ack", ack)
    async with running_app(app) as (_, runtime):
        records = [event_record(status_changed([uuid.uuid4()]), offset=n) for n in range(2)]
        await deliver_batch(runtime.broker, records)
        assert settled == ["nack"]
        assert received == []
        assert await inbox_ids(runtime) == set()


def incident_history(seed: int, teams: list[uuid.UUID], area: uuid.UUID) -> list[Any]:
    """Status changes of a few incidents, some out of order or stale, some solved twice,
    spread over two years, crediting varying teams: what one batch may hold."""
    rng = random.Random(seed)
    incidents = [uuid.uuid4() for _ in range(6)]
    versions = dict.fromkeys(incidents, 1)
    events = []
    for _ in range(60):
        incident = rng.choice(incidents)
        versions[incident] += 1
        stale = rng.random() < 0.15
        events.append(
            IncidentStatusChanged(
                incident_id=incident,
                area_id=area,
                category=rng.choice(["theft", "fight"]),
                category_group=rng.choice(["crime", "order", None]),
                source=rng.choice(list(IncidentSource)),
                from_status=IncidentStatus.VERIFIED,
                to_status=rng.choice(
                    [
                        IncidentStatus.RESOLVED,
                        IncidentStatus.MEDIATED,
                        IncidentStatus.REFERRED,
                        IncidentStatus.VERIFIED,
                        IncidentStatus.RESOLVED,
                    ]
                ),
                changed_at=datetime(2025, 1, 1, tzinfo=UTC)
                + timedelta(days=rng.randrange(730), hours=rng.randrange(24)),
                credited_team_ids=rng.sample(teams, rng.randrange(len(teams) + 1)),
                aggregate_version=max(1, versions[incident] - (2 if stale else 0)),
            )
        )
    return events


def batch_failures(runtime: Any) -> float:
    """Batches that failed as one and were re-applied event by event."""
    return sum(
        sample.value
        for metric in runtime.metrics.batch_failures.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def awards_tables(runtime: Any) -> dict[str, list[tuple[Any, ...]]]:
    """What scoring and the read models hold, without surrogate ids and clock times."""
    drop = {"id", "created_at", "processed_at"}
    kept = (
        "trackedincident", "teamcontribution", "scoreentry", "scoremonth", "membercredit",
        "suggestion",
    )  # fmt: skip
    found = {}
    async with runtime.sessions() as session:
        for name in kept:
            table = runtime.metadata.tables[name]
            columns = [column for column in table.columns if column.name not in drop]
            rows = (await execute(session, select(*columns))).all()
            found[name] = sorted(tuple(map(str, row)) for row in rows)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_batch_scores_exactly_as_its_events_one_at_a_time(database_url, seed):
    area = uuid.uuid4()
    teams = [uuid.uuid4() for _ in range(3)]
    roster = [
        MemberJoined(
            team_id=team, area_id=area, person_id=uuid.uuid4(), full_name=f"Người {n}",
            role=TeamRole.MEMBER, joined_on=date(2025, 1, 1) + timedelta(days=200 * n),
            aggregate_version=2 + n,
        )
        for n, team in enumerate(teams + teams)
    ]  # fmt: skip
    history = incident_history(seed, teams, area)
    records = [event_record(event, offset=n) for n, event in enumerate(history)]
    outcomes = []
    for batched in (True, False):
        app = create_app(unit_settings(Settings, database_url))
        async with running_app(app) as (_, runtime):
            for n, team in enumerate(teams):
                await publish_event(
                    runtime.broker,
                    TeamRegistered(
                        team_id=team, area_id=area, name=f"Tổ {n}", kind="security_order",
                        aggregate_version=1,
                    ),
                )  # fmt: skip
            for joined in roster:
                await publish_event(runtime.broker, joined)
            if batched:
                await deliver_batch(runtime.broker, records)
                assert not batch_failures(runtime), "the batch took effect as one"
            else:
                for record in records:
                    await deliver_batch(runtime.broker, [record])
            outcomes.append(await awards_tables(runtime))
            async with runtime.engine.begin() as connection:  # the next run starts afresh
                for table in reversed(runtime.metadata.sorted_tables):
                    if table.name != "alembic_version":
                        await connection.execute(table.delete())
    batch, alone = outcomes
    assert batch["scoreentry"], "the history scores something"
    assert batch["suggestion"], "the history crosses a suggestion threshold"
    for name in batch:
        assert set(batch[name]) ^ set(alone[name]) == set(), name
    assert batch == alone


def roster_history(seed: int, teams: list[uuid.UUID], area: uuid.UUID) -> list[Any]:
    """Joins and departures, some people on several teams, some back in a role they left,
    some versions stale: a registry import or a season of roster changes."""
    rng = random.Random(seed)
    people = [uuid.uuid4() for _ in range(8)]
    version = 10
    events: list[Any] = []
    for _ in range(50):
        version += 1
        team, person = rng.choice(teams), rng.choice(people)
        role = rng.choice([TeamRole.MEMBER, TeamRole.LEADER])
        stale = rng.random() < 0.1
        common = {
            "team_id": team, "area_id": area, "person_id": person, "role": role,
            "aggregate_version": version - (5 if stale else 0),
        }  # fmt: skip
        if rng.random() < 0.65:
            joined = date(2025, 1, 1) + timedelta(days=rng.randrange(700))
            events.append(
                MemberJoined(**common, full_name=f"Người {rng.randrange(99)}", joined_on=joined)
            )
        else:
            left = date(2025, 1, 1) + timedelta(days=rng.randrange(700))
            events.append(MemberLeft(**common, left_on=left, reason="chuyển"))
    return events


@pytest.mark.parametrize(("seed", "scored_before"), [(4, True), (5, True), (6, False)])
async def test_a_batch_of_roster_changes_ends_as_its_events_one_at_a_time(
    database_url, seed, scored_before
):
    area = uuid.uuid4()
    teams = [uuid.uuid4() for _ in range(3)]
    registered = [
        TeamRegistered(
            team_id=team, area_id=area, name=f"Tổ {n}", kind="security_order", aggregate_version=1
        )
        for n, team in enumerate(teams)
    ]
    # the first two teams may have solved incidents already: their members' shares settle;
    # without, the roster changes are an import, applied all at once
    solved = [e for e in incident_history(seed, teams[:2], area) if e.credited_team_ids]
    solved = solved if scored_before else []
    roster = [
        event_record(event, offset=n) for n, event in enumerate(roster_history(seed, teams, area))
    ]
    incidents = [event_record(event, offset=n) for n, event in enumerate(solved)]
    outcomes = []
    for batched in (True, False):
        app = create_app(unit_settings(Settings, database_url))
        async with running_app(app) as (_, runtime):
            for event in registered:
                await publish_event(runtime.broker, event)
            if incidents:
                await deliver_batch(runtime.broker, incidents)
            if batched:
                await deliver_batch(runtime.broker, roster)
                assert not batch_failures(runtime), "the batch took effect as one"
            else:
                for record in roster:
                    await deliver_batch(runtime.broker, [record])
            tables = await awards_tables(runtime)
            async with runtime.sessions() as session:
                for name in ("knownmembership", "knownperson"):
                    rows = (await execute(session, select(runtime.metadata.tables[name]))).all()
                    tables[name] = sorted(tuple(map(str, row)) for row in rows)
            outcomes.append(tables)
            async with runtime.engine.begin() as connection:
                for table in reversed(runtime.metadata.sorted_tables):
                    if table.name != "alembic_version":
                        await connection.execute(table.delete())
    batch, alone = outcomes
    if scored_before:
        assert batch["membercredit"], "the teams have achievements that pay members"
        assert any(row[0] == "person" for row in batch["scoreentry"]), "members scored"
    assert batch["knownperson"]
    for name in batch:
        assert set(batch[name]) ^ set(alone[name]) == set(), name


class FetchOnce:
    """An aiokafka consumer's ``getmany`` as the subscriber calls it: what it returns, and
    how it was asked."""

    def __init__(self, fetched: dict[Any, list[Any]]) -> None:
        self.fetched = fetched
        self.asked: list[dict[str, Any]] = []

    async def getmany(self, **options: Any) -> dict[Any, list[Any]]:
        self.asked.append(options)
        return self.fetched


async def test_an_empty_fetch_is_followed_by_the_next_at_once_not_by_a_sleep(
    database_url, monkeypatch
):
    # FastStream's batch subscriber sleeps batch_timeout_ms after an empty fetch; a record
    # arriving then would wait for the sleep to end before it is even asked for.
    import faststream.kafka.subscriber.usecase as usecase

    async def no_sleeping(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s after an empty fetch")

    monkeypatch.setattr(usecase.anyio, "sleep", no_sleeping)
    settings = unit_settings(Settings, database_url, consumer_batch_wait_ms=37)
    app = create_app(settings)
    async with running_app(app) as (_, runtime):
        subscriber = runtime.consumer.subscribers["reporting.incident"]
        empty = FetchOnce({})
        assert await subscriber.get_msg(empty) == ()
        assert empty.asked == [{"timeout_ms": 37, "max_records": settings.consumer_batch_max}]
        first, second = object(), object()
        two_partitions = FetchOnce({"p0": [first], "p1": [second]})
        assert await subscriber.get_msg(two_partitions) == (first, second)


async def test_a_batch_reaches_its_handler_without_a_worker_thread(database_url, monkeypatch):
    # FastStream resolves a handler's context parameters (a KafkaMessage) in a worker thread:
    # a thread hop for every batch, which the consumer's handler does without.
    import anyio.to_thread

    handed_to_threads: list[Any] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        handed_to_threads.append(func)
        return await run_sync(func, *args, **kwargs)

    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (_, runtime):
        team = uuid.uuid4()
        monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
        await deliver_batch(runtime.broker, [event_record(status_changed([team]), offset=0)])
        monkeypatch.undo()
        assert await resolved(runtime, team) == 1
    assert handed_to_threads == []
