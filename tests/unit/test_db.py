"""shared.db's serialize_on: on PostgreSQL every key's lock in one statement, held until the
transaction ends and keeping out another transaction that wants any of them (shared holders
only keep out a sole one); on SQLite, which has one writer at a time, no statement at all."""

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from shared.db import create_engine, create_session_factory, execute, serialize_on, transaction

KEYS = [f"team-roster:{number}" for number in range(40)]


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


def recorded(sessions) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    engine = sessions.kw["bind"].sync_engine
    event.listen(
        engine, "before_cursor_execute", lambda _c, _k, sql, params, *_: seen.append((sql, params))
    )
    return seen


async def test_serializing_on_many_keys_takes_one_statement(sessions, database_url):
    seen = recorded(sessions)
    async with transaction(sessions) as session:
        await serialize_on(session, *KEYS, *KEYS[:5])  # a key named twice is locked once
        await serialize_on(session)  # no keys: nothing to wait for
    locks = [params for sql, params in seen if "advisory" in sql]
    if not database_url.startswith("postgresql"):
        assert locks == []  # one writer at a time already
        return
    assert len(locks) == 1
    (keys,) = locks[0]  # asyncpg's positional parameters: the one array of keys
    assert len(keys) == len(KEYS) and keys == sorted(keys)


async def free_in_another_transaction(sessions, key: str, shared: bool = False) -> bool:
    """Whether another transaction gets ``key`` at once (within 100 ms)."""
    async with transaction(sessions) as other:
        await execute(other, text("SET LOCAL lock_timeout = '100ms'"))
        try:
            await serialize_on(other, key, shared=shared)
        except DBAPIError as exc:
            if "lock timeout" not in str(exc):
                raise
            return False
        return True


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_every_key_is_held_until_the_transaction_ends(sessions):
    async with transaction(sessions) as holder:
        await serialize_on(holder, *KEYS)
        for key in (KEYS[0], KEYS[17], KEYS[-1]):
            assert not await free_in_another_transaction(sessions, key), key
        assert await free_in_another_transaction(sessions, "team-roster:not-held")
    assert all([await free_in_another_transaction(sessions, key) for key in (KEYS[0], KEYS[-1])])


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_transactions_naming_the_same_keys_in_opposite_orders_never_deadlock(sessions):
    async def lock_then_hold(keys: list[str]) -> None:
        async with transaction(sessions) as session:
            await execute(session, text("SET LOCAL deadlock_timeout = '50ms'"))
            await serialize_on(session, *keys)
            await asyncio.sleep(0.2)

    forward = asyncio.create_task(lock_then_hold(KEYS))
    backward = asyncio.create_task(lock_then_hold(KEYS[::-1]))
    await asyncio.wait_for(asyncio.gather(forward, backward), timeout=10)


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_shared_holders_let_each_other_in_and_keep_a_sole_holder_out(sessions):
    async with transaction(sessions) as reader:
        await serialize_on(reader, *KEYS, shared=True)
        assert await free_in_another_transaction(sessions, KEYS[3], shared=True)
        assert not await free_in_another_transaction(sessions, KEYS[3])
    async with transaction(sessions) as writer:
        await serialize_on(writer, KEYS[3])
        assert not await free_in_another_transaction(sessions, KEYS[3], shared=True)
        assert await free_in_another_transaction(sessions, KEYS[4], shared=True)
    assert await free_in_another_transaction(sessions, KEYS[3])
