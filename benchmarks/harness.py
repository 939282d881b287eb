"""What the benchmarks share: a Kafka broker and a PostgreSQL cluster of their own, service
processes started as ops start them (``python -m services.cli serve NAME``), CPU time read
from ``/proc``, records published as the services publish them, and percentiles.

Everything a benchmark starts is stopped when its ``Infrastructure`` closes, also on an
error, Ctrl-C or SIGTERM."""

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from cryptography.fernet import Fernet
from rich.console import Console

from benchmarks.results import LATEST, BenchRow, finish, print_rows
from shared.auth import Role, TokenCodec
from shared.bus import TOPIC_CONFIG
from shared.cloudevents import build_headers
from shared.events import AreaLevel, AreaRegistered, IntegrationEvent, TeamRegistered
from shared.local_kafka import LocalKafka, free_port
from shared.rebuild import group_members
from shared.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from tests.postgres import PostgresServer

# Wide enough for the result tables when the output is a file or a pipe (`make bench | tee`).
console = Console(width=None if sys.stdout.isatty() else 160)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Tokens the benchmark signs for itself; the services are started with this key.
SIGNING_KEY = "antt-benchmark-signing-key-not-for-any-real-use"
INFORMANT_KEY = Fernet.generate_key().decode()
T = TypeVar("T")
PROFILE_RATE = 100  # py-spy samples a second (its default): a few per cent of a core

Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]  # topic, key, value, headers


def admin_headers() -> dict[str, str]:
    token = TokenCodec(SIGNING_KEY).issue("benchmark", Role.ADMIN)
    return {"Authorization": f"Bearer {token}"}


# --- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q ≤ 100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every process of the machine has used since boot, over all its cores (the
    first line of ``/proc/stat`` less idle and I/O wait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / CLOCK_TICKS


def cpu_with_children(pid: int) -> float:
    """User + system CPU of a process and of its children that it has waited for (how a
    PostgreSQL postmaster accounts for the backends that have exited)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


# --- the infrastructure -----------------------------------------------------------------


class Infrastructure:
    """A scratch folder, and whatever is started in it, stopped in reverse order on close."""

    def __init__(
        self,
        keep_logs: Path | None = None,
        prefix: str = "antt-bench-",
        profile: Path | None = None,
    ) -> None:
        self.keep_logs = keep_logs  # where the service processes' logs are copied on close
        self.profile = profile  # where each service process's py-spy samples go (--profile)
        self._scratch = tempfile.TemporaryDirectory(prefix=prefix)
        self.workdir = Path(self._scratch.name)
        self._stops: list[Callable[[], object]] = []
        self.kafka: LocalKafka | None = None
        self.postgres: PostgresServer | None = None

    def __enter__(self) -> "Infrastructure":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                console.print(f"[yellow]while stopping: {type(exc).__name__}: {exc}[/yellow]")
        if self.keep_logs is not None:
            self.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in self.workdir.glob("*.log"):
                shutil.copy(log, self.keep_logs / log.name)
            console.print(f"service logs kept in {self.keep_logs}")
        self._scratch.cleanup()

    def on_close(self, stop: Callable[[], object]) -> None:
        self._stops.append(stop)

    def start_kafka(self) -> LocalKafka:
        kafka = LocalKafka(
            data_dir=self.workdir / "kafka", port=free_port(), controller_port=free_port()
        )
        self.on_close(kafka.stop)
        with console.status("Starting Kafka…"):
            kafka.start()
        self.kafka = kafka
        return kafka

    def start_postgres(self) -> "PostgresServer":
        from tests.postgres import PostgresServer

        server = PostgresServer()

        def stop() -> None:
            if self.keep_logs is not None:
                self.keep_logs.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    shutil.copy(server.data_dir / "server.log", self.keep_logs / "postgres.log")
            server.stop()

        self.on_close(stop)
        with console.status("Starting PostgreSQL…"):
            server.start()
        self.postgres = server
        return server

    async def database(self, kind: str, name: str) -> str:
        """A fresh, empty database: a new SQLite file, or a new PostgreSQL database."""
        if kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / f'{name}-{uuid.uuid4().hex[:8]}.db'}"
        if self.postgres is None:
            raise RuntimeError("start PostgreSQL first")
        return await self.postgres.create_database(name)

    def postgres_log_count(self, text: str) -> int:
        """Lines of PostgreSQL's server log that contain ``text`` (deadlocks, say)."""
        if self.postgres is None:
            return 0
        try:
            log = (self.postgres.data_dir / "server.log").read_text(errors="replace")
        except OSError:
            return 0
        return sum(text in line for line in log.splitlines())

    def postgres_cpu(self) -> float:
        """CPU seconds PostgreSQL has used so far, all its processes (0 if none runs)."""
        if self.postgres is None:
            return 0.0
        try:
            pid = int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
            total = cpu_with_children(pid)
            for child in children_of(pid):
                with contextlib.suppress(OSError):
                    total += cpu_seconds(child)
            return total
        except (OSError, ValueError, IndexError):
            return 0.0


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that also unwinds (and so stops what was started) on SIGTERM."""

    def terminate(*_: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, terminate)
    return asyncio.run(main)


def bench_parser(
    doc: str | None, *, max_seconds: float | None = None, keep_logs: bool = True
) -> argparse.ArgumentParser:
    """A part's command line, with the flags the parts share: ``--rounds``, ``--databases``,
    ``--max-seconds`` (where a run has a bound), ``--keep-logs`` and ``--profile`` (where it
    starts services)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    if max_seconds is not None:
        parser.add_argument(
            "--max-seconds", type=float, default=max_seconds, help="give a run up after this long"
        )
    if keep_logs:
        parser.add_argument("--keep-logs", type=Path, help="copy the services' logs here")
        parser.add_argument(
            "--profile",
            type=Path,
            help="sample each service process with py-spy into this folder (see "
            "benchmarks.profile); the figures, slowed by the sampling, are not written",
        )
    return parser


