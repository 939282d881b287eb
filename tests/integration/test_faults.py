"""Faults under load, on real processes, counted precisely.

Reporting and awards run as separate processes on real Kafka (one broker, or a 3-node
cluster) with SQLite or PostgreSQL. Officers, simulated from a thread, report incidents
crediting a team and resolve them; each create carries an ``Idempotency-Key`` and is
retried with it until acknowledged. Then a fault: the broker stopped and started, the
producing service SIGKILLed while its outbox drains a backlog, one broker of three
SIGKILLed and a service restarted while it is down. (A consumer SIGKILLed twice in the
middle of a batch is ``test_consumer_crash``.) Afterwards three counts must agree with the
HTTP acknowledgements exactly:

* reporting's own rows: one incident per acknowledged create, no outbox row left behind;
* the wire: each acknowledged incident has exactly one distinct ``ce_id`` per event (a
  record sent twice after a crash carries the same one), and no event of a write that was
  not acknowledged;
* the effect downstream: awards tracks each incident once and credits the team with
  exactly one resolution per acknowledged resolve, a sum that a lost or doubled event
  would change.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.cloudevents import TYPE_PREFIX, build_headers
from shared.events import AreaLevel, AreaRegistered, IntegrationEvent, TeamRegistered
from shared.local_kafka import LocalKafka, LocalKafkaCluster, free_port_block, local_kafka_at
from shared.settings import PROJECT_ROOT
from tests.integration.conftest import Database, Service, start_service, wait_ready
from tests.postgres import PostgresServer
from tests.support import bearer

pytestmark = [pytest.mark.integration, pytest.mark.faults]

AWARDS_GROUP = "awards.reporting.incident"
QUIET = {"ANTT_LOG_LEVEL": "WARNING"}


# --- the officers' load ------------------------------------------------------------------


@dataclass
class Load:
    """Officers reporting incidents and resolving them, from a thread of its own: each
    worker reports, then verifies and resolves what it reported. A request
    that gets no answer (the service restarting) is sent again; a create with the same
    ``Idempotency-Key``, so that a retry cannot make a second incident."""

    url: str
    area: uuid.UUID
    team: uuid.UUID
    workers: int = 4
    pause: float = 0.1
    units: int | None = None  # stop after this many incidents (None: until stopped)
    reported: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # each acknowledged write, retries in
    refused: list[tuple[int, str]] = field(default_factory=list)
    retries: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)

    def start(self) -> "Load":
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> "Load":
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not stop"
        return self

    def wait_done(self, timeout: float) -> "Load":
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.units} incidents not reported in {timeout}s"
        return self

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, headers=bearer(), timeout=60) as client:
            await asyncio.gather(*(self._work(client) for _ in range(self.workers)))

    def _more(self) -> bool:
        if self._stop.is_set():
            return False
        return self.units is None or len(self.reported) < self.units

    async def _work(self, client: httpx.AsyncClient) -> None:
        while self._more():
            body = {
                "area_id": str(self.area),
                "category": "theft",
                "source": "patrol",
                "summary": "Trộm cắp xe máy",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "team_ids": [str(self.team)],
            }
            created = await self._acknowledged(
                client, "/incidents", body, {"Idempotency-Key": uuid.uuid4().hex}
            )
            if created is None:
                return
            incident = created.json()["id"]
            self.reported.append(incident)
            await asyncio.sleep(self.pause)
            for status in ("verified", "resolved"):
                change = {"status": status, "reason": "Đã xác minh và xử lý"}
                changed = await self._acknowledged(client, f"/incidents/{incident}/status", change)
                if changed is None:
                    break
            else:
                self.resolved.append(incident)
            await asyncio.sleep(self.pause)

    async def _acknowledged(
        self,
        client: httpx.AsyncClient,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """POST until the service answers; None if it refused (recorded) or the load stops."""
        started = time.monotonic()
        answered_before = False
        while True:
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError:
                # No answer: it may or may not have been applied. A create is retried with
                # its key; a status change, if it was applied, answers 409 next time.
                answered_before = True
                self.retries += 1
                if self._stop.is_set():
                    return None
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 409 and answered_before and path.endswith("/status"):
                return response  # the unanswered attempt had made the change
            if response.status_code >= 500 or response.status_code == 503:
                self.retries += 1
                await asyncio.sleep(0.2)
                continue
            if response.is_success:
                self.latencies.append(time.monotonic() - started)
                return response
            self.refused.append((response.status_code, response.text[:300]))
            return None

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0


# --- what the services were given and what came out ----------------------------------------


async def publish(bootstrap: str, *events: IntegrationEvent) -> None:
    """Registry's events, as its relay would publish them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap.split(","), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for event in events:
            headers = build_headers(
                event_id=str(uuid.uuid4()),
                source="/antt/registry",
                event_type=event.event_type,
                subject=event.subject,
                time=datetime.now(UTC),
            )
            await producer.send_and_wait(
                event.topic,
                event.model_dump_json().encode(),
                key=event.subject.encode(),
                headers=[(name, value.encode()) for name, value in headers.items()],
            )
    finally:
        await producer.stop()


