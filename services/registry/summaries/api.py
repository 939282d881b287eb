"""Area summary routes."""

from uuid import UUID

from services.registry.summaries.models import AreaSummary
from services.registry.summaries.service import SummaryService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import ServiceRuntime

ACCESS = {"area_summary": Access.READ}


def create_router(service: SummaryService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/areas/{area_id}/summary",
        response_model=AreaSummary,
        tags=["areas"],
        responses=error_responses(404, 409),
    )
    async def area_summary(area_id: UUID, principal: CurrentPrincipal) -> AreaSummary:
        """Teams by kind, distinct members, cameras and running initiatives of the area and
        everything below it, from counters kept with every change."""
        return await service.area_summary(area_id, principal)

    return router
