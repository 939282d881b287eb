"""Kill -9 in the middle of a batch: awards, as a process on real Kafka, with SQLite and
with PostgreSQL, is SIGKILLed twice while a batch's transaction is open (its inbox claim
written, not yet committed), and restarted. Every event takes effect exactly once: none
lost, none counted twice, nothing half-written. Awards has a Kafka broker of its own so
that its consumer group is not shared with the session stack's awards; each run publishes
its whole history (team, members, resolutions) after the previous run's, so the group
goes on from where the last run left it and reads all a run needs."""

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from shared.cloudevents import build_headers
from shared.events import (
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    IntegrationEvent,
    MemberJoined,
    TeamRegistered,
    TeamRole,
)
from shared.local_kafka import LocalKafka
from tests.integration.conftest import Database, Service, start_service, wait_ready
from tests.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EVENTS = 3000
REPUBLISHED = 150  # records the relay sent twice (same ce_id), as after a crash of its own
BATCH_MAX = 100
GROUP = "awards.reporting.incident"


def as_record(event: IntegrationEvent, event_id: str) -> dict[str, object]:
    headers = build_headers(
        event_id=event_id,
        source="/antt/reporting",
        event_type=event.event_type,
        subject=event.subject,
        time=datetime.now(UTC),
    )
    return {
        "topic": event.topic,
        "value": event.model_dump_json().encode(),
        "key": event.subject.encode(),
        "headers": [(name, text.encode()) for name, text in headers.items()],
    }


async def publish_history(bootstrap: str, team: uuid.UUID, area: uuid.UUID) -> int:
    """The team, two members and EVENTS resolutions, some records twice; returns how many
    distinct resolutions went out."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        setup: list[IntegrationEvent] = [
            TeamRegistered(
                team_id=team, area_id=area, name="Tổ ANTT", kind="security_order",
                aggregate_version=1,
            ),
            *(
                MemberJoined(
                    team_id=team, area_id=area, person_id=uuid.uuid4(), full_name=f"Người {n}",
                    role=TeamRole.MEMBER, aggregate_version=2 + n,
                )
                for n in range(2)
            ),
        ]  # fmt: skip
        for event in setup:
            await producer.send_and_wait(**as_record(event, str(uuid.uuid4())))  # type: ignore[arg-type]
        records = [
            as_record(
                IncidentStatusChanged(
                    incident_id=uuid.uuid4(),
                    area_id=area,
                    category="theft",
                    category_group="crime",
                    source=IncidentSource.PATROL,
                    from_status=IncidentStatus.VERIFIED,
                    to_status=IncidentStatus.RESOLVED,
                    changed_at=datetime.now(UTC),
                    credited_team_ids=[team],
                    aggregate_version=3,
                ),
                str(uuid.uuid4()),
            )
            for _ in range(EVENTS)
        ]
        again = random.Random(7).sample(records, REPUBLISHED)
        sent = [await producer.send(**record) for record in [*records, *again]]  # type: ignore[arg-type]
        await asyncio.gather(*sent)
        return len(records)
    finally:
        await producer.stop()


def kill_mid_batch(service: Service, database: Database) -> int:
    """SIGKILL the service while one of its transactions has written and not committed
    (an open batch); returns the events applied when it died."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            applied = database.count("SELECT count(*) FROM inbox WHERE consumer = $1", GROUP)
        except sqlite3.OperationalError:
            applied = 0  # not migrated yet
        if applied > 0 and database.writing():
            os.kill(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=30)
            return applied
        time.sleep(0.002)
    raise AssertionError("awards never had a batch open to kill")


def restart(service: Service, own_kafka: LocalKafka, workdir: Path) -> Service:
    return start_service("awards", own_kafka, workdir, service.database_url, extra=service_env())


