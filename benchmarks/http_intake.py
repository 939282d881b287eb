"""How fast reporting takes ``POST /incidents``, on SQLite and on PostgreSQL, against a bare
FastAPI app inserting one row per request, in the same run.

    .venv/bin/python -m benchmarks.http_intake [--requests 2000] [--connections 16]
        [--rounds 3] [--max-seconds 60] [--databases sqlite,postgres] [--keep-logs DIR]
        [--profile DIR]

Starts a Kafka broker and a PostgreSQL cluster of its own, and for each database:

- **reporting** as ops run it (``python -m services.cli serve reporting``) on a fresh database;
  a ward and its team are announced on Kafka (``area_registered``, ``team_registered``, as
  registry publishes them) and the benchmark waits until reporting accepts incidents there.
  Each request is a real report: token checked, validated against the read model, the
  incident, its team and its outbox row written in one transaction, the event relayed to
  Kafka by the same process;
- **bare**: ``benchmarks.bare_app`` (one FastAPI route, one INSERT through
  ``shared.db.create_engine``), served by uvicorn the same way, on its own fresh database.

Then, alternating, ``--rounds`` times each: ``--requests`` requests over ``--connections``
keep-alive connections (a small asyncio HTTP/1.1 client, so the load generator takes little
of the CPU the servers need), no new request after ``--max-seconds``. Requests/s, p50 and
p99 latency, and the server process's CPU per request (``/proc/<pid>/stat``; PostgreSQL's
own CPU is in the notes). Prints medians and ratios, writes the ``http_intake`` section of
``benchmarks/results/latest.md``; ``--keep-logs DIR`` keeps the servers' logs. About 3
minutes at the defaults on the 2-core machine. Timings are never asserted.
"""

import argparse
import asyncio
import json
import statistics as stats
import time
from dataclasses import dataclass

from benchmarks.harness import (
    Infrastructure,
    ServiceProcess,
    Ward,
    admin_headers,
    bench_parser,
    console,
    percentile,
    publish_records,
    run_part,
    start_bare_app,
    start_service,
)
from benchmarks.results import BenchRow

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # the server process's, per request
    postgres_cpu_ms: float
    done: int
    errors: int


class Load:
    """``requests`` identical POSTs over ``connections`` keep-alive HTTP/1.1 connections."""

    def __init__(self, port: int, path: str, body: bytes, headers: dict[str, str]) -> None:
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{key}: {value}" for key, value in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.port = port
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def _connection(self, tickets: list[int], stop_at: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while tickets and time.perf_counter() < stop_at:
                tickets.pop()
                began = time.perf_counter()
                writer.write(self.request)
                status, body = await self._response(reader)
                self.latencies.append(time.perf_counter() - began)
                if status != 201 and len(self.errors) < 5:
                    self.errors.append(f"{status} {body[:300]!r}")
                elif status != 201:
                    self.errors.append("")
        finally:
            writer.close()
            await writer.wait_closed()

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if "content-length" in fields:
            return status, await reader.readexactly(int(fields["content-length"]))
        body = b""
        while True:  # chunked
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]

    async def run(self, requests: int, connections: int, max_seconds: float) -> float:
        """Wall seconds to answer them (or as many as fit in ``max_seconds``)."""
        tickets = list(range(requests))
        began = time.perf_counter()
        await asyncio.gather(
            *(self._connection(tickets, began + max_seconds) for _ in range(connections))
        )
        return time.perf_counter() - began


async def measure(
    infra: Infrastructure,
    server: ServiceProcess,
    ward: Ward,
    arguments: argparse.Namespace,
    requests: int | None = None,
) -> Run:
    headers = admin_headers() if server.name == "reporting" else {}
    load = Load(server.port, "/incidents", json.dumps(ward.incident()).encode(), headers)
    cpu, postgres = server.cpu(), infra.postgres_cpu()
    elapsed = await load.run(
        requests or arguments.requests, arguments.connections, arguments.max_seconds
    )
    cpu, postgres = server.cpu() - cpu, infra.postgres_cpu() - postgres
    done = len(load.latencies)
    if load.errors and load.errors[0]:
        console.print(f"[yellow]  {server.name}: {len(load.errors)} errors, e.g. {load.errors[0]}")
    return Run(
        done / elapsed,
        percentile(load.latencies, 50) * 1000,
        percentile(load.latencies, 99) * 1000,
        cpu * 1000 / max(done, 1),
        postgres * 1000 / max(done, 1),
        done,
        len(load.errors),
    )


