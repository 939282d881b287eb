"""Statistics routes: an area's figures for a period as JSON, or as CSV with one row
per figure."""

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query
from fastapi.responses import StreamingResponse

from services.reporting.common import CSV_RESPONSES, LIST_ERRORS, csv_response
from services.reporting.statistics.models import ActivityFigure, IncidentFigures, Statistics
from services.reporting.statistics.service import StatisticsService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.runtime import ServiceRuntime

ACCESS = {
    "statistics": Access.READ,
    "export_statistics": Access.READ,
}

StatisticsArea = Annotated[UUID, Query(description="The area; its descendants are included")]
StatisticsFrom = Annotated[date, Query(alias="from", description="First day, inclusive")]
StatisticsTo = Annotated[date, Query(alias="to", description="Last day, inclusive")]

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


def statistics_rows(
    figures: IncidentFigures, activities: Sequence[ActivityFigure]
) -> list[list[Any]]:
    """The statistics as flat rows for CSV: section, key, group or unit, figures."""
    rows: list[list[Any]] = []
    total = figures.total
    rows.append(
        ["incidents", "total", "", total.count, total.previous, total.change, total.change_percent]
    )
    share = figures.share_solved
    rows.append(
        ["incidents", "share_solved_percent", "", share.percent, share.previous_percent, "", ""]
    )
    for section, items in (
        ("incidents_by_group", figures.by_group),
        ("incidents_by_category", figures.by_category),
        ("incidents_by_status", figures.by_status),
        ("incidents_duplicates", [figures.duplicates]),
    ):
        for f in items:
            rows.append(
                [section, f.key, f.group or "", f.count, f.previous, f.change, f.change_percent]
            )
    for activity in activities:
        rows.append(
            [
                "activities",
                activity.activity_type,
                "records",
                activity.activities,
                activity.previous,
                activity.change,
                activity.change_percent,
            ]
        )
        for outcome in activity.outcomes:
            rows.append(
                [
                    f"activity_outcomes:{activity.activity_type}",
                    outcome.key,
                    "",
                    outcome.count,
                    outcome.previous,
                    outcome.change,
                    outcome.change_percent,
                ]
            )
        for q in activity.measures:
            rows.append(
                [
                    f"activity_measures:{activity.activity_type}",
                    q.item,
                    q.unit,
                    q.quantity,
                    q.previous,
                    q.change,
                    q.change_percent,
                ]
            )
    return rows


def create_router(service: StatisticsService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

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