def service_env() -> dict[str, str]:
    return {"ANTT_CONSUMER_BATCH_MAX": str(BATCH_MAX), "ANTT_LOG_LEVEL": "WARNING"}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_kill_9_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(
    own_kafka: LocalKafka, postgres: PostgresServer, tmp_path: Path, engine: str
) -> None:
    team, area = uuid.uuid4(), uuid.uuid4()
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'awards.db'}"
    else:
        url = asyncio.run(postgres.create_database("crash"))
    database = Database(url)
    distinct = asyncio.run(publish_history(own_kafka.bootstrap_servers, team, area))
    awards = start_service("awards", own_kafka, tmp_path, url, extra=service_env())
    try:
        wait_ready(awards)
        applied_at_kills = []
        for _ in range(2):
            applied_at_kills.append(kill_mid_batch(awards, database))
            awards = restart(awards, own_kafka, tmp_path)
            wait_ready(awards)
        # Both kills came with work still to do, in the middle of an open transaction.
        assert all(0 < applied < distinct for applied in applied_at_kills), applied_at_kills
        deadline = time.monotonic() + 240
        applied = 0
        while time.monotonic() < deadline:
            applied = database.count(
                "SELECT count(*) FROM inbox WHERE consumer = $1 "
                "AND event_type = 'incident_status_changed'",
                GROUP,
            )
            if applied >= distinct:
                break
            time.sleep(0.5)
        assert applied == distinct
        time.sleep(1)  # anything still arriving would be a second effect: give it a moment
        contribution = "SELECT resolved_incidents FROM teamcontribution WHERE team_id = $1"
        assert database.count(contribution, team) == distinct
        assert database.count("SELECT count(*) FROM trackedincident") == distinct
        # every incident scored for the team and both members, once each
        per_incident = database.count(
            "SELECT count(*) FROM (SELECT source_id FROM scoreentry GROUP BY source_id "
            "HAVING count(*) = 3 AND "
            "count(DISTINCT subject || CAST(subject_id AS TEXT)) = 3) AS scored"
        )
        assert per_incident == distinct
        assert database.count("SELECT count(*) FROM scoreentry") == 3 * distinct
        assert database.count("SELECT count(*) FROM membercredit") == distinct
        lines = awards.log_lines()
        assert not [line for line in lines if line.get("event") == "event_dead_lettered"]
    finally:
        if awards.process.poll() is None:
            awards.process.terminate()
            try:
                awards.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                awards.process.kill()


def test_two_instances_in_one_group_credit_shared_teams_exactly_once_without_deadlock(
    own_kafka: LocalKafka, postgres: PostgresServer, tmp_path: Path
) -> None:
    """Two awards processes share the partitions of one group and credit the same teams
    at once: the counts are exact, and no batch falls back (a deadlock or a duplicate key
    between the two would make it)."""
    area = uuid.uuid4()
    url = asyncio.run(postgres.create_database("scaled"))
    database = Database(url)
    instances = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        batches = {"ANTT_CONSUMER_BATCH_MAX": str(BATCH_MAX)}  # INFO: each batch is logged
        instances.append(start_service("awards", own_kafka, tmp_path / name, url, batches))
    teams = [uuid.uuid4() for _ in range(5)]
    try:
        for instance in instances:
            wait_ready(instance)
        distinct = sum(
            asyncio.run(publish_history(own_kafka.bootstrap_servers, team, area)) for team in teams
        )
        deadline = time.monotonic() + 240
        applied = 0
        while time.monotonic() < deadline and applied < distinct:
            time.sleep(0.5)
            applied = database.count(
                "SELECT count(*) FROM inbox WHERE consumer = $1 "
                "AND event_type = 'incident_status_changed'",
                GROUP,
            )
        assert applied == distinct
        time.sleep(1)
        for team in teams:
            contribution = "SELECT resolved_incidents FROM teamcontribution WHERE team_id = $1"
            assert database.count(contribution, team) == EVENTS
        assert database.count("SELECT count(*) FROM scoreentry") == 3 * distinct
        handled = {
            instance.name + str(n): [
                line for line in instance.log_lines() if line.get("event") == "event_batch_handled"
            ]
            for n, instance in enumerate(instances)
        }
        assert all(handled.values()), "both instances applied batches"
        failed = [
            line
            for instance in instances
            for line in instance.log_lines()
            if line.get("event") in ("event_batch_failed", "event_dead_lettered")
        ]
        assert failed == []
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.terminate()
        for instance in instances:
            try:
                instance.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                instance.process.kill()