def run_part(
    name: str,
    title: str,
    work: Coroutine[Any, Any, list[BenchRow]],
    profile: Path | None = None,
) -> None:
    """Run a part of ``make bench``, print its table and write its section of latest.md
    (not when ``profile``d: sampling slows the services down)."""
    began = time.perf_counter()
    rows = run(work)
    if profile is None:
        finish(name, title, rows, began, console)
        return
    print_rows(title, rows, console)
    console.print(
        f"profiled run: {LATEST} left as it was; the samples are in {profile} "
        f"(python -m benchmarks.profile {profile})"
    )


# --- service processes -------------------------------------------------------------------


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    async def wait_ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {within:.0f} s:\n{self.log_tail()}")


def service_env(bootstrap: str, database_url: str, **extra: str) -> dict[str, str]:
    """The ``ANTT_*`` environment a service (or ``antt``) runs with in the benchmarks:
    quiet JSON logs, the benchmark's signing key, no lag measurement."""
    return {
        **os.environ,
        "ANTT_ENV": "test",
        "ANTT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ANTT_DATABASE_URL": database_url,
        "ANTT_LOG_LEVEL": "WARNING",
        "ANTT_LOG_FORMAT": "json",
        "ANTT_KAFKA_MEASURE_LAG": "false",
        "ANTT_JWT_SECRET": SIGNING_KEY,
        "ANTT_INFORMANT_KEYS": json.dumps([INFORMANT_KEY]),
        **extra,
    }


def start_process(
    infra: Infrastructure, name: str, command: list[str], env: dict[str, str]
) -> ServiceProcess:
    port = int(env["ANTT_PORT"])
    log_file = infra.workdir / f"{name}-{port}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    service = ServiceProcess(name, port, process, log_file, env)
    if infra.profile is not None:
        # Before the service's own stop, so that closing stops the service first and py-spy,
        # seeing it exit, writes its samples.
        infra.on_close(sample_with_py_spy(service, infra.profile))
    infra.on_close(service.stop)
    return service


def sample_with_py_spy(service: ServiceProcess, folder: Path) -> Callable[[], None]:
    """Sample ``service`` with py-spy until it exits, into ``folder/<name>-<database>-<port>.raw``
    (py-spy's raw format: one line per stack, its frames and its count). Returns what waits for
    py-spy to write them once the service has stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    database = service.env.get("ANTT_DATABASE_URL", "none").split(":", 1)[0].split("+", 1)[0]
    output = folder / f"{service.name}-{database}-{service.port}.raw"
    with service.log_file.with_suffix(".py-spy.log").open("wb") as log:
        spy = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(service.pid)),
                *("--format", "raw", "--rate", str(PROFILE_RATE), "--nonblocking"),
                *("--output", str(output)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def written() -> None:
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.terminate()  # py-spy writes what it has on SIGTERM too
            spy.wait(timeout=10)

    return written


def start_service(
    infra: Infrastructure, name: str, database_url: str, **extra: str
) -> ServiceProcess:
    """``python -m services.cli serve NAME`` on a free port, on the benchmark's Kafka."""
    if infra.kafka is None:
        raise RuntimeError("start Kafka first")
    port = free_port()
    env = service_env(infra.kafka.bootstrap_servers, database_url, ANTT_PORT=str(port), **extra)
    return start_process(infra, name, [sys.executable, "-m", "services.cli", "serve", name], env)


