"""How fast the outbox relay publishes, on SQLite and on PostgreSQL, against a bare aiokafka
producer sending the same records, in the same run.

    .venv/bin/python -m benchmarks.relay [--rows 10000] [--rounds 3] [--max-seconds 60]
        [--databases sqlite,postgres] [--batch-size N]

Starts a Kafka broker and a PostgreSQL cluster of its own. For each database, reporting's
schema (``shared.migrations.upgrade_to_head``) holds ``--rows`` outbox rows, each an
``incident_status_changed`` of its own incident, written as ``shared.outbox.Outbox.add``
writes them (one bulk insert, untimed). Then, alternating, ``--rounds`` times:

- **bare**: an ``AIOKafkaProducer`` (idempotent, ``acks=all``) sends the same records
  (topic, key, value, CloudEvents headers, built beforehand) without waiting, then awaits
  them all;
- **relay, SQLite / PostgreSQL**: ``shared.outbox.OutboxRelay.publish_pending`` on a
  ``KafkaBroker`` from ``shared.bus.create_broker``, called until every row is marked
  published (or ``--max-seconds`` pass: the rate then counts what was published). Batch
  size: the services' setting (``ANTT_OUTBOX_BATCH_SIZE``'s default) unless ``--batch-size``.
  Between rounds the rows are deleted and written again (and the table vacuumed on
  PostgreSQL), untimed.

Rows/s, and CPU per row of this process (the relay, the database driver; PostgreSQL's own CPU
is in the notes). Prints medians and ratios and writes the ``relay`` section of
``benchmarks/results/latest.md``. About a minute at the defaults on the 2-core machine.
Timings are never asserted.
"""

import argparse
import asyncio
import statistics as stats
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.harness import (
    Infrastructure,
    Record,
    bench_parser,
    console,
    create_topics,
    run_part,
)
from benchmarks.results import BenchRow
from shared.bus import create_broker
from shared.cloudevents import build_headers
from shared.db import create_engine, create_session_factory, execute
from shared.events import IncidentSource, IncidentStatus, IncidentStatusChanged
from shared.metrics import DeliveryMetrics
from shared.migrations import upgrade_to_head
from shared.outbox import Outbox, OutboxRelay
from shared.settings import ServiceSettings

TOPIC = "reporting.incident"
SOURCE = "/antt/reporting"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
CHUNK = 2000


@dataclass
class Run:
    rate: float
    cpu_ms: float
    postgres_cpu_ms: float
    published: int
    expected: int


def outbox_rows(count: int) -> list[dict[str, Any]]:
    """Rows as ``Outbox.add`` writes them inside a request (with its correlation id)."""
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        event = IncidentStatusChanged(
            incident_id=uuid.uuid4(),
            area_id=uuid.uuid4(),
            category="theft",
            category_group="crime",
            source=IncidentSource.PATROL,
            from_status=IncidentStatus.VERIFIED,
            to_status=IncidentStatus.RESOLVED,
            changed_at=now,
            credited_team_ids=[uuid.uuid4()],
            aggregate_version=3,
        )
        rows.append(
            {
                "event_id": str(uuid.uuid4()),
                "topic": event.topic,
                "event_type": event.event_type,
                "message_key": event.subject,
                "payload": event.model_dump_json(),
                "correlation_id": uuid.uuid4().hex,
                "created_at": now,
                "attempts": 0,
            }
        )
    return rows


def as_records(rows: list[dict[str, Any]]) -> list[Record]:
    """The records the relay makes of ``rows``, for the bare producer."""
    records = []
    for row in rows:
        headers = build_headers(
            event_id=row["event_id"],
            source=SOURCE,
            event_type=row["event_type"],
            subject=row["message_key"],
            time=row["created_at"],
            correlation_id=row["correlation_id"],
        )
        records.append(
            (
                row["topic"],
                row["message_key"].encode(),
                row["payload"].encode(),
                [(key, value.encode()) for key, value in headers.items()],
            )
        )
    return records


async def bare_send(bootstrap: str, records: list[Record]) -> Run:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.partitions_for(TOPIC)  # metadata before the clock starts
        began, cpu = time.perf_counter(), time.process_time()
        sent = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value, headers in records
        ]
        await asyncio.gather(*sent)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        await producer.stop()
    return Run(len(records) / elapsed, cpu * 1000 / len(records), 0.0, len(records), len(records))


