"""The one scoped lookup (``AreaScope.get_in_scope``, ``get_within``): found, missing,
out of scope (which looks exactly like missing) and a caller of every area, on a small
tree of its own."""

import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal, Role
from shared.errors import NotFoundError, UnknownReferenceError
from shared.scope import AreaScope, area_itself, get_within


class LookupArea(SQLModel, table=True):
    __tablename__ = "test_lookup_area"

    id: UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    parent_id: UUID | None = None
    code: str
    level: str = "ward"
    version: int = 1


class LookupThing(SQLModel, table=True):
    __tablename__ = "test_lookup_thing"

    id: UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    area_id: UUID


PROVINCE, WARD_A, WARD_B = (uuid.uuid4() for _ in range(3))
THING_A, THING_B = (uuid.uuid4() for _ in range(2))

SCOPE = AreaScope(LookupArea)
OFFICER_A = Principal("officer-a", Role.OFFICER, ("P-A",))
OFFICER_P = Principal("officer-p", Role.OFFICER, ("P",))
ADMIN = Principal("admin", Role.ADMIN)


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'lookup.db'}")
    tables = [LookupArea.__table__, LookupThing.__table__]
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all, tables=tables)
    async with AsyncSession(engine) as setup:
        setup.add_all(
            [
                LookupArea(id=PROVINCE, code="P", level="province"),
                LookupArea(id=WARD_A, code="P-A", parent_id=PROVINCE),
                LookupArea(id=WARD_B, code="P-B", parent_id=PROVINCE),
                LookupThing(id=THING_A, area_id=WARD_A),
                LookupThing(id=THING_B, area_id=WARD_B),
            ]
        )
        await setup.commit()
    async with AsyncSession(engine) as lookups:
        yield lookups
    await engine.dispose()


async def test_found_in_the_callers_area_or_below_it(session: AsyncSession) -> None:
    thing = await SCOPE.get_in_scope(session, OFFICER_A, LookupThing, THING_A, what="thing")
    assert thing.id == THING_A
    below = await SCOPE.get_in_scope(session, OFFICER_P, LookupThing, THING_B, what="thing")
    assert below.id == THING_B


async def test_missing_is_404_naming_it(session: AsyncSession) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as raised:
        await SCOPE.get_in_scope(session, ADMIN, LookupThing, missing, what="thing")
    assert raised.value.status_code == 404
    assert raised.value.detail() == [
        {"loc": ["path", "thing_id"], "msg": f"thing {missing} not found", "type": "not_found"}
    ]


async def test_out_of_scope_looks_exactly_like_missing(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError) as raised:
        await SCOPE.get_in_scope(session, OFFICER_A, LookupThing, THING_B, what="thing")
    assert raised.value.detail() == [
        {"loc": ["path", "thing_id"], "msg": f"thing {THING_B} not found", "type": "not_found"}
    ]
    with pytest.raises(NotFoundError):
        await SCOPE.get_in_scope(
            session, OFFICER_A, LookupArea, PROVINCE, what="area", area_of=area_itself
        )


async def test_admin_sees_every_area(session: AsyncSession) -> None:
    for thing_id in (THING_A, THING_B):
        thing = await SCOPE.get_in_scope(session, ADMIN, LookupThing, thing_id, what="thing")
        assert thing.id == thing_id
    area = await SCOPE.get_in_scope(
        session, ADMIN, LookupArea, WARD_B, what="area", area_of=area_itself
    )
    assert area.code == "P-B"


async def test_another_loc_or_another_error(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError) as raised:
        await SCOPE.get_in_scope(
            session,
            OFFICER_A,
            LookupArea,
            WARD_B,
            what="area",
            loc=["query", "area_id"],
            area_of=area_itself,
        )
    assert raised.value.loc == ["query", "area_id"]
    error = partial(UnknownReferenceError, "unknown thing", ["body", "thing_id"])
    with pytest.raises(UnknownReferenceError):
        await SCOPE.get_in_scope(
            session, OFFICER_A, LookupThing, THING_B, what="thing", error=error
        )


async def test_with_lines_reads_the_line_above_the_record(session: AsyncSession) -> None:
    thing, lines = await SCOPE.get_in_scope_with_lines(
        session, ADMIN, LookupThing, THING_A, what="thing"
    )
    assert thing.id == THING_A
    assert lines.chain(WARD_A) == [WARD_A, PROVINCE]
    with pytest.raises(NotFoundError):
        await SCOPE.get_in_scope_with_lines(session, OFFICER_A, LookupThing, THING_B, what="thing")


async def test_visible_checks_a_record_found_another_way(session: AsyncSession) -> None:
    error = partial(NotFoundError, "gone", ["path", "x"])
    mine, theirs = LookupThing(area_id=WARD_A), LookupThing(area_id=WARD_B)
    assert await SCOPE.visible(session, OFFICER_A, mine, error=error) is mine
    with pytest.raises(NotFoundError):
        await SCOPE.visible(session, OFFICER_A, None, error=error)
    with pytest.raises(NotFoundError):
        await SCOPE.visible(session, OFFICER_A, theirs, error=error)


@pytest.mark.parametrize(("caller", "expected"), [(ADMIN, 1), (OFFICER_A, 2)])
async def test_one_query_to_find_and_one_for_a_scoped_caller(
    session: AsyncSession, caller: Principal, expected: int
) -> None:
    seen: list[str] = []

    def count(*_args: object) -> None:
        seen.append("statement")

    engine = session.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", count)
    try:
        await SCOPE.get_in_scope(session, caller, LookupThing, THING_A, what="thing")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == expected


async def test_within_areas_the_use_case_holds(session: AsyncSession) -> None:
    thing = await get_within(session, LookupThing, THING_A, {WARD_A}, what="thing")
    assert thing.id == THING_A
    assert (await get_within(session, LookupThing, THING_B, None, what="thing")).id == THING_B
    with pytest.raises(NotFoundError) as raised:
        await get_within(session, LookupThing, THING_B, {WARD_A}, what="thing")
    assert raised.value.loc == ["path", "thing_id"]
    with pytest.raises(NotFoundError):
        await get_within(session, LookupThing, uuid.uuid4(), None, what="thing")
    with pytest.raises(NotFoundError):
        await get_within(
            session,
            LookupArea,
            WARD_A,
            None,
            what="area",
            area_of=area_itself,
            known=lambda area: area.version > 1,
        )


async def test_areas_are_their_own_scope(session: AsyncSession) -> None:
    assert (await SCOPE.area(session, OFFICER_P, WARD_B)).code == "P-B"
    with pytest.raises(NotFoundError) as raised:
        await SCOPE.area(session, OFFICER_A, WARD_B, loc=["query", "area_id"])
    assert raised.value.detail()[0]["msg"] == f"area {WARD_B} not found"
    assert raised.value.loc == ["query", "area_id"]
    assert (await SCOPE.area_within(session, WARD_A, {WARD_A})).code == "P-A"
    with pytest.raises(NotFoundError):
        await SCOPE.area_within(session, WARD_B, {WARD_A})
