"""Awards' HTTP routes (and the catalogue's): thin, every change goes through the use cases."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Response, status

from services.awards.awards.models import (
    ApprovalCreate,
    AwardPublic,
    AwardRecord,
    AwardStatus,
    RevocationCreate,
)
from services.awards.awards.service import Awards
from services.awards.common import CampaignQuery
from services.awards.scores.service import Scores
from services.awards.suggestions.service import Suggestions
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.idempotency import Idempotency, IdempotentRequest
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
ACCESS = {
    "catalogue": Access.READ,
    "approve": Access.WRITE,
    "record_award": Access.WRITE,
    "list_awards": Access.READ,
    "get_award": Access.READ,
    "revoke": Access.WRITE,
}


def create_router(
    awards: Awards,
    scores: Scores,
    suggestions: Suggestions,
    runtime: ServiceRuntime,
    idempotency: Idempotency,
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]

    @router.get("/catalogue", tags=["catalogue"])
    async def catalogue() -> dict[str, Any]:
        """Award forms, issuing authorities (level, forms they give), kinds, campaigns and
        the scoring rules, as configured."""
        return awards.catalogue_view(scores, suggestions)

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
        """Approve a nomination into an award; publishes nomination_decided and award_granted."""
        return await awards.approve(nomination_id, body, principal)

    # --- awards -----------------------------------------------------------------------

    @router.post(
        "/awards",
        response_model=AwardPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["awards"],
        responses=error_responses(409),
    )
    async def record_award(
        body: AwardRecord, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> AwardPublic:
        """Record an award already decided (e.g. a past festival's): the nomination and its
        approval at once, with the decision's number and date."""
        return await awards.record_award(body, principal, key)

    @router.get(
        "/awards", response_model=list[AwardPublic], tags=["awards"], responses=TOTAL_RESPONSES
    )
    async def list_awards(
        response: Response,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
        status: AwardStatus | None = None,
        campaign: CampaignQuery = None,
    ) -> list[AwardPublic]:
        """Awards granted in the caller's areas, newest first."""
        page = await awards.list_awards(offset, limit, principal, status, campaign)
        return with_total(response, page.total, page.items)

    @router.get("/awards/{award_id}", response_model=AwardPublic, tags=["awards"], responses=ERRORS)
    async def get_award(award_id: UUID, principal: CurrentPrincipal) -> AwardPublic:
        """An award, revoked or not."""
        return await awards.get_award(award_id, principal)

    @router.post(
        "/awards/{award_id}/revoke", response_model=AwardPublic, tags=["awards"], responses=ERRORS
    )
    async def revoke(
        award_id: UUID, body: RevocationCreate, principal: CurrentPrincipal
    ) -> AwardPublic:
        """Revoke an award with a reason (e.g. obtained by fraud); publishes award_revoked."""
        return await awards.revoke(award_id, body, principal)

    return router
