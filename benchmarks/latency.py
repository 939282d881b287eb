"""End-to-end latency: an officer resolves an incident in reporting, how long until awards
has applied it — against a bare producer → consumer hop through the same Kafka, in the same
run.

    .venv/bin/python -m benchmarks.latency [--incidents 100] [--rounds 3]
        [--databases sqlite,postgres] [--keep-logs DIR] [--profile DIR]

Starts a Kafka broker and a PostgreSQL cluster of its own, and for each database reporting
and awards as ops run them (``python -m services.cli serve …``, default settings), each on a
fresh database; a ward and its team are announced on Kafka as registry would. Then,
alternating, ``--rounds`` times:

- **project**, ``--incidents`` times, one after another: ``POST /incidents``, ``POST
  /incidents/{id}/status`` to ``verified``, wait until awards has it as verified; then
  ``POST …/status`` to ``resolved``, and the clock stops when awards' row for the
  incident (``trackedincident``, written in the same transaction as its inbox row and the
  team's credit) says ``resolved``, polled every 2 ms. The clock starts at the response
  (the resolution is committed with its outbox row): the path is the relay, Kafka, awards'
  consumer and its transaction; the POST's own time is in the notes;
- **bare**: ``--incidents`` times, an idempotent ``acks=all`` aiokafka producer's
  ``send_and_wait`` of one record, and an aiokafka consumer's ``getmany`` until that record
  arrives.

p50 and p99 of each run, medians over the rounds, and the resolving POST's own p50 in the
notes. Writes the ``latency`` section of ``benchmarks/results/latest.md``; ``--keep-logs DIR``
keeps the services' logs. About 2 minutes at the defaults on the 2-core machine. Timings are
never asserted.
"""

import argparse
import asyncio
import statistics as stats
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.harness import (
    Infrastructure,
    Probe,
    Ward,
    admin_headers,
    bench_parser,
    console,
    create_topics,
    percentile,
    publish_records,
    run_part,
    start_service,
)
from benchmarks.results import BenchRow

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
BARE_TOPIC = "benchmark.latency"
STATUS = "SELECT status FROM trackedincident WHERE id = $1"
WAIT = 30.0  # seconds before a sample is given up


@dataclass
class Run:
    p50_ms: float
    p99_ms: float
    post_p50_ms: float  # the resolving request alone
    samples: int
    lost: int


def summarise(latencies: list[float], posts: list[float], lost: int) -> Run:
    return Run(
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        percentile(posts, 50) * 1000 if posts else 0.0,
        len(latencies),
        lost,
    )


