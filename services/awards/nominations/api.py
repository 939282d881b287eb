"""Nominations' HTTP routes: thin, every change goes through the use cases."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Response, status

from services.awards.nominations.models import (
    NominationCreate,
    NominationPublic,
    NominationStatus,
    RejectionCreate,
)
from services.awards.nominations.service import Nominations
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.idempotency import Idempotency, IdempotentRequest
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
ACCESS = {
    "nominate": Access.WRITE,
    "list_nominations": Access.READ,
    "get_nomination": Access.READ,
    "reject": Access.WRITE,
}


def create_router(
    nominations: Nominations, runtime: ServiceRuntime, idempotency: Idempotency
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]

    @router.post(
        "/nominations",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
        responses=error_responses(409),
    )
    async def nominate(
        body: NominationCreate, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> NominationPublic:
        """Nominate an individual, a collective (team or area) or a household; publishes
        nomination_created. 409 if a cited achievement already earned the recipient an award."""
        return await nominations.nominate(body, principal, idempotency=key)

    @router.get(
        "/nominations",
        response_model=list[NominationPublic],
        tags=["nominations"],
        responses=TOTAL_RESPONSES,
    )
    async def list_nominations(
        response: Response,
        principal: CurrentPrincipal,
        status: NominationStatus | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[NominationPublic]:
        """Nominations in the caller's areas, newest first."""
        page = await nominations.list_nominations(status, offset, limit, principal)
        return with_total(response, page.total, page.items)

    @router.get(
        "/nominations/{nomination_id}",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def get_nomination(nomination_id: UUID, principal: CurrentPrincipal) -> NominationPublic:
        """A nomination and where it stands."""
        return await nominations.get_nomination(nomination_id, principal)

    @router.post(
        "/nominations/{nomination_id}/reject",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def reject(
        nomination_id: UUID, body: RejectionCreate, principal: CurrentPrincipal
    ) -> NominationPublic:
        """Reject a nomination with a reason; publishes nomination_decided."""
        return await nominations.reject(nomination_id, body, principal)

    return router
