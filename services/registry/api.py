"""Registry HTTP routes: thin, every change goes through the service layer."""

from uuid import UUID

from fastapi import APIRouter, status

from services.registry.models import AreaCreate, AreaPublic, TeamCreate, TeamPublic
from services.registry.service import RegistryService
from shared.errors import error_responses

ERRORS = error_responses(404, 409)


def create_router(service: RegistryService) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/areas",
        response_model=AreaPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["areas"],
        responses=ERRORS,
    )
    async def register_area(body: AreaCreate) -> AreaPublic:
        """Register a province, district, ward/commune or residential group."""
        return await service.register_area(body)

    @router.post(
        "/teams",
        response_model=TeamPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["teams"],
    )
    async def register_team(body: TeamCreate) -> TeamPublic:
        """Register a team with its leader, deputies and members."""
        return await service.register_team(body)

    @router.get("/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=ERRORS)
    async def get_team(team_id: UUID) -> TeamPublic:
        """A team with its current members and the honours it received."""
        return await service.get_team(team_id)

    return router
