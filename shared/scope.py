"""Area scopes: an officer's token lists area codes; the officer may act on those areas and
everything below them. Each service resolves codes against its own copy of the area tree."""

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import execute
from shared.errors import DomainError, NotFoundError

Row = TypeVar("Row")
AreaRow = TypeVar("AreaRow")


def area_id_of(row: Any) -> UUID:
    """The area a record belongs to: its ``area_id`` (an area's own is ``area_itself``)."""
    area_id: UUID = row.area_id
    return area_id


def area_itself(row: Any) -> UUID:
    """For a lookup of an area: the area it concerns is itself."""
    area_id: UUID = row.id
    return area_id


def _any_row(row: Any) -> bool:
    return True


async def descendants(session: AsyncSession, area_model: Any, roots: Iterable[UUID]) -> set[UUID]:
    """The given areas and every area below them."""
    found = set(roots)
    frontier = set(found)
    while frontier:
        children = await session.exec(
            select(area_model.id).where(col(area_model.parent_id).in_(frontier))
        )
        frontier = set(children.all()) - found
        found |= frontier
    return found


# What an area's line answers: scope (codes), the tree (parents), levels, whether known.
LINE_COLUMNS = ("id", "parent_id", "code", "level", "version")


class AreaLines:
    """Areas and every area above them, as one query found them (``area_lines``): rows
    of ``LINE_COLUMNS``, not ORM objects (loading those costs more than the query)."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self.rows: dict[UUID, Any] = {row.id: row for row in rows}

    def get(self, area_id: UUID) -> Any | None:
        return self.rows.get(area_id)

    def chain(self, area_id: UUID | None, limit: int | None = None) -> list[UUID]:
        """``area_id`` and the ids above it, nearest first: what walking up the parents one
        row at a time finds (an id with no row ends the chain, a repeat stops it)."""
        chain: list[UUID] = []
        current = area_id
        while current is not None and current not in chain:
            if limit is not None and len(chain) >= limit:
                break
            chain.append(current)
            row = self.rows.get(current)
            current = row.parent_id if row is not None else None
        return chain

    def within(self, area_id: UUID, codes: Iterable[str]) -> bool:
        """Whether ``area_id`` is one of the areas coded ``codes`` or below one of them."""
        wanted = set(codes)
        return any(
            (row := self.rows.get(area)) is not None and row.code in wanted
            for area in self.chain(area_id)
        )


# Built once per area model: building a statement costs more than running this one.
_LINE_QUERIES: dict[Any, Any] = {}


def _line_query(area_model: Any) -> Any:
    query = _LINE_QUERIES.get(area_model)
    if query is None:
        table = area_model.__table__
        line = (
            core_select(table.c.id, table.c.parent_id)
            .where(table.c.id.in_(bindparam("starts", expanding=True)))
            .cte("area_line", recursive=True)
        )
        line = line.union(
            core_select(table.c.id, table.c.parent_id).join(line, table.c.id == line.c.parent_id)
        )
        query = _LINE_QUERIES[area_model] = core_select(
            *(table.c[name] for name in LINE_COLUMNS)
        ).where(table.c.id.in_(core_select(line.c.id)))
    return query


async def area_lines(
    session: AsyncSession, area_model: Any, area_ids: Iterable[UUID | None]
) -> AreaLines:
    """The rows of ``area_ids`` and of every area above them, in one query (a recursive
    walk up the parents, which ends at a repeat, so a faulty feed's cycle ends too)."""
    starts = list(dict.fromkeys(area for area in area_ids if area is not None))
    if not starts:
        return AreaLines(())
    # A Core query (an ORM one costs twice as much to run) skips the session's autoflush:
    # flush pending changes here, as session.get would, so they are seen.
    if session.sync_session.autoflush and (session.new or session.dirty or session.deleted):
        await session.flush()
    rows = await execute(session, _line_query(area_model), [{"starts": starts}])
    return AreaLines(rows.all())


class AreaScope(Generic[AreaRow]):
    """Answers "may this caller see or change records of that area?" for one service."""

    def __init__(self, area_model: type[AreaRow]) -> None:
        self.area_type = area_model
        self.area_model: Any = area_model  # for its columns in queries

    async def lines(self, session: AsyncSession, area_ids: Iterable[UUID | None]) -> AreaLines:
        """The given areas and those above them, for ``permits`` and for counting along
        the tree, in one query."""
        return await area_lines(session, self.area_model, area_ids)

    @staticmethod
    def permits(principal: Principal, lines: AreaLines, area_id: UUID) -> bool:
        """``allows``, answered from lines already read (``area_id`` must be among them)."""
        return principal.everywhere or lines.within(area_id, principal.areas)

    async def area_ids(self, session: AsyncSession, principal: Principal) -> set[UUID] | None:
        """The areas the caller may act on; None means every area."""
        if principal.everywhere:
            return None
        roots = await session.exec(
            select(self.area_model.id).where(col(self.area_model.code).in_(principal.areas))
        )
        return await descendants(session, self.area_model, roots.all())

    async def allows(self, session: AsyncSession, principal: Principal, area_id: UUID) -> bool:
        """One query: the area is allowed when it or an area above it is the caller's (the
        same answer as ``area_id in area_ids(...)``, without listing every area below)."""
        if principal.everywhere:
            return True
        return self.permits(principal, await self.lines(session, [area_id]), area_id)

    async def require(
        self,
        session: AsyncSession,
        principal: Principal,
        area_id: UUID,
        not_found: NotFoundError,
    ) -> None:
        """Out of scope looks exactly like absent: the caller learns nothing of ward B."""
        if not await self.allows(session, principal, area_id):
            raise not_found

    async def get_in_scope(
        self,
        session: AsyncSession,
        principal: Principal,
        model: type[Row],
        ident: object,
        *,
        what: str,
        loc: Sequence[str | int] | None = None,
        area_of: Callable[[Row], UUID] = area_id_of,
        error: Callable[[], DomainError] | None = None,
    ) -> Row:
        """``model`` ``ident`` by primary key (``session.get``: the identity map first, then
        one query), if the caller may see its area (``allows``: no query for a caller of
        every area, one otherwise). Absent and out of scope raise the same error: by default
        404 "``what`` ``ident`` not found" at ``loc`` (``["path", "<what>_id"]``); ``error``
        builds another (a 422 for a reference a new record names, say)."""
        row = await session.get(model, ident)
        return await self.visible(
            session, principal, row, area_of=area_of, error=_missing(what, ident, loc, error)
        )

    async def get_in_scope_with_lines(
        self,
        session: AsyncSession,
        principal: Principal,
        model: type[Row],
        ident: object,
        *,
        what: str,
        loc: Sequence[str | int] | None = None,
        area_of: Callable[[Row], UUID] = area_id_of,
        error: Callable[[], DomainError] | None = None,
    ) -> tuple[Row, AreaLines]:
        """``get_in_scope``, with the lines above the record's area read by the scope check
        (always one query, whoever the caller) for the caller to count or rule along."""
        missing = _missing(what, ident, loc, error)
        row = await session.get(model, ident)
        if row is None:
            raise missing()
        area_id = area_of(row)
        lines = await self.lines(session, [area_id])
        if not self.permits(principal, lines, area_id):
            raise missing()
        return row, lines

    async def visible(
        self,
        session: AsyncSession,
        principal: Principal,
        row: Row | None,
        *,
        area_of: Callable[[Row], UUID] = area_id_of,
        error: Callable[[], DomainError],
    ) -> Row:
        """A record found some other way, if there is one and the caller may see its area;
        else ``error()``, the same for both (out of scope looks exactly like absent)."""
        if row is None or not await self.allows(session, principal, area_of(row)):
            raise error()
        return row

    async def area(
        self,
        session: AsyncSession,
        principal: Principal,
        area_id: UUID,
        *,
        loc: Sequence[str | int] | None = None,
        error: Callable[[], DomainError] | None = None,
    ) -> AreaRow:
        """``get_in_scope`` of an area of this service's tree (the area is its own scope)."""
        return await self.get_in_scope(
            session,
            principal,
            self.area_type,
            area_id,
            what="area",
            loc=loc,
            area_of=area_itself,
            error=error,
        )

    async def area_within(
        self,
        session: AsyncSession,
        area_id: UUID,
        areas: Collection[UUID] | None,
        *,
        loc: Sequence[str | int] | None = None,
        known: Callable[[AreaRow], bool] = _any_row,
        error: Callable[[], DomainError] | None = None,
    ) -> AreaRow:
        """``get_within`` of an area of this service's tree."""
        return await get_within(
            session,
            self.area_type,
            area_id,
            areas,
            what="area",
            loc=loc,
            area_of=area_itself,
            known=known,
            error=error,
        )


async def get_within(
    session: AsyncSession,
    model: type[Row],
    ident: object,
    areas: Collection[UUID] | None,
    *,
    what: str,
    loc: Sequence[str | int] | None = None,
    area_of: Callable[[Row], UUID] = area_id_of,
    known: Callable[[Row], bool] = _any_row,
    error: Callable[[], DomainError] | None = None,
) -> Row:
    """``AreaScope.get_in_scope`` for a use case that holds the caller's areas already
    (``AreaScope.area_ids``, which it needs for a list's filter too; None for every area):
    the same lookup and the same errors, the scope answered from ``areas`` with no query.
    ``known`` refuses a row as if absent (a read model's placeholder, say)."""
    row = await session.get(model, ident)
    if row is None or not known(row) or (areas is not None and area_of(row) not in areas):
        raise _missing(what, ident, loc, error)()
    return row


def _missing(
    what: str,
    ident: object,
    loc: Sequence[str | int] | None,
    error: Callable[[], DomainError] | None,
) -> Callable[[], DomainError]:
    if error is not None:
        return error
    where = list(loc) if loc is not None else ["path", f"{what}_id"]
    return lambda: NotFoundError(f"{what} {ident} not found", where)
