"""``/imports/teams``: a ward's team list uploaded as CSV or XLSX, sent to registry's
``POST /imports/teams`` as the CSV it reads (an XLSX workbook's first sheet is turned
into CSV here), and registry's answer shown: the teams and members imported, or every
invalid row with its column and what is wrong."""

import re
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.areas.records import describe, page, registry_of
from services.console.common import check_csrf, console_of, error_page
from services.console.i18n import _
from services.console.teams.spreadsheet import SpreadsheetError, is_xlsx, xlsx_to_csv
from shared.logging import CORRELATION_HEADER, current_correlation_id

MAX_UPLOAD_BYTES = 5_000_000
_UNKNOWN_AREA = re.compile(r"^unknown area ")


def _row_message(message: str) -> str:
    if message == "is required":
        return _("This field is required.")
    if _UNKNOWN_AREA.match(message):
        return _("No area has this code, or it is outside your areas.")
    if message == "more cells than columns":
        return _("The row has more cells than the header has columns.")
    if message.startswith("differs from row"):
        return _("Differs from the team's first row.")
    if message.startswith("unknown team kind"):
        return _("Unknown team kind.")
    described = describe({"msg": message, "type": "value_error"})
    if described != _("This value is not accepted."):
        return described
    return message  # registry's own words (English): better than nothing


def _report(detail: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    general: list[str] = []
    for item in detail:
        loc = item.get("loc") or []
        if len(loc) >= 4 and loc[1] == "row":
            rows.append(
                {"row": loc[2], "column": loc[3], "message": _row_message(str(item.get("msg")))}
            )
        elif item.get("type") == "invalid_file":
            general.append(
                _("The file cannot be read as a team list: %(reason)s")
                % {"reason": str(item.get("msg", ""))}
            )
        else:
            general.append(describe(item))
    return rows, general


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/imports/teams")
    async def import_form(request: Request) -> Response:
        await registry_of(request)
        context: dict[str, Any] = {"result": None, "rows": [], "general": []}
        return page(request, "teams/import.html", context)

    @router.post("/imports/teams", dependencies=[Depends(check_csrf)])
    async def import_teams(
        request: Request,
        file: Annotated[UploadFile | None, File()] = None,
        skip_invalid: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        registry = await registry_of(request)
        data = await file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
        general: list[str] = []
        if not data:
            general.append(_("Choose a CSV or XLSX file."))
        elif len(data) > MAX_UPLOAD_BYTES:
            general.append(_("The file is too large; split it into several files."))
        elif is_xlsx(data):
            try:
                data = xlsx_to_csv(data)
            except SpreadsheetError:
                general.append(_("The file cannot be read as an XLSX workbook."))
        if general:
            refused: dict[str, Any] = {
                "result": None,
                "rows": [],
                "general": general,
            }
            return page(request, "teams/import.html", refused, status=422)
        console = console_of(request)
        headers = {
            "Authorization": f"Bearer {registry.user.access_token}",
            "Content-Type": "text/csv; charset=utf-8",
        }
        if correlation := current_correlation_id():
            headers[CORRELATION_HEADER] = correlation
        try:
            answer = await console.apis.http.post(
                f"{console.apis.urls['registry']}/imports/teams",
                params={"skip_invalid": "true" if skip_invalid else "false"},
                content=data,
                headers=headers,
            )
        except httpx.HTTPError:
            return await error_page(request, ApiError(503))
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code == 422 and isinstance(body.get("detail"), list):
            rows, general = _report(body["detail"])
            context: dict[str, Any] = {
                "result": None,
                "rows": rows,
                "general": general,
            }
            return page(request, "teams/import.html", context, status=422)
        if answer.status_code >= 400:
            return await error_page(request, ApiError(answer.status_code))
        rows = [
            {
                "row": error["row"],
                "column": error["field"],
                "message": _row_message(error["message"]),
            }
            for error in body.get("errors", [])
        ]
        context = {"result": body, "rows": rows, "general": []}
        return page(request, "teams/import.html", context)

    return router
