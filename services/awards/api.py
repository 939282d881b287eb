"""Awards HTTP routes: thin, every change goes through the service layer."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from services.awards.models import (
    ApprovalCreate,
    AwardPublic,
    NominationCreate,
    NominationPublic,
    TeamContributionPublic,
)
from services.awards.service import AwardsService
from shared.errors import error_responses

ERRORS = error_responses(404, 409)


def create_router(service: AwardsService) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/nominations",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
    )
    async def nominate(body: NominationCreate) -> NominationPublic:
        """Nominate an individual or a collective for an award."""
        return await service.nominate(body)

    @router.get(
        "/nominations/{nomination_id}",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def get_nomination(nomination_id: UUID) -> NominationPublic:
        return await service.get_nomination(nomination_id)

    @router.post(
        "/nominations/{nomination_id}/approve",
        response_model=AwardPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def approve(nomination_id: UUID, body: ApprovalCreate) -> AwardPublic:
        """Approve a nomination into an award; publishes award_granted."""
        return await service.approve(nomination_id, body)

    @router.get("/awards", response_model=list[AwardPublic], tags=["awards"])
    async def list_awards(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[AwardPublic]:
        """Awards granted, newest first."""
        return await service.list_awards(offset, limit)

    @router.get(
        "/contributions/teams/{team_id}", response_model=TeamContributionPublic, tags=["scores"]
    )
    async def team_contribution(team_id: UUID) -> TeamContributionPublic:
        """How many resolved incidents credit this team."""
        return await service.team_contribution(team_id)

    return router
