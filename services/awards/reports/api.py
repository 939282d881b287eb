"""The campaign report's HTTP routes: the report as JSON and as CSV."""

from datetime import date
from uuid import UUID

from fastapi import Response

from services.awards.common import CampaignQuery
from services.awards.reports.models import AwardsReport
from services.awards.reports.rules import report_csv
from services.awards.reports.service import AwardsReports
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import ServiceRuntime

ACCESS = {
    "awards_report": Access.READ,
    "awards_report_csv": Access.READ,
}


def create_router(reports: AwardsReports, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/reports/awards",
        response_model=AwardsReport,
        tags=["reports"],
        responses=error_responses(404),
    )
    async def awards_report(
        area_id: UUID,
        principal: CurrentPrincipal,
        campaign: CampaignQuery = None,
        granted_from: date | None = None,
        granted_to: date | None = None,
    ) -> AwardsReport:
        """Awards in an area and below, for a campaign and/or a period: by authority and
        level, individuals / collectives / households."""
        return await reports.awards_report(area_id, campaign, granted_from, granted_to, principal)

    @router.get(
        "/reports/awards.csv",
        tags=["reports"],
        response_class=Response,
        responses={
            **error_responses(404),
            200: {"content": {"text/csv": {}}, "description": "The report as CSV"},
        },
    )
    async def awards_report_csv(
        area_id: UUID,
        principal: CurrentPrincipal,
        campaign: CampaignQuery = None,
        granted_from: date | None = None,
        granted_to: date | None = None,
    ) -> Response:
        """The same report as CSV (UTF-8 with a byte-order mark, for spreadsheets)."""
        report = await reports.awards_report(area_id, campaign, granted_from, granted_to, principal)
        return Response(
            content="\ufeff" + report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="awards-report.csv"'},
        )

    return router
