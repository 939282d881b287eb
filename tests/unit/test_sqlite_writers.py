"""SQLite's writers of one process queue in the service's write gate (shared.db.WriteGate)
instead of sleeping in SQLite's busy handler: a second writer's statement reaches SQLite only
once the first writer's connection is back in the pool, readers never wait, and a writer
that fails lets the next one in."""

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine

metadata = MetaData()
counter = Table("counter", metadata, Column("n", Integer, primary_key=True))


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def reaching_sqlite(engine: AsyncEngine) -> list[str]:
    """Statements as they go to SQLite: heard after the gate, which listens first."""
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def heard(_conn, _cursor, statement, *_) -> None:
        seen.append(statement.split()[0].upper())

    return seen


async def inserted(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return list((await connection.scalars(select(counter.c.n).order_by(counter.c.n))).all())


async def test_a_second_writer_waits_in_the_gate_until_the_first_is_done(engine):
    seen = reaching_sqlite(engine)
    first_wrote, let_first_commit = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(counter).values(n=1))
            first_wrote.set()
            await let_first_commit.wait()

    async def second() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(counter).values(n=2))

    writing = asyncio.create_task(first())
    await first_wrote.wait()
    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert seen.count("INSERT") == 1, "the second INSERT went to SQLite, to its busy handler"
    assert await inserted(engine) == []  # a reader does not wait for the writers
    let_first_commit.set()
    await asyncio.wait_for(asyncio.gather(writing, waiting), timeout=5)
    assert seen.count("INSERT") == 2
    assert await inserted(engine) == [1, 2]


async def test_a_writer_that_fails_lets_the_next_one_in(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(counter).values(n=1))
    with pytest.raises(Exception, match="UNIQUE"):
        async with engine.begin() as connection:
            await connection.execute(insert(counter).values(n=2))
            await connection.execute(insert(counter).values(n=1))  # taken: rolled back
    async with engine.begin() as connection:  # would wait 30 s for a gate never released
        await asyncio.wait_for(connection.execute(insert(counter).values(n=3)), timeout=5)
    assert await inserted(engine) == [1, 3]


async def test_fifty_writers_at_once_all_get_in_one_after_another(engine):
    """None is lost, none fails busy, none waits for ever for a gate left taken."""

    async def add_one() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(counter).values(n=None))

    await asyncio.wait_for(asyncio.gather(*(add_one() for _ in range(50))), timeout=30)
    assert await inserted(engine) == list(range(1, 51))


async def test_writers_cancelled_as_the_gate_opens_end_cancelled_and_leave_it_free(engine):
    """A cancellation that lands as the gate is granted must cancel the writer (the way a
    shutdown stops a periodic purge), not be swallowed so that the task runs on."""
    for turns in range(4):  # the cancellation lands a little later each time
        first_wrote, let_first_commit = asyncio.Event(), asyncio.Event()

        async def first(wrote: asyncio.Event, commit: asyncio.Event) -> None:
            async with engine.begin() as connection:
                await connection.execute(insert(counter).values(n=None))
                wrote.set()
                await commit.wait()

        async def waiter() -> None:
            async with engine.begin() as connection:
                await connection.execute(insert(counter).values(n=None))

        writing = asyncio.create_task(first(first_wrote, let_first_commit))
        await first_wrote.wait()
        waiting = [asyncio.create_task(waiter()) for _ in range(3)]
        await asyncio.sleep(0.1)
        let_first_commit.set()
        await writing
        for _ in range(turns):
            await asyncio.sleep(0)
        for task in waiting:
            task.cancel()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        for task, outcome in zip(waiting, outcomes, strict=True):
            # done before its cancel came, or cancelled; never a cancel swallowed (pending)
            assert isinstance(outcome, asyncio.CancelledError) or task.cancelling() == 0
    async with engine.begin() as connection:  # the gate is free: no 30 s wait
        await asyncio.wait_for(connection.execute(insert(counter).values(n=None)), timeout=5)
