"""Helpers the tests share: an app under TestKafkaBroker, publishing events as other
services would, and waiting for something to become true."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka.structs import ConsumerRecord
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.auth import Role, TokenCodec
from shared.cloudevents import build_headers
from shared.events import AreaLevel, AreaRegistered, IntegrationEvent, TeamRegistered
from shared.runtime import ServiceRuntime

TEST_SIGNING_KEY = "test-signing-key-for-the-antt-test-suite-only"
TEST_INFORMANT_KEY = Fernet.generate_key().decode()
TEST_CODEC = TokenCodec(TEST_SIGNING_KEY)

# asgi-lifespan gives an app 5 s to start and to stop; a start-up that runs migrations on a
# loaded 2-core machine can take longer. Generous, since a real hang fails anyway.
LIFESPAN_TIMEOUT_SECONDS = 60.0


def vietnam_today() -> date:
    """The day the services count statistics in; ahead of UTC's from 17:00 UTC."""
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def token(role: Role = Role.ADMIN, *areas: str, subject: str = "tester") -> str:
    return TEST_CODEC.issue(subject, role, areas)


def bearer(role: Role = Role.ADMIN, *areas: str, subject: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, *areas, subject=subject)}"}


def lifespan(app: FastAPI) -> LifespanManager:
    """The app's start-up and shutdown, as a server would run them, with the suite's
    timeout: every test that runs a lifespan goes through here."""
    return LifespanManager(
        app,
        startup_timeout=LIFESPAN_TIMEOUT_SECONDS,
        shutdown_timeout=LIFESPAN_TIMEOUT_SECONDS,
    )


@asynccontextmanager
async def running_app(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """The app with its lifespan, on an in-memory broker, and an HTTP client for it
    (authenticated as an admin unless other ``headers`` are given)."""
    runtime: ServiceRuntime = app.state.runtime
    async with TestKafkaBroker(runtime.broker):
        async with lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://test",
                headers=bearer() if headers is None else headers,
            ) as client:
                yield client, runtime


async def publish_event(
    broker: KafkaBroker,
    event: IntegrationEvent,
    *,
    event_id: str | None = None,
    source: str = "/antt/test",
) -> str:
    """Publish ``event`` exactly as a service's outbox relay would; returns its ce_id."""
    event_id = event_id or str(uuid.uuid4())
    await broker.publish(
        event.model_dump_json().encode(),
        topic=event.topic,
        key=event.subject.encode(),
        headers=build_headers(
            event_id=event_id,
            source=source,
            event_type=event.event_type,
            subject=event.subject,
            time=datetime.now(UTC),
        ),
    )
    return event_id


def event_record(
    event: IntegrationEvent, event_id: str | None = None, offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    """``event`` as the Kafka record a service's relay would have published."""
    value = event.model_dump_json().encode()
    key = event.subject.encode()
    headers = build_headers(
        event_id=event_id or str(uuid.uuid4()),
        source="/antt/test",
        event_type=event.event_type,
        subject=event.subject,
        time=datetime.now(UTC),
    )
    return ConsumerRecord(
        topic=event.topic,
        partition=0,
        offset=offset,
        timestamp=int(datetime.now(UTC).timestamp() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[(name, text.encode()) for name, text in headers.items()],
    )


async def deliver_batch(broker: KafkaBroker, records: list[ConsumerRecord[bytes, bytes]]) -> None:
    """Hand ``records`` (all of one topic) to that topic's subscriber as one batch, as one
    poll of a real consumer would; the in-memory broker only delivers one at a time."""
    topic = records[0].topic
    for subscriber in broker.subscribers:
        if topic in getattr(subscriber, "topic_names", ()):
            await subscriber.process_message(tuple(records))
            return
    raise LookupError(f"no subscriber of {topic}")


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 20.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s; last value: {last!r}")


def unit_settings(settings_cls: type, database_url: str, **overrides: Any) -> Any:
    values = {
        "env": "test",
        "database_url": database_url,
        "kafka_create_topics": False,
        "kafka_measure_lag": False,  # the in-memory test broker has no offsets to read
        "outbox_poll_seconds": 0.05,
        "consumer_retry_backoff_seconds": 0.0,
        "log_format": "console",
        "jwt_secret": TEST_SIGNING_KEY,
        "informant_keys": [TEST_INFORMANT_KEY],
    }
    return settings_cls(**{**values, **overrides})


async def announce_area(
    broker: KafkaBroker, area_id: Any, code: str, name: str = "Phường", parent_id: Any = None
) -> None:
    """area_registered, as registry would publish it."""
    await publish_event(
        broker,
        AreaRegistered(
            area_id=area_id,
            code=code,
            name=name,
            level=AreaLevel.WARD,
            parent_id=parent_id,
            aggregate_version=1,
        ),
    )


async def announce_team(
    broker: KafkaBroker, team_id: Any, area_id: Any, name: str = "Tổ", kind: str = "security_order"
) -> None:
    """team_registered, as registry would publish it."""
    await publish_event(
        broker,
        TeamRegistered(team_id=team_id, area_id=area_id, name=name, kind=kind, aggregate_version=1),
    )
