"""Area use cases: register, rename and move areas; and the scoped reads of the area tree
every registry aggregate uses (an area a record names, the areas a list may show)."""

from functools import partial
from typing import Any
from uuid import UUID

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area, AreaCreate, AreaMove, AreaPublic, AreaUpdate
from services.registry.areas.rules import check_area_changes, check_level, check_move
from services.registry.common import Loc
from services.registry.summaries.service import Tallies
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, ForbiddenError, NotFoundError, UnknownReferenceError
from shared.events import AreaLevel, AreaMoved, AreaRegistered, AreaUpdated
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.scope import AreaScope, area_lines, descendants


async def ancestors(session: AsyncSession, area_id: UUID | None) -> list[UUID]:
    """The area and every area above it, nearest first (one query)."""
    if area_id is None:
        return []
    return (await area_lines(session, Area, [area_id])).chain(area_id)


async def referenced_area(
    scope: AreaScope[Area], session: AsyncSession, principal: Principal, area_id: UUID, loc: Loc
) -> Area:
    """An area a new record names: unknown and out-of-scope both get 422."""
    return await scope.area(
        session,
        principal,
        area_id,
        error=partial(UnknownReferenceError, f"unknown area {area_id}", loc),
    )


async def visible_area_ids(
    scope: AreaScope[Area], session: AsyncSession, principal: Principal, within: UUID | None
) -> set[UUID] | None:
    """Areas a list may show: ``within`` and below, cut to the caller's scope."""
    allowed = await scope.area_ids(session, principal)
    if within is None:
        return allowed
    if allowed is not None and within not in allowed:
        raise NotFoundError(f"area {within} not found", ["query", "area_id"])
    if await session.get(Area, within) is None:
        raise NotFoundError(f"area {within} not found", ["query", "area_id"])
    return await descendants(session, Area, [within])


async def scoped_page(
    sessions: SessionFactory,
    scope: AreaScope[Area],
    principal: Principal,
    within: UUID | None,
    model: Any,
    area_column: Any,
    where: list[Any],
    order: Any,
    offset: int,
    limit: int,
) -> Page[Any]:
    """One page of ``model`` rows in ``within`` (and below) and the caller's scope,
    matching ``where``, sorted by ``order`` then id so pages are stable, with how many
    match in all."""
    async with sessions() as session:
        visible = await visible_area_ids(scope, session, principal, within)
        query = select(model).where(*where)
        if visible is not None:
            query = query.where(col(area_column).in_(visible))
        rows, total = await page_rows(
            session, query.order_by(col(order), col(model.id)), offset, limit
        )
        return Page(rows, total)


class AreaService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        scope: AreaScope[Area],
        tallies: Tallies,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.scope = scope
        self.tallies = tallies

    async def register_area(self, command: AreaCreate, principal: Principal) -> AreaPublic:
        async with transaction(self.sessions) as session:
            existing = await session.exec(select(Area).where(Area.code == command.code))
            if existing.first() is not None:
                raise ConflictError(
                    f"area code {command.code!r} is already registered", ["body", "code"]
                )
            parent = None
            if command.parent_id is None:
                if not principal.everywhere:
                    raise ForbiddenError(
                        "only an admin registers a top-level area; officers register areas "
                        "below their own",
                        ["body", "parent_id"],
                    )
            else:
                parent = await referenced_area(
                    self.scope, session, principal, command.parent_id, ["body", "parent_id"]
                )
            check_level(command.level, parent.level if parent else None, ["body", "level"])
            area = Area.model_validate(command)
            session.add(area)
            await self.audit.record(session, principal, "register_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaRegistered(
                    area_id=area.id,
                    code=area.code,
                    name=area.name,
                    level=area.level,
                    parent_id=area.parent_id,
                    households=area.households,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def _area(self, session: AsyncSession, principal: Principal, area_id: UUID) -> Area:
        return await self.scope.area(session, principal, area_id)

    async def get_area(self, area_id: UUID, principal: Principal) -> AreaPublic:
        async with self.sessions() as session:
            return AreaPublic.model_validate(await self._area(session, principal, area_id))

    async def update_area(
        self, area_id: UUID, command: AreaUpdate, principal: Principal
    ) -> AreaPublic:
        changes = command.model_dump(exclude_unset=True)
        check_area_changes(changes)
        async with transaction(self.sessions) as session:
            area = await self._area(session, principal, area_id)
            area.sqlmodel_update(changes)
            area.version += 1
            session.add(area)
            await self.audit.record(session, principal, "update_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaUpdated(
                    area_id=area.id,
                    code=area.code,
                    name=area.name,
                    households=area.households,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def move_area(self, area_id: UUID, command: AreaMove, principal: Principal) -> AreaPublic:
        async with transaction(self.sessions) as session:
            area = await self._area(session, principal, area_id)
            loc: Loc = ["body", "parent_id"]
            parent = None
            subtree: set[UUID] = set()
            if command.parent_id is None:
                if not principal.everywhere:
                    raise ForbiddenError("only an admin moves an area to the top level", loc)
            else:
                parent = await referenced_area(
                    self.scope, session, principal, command.parent_id, loc
                )
                subtree = await descendants(session, Area, [area.id])
            check_move(area.code, area.parent_id, command.parent_id, subtree, loc)
            check_level(area.level, parent.level if parent else None, loc)
            leaving = await ancestors(session, area.parent_id)
            joining = await ancestors(session, command.parent_id)
            await self.tallies.move_subtree(session, area.id, leaving, joining)
            moved_from, area.parent_id = area.parent_id, command.parent_id
            area.version += 1
            session.add(area)
            await self.audit.record(session, principal, "move_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaMoved(
                    area_id=area.id,
                    code=area.code,
                    from_parent_id=moved_from,
                    to_parent_id=area.parent_id,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def list_areas(
        self,
        principal: Principal,
        within: UUID | None,
        level: AreaLevel | None,
        q: str | None,
        offset: int,
        limit: int,
    ) -> Page[AreaPublic]:
        where: list[Any] = [Area.level == level] if level is not None else []
        if q:
            where.append(or_(col(Area.name).contains(q), col(Area.code).contains(q)))
        page = await scoped_page(
            self.sessions,
            self.scope,
            principal,
            within,
            Area,
            Area.id,
            where,
            Area.code,
            offset,
            limit,
        )
        return Page([AreaPublic.model_validate(area) for area in page.items], page.total)