async def one_database(
    infra: Infrastructure, kind: str, arguments: argparse.Namespace
) -> tuple[list[Run], list[Run]]:
    assert infra.kafka is not None
    ward = Ward()
    await publish_records(infra.kafka.bootstrap_servers, ward.records())
    reporting = start_service(infra, "reporting", await infra.database(kind, "reporting"))
    bare = start_bare_app(infra, await infra.database(kind, "bare"))
    project: list[Run] = []
    baseline: list[Run] = []
    try:
        await reporting.wait_ready()
        await bare.wait_ready()
        await ward.wait_known(reporting.url)
        for server in (reporting, bare):  # warm both up: connections, caches
            await measure(infra, server, ward, arguments, requests=min(200, arguments.requests))
        for round_ in range(arguments.rounds):
            project.append(await measure(infra, reporting, ward, arguments))
            baseline.append(await measure(infra, bare, ward, arguments))
            console.print(
                f"  {NAMES[kind]} round {round_ + 1}/{arguments.rounds}: reporting "
                f"{project[-1].rps:,.0f} req/s (p50 {project[-1].p50_ms:.1f} ms, "
                f"{project[-1].cpu_ms:.2f} CPU ms), bare {baseline[-1].rps:,.0f} req/s "
                f"(p50 {baseline[-1].p50_ms:.1f} ms, {baseline[-1].cpu_ms:.2f} CPU ms)"
            )
    finally:
        reporting.stop()
        bare.stop()
    return project, baseline


async def main(arguments: argparse.Namespace) -> list[BenchRow]:
    databases = [name.strip() for name in arguments.databases.split(",") if name.strip()]
    results: dict[str, tuple[list[Run], list[Run]]] = {}
    with Infrastructure(arguments.keep_logs, profile=arguments.profile) as infra:
        infra.start_kafka()
        if "postgres" in databases:
            infra.start_postgres()
        for kind in databases:
            console.print(f"{NAMES[kind]}: reporting against the bare app")
            results[kind] = await one_database(infra, kind, arguments)
    rows = []
    for kind, (project, baseline) in results.items():
        name = NAMES[kind]
        notes = []
        errors = sum(run.errors for run in project)
        if errors:
            notes.append(f"{errors} of {sum(run.done for run in project)} answers were not 201")
        if sum(run.done for run in project) < arguments.requests * len(project):
            notes.append(f"some runs stopped at {arguments.max_seconds:.0f} s")
        rows.append(
            BenchRow(
                f"POST /incidents, {arguments.connections} connections ({name})",
                "req/s",
                [run.rps for run in project],
                [run.rps for run in baseline],
                "bare FastAPI, one INSERT",
                target=0.5,
                notes=notes,
            )
        )
        for label, pick in (("p50", "p50_ms"), ("p99", "p99_ms")):
            rows.append(
                BenchRow(
                    f"POST /incidents {label} latency ({name})",
                    "ms",
                    [getattr(run, pick) for run in project],
                    [getattr(run, pick) for run in baseline],
                    "bare",
                    higher_is_better=False,
                )
            )
        cpu_notes = []
        if kind == "postgres":
            cpu_notes.append(
                "PostgreSQL's own CPU on top: "
                f"{stats.median(run.postgres_cpu_ms for run in project):.2f} ms/request "
                f"(bare {stats.median(run.postgres_cpu_ms for run in baseline):.2f})"
            )
        rows.append(
            BenchRow(
                f"server CPU per POST /incidents ({name})",
                "ms/request",
                [run.cpu_ms for run in project],
                [run.cpu_ms for run in baseline],
                "bare",
                target=3.0,
                higher_is_better=False,
                notes=cpu_notes,
            )
        )
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, max_seconds=60.0)
    parser.add_argument("--requests", type=int, default=2000, help="requests per run")
    parser.add_argument("--connections", type=int, default=16)
    return parser.parse_args(argv)


def cli() -> None:
    arguments = parse()
    title = (
        f"http_intake: POST /incidents against a bare app, {arguments.requests:,} requests, "
        f"{arguments.connections} connections, {arguments.rounds} rounds, medians"
    )
    run_part("http_intake", title, main(arguments), arguments.profile)


if __name__ == "__main__":
    cli()
