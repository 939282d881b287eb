"""How fast awards applies events with exactly-once effect, against a bare consumer that only
reads the same records, in the same run.

    .venv/bin/python -m benchmarks.consumer [--events 600] [--rounds 3]

Starts a local Kafka broker of its own, publishes ``--events`` ``incident_status_changed``
records (each resolving one incident for a known team, as reporting would) on
``reporting.incident``, and then, alternating, ``--rounds`` times:

- **bare**: an aiokafka consumer in a fresh group reads them all (no decoding, no database);
- **awards**: the awards service, as a process on a fresh SQLite file, its consumer group
  deleted after each round, applies them all: decoded in the consumer wrapper, claimed in
  the inbox, credited and scored in one transaction each, offsets committed after it. Done
  when its inbox holds every event id; the process's CPU time is read from ``/proc``.

It prints the medians and their ratio. Timings are never asserted: this is not a test.
"""

import argparse
import asyncio
import os
import sqlite3
import statistics as stats
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

from shared.cloudevents import build_headers
from shared.events import (
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    IntegrationEvent,
    TeamRegistered,
)
from shared.local_kafka import LocalKafka, free_port
from shared.rebuild import reset_group, topic_partitions
from shared.settings import PROJECT_ROOT

console = Console()
TEAM, AREA = uuid.uuid4(), uuid.uuid4()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


async def publish(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        events: list[IntegrationEvent] = [
            TeamRegistered(
                team_id=TEAM, area_id=AREA, name="Tổ", kind="security_order", aggregate_version=1
            )
        ]
        events += [
            IncidentStatusChanged(
                incident_id=uuid.uuid4(),
                area_id=AREA,
                category="theft",
                category_group="crime",
                source=IncidentSource.PATROL,
                from_status=IncidentStatus.VERIFIED,
                to_status=IncidentStatus.RESOLVED,
                changed_at=datetime.now(UTC),
                credited_team_ids=[TEAM],
                aggregate_version=3,
            )
            for _ in range(count)
        ]
        sent = []
        for event in events:
            headers = build_headers(
                event_id=str(uuid.uuid4()),
                source="/antt/benchmark",
                event_type=event.event_type,
                subject=event.subject,
                time=datetime.now(UTC),
            )
            sent.append(
                await producer.send(
                    event.topic,
                    event.model_dump_json().encode(),
                    key=event.subject.encode(),
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def bare_read(bootstrap: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        "reporting.incident",
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started, deadline = 0, 0.0, time.monotonic() + 120
        while seen < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bare consumer read {seen} of {count} in 120 s")
            batch = await consumer.getmany(timeout_ms=1000)
            if batch and not started:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        await consumer.commit()
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def applied(database: Path) -> int:
    try:
        with sqlite3.connect(database, timeout=5) as connection:
            row = connection.execute(
                "SELECT count(*) FROM inbox WHERE event_type = 'incident_status_changed'"
            ).fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


def wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"awards exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("awards not ready in 60 s")


async def forget_group(bootstrap: str, group: str) -> None:
    """The next round reads everything again, as a fresh awards would."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = (await topic_partitions(admin, ["reporting.incident"]))["reporting.incident"]
    finally:
        await admin.close()
    await reset_group(bootstrap, group, dict.fromkeys(partitions, 0))


def awards_apply(bootstrap: str, count: int, workdir: Path, round_: int) -> tuple[float, float]:
    """(events per second, CPU milliseconds per event) of one awards process."""
    port = free_port()
    database = workdir / f"awards-{round_}.db"
    env = {
        **os.environ,
        "ANTT_ENV": "dev",
        "ANTT_PORT": str(port),
        "ANTT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ANTT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "ANTT_LOG_LEVEL": "WARNING",
        "ANTT_LOG_FORMAT": "json",
        "ANTT_KAFKA_MEASURE_LAG": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "serve", "awards"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(process, port)
        cpu_before, started, done = cpu_seconds(process.pid), time.perf_counter(), 0
        first_seen = None
        while done < count:
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"awards applied {done} of {count} in 600 s")
            time.sleep(0.05)
            done = applied(database)
            if done and first_seen is None:
                first_seen = time.perf_counter()
        elapsed = time.perf_counter() - (first_seen or started)
        cpu = cpu_seconds(process.pid) - cpu_before
        return count / elapsed, cpu * 1000 / count
    finally:
        process.terminate()
        process.wait(timeout=30)


async def main(events: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="antt-bench-") as scratch:
        workdir = Path(scratch)
        kafka = LocalKafka(
            data_dir=workdir / "kafka", port=free_port(), controller_port=free_port()
        )
        with console.status("Starting Kafka and publishing…"):
            kafka.start()
        try:
            await publish(kafka.bootstrap_servers, events)
            bare, project, cpu = [], [], []
            for round_ in range(rounds):
                console.print(f"round {round_ + 1}/{rounds}: bare, then awards…")
                bare.append(await bare_read(kafka.bootstrap_servers, events))
                rate, cpu_ms = awards_apply(kafka.bootstrap_servers, events, workdir, round_)
                await forget_group(kafka.bootstrap_servers, "awards.reporting.incident")
                project.append(rate)
                cpu.append(cpu_ms)
        finally:
            kafka.stop()
    table = Table(title=f"consumer: {events} incident_status_changed, {rounds} rounds, medians")
    for column in ("path", "events/s", "CPU ms/event", "ratio to bare"):
        table.add_column(column, justify="right")
    bare_rate, project_rate = stats.median(bare), stats.median(project)
    table.add_row("bare aiokafka read", f"{bare_rate:,.0f}", "—", "1")
    table.add_row(
        "awards, exactly-once effect (SQLite)",
        f"{project_rate:,.1f}",
        f"{stats.median(cpu):.1f}",
        f"{project_rate / bare_rate:.5f}",
    )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.rounds))