def registry_history(bootstrap: str) -> tuple[uuid.UUID, uuid.UUID]:
    area, team = uuid.uuid4(), uuid.uuid4()
    asyncio.run(
        publish(
            bootstrap,
            AreaRegistered(
                area_id=area, code=f"W{area.hex[:6]}", name="Phường Hải Hòa",
                level=AreaLevel.WARD, aggregate_version=1,
            ),
            TeamRegistered(
                team_id=team, area_id=area, name="Tổ ANTT số 1", kind="security_order",
                aggregate_version=1,
            ),
        )
    )  # fmt: skip
    return area, team


@dataclass
class Wire:
    """The records of one topic, from the beginning: each aggregate's distinct ce_ids per
    event type, and how many records there were in all."""

    ids: dict[tuple[str, str, str], set[str]]  # (event type, aggregate id, to status) → ce_ids
    records: int

    def of(self, event_type: str, to_status: str = "") -> dict[str, set[str]]:
        return {
            key: ids
            for (kind, key, status), ids in self.ids.items()
            if kind == event_type and status == to_status
        }


async def read_wire(bootstrap: str, topic: str) -> Wire:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        ids: dict[tuple[str, str, str], set[str]] = {}
        records = 0
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                for record in batch:
                    headers = {name: value.decode() for name, value in record.headers}
                    key = (record.key or b"").decode()
                    kind = headers["ce_type"].removeprefix(TYPE_PREFIX)
                    status = json.loads(record.value or b"{}").get("to_status", "")
                    ids.setdefault((kind, key, status), set()).add(headers["ce_id"])
                    records += 1
        return Wire(ids, records)
    finally:
        await consumer.stop()


