"""Bulk import routes: teams and members from a CSV file."""

from fastapi import Request

from services.registry.imports.models import ImportReport
from services.registry.imports.service import TeamImporter
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import RuleViolationError, error_responses
from shared.runtime import ServiceRuntime

ACCESS = {"import_teams": Access.WRITE}


def create_router(importer: TeamImporter, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/imports/teams",
        response_model=ImportReport,
        tags=["teams"],
        responses=error_responses(403, 422),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def import_teams(
        request: Request,
        principal: CurrentPrincipal,
        skip_invalid: bool = False,
    ) -> ImportReport:
        """Import teams and members from a CSV file (see the README for the columns). With
        any invalid row nothing is imported and the answer is 422 with every error, unless
        ``skip_invalid``; then the valid teams are imported and the rest reported."""
        data = await request.body()
        if not data:
            raise RuleViolationError("send the CSV file as the request body", ["body"])
        report = await importer.run(data, principal, skip_invalid=skip_invalid)
        if report.errors and not skip_invalid:
            raise ImportRejected(report)
        return report

    return router


class ImportRejected(RuleViolationError):
    """Nothing was imported: the answer lists every invalid row."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} invalid row(s); nothing was imported", ["body"])
        self.report = report

    def detail(self) -> list[dict[str, object]]:
        return [
            {
                "loc": ["body", "row", error.row, error.field],
                "msg": error.message,
                "type": "invalid_row",
            }
            for error in self.report.errors
        ]
