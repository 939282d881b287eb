"""Incident routes: thin, every change goes through the incident use cases."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Response, status
from fastapi.responses import StreamingResponse

from services.reporting.common import (
    CSV_RESPONSES,
    ERRORS,
    LIST_ERRORS,
    AreaQuery,
    FromQuery,
    NameQuery,
    ToQuery,
    csv_response,
)
from services.reporting.incidents.models import (
    DuplicateLinkCreate,
    IncidentCreate,
    IncidentFilter,
    IncidentListItem,
    IncidentPublic,
    StatusChangeCreate,
)
from services.reporting.incidents.rules import IncidentSeverity
from services.reporting.incidents.service import IncidentService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.events import IncidentSource, IncidentStatus
from shared.idempotency import Idempotency, IdempotentRequest
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "report_incident": Access.WRITE,
    "list_incidents": Access.READ,
    "export_incidents": Access.READ,
    "get_incident": Access.READ,
    "change_status": Access.WRITE,
    "link_duplicate": Access.WRITE,
}


def incident_filter(
    area_id: AreaQuery = None,
    category: NameQuery = None,
    category_group: NameQuery = None,
    status: IncidentStatus | None = None,
    source: IncidentSource | None = None,
    severity: IncidentSeverity | None = None,
    start: FromQuery = None,
    end: ToQuery = None,
    include_duplicates: bool = True,
) -> IncidentFilter:
    return IncidentFilter(
        area_id=area_id,
        category=category,
        category_group=category_group,
        status=status,
        source=source,
        severity=severity,
        start=start,
        end=end,
        include_duplicates=include_duplicates,
    )


IncidentFilterQuery = Annotated[IncidentFilter, Depends(incident_filter)]

INCIDENT_COLUMNS = [
    "id",
    "area_id",
    "category_group",
    "category",
    "severity",
    "source",
    "status",
    "occurred_at",
    "reported_at",
    "summary",
    "address",
    "latitude",
    "longitude",
    "duplicate_of",
    "team_ids",
    "version",
]


def incident_row(item: IncidentListItem) -> list[Any]:
    values = item.model_dump(mode="json")
    values["team_ids"] = " ".join(values["team_ids"])
    return [values[column] for column in INCIDENT_COLUMNS]


def create_router(
    service: IncidentService, runtime: ServiceRuntime, idempotency: Idempotency
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]

    @router.post(
        "/incidents",
        response_model=IncidentPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["incidents"],
    )
    async def report_incident(
        body: IncidentCreate, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> IncidentPublic:
        """Report an incident in a known area, crediting the teams that helped."""
        return await service.report_incident(body, principal, key)

    @router.get(
        "/incidents",
        response_model=list[IncidentListItem],
        responses={**LIST_ERRORS, **TOTAL_RESPONSES},
        tags=["incidents"],
    )
    async def list_incidents(
        response: Response,
        filters: IncidentFilterQuery,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[IncidentListItem]:
        """Incidents in the caller's areas, newest first (then by id), filtered."""
        page = await service.list_incidents(filters, principal, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get(
        "/incidents.csv",
        response_class=StreamingResponse,
        responses=CSV_RESPONSES,
        tags=["incidents"],
    )
    async def export_incidents(
        filters: IncidentFilterQuery, principal: CurrentPrincipal
    ) -> StreamingResponse:
        """The filtered incidents as CSV, all of them, streamed."""
        chunks = await service.export_incidents(filters, principal)

        async def rows() -> AsyncIterator[list[list[Any]]]:
            async for chunk in chunks:
                yield [incident_row(item) for item in chunk]

        return csv_response("incidents.csv", INCIDENT_COLUMNS, rows())

    @router.get(
        "/incidents/{incident_id}",
        response_model=IncidentPublic,
        responses=ERRORS,
        tags=["incidents"],
    )
    async def get_incident(incident_id: UUID, principal: CurrentPrincipal) -> IncidentPublic:
        """An incident with its credited teams, status history and duplicate links."""
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

    @router.post(
        "/incidents/{incident_id}/duplicate-of",
        response_model=IncidentPublic,
        responses=ERRORS,
        tags=["incidents"],
    )
    async def link_duplicate(
        incident_id: UUID, body: DuplicateLinkCreate, principal: CurrentPrincipal
    ) -> IncidentPublic:
        """Link an incident as repeating another: it leaves the statistics."""
        return await service.link_duplicate(incident_id, body, principal)

    return router
