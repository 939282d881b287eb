"""/ready tells the truth: 503 naming the dependency when the database or Kafka is gone."""

import asyncio
import time

import asyncpg
import httpx
import pytest

from shared.local_kafka import LocalKafka, free_port
from tests.integration.conftest import start_service, wait_ready

pytestmark = pytest.mark.integration


def readiness(url: str, expected: int, within: float = 30.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        response = httpx.get(f"{url}/ready", timeout=10)
        if response.status_code == expected or time.monotonic() > deadline:
            assert response.status_code == expected, response.text
            return response.json()
        time.sleep(0.5)


async def set_connections(postgres, database: str, allowed: bool) -> None:
    connection = await asyncpg.connect(
        host="127.0.0.1", port=postgres.port, user=postgres.user, database="postgres"
    )
    try:
        await connection.execute(
            f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}'
        )
        if not allowed:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
    finally:
        await connection.close()


def test_ready_is_503_without_database_or_broker(postgres, tmp_path):
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port())
    kafka.start()
    database_url = asyncio.run(postgres.create_database("readiness"))
    database = database_url.rsplit("/", 1)[1]
    service = start_service("awards", kafka, tmp_path, database_url)
    try:
        wait_ready(service)

        asyncio.run(set_connections(postgres, database, allowed=False))
        body = readiness(service.url, 503)
        assert body["checks"] == {"database": False, "broker": True}
        assert httpx.get(f"{service.url}/health").status_code == 200  # alive all the same

        asyncio.run(set_connections(postgres, database, allowed=True))
        assert readiness(service.url, 200)["checks"] == {"database": True, "broker": True}

        kafka.stop()
        body = readiness(service.url, 503)
        assert body["checks"] == {"database": True, "broker": False}
    finally:
        service.process.terminate()
        try:
            service.process.wait(timeout=30)
        finally:
            if service.process.poll() is None:
                service.process.kill()
            kafka.stop()
