"""Async SQLModel engine and sessions: SQLite (aiosqlite) embedded, PostgreSQL (asyncpg)
in compose and CI."""

import asyncio
import enum
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from sqlalchemy import Column, MetaData, Result, Table, event, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable
from sqlalchemy.util.concurrency import await_, in_greenlet
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.sqlite_cursor import one_trip_dbapi

SessionFactory = async_sessionmaker[AsyncSession]


def shared_table(metadata: MetaData, name: str, *columns: Column[Any]) -> Table:
    """A table the project's shared code keeps in each service's own metadata (once)."""
    existing = metadata.tables.get(name)
    return existing if existing is not None else Table(name, metadata, *columns)


async def execute(
    session: AsyncSession, statement: Executable, rows: list[dict[str, Any]] | None = None
) -> Result[Any]:
    """Run a Core statement in the session's transaction (outbox, inbox, raw counters),
    for each of ``rows`` when given (one batched statement where the database allows)."""
    connection = await session.connection()
    return await connection.execute(statement, rows)


def per_database(build: Callable[[ModuleType], Executable]) -> dict[str, Executable]:
    """``build(dialect)`` for each database the services run on, once (at import): an upsert
    or an insert that skips conflicts is spelled with the dialect's own ``insert``."""
    return {"postgresql": build(postgresql), "sqlite": build(sqlite)}


async def execute_per_database(
    session: AsyncSession, statements: dict[str, Executable], rows: list[dict[str, Any]]
) -> Result[Any]:
    """Run the one of ``statements`` (from ``per_database``) for the session's database,
    for each of ``rows``, in the session's transaction."""
    connection = await session.connection()
    return await connection.execute(statements[connection.dialect.name], rows)


_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class WriteGate:
    """SQLite takes one writer at a time; a writer that finds the lock taken sleeps in
    SQLite's busy handler (1 ms, then up to 100 ms a try) and wakes late. This process's
    writers queue here instead, from their first write until their connection goes back
    to the pool (after the commit or rollback), and each is woken as the last one ends.
    A wait longer than ``wait_seconds`` goes on to SQLite, whose busy timeout applies."""

    def __init__(self, wait_seconds: float = 30.0) -> None:
        self.wait_seconds = wait_seconds
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self, record_info: dict[str, Any]) -> None:
        """Called from a write statement's execution, in SQLAlchemy's async greenlet."""
        if record_info.get(_HOLDS_GATE) or not in_greenlet():
            return
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop  # a lock belongs to one loop
        if await_(self._acquire(self._lock)):
            record_info[_HOLDS_GATE] = self._lock

    async def _acquire(self, lock: asyncio.Lock) -> bool:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that lands as the lock is granted, and the cancelled task then runs on.
        try:
            async with asyncio.timeout(self.wait_seconds):
                await lock.acquire()
        except TimeoutError:
            return False  # SQLite's own busy timeout decides
        return True

    @staticmethod
    def leave(record_info: dict[str, Any]) -> None:
        lock = record_info.pop(_HOLDS_GATE, None)
        if lock is not None and lock.locked():
            lock.release()


_HOLDS_GATE = "antt_holds_write_gate"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One trip to aiosqlite's thread per statement, not three or four (sqlite_cursor).
        engine = create_async_engine(url, module=one_trip_dbapi(), connect_args={"timeout": 30})
        gate = WriteGate()

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _one_writer_at_a_time(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if _WRITE.match(statement):
                gate.enter(connection.info)

        @event.listens_for(engine.sync_engine.pool, "checkin")
        def _writer_done(_dbapi_connection: Any, record: Any) -> None:
            if record is not None:
                gate.leave(record.info)

        @event.listens_for(engine.sync_engine.pool, "invalidate")
        def _writer_lost(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
            gate.leave(record.info)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            # WAL lets the relay and the consumers read while a request writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # No pre-ping (a round trip before every checkout): a connection the server dropped
    # fails its one request and SQLAlchemy discards the pool's connections from before the
    # drop (``/ready`` checks the database); pool_recycle retires connections before a
    # server or proxy idle timeout closes them.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # Sessions of a class of this factory's own, so that a session event listened for on it
    # (see ``session_class``) hears this factory's sessions, not every service's in the process.
    own_class = type("FactorySession", (AsyncSession.sync_session_class,), {})
    return async_sessionmaker(
        engine, class_=AsyncSession, expire_on_commit=False, sync_session_class=own_class
    )


def session_class(sessions: SessionFactory) -> type[Session]:
    """The (sync) Session class of the sessions ``sessions`` makes: where to listen for
    SQLAlchemy session events (``after_commit``…) of this factory alone."""
    own_class: type[Session] | None = sessions.kw.get("sync_session_class")
    if own_class is None:
        raise ValueError("session events need a factory made by create_session_factory")
    return own_class


async def create_tables(engine: AsyncEngine, metadata: Any = SQLModel.metadata) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def serialize_on(session: AsyncSession, *keys: str, shared: bool = False) -> None:
    """Let only one transaction at a time past this point for each of ``keys``, until it
    ends: two handlers that each read what the other writes (a roster and a credit of one
    team) would otherwise both miss the other under READ COMMITTED. ``shared``: any number
    of shared holders at once, but not while another holds the key alone. PostgreSQL takes
    a transaction-scoped advisory lock per key, all in one statement; SQLite already has one
    writer at a time, and a transaction that read before another's write fails and is
    retried."""
    if not keys:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    await connection.execute(
        _SHARED_LOCKS_IN_ORDER if shared else _LOCKS_IN_ORDER,
        {"keys": sorted({advisory_lock_key(key) for key in keys})},
    )


def advisory_lock_key(key: str) -> int:
    """The 64-bit PostgreSQL advisory lock id that ``key`` names."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


# One order everywhere, so two transactions never each wait for the other's next key: the
# subquery sorts, and the aggregate takes its rows (and so the locks) in that order.
def _locks_in_order(lock_function: str) -> Any:
    return text(
        f"SELECT count({lock_function}(key)) FROM "
        "(SELECT unnest(CAST(:keys AS bigint[])) AS key ORDER BY key) AS ordered"
    )


_LOCKS_IN_ORDER = _locks_in_order("pg_advisory_xact_lock")
_SHARED_LOCKS_IN_ORDER = _locks_in_order("pg_advisory_xact_lock_shared")


def enum_column(enum_cls: type[enum.Enum]) -> Any:
    """Store an enum as its value in a plain VARCHAR: readable in SQL, portable between
    SQLite and PostgreSQL, and new members need no ALTER TYPE."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )
