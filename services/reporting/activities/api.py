"""Activity routes: thin, every change goes through the activity use cases."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Response, status
from fastapi.responses import StreamingResponse

from services.reporting.activities.models import ActivityCreate, ActivityFilter, ActivityPublic
from services.reporting.activities.service import ActivityService
from services.reporting.common import (
    CSV_RESPONSES,
    LIST_ERRORS,
    AreaQuery,
    FromQuery,
    NameQuery,
    ToQuery,
    csv_response,
)
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.idempotency import Idempotency, IdempotentRequest
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "log_activity": Access.WRITE,
    "list_activities": Access.READ,
    "export_activities": Access.READ,
    "get_activity": Access.READ,
}


def activity_filter(
    area_id: AreaQuery = None,
    activity_type: NameQuery = None,
    team_id: UUID | None = None,
    start: FromQuery = None,
    end: ToQuery = None,
) -> ActivityFilter:
    return ActivityFilter(
        area_id=area_id, activity_type=activity_type, team_id=team_id, start=start, end=end
    )


ActivityFilterQuery = Annotated[ActivityFilter, Depends(activity_filter)]

ACTIVITY_COLUMNS = [
    "id",
    "area_id",
    "activity_type",
    "occurred_on",
    "measures",
    "outcome",
    "topic",
    "incident_id",
    "team_ids",
    "notes",
    "recorded_at",
    "recorded_by",
]


def activity_row(item: ActivityPublic) -> list[Any]:
    values = item.model_dump(mode="json")
    values["team_ids"] = " ".join(values["team_ids"])
    values["measures"] = "; ".join(
        f"{m['item']}={m['quantity']} {m['unit']}" for m in values["measures"]
    )
    return [values[column] for column in ACTIVITY_COLUMNS]


def create_router(
    service: ActivityService, runtime: ServiceRuntime, idempotency: Idempotency
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]

    @router.post(
        "/activities",
        response_model=ActivityPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["activities"],
    )
    async def log_activity(
        body: ActivityCreate, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> ActivityPublic:
        """Record an activity of a catalogue type with its quantities (`GET /catalogue`)."""
        return await service.log_activity(body, principal, key)

    @router.get(
        "/activities",
        response_model=list[ActivityPublic],
        responses={**LIST_ERRORS, **TOTAL_RESPONSES},
        tags=["activities"],
    )
    async def list_activities(
        response: Response,
        filters: ActivityFilterQuery,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[ActivityPublic]:
        """Activities in the caller's areas, newest first (then by id), filtered."""
        page = await service.list_activities(filters, principal, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get(
        "/activities.csv",
        response_class=StreamingResponse,
        responses=CSV_RESPONSES,
        tags=["activities"],
    )
    async def export_activities(
        filters: ActivityFilterQuery, principal: CurrentPrincipal
    ) -> StreamingResponse:
        """The filtered activities as CSV, all of them, streamed."""
        chunks = await service.export_activities(filters, principal)

        async def rows() -> AsyncIterator[list[list[Any]]]:
            async for chunk in chunks:
                yield [activity_row(item) for item in chunk]

        return csv_response("activities.csv", ACTIVITY_COLUMNS, rows())

    @router.get(
        "/activities/{activity_id}",
        response_model=ActivityPublic,
        responses=LIST_ERRORS,
        tags=["activities"],
    )
    async def get_activity(activity_id: UUID, principal: CurrentPrincipal) -> ActivityPublic:
        """An activity with its quantities and teams."""
        return await service.get_activity(activity_id, principal)

    return router
