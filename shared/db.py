"""Async SQLModel engine and sessions: SQLite (aiosqlite) embedded, PostgreSQL (asyncpg)
in compose and CI."""

import enum
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, MetaData, Result, Table, event, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

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


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

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


async def serialize_on(session: AsyncSession, *keys: str) -> None:
    """Let only one transaction at a time past this point for each of ``keys``, until it
    ends: two handlers that each read what the other writes (a roster and a credit of one
    team) would otherwise both miss the other under READ COMMITTED. PostgreSQL takes a
    transaction-scoped advisory lock per key; SQLite already has one writer at a time, and
    a transaction that read before another's write fails and is retried."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):  # one order everywhere: no deadlock between two keys
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": int.from_bytes(digest, "big", signed=True)},
        )


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
