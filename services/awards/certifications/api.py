"""Safe-area certification's HTTP routes: register, evaluate, read."""

from typing import Annotated
from uuid import UUID

from fastapi import Body, Query, Response, status

from services.awards.certifications.models import (
    CertificationCreate,
    CertificationPublic,
    EvaluationCreate,
)
from services.awards.certifications.service import Certifications
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
ACCESS = {
    "register_certification": Access.WRITE,
    "list_certifications": Access.READ,
    "get_certification": Access.READ,
    "evaluate_certification": Access.WRITE,
}


def create_router(certifications: Certifications, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/certifications",
        response_model=CertificationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["certifications"],
        responses=error_responses(409),
    )
    async def register_certification(
        body: CertificationCreate, principal: CurrentPrincipal
    ) -> CertificationPublic:
        """Register an area for a year's safe-area certification."""
        return await certifications.register(body, principal)

    @router.get(
        "/certifications",
        response_model=list[CertificationPublic],
        tags=["certifications"],
        responses=TOTAL_RESPONSES,
    )
    async def list_certifications(
        response: Response,
        principal: CurrentPrincipal,
        year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[CertificationPublic]:
        """Certifications in the caller's areas, newest year first."""
        page = await certifications.search(year, offset, limit, principal)
        return with_total(response, page.total, page.items)

    @router.get(
        "/certifications/{certification_id}",
        response_model=CertificationPublic,
        tags=["certifications"],
        responses=error_responses(404),
    )
    async def get_certification(
        certification_id: UUID, principal: CurrentPrincipal
    ) -> CertificationPublic:
        """A certification, its latest decision and history; ``stale`` when events that
        came later change what the criteria show."""
        return await certifications.get(certification_id, principal)

    @router.post(
        "/certifications/{certification_id}/evaluate",
        response_model=CertificationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["certifications"],
        responses=ERRORS,
    )
    async def evaluate_certification(
        certification_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[EvaluationCreate | None, Body()] = None,
    ) -> CertificationPublic:
        """Decide (or, with a reason, decide again): every criterion with its result, value
        and rule; publishes certification_decided."""
        return await certifications.evaluate(
            certification_id, body or EvaluationCreate(), principal
        )

    return router