def wait_for(check: Any, within: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not within {within:.0f}s (last: {last!r})")


def assert_exactly_once(
    load: Load, bootstrap: str, reporting: Database, awards: Database, team: uuid.UUID
) -> Wire:
    """Every acknowledged write once in reporting, once on the wire and once in effect in
    awards; nothing else anywhere."""
    assert not load.refused, load.refused[:5]
    reported, resolved = set(load.reported), set(load.resolved)
    assert len(reported) == len(load.reported), "an acknowledged create was answered twice"
    assert resolved <= reported
    assert reporting.count("SELECT count(*) FROM incident") == len(reported)
    wait_for(
        lambda: reporting.count("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0,
        120,
        "reporting's outbox drained",
    )

    wire = asyncio.run(read_wire(bootstrap, "reporting.incident"))
    on_wire = wire.of("incident_reported")
    assert set(on_wire) == reported, "an incident on the wire without its 201, or missing"
    assert all(len(ids) == 1 for ids in on_wire.values()), "one incident, two event ids"
    for status in ("verified", "resolved"):
        changes = wire.of("incident_status_changed", status)
        assert set(changes) >= resolved
        assert all(len(ids) == 1 for ids in changes.values()), f"a change to {status}, twice"
    assert set(wire.of("incident_status_changed", "resolved")) == resolved

    def caught_up() -> tuple[int, int] | None:
        tracked = awards.count("SELECT count(*) FROM trackedincident")
        credited = awards.count(
            "SELECT coalesce(sum(resolved_incidents), 0) FROM teamcontribution WHERE team_id = $1",
            team,
        )
        return None if (tracked, credited) < (len(reported), len(resolved)) else (tracked, credited)

    wait_for(caught_up, 120, "awards caught up with every acknowledged write")
    time.sleep(1.5)  # anything still arriving now would be a second effect
    assert caught_up() == (len(reported), len(resolved))
    distinct = sum(len(ids) for ids in wire.ids.values())
    claimed = awards.count("SELECT count(*) FROM inbox WHERE consumer = $1", AWARDS_GROUP)
    assert claimed == distinct
    print(
        f"\n{len(reported)} reported, {len(resolved)} resolved, {load.retries} retries, "
        f"write p99 {load.p99():.2f}s; {wire.records} records on the wire, {distinct} distinct"
    )
    return wire


# --- the processes ------------------------------------------------------------------------


@dataclass
class Pair:
    """Reporting, which produces, and awards, which consumes, on one Kafka."""

    kafka: LocalKafka | LocalKafkaCluster
    workdir: Path
    reporting_url: str
    awards_url: str
    extra: dict[str, str]
    reporting: Service | None = None
    awards: Service | None = None

    def start(self) -> "Pair":
        self.reporting = self.start_reporting()
        self.awards = start_service("awards", self.kafka, self.workdir, self.awards_url, self.extra)
        wait_ready(self.reporting)
        wait_ready(self.awards)
        return self

    def start_reporting(self, port: int | None = None) -> Service:
        return start_service(
            "reporting", self.kafka, self.workdir, self.reporting_url, self.extra, port=port
        )

    def stop(self) -> None:
        for service in (self.reporting, self.awards):
            if service is not None and service.process.poll() is None:
                service.process.terminate()
                try:
                    service.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()


def databases(engine: str, postgres: PostgresServer, tmp_path: Path, name: str) -> list[str]:
    if engine == "sqlite":
        return [f"sqlite+aiosqlite:///{tmp_path / f'{name}-{s}.db'}" for s in ("rep", "awd")]
    return [asyncio.run(postgres.create_database(f"{name}_{s}")) for s in ("rep", "awd")]


def ready_status(url: str) -> int:
    try:
        return httpx.get(f"{url}/ready", timeout=3).status_code
    except httpx.HTTPError:
        return 0


# --- the faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_broker_stopped_and_restarted_under_load(
    postgres: PostgresServer, tmp_path: Path, engine: str
) -> None:
    """Writes go on being accepted while the broker is away, quickly: the relay holds no
    database lock while it talks to Kafka (on SQLite a lock held there stalled every write).
    /ready says 503 within 5 s of the loss and 200 after; nothing is lost or doubled."""
    base = free_port_block(2)
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=base, controller_port=base + 1)
    kafka.start()
    reporting_url, awards_url = databases(engine, postgres, tmp_path, "outage")
    pair = Pair(kafka, tmp_path, reporting_url, awards_url, QUIET)
    try:
        pair.start()
        assert pair.reporting is not None
        area, team = registry_history(kafka.bootstrap_servers)
        wait_for(
            lambda: Database(reporting_url).count("SELECT count(*) FROM knownteam") == 1,
            30,
            "reporting knows the team",
        )
        load = Load(pair.reporting.url, area, team).start()
        time.sleep(4)

        stopped = time.monotonic()
        kafka.stop()
        lost_after = wait_for(
            lambda: time.monotonic() - stopped if ready_status(pair.reporting.url) == 503 else 0,
            15,
            "/ready answering 503",
            interval=0.2,
        )
        during = len(load.reported)
        time.sleep(max(0.0, 8 - (time.monotonic() - stopped)))
        accepted_during = len(load.reported) - during
        kafka.start()
        wait_for(lambda: ready_status(pair.reporting.url) == 200, 60, "/ready answering 200")
        time.sleep(4)
        load.stop()

        assert lost_after <= 5.0, f"/ready took {lost_after:.1f}s to notice"
        assert accepted_during > 10, "writes were not accepted while the broker was away"
        assert load.p99() < 2.0, f"write p99 {load.p99():.2f}s over {len(load.latencies)}"
        assert_exactly_once(load, kafka.bootstrap_servers, Database(reporting_url),
                            Database(awards_url), team)  # fmt: skip
    finally:
        pair.stop()
        kafka.stop()


