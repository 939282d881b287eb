"""The services' SQLite engine makes one trip to aiosqlite's thread per statement
(shared.sqlite_cursor), and what SQLAlchemy reads from a cursor is what it was before:
rows, row counts, new row ids, RETURNING, batches of parameters, errors, streamed results;
and a commit or rollback with no transaction open makes no trip at all."""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db import create_engine, create_session_factory, execute, transaction
from shared.sqlite_cursor import OneTripCursor

metadata = MetaData()
note = Table(
    "note",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", String(40), nullable=False, unique=True),
)


async def _ready(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine


@pytest.fixture
async def engine(tmp_path):
    engine = await _ready(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def stock_engine(tmp_path):
    """SQLAlchemy's own aiosqlite cursor, to compare with."""
    engine = await _ready(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}"))
    yield engine
    await engine.dispose()


@contextmanager
def trips_to_the_thread() -> Iterator[list[str]]:
    """Each call queued to an aiosqlite connection's thread while the block runs."""
    trips: list[str] = []
    queue_call = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await queue_call(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        aiosqlite.Connection._execute = queue_call  # type: ignore[method-assign]


async def test_a_statement_is_one_trip_to_the_thread_where_it_used_to_be_three_or_four(
    engine, stock_engine
):
    async def trips_for_a_select_and_an_update(engine: AsyncEngine) -> int:
        async with engine.begin() as connection:
            await connection.execute(insert(note).values(body="a"))
            with trips_to_the_thread() as trips:
                rows = (await connection.execute(select(note.c.body))).all()
                await connection.execute(update(note).values(body="b"))
        assert [tuple(row) for row in rows] == [("a",)]
        return len(trips)

    assert await trips_for_a_select_and_an_update(engine) == 2
    assert await trips_for_a_select_and_an_update(stock_engine) >= 6  # what it saves
    async with engine.connect() as connection:
        assert isinstance((await connection.get_raw_connection()).cursor(), OneTripCursor)


async def test_rows_counts_ids_and_returning_are_as_sqlalchemy_had_them(engine, stock_engine):
    async def outcomes(engine: AsyncEngine) -> list[object]:
        async with engine.begin() as connection:
            first = await connection.execute(insert(note).values(body="first"))
            batch = await connection.execute(
                insert(note), [{"body": "x"}, {"body": "y"}, {"body": "z"}]
            )
            returned = await connection.execute(
                insert(note).values(body="returned").returning(note.c.id, note.c.body)
            )
            changed = await connection.execute(
                update(note).where(note.c.body.in_(["x", "y"])).values(body=note.c.body + "!")
            )
            none = await connection.execute(update(note).where(note.c.id == -1).values(body="-"))
            rows = await connection.execute(select(note.c.id, note.c.body).order_by(note.c.id))
            one = await connection.scalar(text("SELECT count(*) FROM note"))
            return [
                first.inserted_primary_key,
                batch.rowcount,
                returned.all(),
                changed.rowcount,
                none.rowcount,
                list(rows.keys()),
                rows.all(),
                one,
            ]

    seen = await outcomes(engine)
    assert seen == await outcomes(stock_engine)
    assert seen[0] == (1,) and seen[1] == 3 and seen[3] == 2 and seen[4] == 0
    assert seen[2] == [(5, "returned")] and seen[7] == 5


async def test_a_broken_constraint_raises_sqlalchemys_error_and_the_transaction_rolls_back(
    engine,
):
    async with engine.begin() as connection:
        await connection.execute(insert(note).values(body="once"))
    with pytest.raises(IntegrityError) as raised:
        async with engine.begin() as connection:
            await connection.execute(insert(note).values(body="kept back"))
            await connection.execute(insert(note).values(body="once"))
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    assert "UNIQUE constraint failed: note.body" in str(raised.value)
    with pytest.raises(OperationalError, match="no such table: nowhere"):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM nowhere"))
    async with engine.connect() as connection:
        bodies = (await connection.scalars(select(note.c.body))).all()
    assert bodies == ["once"]


async def test_a_streamed_result_still_reads_in_parts(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(note), [{"body": f"n{i:03}"} for i in range(250)])
    async with engine.connect() as connection:
        streamed = await connection.stream(select(note.c.body).order_by(note.c.body))
        parts = [len(part) async for part in streamed.partitions(100)]
    assert parts == [100, 100, 50]


async def test_a_commit_or_rollback_with_nothing_open_makes_no_trip(engine):
    sessions = create_session_factory(engine)
    with trips_to_the_thread() as trips:
        async with transaction(sessions) as session:
            await execute(session, insert(note).values(body="written"))
    assert trips == ["_run_statement", "commit"]  # no rollback as the pool takes it back
    with trips_to_the_thread() as trips:
        async with transaction(sessions) as session:
            await execute(session, select(note.c.body))
    assert trips == ["_run_statement"]  # a read opens nothing: its commit has nothing to end


async def test_a_write_left_open_is_rolled_back_when_its_connection_goes_back(engine):
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await execute(session, insert(note).values(body="never committed"))
    # The pool's rollback ran: the row is gone and the write lock with it.
    async with asyncio.timeout(5):
        async with transaction(sessions) as session:
            await execute(session, insert(note).values(body="next writer"))
    async with engine.connect() as connection:
        bodies = (await connection.scalars(select(note.c.body))).all()
    assert bodies == ["next writer"]
