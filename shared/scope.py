"""Area scopes: an officer's token lists area codes; the officer may act on those areas and
everything below them. Each service resolves codes against its own copy of the area tree."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.errors import NotFoundError


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


class AreaScope:
    """Answers "may this caller see or change records of that area?" for one service."""

    def __init__(self, area_model: Any) -> None:
        self.area_model = area_model

    async def area_ids(self, session: AsyncSession, principal: Principal) -> set[UUID] | None:
        """The areas the caller may act on; None means every area."""
        if principal.everywhere:
            return None
        roots = await session.exec(
            select(self.area_model.id).where(col(self.area_model.code).in_(principal.areas))
        )
        return await descendants(session, self.area_model, roots.all())

    async def allows(self, session: AsyncSession, principal: Principal, area_id: UUID) -> bool:
        allowed = await self.area_ids(session, principal)
        return allowed is None or area_id in allowed

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