def test_producer_killed_while_its_outbox_drains_a_backlog(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Writes pile up in reporting's outbox while the broker is away; once it is back,
    reporting is SIGKILLed in the middle of the drain and started again. Rows sent and not
    yet marked go out a second time with their ce_id; awards applies each once."""
    base = free_port_block(2)
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=base, controller_port=base + 1)
    kafka.start()
    reporting_url, awards_url = databases("postgresql", postgres, tmp_path, "drain")
    reporting_db = Database(reporting_url)
    # Small relay batches: the drain takes many of them, and the kill lands between two.
    small_batches = {**QUIET, "ANTT_OUTBOX_BATCH_SIZE": "20"}
    pair = Pair(kafka, tmp_path, reporting_url, awards_url, small_batches)
    try:
        pair.start()
        assert pair.reporting is not None
        area, team = registry_history(kafka.bootstrap_servers)
        wait_for(lambda: reporting_db.count("SELECT count(*) FROM knownteam") == 1, 30,
                 "reporting knows the team")  # fmt: skip
        kafka.stop()
        load = Load(pair.reporting.url, area, team, workers=8, pause=0.0, units=250).start()
        load.wait_done(120)
        backlog = reporting_db.count("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert backlog >= 2 * 250

        kafka.start()
        published = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
        at_kill = wait_for(
            lambda: reporting_db.count(published) or 0, 60, "the drain starting", interval=0.005
        )
        os.kill(pair.reporting.process.pid, signal.SIGKILL)
        pair.reporting.process.wait(timeout=30)
        assert 0 < at_kill < backlog, f"killed at {at_kill} of {backlog}: not mid-drain"

        pair.reporting = pair.start_reporting()
        wait_ready(pair.reporting)
        wire = assert_exactly_once(load, kafka.bootstrap_servers, reporting_db,
                                   Database(awards_url), team)  # fmt: skip
        distinct = sum(len(ids) for ids in wire.ids.values())
        print(f"drain: {backlog} rows, killed at {at_kill}, {wire.records - distinct} resent")
    finally:
        pair.stop()
        kafka.stop()


def antt(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


async def replication_of(bootstrap: str, topic: str) -> tuple[set[int], str]:
    """The topic's replica counts (one per partition) and its ``min.insync.replicas``, as
    the brokers report them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        replicas = {len(partition["replicas"]) for partition in description["partitions"]}
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [(_, _, _, _, entries, *_)] = response.resources
        return replicas, {entry[0]: entry[1] for entry in entries}["min.insync.replicas"]
    finally:
        await admin.close()


def test_one_broker_of_three_killed_under_load_then_a_service_restarted(
    tmp_path: Path,
) -> None:
    """A 3-node cluster from ``antt kafka start --nodes 3``, and the services started with
    the settings it prints: all three nodes in their bootstrap list, and replication factor
    3 and min ISR 2 for the topics they create. The middle node of the list (the first is
    ``test_bootstrap_lists``'s) is SIGKILLed under load, and reporting is restarted
    (SIGTERM: exit 0) while it is still down: it starts on the other two, and no write is
    lost or doubled."""
    base = free_port_block(6)
    data_dir = tmp_path / "cluster"
    where = ["--data-dir", str(data_dir), "--port", str(base), "--controller-port", str(base + 1)]
    started = antt("kafka", "start", "--nodes", "3", *where)
    assert started.returncode == 0, started.stderr
    cluster = local_kafka_at(data_dir)
    assert isinstance(cluster, LocalKafkaCluster) and cluster.size == 3
    printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
    assert printed == {
        "ANTT_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "ANTT_KAFKA_REPLICATION_FACTOR": "3",
        "ANTT_KAFKA_MIN_INSYNC_REPLICAS": "2",
    }
    reporting_url = f"sqlite+aiosqlite:///{tmp_path / 'cluster-rep.db'}"
    awards_url = f"sqlite+aiosqlite:///{tmp_path / 'cluster-awd.db'}"
    pair = Pair(cluster, tmp_path, reporting_url, awards_url, {**QUIET, **printed})
    try:
        pair.start()
        assert pair.reporting is not None
        # A topic reporting created, read back from the brokers: a replica on each node, and
        # a write acknowledged once two have it (the services' defaults would give 1 and 1).
        replicas, insync = asyncio.run(
            replication_of(cluster.bootstrap_servers, "reporting.incident")
        )
        assert (replicas, insync) == ({3}, "2")
        area, team = registry_history(cluster.bootstrap_servers)
        wait_for(lambda: Database(reporting_url).count("SELECT count(*) FROM knownteam") == 1,
                 30, "reporting knows the team")  # fmt: skip
        load = Load(pair.reporting.url, area, team).start()
        time.sleep(4)

        middle = cluster.nodes[1]  # neither the first nor the last host of the list
        middle.kill()
        status = antt("kafka", "status", "--data-dir", str(data_dir))
        assert status.returncode == 1 and "2 of 3 nodes running" in status.stderr
        time.sleep(3)

        old = pair.reporting
        old.process.send_signal(signal.SIGTERM)
        assert old.process.wait(timeout=60) == 0, "reporting did not exit cleanly on SIGTERM"
        pair.reporting = pair.start_reporting(port=old.port)  # where the officers' load is
        wait_ready(pair.reporting, timeout=90)  # started with a bootstrap host down
        time.sleep(8)
        load.stop()

        assert len(load.reported) > 20
        assert_exactly_once(load, cluster.bootstrap_servers, Database(reporting_url),
                            Database(awards_url), team)  # fmt: skip
        stopped = antt("kafka", "stop", "--data-dir", str(data_dir))
        assert stopped.returncode == 0 and "Kafka stopped" in stopped.stderr
        assert not any(cluster.running_pids().values())
    finally:
        pair.stop()
        with contextlib.suppress(Exception):
            cluster.stop()
