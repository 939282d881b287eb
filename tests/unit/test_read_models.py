"""The one rule every read model follows for events of any order (shared/read_models.py),
tested on a table of its own: newer wins, early references hold placeholders that the
aggregate's own events fill in, and a tree node's parent keeps its own version."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.read_models import apply_if_newer, hold_reference, is_known, set_parent_if_newer


class NodeTable(SQLModel, registry=registry()):
    pass


class Node(NodeTable, table=True):
    id: uuid.UUID = Field(primary_key=True)
    name: str = ""
    level: str | None = None
    parent_id: uuid.UUID | None = None
    parent_version: int = 0
    version: int


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as connection:
        await connection.run_sync(NodeTable.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


async def test_newer_versions_win_and_older_ones_change_nothing(session):
    key = uuid.uuid4()
    assert await apply_if_newer(session, Node, key, 2, {"name": "v2"}) is True
    assert await apply_if_newer(session, Node, key, 1, {"name": "v1"}) is False
    assert await apply_if_newer(session, Node, key, 2, {"name": "again"}) is False
    node = await session.get(Node, key)
    assert (node.name, node.version) == ("v2", 2)
    assert await apply_if_newer(session, Node, key, 3, {"name": "v3"}) is True
    assert (await session.get(Node, key)).name == "v3"


async def test_an_older_first_event_still_fills_what_only_it_carries(session):
    key = uuid.uuid4()
    # a rename (v2) overtook the registration (v1), which alone knows the level
    await apply_if_newer(session, Node, key, 2, {"name": "renamed"})
    assert (await session.get(Node, key)).level is None
    await apply_if_newer(session, Node, key, 1, {"name": "first"}, fills={"level": "ward"})
    node = await session.get(Node, key)
    assert (node.name, node.level, node.version) == ("renamed", "ward", 2)
    # a fill never overwrites what is known
    await apply_if_newer(session, Node, key, 1, {}, fills={"level": "province"})
    assert (await session.get(Node, key)).level == "ward"


async def test_a_reference_before_its_aggregate_holds_a_placeholder_it_fills_in(session):
    key = uuid.uuid4()
    held = await hold_reference(session, Node, key, name="as the referrer knew it")
    assert (held.version, is_known(held)) == (0, False)
    assert await hold_reference(session, Node, key, name="other") is held  # kept, not reset
    await apply_if_newer(session, Node, key, 1, {"name": "registered"}, fills={"level": "ward"})
    node = await session.get(Node, key)
    assert (node.name, node.level, is_known(node)) == ("registered", "ward", True)
    assert is_known(None) is False


async def test_a_parent_keeps_its_own_version(session):
    key, ward, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await hold_reference(session, Node, key)
    # the move (v3) comes before the registration (v1): the registration leaves the parent
    moved = await set_parent_if_newer(session, Node, key, other, 3)
    assert moved is not None and (moved.old_parent, moved.first) == (None, True)
    assert await set_parent_if_newer(session, Node, key, ward, 1) is None
    node = await session.get(Node, key)
    assert (node.parent_id, node.parent_version) == (other, 3)
    again = await set_parent_if_newer(session, Node, key, ward, 4)
    assert again is not None and (again.old_parent, again.first) == (other, False)
    assert await set_parent_if_newer(session, Node, uuid.uuid4(), ward, 5) is None  # unknown