class OutboxDatabase:
    """Reporting's schema on one database, its outbox filled with the benchmark's rows."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self.sessions = create_session_factory(self.engine)
        self.outbox = Outbox(MetaData(), source=SOURCE)

    @property
    def postgres(self) -> bool:
        return not self.url.startswith("sqlite")

    async def fill(self, rows: list[dict[str, Any]]) -> None:
        await upgrade_to_head(self.engine, "reporting")
        table = self.outbox.table
        async with self.sessions() as session:
            await execute(session, delete(table))
            for start in range(0, len(rows), CHUNK):
                await execute(session, table.insert(), rows[start : start + CHUNK])
            await session.commit()
        if self.postgres:
            autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with autocommit.connect() as connection:
                await connection.execute(text("VACUUM ANALYZE outbox"))

    async def pending(self) -> int:
        table = self.outbox.table
        async with self.sessions() as session:
            found = await execute(
                session, select(func.count()).where(table.c.published_at.is_(None))
            )
            return int(found.scalar_one())

    async def close(self) -> None:
        await self.engine.dispose()


async def relay_pass(
    infra: Infrastructure, database: OutboxDatabase, batch_size: int, max_seconds: float
) -> Run:
    assert infra.kafka is not None
    settings = ServiceSettings(
        service_name="reporting",
        kafka_bootstrap_servers=infra.kafka.bootstrap_servers,
        outbox_batch_size=batch_size,
    )
    registry = CollectorRegistry()
    broker = create_broker(settings, registry)
    await broker.start()
    try:
        # One record first, so that the producer has the topic's metadata before the clock.
        topic, key, value, headers = as_records(outbox_rows(1))[0]
        await broker.publish(
            value, topic=topic, key=key, headers={k: v.decode() for k, v in headers}
        )
        relay = OutboxRelay(
            database.outbox,
            database.sessions,
            broker,
            DeliveryMetrics(registry),
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        expected = await database.pending()
        published = 0
        postgres = infra.postgres_cpu() if database.postgres else 0.0
        began, cpu = time.perf_counter(), time.process_time()
        while published < expected and time.perf_counter() - began < max_seconds:
            result = await relay.publish_pending()
            if result.failed:
                raise RuntimeError("the relay failed to publish (see the log lines above)")
            if not result.published:
                break
            published += result.published
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        postgres = (infra.postgres_cpu() - postgres) if database.postgres else 0.0
        await relay.stop()  # gives its lead (PostgreSQL's lock and connection) back
    finally:
        await broker.stop()
    done = max(published, 1)
    return Run(published / elapsed, cpu * 1000 / done, postgres * 1000 / done, published, expected)


async def main(arguments: argparse.Namespace) -> list[BenchRow]:
    databases = [name.strip() for name in arguments.databases.split(",") if name.strip()]
    batch_size = arguments.batch_size or ServiceSettings().outbox_batch_size
    bare: list[Run] = []
    relayed: dict[str, list[Run]] = {kind: [] for kind in databases}
    with Infrastructure() as infra:
        kafka = infra.start_kafka()
        if "postgres" in databases:
            infra.start_postgres()
        await create_topics(kafka.bootstrap_servers, {TOPIC: 3})
        opened = {
            kind: OutboxDatabase(await infra.database(kind, "reporting")) for kind in databases
        }
        try:
            for round_ in range(arguments.rounds):
                console.print(f"round {round_ + 1}/{arguments.rounds}")
                rows = outbox_rows(arguments.rows)
                bare.append(await bare_send(kafka.bootstrap_servers, as_records(rows)))
                console.print(f"  bare producer: {bare[-1].rate:,.0f} rows/s")
                for kind, database in opened.items():
                    await database.fill(rows)
                    relayed[kind].append(
                        await relay_pass(infra, database, batch_size, arguments.max_seconds)
                    )
                    last = relayed[kind][-1]
                    console.print(
                        f"  relay on {NAMES[kind]}: {last.rate:,.0f} rows/s, "
                        f"{last.cpu_ms:.3f} CPU ms/row ({last.published:,} published)"
                    )
        finally:
            for database in opened.values():
                await database.close()

    rows_out = []
    for kind in databases:
        runs = relayed[kind]
        notes = [f"batch size {batch_size}"]
        short = [run for run in runs if run.published < run.expected]
        if short:
            notes.append(
                f"{len(short)} of {len(runs)} runs stopped at {arguments.max_seconds:.0f} s; "
                "rate over what was published"
            )
        rows_out.append(
            BenchRow(
                f"outbox relay publishes ({NAMES[kind]})",
                "rows/s",
                [run.rate for run in runs],
                [run.rate for run in bare],
                "bare idempotent producer, pipelined",
                target=0.5,
                notes=notes,
            )
        )
        cpu_notes = []
        if kind == "postgres":
            median = stats.median(run.postgres_cpu_ms for run in runs)
            cpu_notes.append(f"PostgreSQL's own CPU on top: {median:.3f} ms/row")
        rows_out.append(
            BenchRow(
                f"outbox relay CPU per row ({NAMES[kind]})",
                "ms/row",
                [run.cpu_ms for run in runs],
                [run.cpu_ms for run in bare],
                "bare producer",
                higher_is_better=False,
                notes=cpu_notes,
            )
        )
    return rows_out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, max_seconds=60.0, keep_logs=False)
    parser.add_argument("--rows", type=int, default=10_000, help="outbox rows per run")
    parser.add_argument("--batch-size", type=int, default=0, help="the relay's (0: the default)")
    return parser.parse_args(argv)


def cli() -> None:
    arguments = parse()
    title = (
        f"relay: outbox to Kafka against a bare producer, {arguments.rows:,} rows, "
        f"{arguments.rounds} rounds, medians"
    )
    run_part("relay", title, main(arguments))


if __name__ == "__main__":
    cli()
