"""Registry HTTP routes: thin, every change goes through the service layer."""

from uuid import UUID

from fastapi import status

from services.registry.models import AreaCreate, AreaPublic, TeamCreate, TeamPublic
from services.registry.service import RegistryService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import ServiceRuntime

ERRORS = error_responses(404, 409)


ACCESS = {
    "register_area": Access.WRITE,
    "register_team": Access.WRITE,
    "get_team": Access.READ,
}


def create_router(service: RegistryService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/areas",
        response_model=AreaPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["areas"],
        responses=ERRORS,
    )
    async def register_area(body: AreaCreate, principal: CurrentPrincipal) -> AreaPublic:
        """Register a province, district, ward/commune or residential group."""
        return await service.register_area(body, principal)

    @router.post(
        "/teams",
        response_model=TeamPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["teams"],
    )
    async def register_team(body: TeamCreate, principal: CurrentPrincipal) -> TeamPublic:
        """Register a team with its leader, deputies and members."""
        return await service.register_team(body, principal)

    @router.get("/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=ERRORS)
    async def get_team(team_id: UUID, principal: CurrentPrincipal) -> TeamPublic:
        """A team with its current members and the honours it received."""
        return await service.get_team(team_id, principal)

    return router
