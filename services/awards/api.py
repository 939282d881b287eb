"""Awards HTTP routes: thin, every change goes through the service layer."""

from uuid import UUID

from fastapi import status

from services.awards.models import (
    ApprovalCreate,
    AwardPublic,
    NominationCreate,
    NominationPublic,
    TeamContributionPublic,
)
from services.awards.service import AwardsService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)


ACCESS = {
    "nominate": Access.WRITE,
    "get_nomination": Access.READ,
    "approve": Access.WRITE,
    "list_awards": Access.READ,
    "team_contribution": Access.READ,
}


def create_router(service: AwardsService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/nominations",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
    )
    async def nominate(body: NominationCreate, principal: CurrentPrincipal) -> NominationPublic:
        """Nominate an individual, a collective (team or area) or a household."""
        return await service.nominate(body, principal)

    @router.get(
        "/nominations/{nomination_id}",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def get_nomination(nomination_id: UUID, principal: CurrentPrincipal) -> NominationPublic:
        """A nomination and where it stands."""
        return await service.get_nomination(nomination_id, principal)

    @router.post(
        "/nominations/{nomination_id}/approve",
        response_model=AwardPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def approve(
        nomination_id: UUID, body: ApprovalCreate, principal: CurrentPrincipal
    ) -> AwardPublic:
        """Approve a nomination into an award; publishes award_granted."""
        return await service.approve(nomination_id, body, principal)

    @router.get("/awards", response_model=list[AwardPublic], tags=["awards"])
    async def list_awards(
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[AwardPublic]:
        """Awards granted in the caller's areas, newest first."""
        return await service.list_awards(offset, limit, principal)

    @router.get(
        "/contributions/teams/{team_id}",
        response_model=TeamContributionPublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def team_contribution(
        team_id: UUID, principal: CurrentPrincipal
    ) -> TeamContributionPublic:
        """How many resolved incidents credit this team."""
        return await service.team_contribution(team_id, principal)

    return router
