"""A service that stops lets its outbox relay finish the batch in hand: the rows Kafka
acknowledged are marked sent, the others stay pending; and the stop stays bounded."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import select

import shared.runtime
from services.awards.app import Settings, create_app
from shared.db import execute
from shared.events import AwardGranted, RecipientKind
from shared.runtime import ServiceRuntime
from tests.support import lifespan, unit_settings


class SlowKafka:
    """``OutboxRelay.produce(..., no_confirm=True)`` as aiokafka does it: each send returns a
    future that the test settles (acknowledges or fails) when it likes."""

    def __init__(self, rows: int) -> None:
        self.acknowledgements: list[asyncio.Future[None]] = []
        self.rows = rows
        self.all_sent = asyncio.Event()

    async def publish(self, message: bytes, **kwargs: Any) -> "asyncio.Future[None]":
        assert kwargs["no_confirm"]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acknowledgements.append(future)
        if len(self.acknowledgements) == self.rows:
            self.all_sent.set()
        return future

    def acknowledge(self, *numbers: int) -> None:
        for number in numbers:
            self.acknowledgements[number].set_result(None)


def award(n: int) -> AwardGranted:
    return AwardGranted(
        award_id=uuid.uuid4(),
        nomination_id=uuid.uuid4(),
        recipient_kind=RecipientKind.INDIVIDUAL,
        recipient_id=uuid.uuid4(),
        recipient_name=f"Người {n}",
        award_form="giay_khen",
        authority="ward_committee",
        reason="r",
        decision_number=f"{n}/QĐ",
        granted_on=datetime.now(UTC),
        aggregate_version=1,
    )


async def add_rows(runtime: ServiceRuntime, count: int) -> None:
    async with runtime.sessions() as session:
        for n in range(count):
            await runtime.outbox.add(session, award(n))
        await session.commit()


async def outbox_rows(runtime: ServiceRuntime) -> list[Any]:
    table = runtime.outbox.table
    async with runtime.sessions() as session:
        return list((await execute(session, select(table).order_by(table.c.id))).mappings().all())


def marked(rows: list[Any]) -> list[bool]:
    return [row["published_at"] is not None for row in rows]


@contextlib.asynccontextmanager
async def relay_of_our_own(database_url: str) -> AsyncIterator[ServiceRuntime]:
    """The app on the in-memory broker; its relay loop replaced by one the test starts."""
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    runtime: ServiceRuntime = app.state.runtime
    async with TestKafkaBroker(runtime.broker), lifespan(app):
        await runtime.relay.stop()
        yield runtime


async def test_a_relay_stopped_while_awaiting_acknowledgements_marks_the_acknowledged_rows(
    database_url,
):
    async with relay_of_our_own(database_url) as runtime:
        kafka = SlowKafka(rows=4)
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        await add_rows(runtime, 4)
        loop = runtime.relay.start()
        await asyncio.wait_for(kafka.all_sent.wait(), timeout=10)
        kafka.acknowledge(0, 2)  # 1 and 3 never answered: Kafka went away
        started = time.monotonic()
        await runtime.relay.stop(seconds=0.5)
        took = time.monotonic() - started
        rows = await outbox_rows(runtime)
    assert loop.done() and not loop.cancelled()  # it finished its batch, it was not killed
    assert 0.4 < took < 2.0
    assert marked(rows) == [True, False, True, False]
    assert [row["attempts"] for row in rows] == [1, 0, 1, 0]
    assert all(row["last_error"] is None for row in rows)


async def test_a_stopping_relay_awaits_acknowledgements_that_come_within_the_bound(
    database_url,
):
    async with relay_of_our_own(database_url) as runtime:
        kafka = SlowKafka(rows=3)
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        await add_rows(runtime, 3)
        loop = runtime.relay.start()
        await asyncio.wait_for(kafka.all_sent.wait(), timeout=10)
        asyncio.get_running_loop().call_later(0.3, kafka.acknowledge, 0, 1, 2)
        started = time.monotonic()
        await runtime.relay.stop(seconds=5.0)
        took = time.monotonic() - started
        rows = await outbox_rows(runtime)
    assert loop.done() and not loop.cancelled()
    assert took < 2.0  # not the whole bound: it stops once the batch is acknowledged
    assert marked(rows) == [True, True, True]


async def test_an_idle_relay_stops_at_once(database_url):
    async with relay_of_our_own(database_url) as runtime:
        loop = runtime.relay.start()
        await asyncio.sleep(0.1)  # waiting for rows
        started = time.monotonic()
        await runtime.relay.stop(seconds=5.0)
        assert time.monotonic() - started < 0.5
        assert loop.done() and not loop.cancelled()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_service_shutdown_lets_the_relay_mark_what_kafka_acknowledged(
    database_url, monkeypatch
):
    monkeypatch.setattr(shared.runtime, "RELAY_STOP_SECONDS", 0.5)
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    runtime: ServiceRuntime = app.state.runtime
    kafka = SlowKafka(rows=4)
    async with TestKafkaBroker(runtime.broker):
        manager = lifespan(app)
        await manager.__aenter__()
        runtime.relay.produce = kafka.publish  # type: ignore[method-assign]
        await add_rows(runtime, 4)  # the commit wakes the service's own relay
        await asyncio.wait_for(kafka.all_sent.wait(), timeout=10)
        kafka.acknowledge(0, 1, 3)
        started = time.monotonic()
        await manager.__aexit__(None, None, None)  # the lifespan's shutdown
        took = time.monotonic() - started
    rows = await outbox_rows(runtime)
    await runtime.engine.dispose()
    assert took < 3.0
    # 3 was acknowledged, but 2 (another award) was not: each aggregate on its own
    assert marked(rows) == [True, True, False, True]
