"""Reporting HTTP routes: thin, every change goes through the service layer."""

from typing import Annotated
from uuid import UUID

from fastapi import Header, Path, Request, status

from services.reporting.models import (
    IncidentCreate,
    IncidentPublic,
    InformantPublic,
    StatusChangeCreate,
    TipCreate,
    TipReceipt,
    TipStatusPublic,
)
from services.reporting.service import ReportingService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.limits import RateLimiter, RateLimitExceededError, client_key
from shared.runtime import ServiceRuntime

ERRORS = error_responses(404, 409)

ACCESS = {
    "report_incident": Access.WRITE,
    "get_incident": Access.READ,
    "change_status": Access.WRITE,
    "get_informant": Access.INFORMANT,
    "submit_tip": Access.PUBLIC,
    "follow_tip": Access.PUBLIC,
}

TipNumber = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Z0-9-]+$")]


def create_router(
    service: ReportingService, runtime: ServiceRuntime, tip_limiter: RateLimiter
) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/incidents",
        response_model=IncidentPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["incidents"],
    )
    async def report_incident(body: IncidentCreate, principal: CurrentPrincipal) -> IncidentPublic:
        """Report an incident in a known area, crediting the teams that helped."""
        return await service.report_incident(body, principal)

    @router.get(
        "/incidents/{incident_id}",
        response_model=IncidentPublic,
        responses=ERRORS,
        tags=["incidents"],
    )
    async def get_incident(incident_id: UUID, principal: CurrentPrincipal) -> IncidentPublic:
        """An incident with its credited teams and status history."""
        return await service.get_incident(incident_id, principal)

    @router.post(
        "/incidents/{incident_id}/status",
        response_model=IncidentPublic,
        responses=ERRORS,
        tags=["incidents"],
    )
    async def change_status(
        incident_id: UUID, body: StatusChangeCreate, principal: CurrentPrincipal
    ) -> IncidentPublic:
        """Move an incident along its lifecycle; an illegal move gets 409 naming the legal ones."""
        return await service.change_status(incident_id, body, principal)

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
    async def submit_tip(body: TipCreate, request: Request) -> TipReceipt:
        """Send a tip without an account. Keep the tip number and secret to follow it."""
        retry_after = tip_limiter.check(client_key(request))
        if retry_after is not None:
            raise RateLimitExceededError(retry_after)
        return await service.submit_tip(body)

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

    return router