async def bare_hops(bootstrap: str, count: int) -> Run:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        partition = TopicPartition(BARE_TOPIC, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await producer.partitions_for(BARE_TOPIC)
        latencies: list[float] = []
        lost = 0
        for _ in range(count):
            marker = uuid.uuid4().bytes
            began = time.perf_counter()
            await producer.send_and_wait(BARE_TOPIC, marker, key=marker, partition=0)
            deadline = began + WAIT
            arrived = False
            while not arrived and time.perf_counter() < deadline:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                arrived = any(record.value == marker for record in batch.get(partition, []))
            if arrived:
                latencies.append(time.perf_counter() - began)
            else:
                lost += 1
    finally:
        await consumer.stop()
        await producer.stop()
    return summarise(latencies, [], lost)


async def wait_for(probe: Probe, key: Any, status: str) -> bool:
    deadline = time.perf_counter() + WAIT
    while time.perf_counter() < deadline:
        if await probe.scalar(STATUS, key) == status:
            return True
        await asyncio.sleep(0.002)
    return False


async def resolutions(
    client: httpx.AsyncClient, reporting: str, probe: Probe, ward: Ward, count: int, kind: str
) -> Run:
    latencies: list[float] = []
    posts: list[float] = []
    lost = 0
    for _ in range(count):
        response = await client.post(f"{reporting}/incidents", json=ward.incident())
        response.raise_for_status()
        incident = uuid.UUID(response.json()["id"])
        key: Any = incident if kind == "postgres" else incident.hex  # as each stores a UUID
        status_url = f"{reporting}/incidents/{incident}/status"
        verified = {"status": "verified", "reason": "Công an phường xác minh"}
        (await client.post(status_url, json=verified)).raise_for_status()
        if not await wait_for(probe, key, "verified"):
            lost += 1
            continue
        began = time.perf_counter()
        resolved = {"status": "resolved", "reason": "Đã giải quyết"}
        (await client.post(status_url, json=resolved)).raise_for_status()
        answered = time.perf_counter()  # the 201: from here on it is the event's journey
        posts.append(answered - began)
        if await wait_for(probe, key, "resolved"):
            latencies.append(time.perf_counter() - answered)
        else:
            lost += 1
    return summarise(latencies, posts, lost)


async def one_database(
    infra: Infrastructure, kind: str, arguments: argparse.Namespace
) -> tuple[list[Run], list[Run]]:
    assert infra.kafka is not None
    bootstrap = infra.kafka.bootstrap_servers
    ward = Ward()
    await publish_records(bootstrap, ward.records())
    reporting = start_service(infra, "reporting", await infra.database(kind, "reporting"))
    awards_url = await infra.database(kind, "awards")
    awards = start_service(infra, "awards", awards_url)
    probe = Probe(awards_url)
    project: list[Run] = []
    baseline: list[Run] = []
    try:
        await reporting.wait_ready()
        await awards.wait_ready()
        await ward.wait_known(reporting.url)
        async with httpx.AsyncClient(timeout=30, headers=admin_headers()) as client:
            await resolutions(client, reporting.url, probe, ward, 5, kind)  # warm up
            await bare_hops(bootstrap, 5)
            for round_ in range(arguments.rounds):
                project.append(
                    await resolutions(client, reporting.url, probe, ward, arguments.incidents, kind)
                )
                baseline.append(await bare_hops(bootstrap, arguments.incidents))
                console.print(
                    f"  {NAMES[kind]} round {round_ + 1}/{arguments.rounds}: resolved → awards "
                    f"p50 {project[-1].p50_ms:.1f} ms, p99 {project[-1].p99_ms:.1f} ms "
                    f"(the POST alone p50 {project[-1].post_p50_ms:.1f} ms); bare hop p50 "
                    f"{baseline[-1].p50_ms:.2f} ms, p99 {baseline[-1].p99_ms:.2f} ms"
                )
        # Where the time went, as the services measure it themselves (every event of the run).
        relay = await histogram_mean(reporting.url, "antt_outbox_publish_delay_seconds")
        age = await histogram_mean(
            awards.url, "antt_consumer_event_age_seconds", topic="reporting.incident"
        )
        handling = await histogram_mean(
            awards.url,
            "faststream_received_processed_messages_duration_seconds",
            handler="reporting.incident",
        )
        BREAKDOWN[kind] = (
            f"as the services measure it, on average: outbox row written → Kafka acknowledged "
            f"{relay * 1000:.1f} ms (reporting's relay); record sent → applied and committed "
            f"{age * 1000:.1f} ms (awards), of which the batch's handling and commit "
            f"{handling * 1000:.1f} ms"
        )
        console.print(f"  {BREAKDOWN[kind]}")
    finally:
        await probe.close()
        reporting.stop()
        awards.stop()
    return project, baseline


BREAKDOWN: dict[str, str] = {}


async def histogram_mean(url: str, name: str, **labels: str) -> float:
    """The mean of a histogram on a service's /metrics, over the series with ``labels``."""
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(f"{url}/metrics")).text
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if any(sample.labels.get(key) != value for key, value in labels.items()):
                continue
            if sample.name == f"{name}_sum":
                total += sample.value
            elif sample.name == f"{name}_count":
                count += sample.value
    return total / count if count else 0.0


async def main(arguments: argparse.Namespace) -> list[BenchRow]:
    databases = [name.strip() for name in arguments.databases.split(",") if name.strip()]
    results: dict[str, tuple[list[Run], list[Run]]] = {}
    with Infrastructure(arguments.keep_logs, profile=arguments.profile) as infra:
        kafka = infra.start_kafka()
        if "postgres" in databases:
            infra.start_postgres()
        await create_topics(kafka.bootstrap_servers, {BARE_TOPIC: 1})
        for kind in databases:
            console.print(f"{NAMES[kind]}: reporting → Kafka → awards against a bare hop")
            results[kind] = await one_database(infra, kind, arguments)
    rows = []
    for kind, (project, baseline) in results.items():
        name = NAMES[kind]
        notes = [
            f"the resolving POST alone: p50 {stats.median(run.post_p50_ms for run in project):.1f}"
            f" ms; {arguments.incidents} incidents a run, one at a time"
        ]
        if kind in BREAKDOWN:
            notes.append(BREAKDOWN[kind])
        lost = sum(run.lost for run in project)
        if lost:
            notes.append(f"{lost} incidents not seen in awards within {WAIT:.0f} s (left out)")
        rows.append(
            BenchRow(
                f"incident resolved → applied in awards, p50 ({name})",
                "ms",
                [run.p50_ms for run in project],
                [run.p50_ms for run in baseline],
                "bare producer → consumer hop",
                target=3.0,
                higher_is_better=False,
                notes=notes,
            )
        )
        rows.append(
            BenchRow(
                f"incident resolved → applied in awards, p99 ({name})",
                "ms",
                [run.p99_ms for run in project],
                [run.p99_ms for run in baseline],
                "bare hop",
                higher_is_better=False,
            )
        )
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--incidents", type=int, default=100, help="samples per run")
    return parser.parse_args(argv)


def cli() -> None:
    arguments = parse()
    title = (
        f"latency: incident resolved → applied in awards against a bare hop, "
        f"{arguments.incidents} incidents, {arguments.rounds} rounds, medians"
    )
    run_part("latency", title, main(arguments), arguments.profile)


if __name__ == "__main__":
    cli()