def start_bare_app(infra: Infrastructure, database_url: str) -> ServiceProcess:
    """``benchmarks.bare_app`` on a free port, served by uvicorn as the services are."""
    port = free_port()
    env = {**os.environ, "ANTT_DATABASE_URL": database_url, "ANTT_PORT": str(port)}
    return start_process(infra, "bare", [sys.executable, "-m", "benchmarks.bare_app"], env)


def antt_command() -> list[str]:
    """The ``antt`` console script of this virtualenv (the module when it is missing)."""
    script = Path(sys.executable).parent / "antt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli"]


# --- a ward and a team, as registry announces them ------------------------------------------


@dataclass(frozen=True)
class Ward:
    area_id: uuid.UUID = field(default_factory=uuid.uuid4)
    team_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def records(self) -> list["Record"]:
        code = f"BENCH-{self.area_id.hex[:6]}"
        area = AreaRegistered(
            area_id=self.area_id, code=code, name="Phường", level=AreaLevel.WARD,
            aggregate_version=1,
        )  # fmt: skip
        team = TeamRegistered(
            team_id=self.team_id, area_id=self.area_id, name="Tổ ANTT", kind="security_order",
            aggregate_version=1,
        )  # fmt: skip
        return [
            event_record(area, source="/antt/registry"),
            event_record(team, source="/antt/registry"),
        ]

    def incident(self) -> dict[str, Any]:
        """A ``POST /incidents`` body in this ward, crediting its team."""
        return {
            "area_id": str(self.area_id),
            "category": "theft",
            "source": "patrol",
            "summary": "Trộm xe máy tại tổ dân phố số 3",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            "team_ids": [str(self.team_id)],
        }

    async def wait_known(self, reporting_url: str, within: float = 90.0) -> None:
        """Until reporting accepts an incident here (it learns the ward from Kafka)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=10, headers=admin_headers()) as client:
            while time.monotonic() < deadline:
                response = await client.post(f"{reporting_url}/incidents", json=self.incident())
                if response.status_code == 201:
                    return
                if response.status_code not in (409, 422):  # not yet known, or unknown yet
                    raise RuntimeError(f"POST /incidents: {response.status_code} {response.text}")
                await asyncio.sleep(0.2)
        raise RuntimeError(f"reporting did not learn of the ward in {within:.0f} s")


# --- databases, read from outside ----------------------------------------------------------


class Probe:
    """Reads a service's database while the service writes it, for counting and polling."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: asyncpg.Connection | None = None

    async def scalar(self, sql: str, *args: Any) -> Any:
        """The first column of the first row; None while the table does not exist yet."""
        if self.url.startswith("sqlite"):
            if self._sqlite is None:
                path = self.url.split("///", 1)[1]
                try:  # mode=rw: not made here if the service has not made it yet
                    self._sqlite = sqlite3.connect(
                        f"file:{path}?mode=rw", uri=True, timeout=5, isolation_level=None
                    )
                except sqlite3.OperationalError:
                    return None
            try:
                row = self._sqlite.execute(sql.replace("$1", "?"), args).fetchone()
            except sqlite3.OperationalError:
                return None
            return row[0] if row else None
        if self._postgres is None:
            self._postgres = await asyncpg.connect(self.url.replace("+asyncpg", ""))
        try:
            return await self._postgres.fetchval(sql, *args)
        except asyncpg.UndefinedTableError:
            return None

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._postgres is not None:
            await self._postgres.close()
            self._postgres = None


# --- Kafka -----------------------------------------------------------------------------------


