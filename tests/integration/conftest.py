"""Real Apache Kafka and the three services as separate processes, as ops run them."""

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.local_kafka import LocalKafka, LocalKafkaCluster, free_port
from shared.local_keycloak import LocalKeycloak
from shared.settings import PROJECT_ROOT
from tests.keycloak import CONSOLE_CLIENT_SECRET, SERVICE_CLIENT_SECRET
from tests.postgres import PostgresServer
from tests.support import TEST_INFORMANT_KEY, TEST_SIGNING_KEY

SERVICES = ("registry", "reporting", "awards")
# A reference another service's events have not brought yet: 409 not_yet_known while the
# service knows it is catching up, 422 unknown_reference once it thinks it has caught up.
NOT_HEARD_OF_YET = (409, 422)


@dataclass
class Service:
    name: str
    url: str
    log_file: Path
    process: subprocess.Popen[bytes]
    database_url: str
    env: dict[str, str] = field(default_factory=dict)  # what it was started with

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_file.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@dataclass
class Stack:
    kafka: LocalKafka
    services: dict[str, Service]
    postgres: PostgresServer
    keycloak: LocalKeycloak

    def url(self, name: str) -> str:
        return self.services[name].url


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKeycloak]:
    """A real Keycloak with the project's realm and demo users. Launched without waiting:
    the stack starts Kafka and the services meanwhile, then waits for it."""
    server = LocalKeycloak(
        data_dir=tmp_path_factory.mktemp("keycloak"),
        port=free_port(),
        management_port=free_port(),
    )
    server.launch()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port()
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker for one test module alone: its services' consumer groups are not shared
    with the session stack's, which join the very same groups (awards.registry.team …)."""
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("own-kafka"), port=free_port(), controller_port=free_port()
    )
    broker.start()
    yield broker
    broker.stop()


def start_service(
    name: str,
    kafka: LocalKafka | LocalKafkaCluster,
    workdir: Path,
    database_url: str,
    extra: dict[str, str] | None = None,
    port: int | None = None,
) -> Service:
    port = port or free_port()
    log_file = workdir / f"{name}.log"
    env = {
        **os.environ,
        "ANTT_ENV": "test",
        "ANTT_PORT": str(port),
        "ANTT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ANTT_DATABASE_URL": database_url,
        "ANTT_LOG_FORMAT": "json",
        "ANTT_OUTBOX_POLL_SECONDS": "0.2",
        "ANTT_JWT_SECRET": TEST_SIGNING_KEY,
        "ANTT_INFORMANT_KEYS": json.dumps([TEST_INFORMANT_KEY]),
        # Every test client is 127.0.0.1: the tip limits have a unit test of their own.
        "ANTT_TIPS_PER_CLIENT_PER_MINUTE": "100000",
        "ANTT_TIPS_PER_MINUTE": "100000",
        "ANTT_METRICS_REFRESH_SECONDS": "1",
        **(extra or {}),
    }
    with log_file.open("ab") as log:  # a restarted service goes on in the same log
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Service(name, f"http://127.0.0.1:{port}", log_file, process, database_url, env)


def wait_ready(service: Service, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited:\n{service.log_file.read_text()}")
        try:
            if httpx.get(f"{service.url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} not ready in {timeout}s:\n{service.log_file.read_text()}")


@pytest.fixture(scope="session")
def stack(
    keycloak: LocalKeycloak,
    kafka: LocalKafka,
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The three services on PostgreSQL, one database each, as in compose, trusting the
    real Keycloak's tokens (and, as ANTT_ENV=test allows, the suite's HS256 key)."""
    workdir = tmp_path_factory.mktemp("stack")
    urls = {name: asyncio.run(postgres.create_database(name)) for name in SERVICES}
    issuer = {"ANTT_OIDC_ISSUER": keycloak.issuer}
    services = {name: start_service(name, kafka, workdir, urls[name], issuer) for name in SERVICES}
    try:
        keycloak.wait_ready(240)
        for service in services.values():
            wait_ready(service)
        yield Stack(kafka, services, postgres, keycloak)
    finally:
        for service in services.values():
            service.process.terminate()
        for service in services.values():
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()


def start_console(stack: Stack, workdir: Path, port: int | None = None) -> Service:
    """The console as a process on the stack's services and Keycloak (logins through it
    need ``port`` accepted as a redirect URI: see tests/integration/test_console.py)."""
    return start_service(
        "console",
        stack.kafka,
        workdir,
        database_url="",
        port=port,
        extra={
            "ANTT_OIDC_ISSUER": stack.keycloak.issuer,
            "ANTT_CONSOLE_CLIENT_SECRET": CONSOLE_CLIENT_SECRET,
            "ANTT_OIDC_CLIENT_SECRET": SERVICE_CLIENT_SECRET,
            "ANTT_REGISTRY_URL": stack.url("registry"),
            "ANTT_REPORTING_URL": stack.url("reporting"),
            "ANTT_AWARDS_URL": stack.url("awards"),
        },
    )


class Database:
    """The awards database as the test reads it, beside the service: PostgreSQL through
    asyncpg, SQLite through the sqlite3 module."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.path = url.split("///", 1)[1] if self.sqlite else ""

    def count(self, query: str, *args: object) -> int:
        if self.sqlite:
            query = query.replace("$1", "?")
            values = [arg.hex if isinstance(arg, uuid.UUID) else arg for arg in args]
            with sqlite3.connect(self.path, timeout=10) as connection:
                return int(connection.execute(query, values).fetchone()[0])
        return asyncio.run(self._pg_count(query, *args))

    async def _pg_count(self, query: str, *args: object) -> int:
        connection = await asyncpg.connect(self.url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return int(await connection.fetchval(query, *args))
        finally:
            await connection.close()

    def writing(self) -> bool:
        """Whether a transaction has written and not yet committed."""
        if self.sqlite:
            connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")  # fails while another writer holds it
                connection.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                connection.close()
        database = self.url.rsplit("/", 1)[1]
        return bool(
            self.count(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
                database,
            )
        )
