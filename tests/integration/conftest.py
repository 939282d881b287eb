"""Real Apache Kafka and the three services as separate processes, as ops run them."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shared.local_kafka import LocalKafka, free_port
from shared.settings import PROJECT_ROOT
from tests.postgres import PostgresServer
from tests.support import TEST_INFORMANT_KEY, TEST_SIGNING_KEY

SERVICES = ("registry", "reporting", "awards")


@dataclass
class Service:
    name: str
    url: str
    log_file: Path
    process: subprocess.Popen[bytes]
    database_url: str
    env: dict[str, str] = field(default_factory=dict)  # what it was started with

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

    def url(self, name: str) -> str:
        return self.services[name].url


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
    kafka: LocalKafka,
    workdir: Path,
    database_url: str,
    extra: dict[str, str] | None = None,
) -> Service:
    port = free_port()
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
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve", name],
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
    kafka: LocalKafka, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The three services on PostgreSQL, one database each, as in compose."""
    workdir = tmp_path_factory.mktemp("stack")
    urls = {name: asyncio.run(postgres.create_database(name)) for name in SERVICES}
    services = {name: start_service(name, kafka, workdir, urls[name]) for name in SERVICES}
    try:
        for service in services.values():
            wait_ready(service)
        yield Stack(kafka, services, postgres)
    finally:
        for service in services.values():
            service.process.terminate()
        for service in services.values():
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
