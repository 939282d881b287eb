"""Initiative routes: launch, stop, relaunch, record results."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from services.registry.areas.api import ERRORS, WRITE_ERRORS, WithinQuery
from services.registry.initiatives.models import (
    InitiativeCreate,
    InitiativeProfile,
    InitiativePublic,
    InitiativeRelaunch,
    InitiativeResultIn,
    InitiativeStop,
)
from services.registry.initiatives.rules import InitiativeStatus
from services.registry.initiatives.service import InitiativeService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "launch_initiative": Access.WRITE,
    "list_initiatives": Access.READ,
    "get_initiative": Access.READ,
    "record_initiative_result": Access.WRITE,
    "stop_initiative": Access.WRITE,
    "relaunch_initiative": Access.WRITE,
}


def create_router(service: InitiativeService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/initiatives",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def launch_initiative(
        body: InitiativeCreate, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Launch an initiative (mô hình) in an area; publishes initiative_launched."""
        return await service.launch_initiative(body, principal)

    @router.get(
        "/initiatives",
        response_model=list[InitiativePublic],
        tags=["initiatives"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_initiatives(
        response: Response,
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        initiative_status: Annotated[InitiativeStatus | None, Query(alias="status")] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[InitiativePublic]:
        """Initiatives by name; filter by subtree and status (running, stopped)."""
        page = await service.list_initiatives(principal, within, initiative_status, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get(
        "/initiatives/{initiative_id}",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=ERRORS,
    )
    async def get_initiative(initiative_id: UUID, principal: CurrentPrincipal) -> InitiativeProfile:
        """An initiative with its runs and recorded results."""
        return await service.get_initiative(initiative_id, principal)

    @router.post(
        "/initiatives/{initiative_id}/results",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def record_initiative_result(
        initiative_id: UUID, body: InitiativeResultIn, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Record what an initiative achieved by a date."""
        return await service.record_initiative_result(initiative_id, body, principal)

    @router.post(
        "/initiatives/{initiative_id}/stop",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=WRITE_ERRORS,
    )
    async def stop_initiative(
        initiative_id: UUID, body: InitiativeStop, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Stop an initiative with the reason (e.g. it proved a formality)."""
        return await service.stop_initiative(initiative_id, body, principal)

    @router.post(
        "/initiatives/{initiative_id}/relaunch",
        response_model=InitiativeProfile,
        tags=["initiatives"],
        responses=WRITE_ERRORS,
    )
    async def relaunch_initiative(
        initiative_id: UUID, body: InitiativeRelaunch, principal: CurrentPrincipal
    ) -> InitiativeProfile:
        """Launch a stopped initiative again; publishes initiative_launched."""
        return await service.relaunch_initiative(initiative_id, body, principal)

    return router
