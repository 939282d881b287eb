"""Tip routes: residents send and follow tips without an account; tip handlers read the
incident a tip became and, audited, its informant."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Path, Request, status

from services.reporting.common import ERRORS
from services.reporting.incidents.models import IncidentPublic
from services.reporting.tips.models import InformantPublic, TipCreate, TipReceipt, TipStatusPublic
from services.reporting.tips.service import TipService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.idempotency import Idempotency, IdempotentRequest
from shared.limits import RateLimiter, RateLimitExceededError, client_key
from shared.runtime import ServiceRuntime

ACCESS = {
    "get_informant": Access.INFORMANT,
    "submit_tip": Access.PUBLIC,
    "follow_tip": Access.PUBLIC,
    "incident_for_tip": Access.INFORMANT,
}

TipNumber = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Z0-9-]+$")]
# A tip handler may type the number as the resident read it out, in either case.
HandlerTipNumber = Annotated[
    str, Path(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$", examples=["T-7KQ2-M9XD"])
]


def create_router(
    service: TipService,
    runtime: ServiceRuntime,
    tip_limiter: RateLimiter,
    idempotency: Idempotency,
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    # A tip's receipt (its follow secret) is kept sealed for a retry.
    SealedIdempotencyKey = Annotated[
        IdempotentRequest | None, Depends(idempotency.dependency(sealed=True))
    ]

    @router.get(
        "/incidents/{incident_id}/informant",
        response_model=InformantPublic,
        responses=ERRORS,
        tags=["tip-offs"],
    )
    async def get_informant(incident_id: UUID, principal: CurrentPrincipal) -> InformantPublic:
        """Who sent the tip behind an incident (tip handlers only; the reading is audited)."""
        return await service.informant(incident_id, principal)

    @router.post(
        "/tips",
        response_model=TipReceipt,
        status_code=status.HTTP_201_CREATED,
        tags=["tip-offs"],
        responses={429: {"description": "Too many tips from this client or overall"}},
    )
    async def submit_tip(
        body: TipCreate, request: Request, key: SealedIdempotencyKey
    ) -> TipReceipt:
        """Send a tip without an account. Keep the tip number and secret to follow it.
        A retry with the same `Idempotency-Key` gets the same receipt (and is not counted
        against the limits)."""
        retry_after = tip_limiter.check(client_key(request))
        if retry_after is not None:
            raise RateLimitExceededError(retry_after)
        return await service.submit_tip(body, key)

    @router.get(
        "/tips/{tip_number}",
        response_model=TipStatusPublic,
        tags=["tip-offs"],
        responses=error_responses(404),
    )
    async def follow_tip(
        tip_number: TipNumber,
        x_tip_secret: Annotated[str, Header(min_length=8, max_length=100)],
    ) -> TipStatusPublic:
        """The status of your tip: the secret travels in the `X-Tip-Secret` header."""
        return await service.tip_status(tip_number, x_tip_secret)

    @router.get(
        "/tips/{tip_number}/incident",
        response_model=IncidentPublic,
        tags=["tip-offs"],
        responses=error_responses(404),
    )
    async def incident_for_tip(
        tip_number: HandlerTipNumber, principal: CurrentPrincipal
    ) -> IncidentPublic:
        """The incident a tip became, by its tip number (tip handlers only, in their areas;
        another area's tip is 404). The informant is at `/incidents/{id}/informant`."""
        return await service.incident_for_tip(tip_number, principal)

    return router
