"""Reporting HTTP routes: thin, every change goes through the service layer.

CSV exports (`/incidents.csv`, `/activities.csv`, `/statistics.csv`) take the same filters
as their JSON counterparts, stream UTF-8 with a byte-order mark (so spreadsheet programs
show Vietnamese correctly), and neutralise text cells that a spreadsheet would run as a
formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'` in front)."""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from services.reporting.models import (
    ActivityCreate,
    ActivityPublic,
    CataloguePublic,
    DuplicateLinkCreate,
    IncidentCreate,
    IncidentListItem,
    IncidentPublic,
    IncidentSeverity,
    InformantPublic,
    Statistics,
    StatusChangeCreate,
    TipCreate,
    TipReceipt,
    TipStatusPublic,
)
from services.reporting.service import ActivityFilter, IncidentFilter, ReportingService
from services.reporting.statistics import statistics_rows
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.events import IncidentSource, IncidentStatus
from shared.idempotency import Idempotency, IdempotentRequest
from shared.limits import RateLimiter, RateLimitExceededError, client_key
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
LIST_ERRORS = error_responses(404)
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with a byte-order mark"},
    **LIST_ERRORS,
}

ACCESS = {
    "catalogue": Access.READ,
    "report_incident": Access.WRITE,
    "list_incidents": Access.READ,
    "export_incidents": Access.READ,
    "get_incident": Access.READ,
    "change_status": Access.WRITE,
    "link_duplicate": Access.WRITE,
    "get_informant": Access.INFORMANT,
    "submit_tip": Access.PUBLIC,
    "follow_tip": Access.PUBLIC,
    "incident_for_tip": Access.INFORMANT,
    "log_activity": Access.WRITE,
    "list_activities": Access.READ,
    "export_activities": Access.READ,
    "get_activity": Access.READ,
    "statistics": Access.READ,
    "export_statistics": Access.READ,
}

TipNumber = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Z0-9-]+$")]
# A tip handler may type the number as the resident read it out, in either case.
HandlerTipNumber = Annotated[
    str, Path(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$", examples=["T-7KQ2-M9XD"])
]
FromQuery = Annotated[
    date | None, Query(alias="from", description="First day, inclusive (local calendar)")
]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day, inclusive")]
AreaQuery = Annotated[
    UUID | None, Query(description="An area: records of it and every area below it")
]
NameQuery = Annotated[str | None, Query(min_length=1, max_length=64)]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers
    (a −72 % change) are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_line(values: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return buffer.getvalue().encode()


def csv_response(
    filename: str, header: Sequence[str], rows: AsyncIterator[Iterable[Sequence[Any]]]
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield "\ufeff".encode() + csv_line(header)
        async for chunk in rows:
            yield b"".join(csv_line(row) for row in chunk)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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


IncidentFilterQuery = Annotated[IncidentFilter, Depends(incident_filter)]
ActivityFilterQuery = Annotated[ActivityFilter, Depends(activity_filter)]
StatisticsArea = Annotated[UUID, Query(description="The area; its descendants are included")]
StatisticsFrom = Annotated[date, Query(alias="from", description="First day, inclusive")]
StatisticsTo = Annotated[date, Query(alias="to", description="Last day, inclusive")]

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
STATISTICS_COLUMNS = [
    "area_code",
    "from",
    "to",
    "section",
    "key",
    "group_or_unit",
    "count",
    "previous",
    "change",
    "change_percent",
]


def incident_row(item: IncidentListItem) -> list[Any]:
    values = item.model_dump(mode="json")
    values["team_ids"] = " ".join(values["team_ids"])
    return [values[column] for column in INCIDENT_COLUMNS]


def activity_row(item: ActivityPublic) -> list[Any]:
    values = item.model_dump(mode="json")
    values["team_ids"] = " ".join(values["team_ids"])
    values["measures"] = "; ".join(
        f"{m['item']}={m['quantity']} {m['unit']}" for m in values["measures"]
    )
    return [values[column] for column in ACTIVITY_COLUMNS]


def create_router(
    service: ReportingService,
    runtime: ServiceRuntime,
    tip_limiter: RateLimiter,
    idempotency: Idempotency,
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    # Creates take an Idempotency-Key; a tip's receipt (its follow secret) is kept sealed.
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]
    SealedIdempotencyKey = Annotated[
        IdempotentRequest | None, Depends(idempotency.dependency(sealed=True))
    ]

    @router.get("/catalogue", response_model=CataloguePublic, tags=["catalogue"])
    async def catalogue() -> CataloguePublic:
        """Categories by group, severities, sources, activity types with their measures."""
        return service.catalogue.public()

    # --- incidents ------------------------------------------------------------------------

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
        responses=LIST_ERRORS,
        tags=["incidents"],
    )
    async def list_incidents(
        filters: IncidentFilterQuery,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[IncidentListItem]:
        """Incidents in the caller's areas, newest first (then by id), filtered."""
        return await service.list_incidents(filters, principal, offset, limit)

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

    @router.get(
        "/incidents/{incident_id}/informant",
        response_model=InformantPublic,
        responses=ERRORS,
        tags=["tip-offs"],
    )
    async def get_informant(incident_id: UUID, principal: CurrentPrincipal) -> InformantPublic:
        """Who sent the tip behind an incident (tip handlers only; the reading is audited)."""
        return await service.informant(incident_id, principal)

    # --- tip-offs -------------------------------------------------------------------------

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

    # --- activities -----------------------------------------------------------------------

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
        responses=LIST_ERRORS,
        tags=["activities"],
    )
    async def list_activities(
        filters: ActivityFilterQuery,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[ActivityPublic]:
        """Activities in the caller's areas, newest first (then by id), filtered."""
        return await service.list_activities(filters, principal, offset, limit)

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

    # --- statistics -----------------------------------------------------------------------

    @router.get(
        "/statistics",
        response_model=Statistics,
        responses=LIST_ERRORS,
        tags=["statistics"],
    )
    async def statistics(
        area_id: StatisticsArea,
        start: StatisticsFrom,
        end: StatisticsTo,
        principal: CurrentPrincipal,
    ) -> Statistics:
        """Incidents by group, category and status, share solved, and activity totals of
        an area (descendants included) in a period, beside the same dates a year earlier."""
        return await service.statistics(area_id, start, end, principal)

    @router.get(
        "/statistics.csv",
        response_class=StreamingResponse,
        responses=CSV_RESPONSES,
        tags=["statistics"],
    )
    async def export_statistics(
        area_id: StatisticsArea,
        start: StatisticsFrom,
        end: StatisticsTo,
        principal: CurrentPrincipal,
    ) -> StreamingResponse:
        """The same statistics as CSV: one row per figure."""
        figures = await service.statistics(area_id, start, end, principal)
        prefix = [figures.area_code, start.isoformat(), end.isoformat()]

        async def rows() -> AsyncIterator[list[list[Any]]]:
            yield [
                [*prefix, *row] for row in statistics_rows(figures.incidents, figures.activities)
            ]

        return csv_response("statistics.csv", STATISTICS_COLUMNS, rows())

    return router