def event_record(
    event: IntegrationEvent, *, event_id: str | None = None, source: str = "/antt/benchmark"
) -> Record:
    """``event`` as its service's outbox relay would publish it."""
    headers = build_headers(
        event_id=event_id or str(uuid.uuid4()),
        source=source,
        event_type=event.event_type,
        subject=event.subject,
        time=datetime.now(UTC),
    )
    return (
        event.topic,
        event.subject.encode(),
        event.model_dump_json().encode(),
        [(key, value.encode()) for key, value in headers.items()],
    )


async def publish_records(bootstrap: str, records: Sequence[Record]) -> int:
    """Publish ``records`` fast: whole batches per partition (``send_batch``), the partition
    chosen from the key as any producer would, so one aggregate's records keep their order.
    Topics that do not exist yet are made as the services make them (3 partitions)."""
    await create_topics(bootstrap, dict.fromkeys({record[0] for record in records}, 3))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    pending: list[asyncio.Future[Any]] = []
    sent = 0
    try:

        async def flush(topic: str, partition: int) -> None:
            batch = open_batches.pop((topic, partition))
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))
            if len(pending) >= 64:
                await asyncio.gather(*pending)
                pending.clear()

        for topic, key, value, headers in records:
            if topic not in partitions:
                found = await producer.partitions_for(topic)
                partitions[topic] = sorted(found)
            chosen = partitioner(key, partitions[topic], partitions[topic])
            slot = (topic, chosen)
            if slot not in open_batches:
                open_batches[slot] = producer.create_batch()
            if open_batches[slot].append(key=key, value=value, timestamp=None, headers=headers):
                sent += 1
                continue
            await flush(topic, chosen)
            open_batches[slot] = producer.create_batch()
            if not open_batches[slot].append(key=key, value=value, timestamp=None, headers=headers):
                raise RuntimeError("a record larger than a whole batch")
            sent += 1
        for slot in list(open_batches):
            await flush(*slot)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create each missing topic with its number of partitions, keeping records for ever."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        missing = set(topics) - set(await admin.list_topics())
        if missing:
            await admin.create_topics(
                [
                    NewTopic(topic, topics[topic], 1, topic_configs=dict(TOPIC_CONFIG))
                    for topic in sorted(missing)
                ]
            )
        deadline = time.monotonic() + 30
        while missing and time.monotonic() < deadline:  # until every partition has a leader
            described = await admin.describe_topics(sorted(missing))
            if all(
                entry["error_code"] == 0
                and entry["partitions"]
                and all(partition["leader"] >= 0 for partition in entry["partitions"])
                for entry in described
            ):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic) or set()
    return sorted(found)


async def log_size(bootstrap: str, topic: str) -> int:
    """Records on ``topic`` (the sum of its partitions' end offsets; nothing is deleted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def _retry(call: Callable[[], Awaitable[T]], within: float = 60.0) -> T:
    """Again while Kafka refuses (a group whose stopped members have not left yet, say)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except KafkaError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def set_group_offsets(bootstrap: str, group: str, topic: str, at_end: bool) -> None:
    """Commit ``group``'s offsets on ``topic`` to the start (it reads everything again) or to
    the end (it reads only what comes next). Refused while the group has members."""

    async def commit() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
            if not partitions:
                return
            consumer.assign(partitions)
            offsets = await (consumer.end_offsets if at_end else consumer.beginning_offsets)(
                partitions
            )
            await consumer.commit(offsets)
        finally:
            await consumer.stop()

    await _retry(commit)


async def reset_service_groups(bootstrap: str, service: str) -> None:
    """Every consumer group of ``service`` (``<service>.<topic>``) back to the start, as if a
    fresh instance on a fresh database were to read the history."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [entry[0] for entry in await admin.list_consumer_groups()]
    finally:
        await admin.close()
    for group in groups:
        if group.startswith(f"{service}.") and not group.endswith(".dlq"):
            await set_group_offsets(bootstrap, group, group.removeprefix(f"{service}."), False)


async def wait_group_members(
    bootstrap: str, group: str, members: int, within: float = 90.0
) -> None:
    """Until ``group`` is Stable with ``members`` members (partitions assigned)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + within
        found: list[Any] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(KafkaError):
                found = await group_members(admin, [group])
                if len(found) == members and all(m.state == "Stable" for m in found):
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{group} did not settle with {members} member(s): {found}")
    finally:
        await admin.close()


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """Wall seconds of the block, in the one-element list it yields (after the block)."""
    result: list[float] = []
    began = time.perf_counter()
    try:
        yield result
    finally:
        result.append(time.perf_counter() - began)
