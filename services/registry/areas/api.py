"""Area routes: the tree, its levels and moves; and the query parameters every list shares."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from services.registry.areas.models import AreaCreate, AreaMove, AreaPublic, AreaUpdate
from services.registry.areas.service import AreaService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.events import AreaLevel
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
WRITE_ERRORS = error_responses(403, 404, 409)

WithinQuery = Annotated[
    UUID | None, Query(alias="area_id", description="This area and everything below it")
]
TextQuery = Annotated[str | None, Query(min_length=1, max_length=100, description="Contains")]

ACCESS = {
    "register_area": Access.WRITE,
    "list_areas": Access.READ,
    "get_area": Access.READ,
    "update_area": Access.WRITE,
    "move_area": Access.WRITE,
    "list_descendants": Access.READ,
}


def create_router(service: AreaService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/areas", response_model=AreaPublic, tags=["areas"], status_code=201, responses=WRITE_ERRORS
    )
    async def register_area(body: AreaCreate, principal: CurrentPrincipal) -> AreaPublic:
        """Register a province, district, ward/commune or residential group."""
        return await service.register_area(body, principal)

    @router.get(
        "/areas",
        response_model=list[AreaPublic],
        tags=["areas"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_areas(
        response: Response,
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        level: AreaLevel | None = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[AreaPublic]:
        """Areas the caller may see, by code; filter by subtree, level or text."""
        page = await service.list_areas(principal, within, level, q, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get("/areas/{area_id}", response_model=AreaPublic, tags=["areas"], responses=ERRORS)
    async def get_area(area_id: UUID, principal: CurrentPrincipal) -> AreaPublic:
        """One area."""
        return await service.get_area(area_id, principal)

    @router.patch(
        "/areas/{area_id}", response_model=AreaPublic, tags=["areas"], responses=WRITE_ERRORS
    )
    async def update_area(
        area_id: UUID, body: AreaUpdate, principal: CurrentPrincipal
    ) -> AreaPublic:
        """Rename an area or record its households; publishes area_updated."""
        return await service.update_area(area_id, body, principal)

    @router.post(
        "/areas/{area_id}/move", response_model=AreaPublic, tags=["areas"], responses=WRITE_ERRORS
    )
    async def move_area(area_id: UUID, body: AreaMove, principal: CurrentPrincipal) -> AreaPublic:
        """Move an area and its subtree under another parent; publishes area_moved."""
        return await service.move_area(area_id, body, principal)

    @router.get(
        "/areas/{area_id}/descendants",
        response_model=list[AreaPublic],
        tags=["areas"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_descendants(
        response: Response,
        area_id: UUID,
        principal: CurrentPrincipal,
        level: AreaLevel | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[AreaPublic]:
        """Every area below this one (the area itself included), by code."""
        page = await service.list_areas(principal, area_id, level, None, offset, limit)
        return with_total(response, page.total, page.items)

    return router
