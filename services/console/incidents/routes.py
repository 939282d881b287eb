"""The incident pages: the list with its filters and CSV, the report form, and an
incident's page with its status moves and duplicate link. Everything through reporting's
API with the officer's own token; the areas and teams offered come from registry."""

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.common import _noop, check_csrf, error_page, redirect, render
from services.console.i18n import VIETNAM, _
from services.console.incidents.lookups import (
    INCIDENT_STATUS_LABELS,
    PAGE_SIZE,
    SEVERITY_LABELS,
    SOURCE_LABELS,
    area_choices,
    aware,
    call,
    call_page,
    category_choices,
    category_label,
    form_errors,
    label,
    page_of,
    parse_day,
    reporting_catalogue,
    stream_csv,
    team_choices,
)

# The lifecycle as reporting enforces it (services/reporting/incidents/rules.py): the
# form offers only these moves; reporting still decides, and a refused move is shown.
ALLOWED_MOVES = {
    "reported": ("verified", "dismissed"),
    "verified": ("resolved", "mediated", "referred", "dismissed"),
}
INCIDENT_FIELDS = {
    "area_id": "area_id",
    "category": "category",
    "source": "source",
    "severity": "severity",
    "occurred_at": "occurred_at",
    "address": "address",
    "summary": "summary",
    "team_ids": "team_ids",
}
STATUS_FIELDS = {"status": "status", "reason": "reason"}
LINK_FIELDS = {"duplicate_of": "duplicate_of", "reason": "link_reason"}
FILTERS = ("status", "category", "area_id", "from", "to")
DONE = {
    "reported": _noop("The incident was recorded."),
    "status": _noop("The status was changed."),
    "linked": _noop("The incident was linked as a duplicate."),
}


def _names(choices: list[dict[str, Any]], key: str = "label") -> dict[str, str]:
    return {choice["id"]: choice[key] for choice in choices}


def _row(item: dict[str, Any], areas: dict[str, str]) -> dict[str, Any]:
    return {
        **item,
        "occurred": aware(item["occurred_at"]),
        "area_label": areas.get(item["area_id"], _("Area outside your list")),
        "category_label": category_label(item["category"]),
        "status_label": label(INCIDENT_STATUS_LABELS, item["status"]),
    }


async def _form_choices(request: Request) -> dict[str, Any]:
    catalogue = await reporting_catalogue(request)
    return {
        "areas": await area_choices(request),
        "teams": await team_choices(request),
        "category_groups": category_choices(catalogue),
        "sources": [(code, label(SOURCE_LABELS, code)) for code in catalogue["sources"]],
        "severities": [(code, label(SEVERITY_LABELS, code)) for code in catalogue["severities"]],
    }


async def _detail_page(
    request: Request,
    incident_id: uuid.UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        incident = await call(request, "reporting", "GET", f"/incidents/{incident_id}")
        areas = _names(await area_choices(request))
        teams = _names(await team_choices(request), "name")
        others: list[dict[str, Any]] = []
        if incident["duplicate_of"] is None and not incident["duplicates"]:
            others = await call(
                request,
                "reporting",
                "GET",
                "/incidents",
                params={
                    "area_id": incident["area_id"],
                    "include_duplicates": "false",
                    "limit": PAGE_SIZE,
                },
            )
    except ApiError as error:
        return await error_page(request, error)
    view = _row(incident, areas)
    view["reported"] = aware(incident["reported_at"])
    view["source_label"] = label(SOURCE_LABELS, incident["source"])
    view["severity_label"] = label(SEVERITY_LABELS, incident["severity"])
    view["team_names"] = [teams.get(team, team) for team in incident["team_ids"]]
    view["history"] = [
        {
            **change,
            "changed": aware(change["changed_at"]),
            "from_label": label(INCIDENT_STATUS_LABELS, change["from_status"]),
            "to_label": label(INCIDENT_STATUS_LABELS, change["to_status"]),
        }
        for change in incident["history"]
    ]
    moves = [] if incident["duplicate_of"] else ALLOWED_MOVES.get(incident["status"], ())
    candidates = [_row(other, areas) for other in others if other["id"] != incident["id"]]
    done = request.query_params.get("done", "")
    return render(
        request,
        "incidents/detail.html",
        {
            "incident": view,
            "moves": [(move, label(INCIDENT_STATUS_LABELS, move)) for move in moves],
            "candidates": candidates,
            "values": values or {},
            "errors": errors or {},
            "general": general or [],
            "done": _(DONE[done]) if done in DONE else "",
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/incidents")
    async def list_incidents(request: Request, offset: int = 0) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "").strip() for name in FILTERS}
        errors = {
            name: _("Enter a valid date.")
            for name in ("from", "to")
            if filters[name] and parse_day(filters[name]) is None
        }
        offset = max(0, min(offset, 1_000_000))
        rows: list[dict[str, Any]] = []
        total: int | None = None
        try:
            catalogue = await reporting_catalogue(request)
            areas = await area_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        try:
            if not errors:
                rows, total = await call_page(
                    request,
                    "reporting",
                    "/incidents",
                    params={
                        **{k: v for k, v in filters.items() if v},
                        "offset": offset,
                        "limit": PAGE_SIZE + 1,
                    },
                )
        except ApiError as error:
            if error.status != 422:
                return await error_page(request, error)
            errors, _general = form_errors(error, {name: name for name in FILTERS})
        names = _names(areas)
        shown, page = page_of(rows, offset, "/incidents", filters, total=total)
        csv_query = urlencode({k: v for k, v in filters.items() if v})
        return render(
            request,
            "incidents/list.html",
            {
                "incidents": [_row(item, names) for item in shown],
                "page": page,
                "filters": filters,
                "errors": errors,
                "areas": areas,
                "category_groups": category_choices(catalogue),
                "statuses": [(code, _(text)) for code, text in INCIDENT_STATUS_LABELS.items()],
                "csv_url": "/incidents.csv" + (f"?{csv_query}" if csv_query else ""),
            },
            status=422 if errors else 200,
        )

    @router.get("/incidents.csv")
    async def export_incidents(request: Request) -> Response:
        query = request.query_params
        params = {name: query.get(name, "").strip() for name in FILTERS}
        return await stream_csv(request, "reporting", "/incidents.csv", params, "incidents.csv")

    @router.get("/incidents/new")
    async def report_form(request: Request) -> Response:
        try:
            choices = await _form_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        values = {"submission": str(uuid.uuid4()), "source": "police", "severity": "minor"}
        return render(
            request,
            "incidents/new.html",
            {**choices, "values": values, "team_ids": [], "errors": {}, "general": []},
        )

    @router.post("/incidents/new", dependencies=[Depends(check_csrf)])
    async def report_incident(
        request: Request,
        submission: Annotated[str, Form(max_length=64)] = "",
        area_id: Annotated[str, Form(max_length=64)] = "",
        category: Annotated[str, Form(max_length=64)] = "",
        source: Annotated[str, Form(max_length=64)] = "",
        severity: Annotated[str, Form(max_length=64)] = "",
        occurred_at: Annotated[str, Form(max_length=32)] = "",
        address: Annotated[str, Form(max_length=500)] = "",
        summary: Annotated[str, Form(max_length=4000)] = "",
        team_ids: Annotated[list[str] | None, Form(max_length=50)] = None,
    ) -> Response:
        values = {
            "submission": submission or str(uuid.uuid4()),
            "area_id": area_id,
            "category": category,
            "source": source,
            "severity": severity,
            "occurred_at": occurred_at,
            "address": address,
            "summary": summary,
        }
        chosen = [team for team in team_ids or [] if team]
        try:
            choices = await _form_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        errors: dict[str, str] = {}
        moment: datetime | None = None
        try:  # the browser's datetime-local has no zone: it is Vietnam's time
            moment = datetime.fromisoformat(occurred_at).replace(tzinfo=VIETNAM)
        except ValueError:
            errors["occurred_at"] = _("Enter a valid date and time.")
        else:
            if moment > datetime.now(VIETNAM):
                errors["occurred_at"] = _("The time must not be in the future.")
        for name in ("area_id", "category", "source", "summary"):
            if not values[name].strip():
                errors[name] = _("This field is required.")

        def again(errors: dict[str, str], general: list[str], status: int) -> Response:
            context = {"values": values, "team_ids": chosen, "errors": errors, "general": general}
            return render(request, "incidents/new.html", {**choices, **context}, status=status)

        if errors:
            return again(errors, [], 422)
        assert moment is not None
        body: dict[str, Any] = {
            "area_id": area_id,
            "category": category,
            "source": source,
            "severity": severity or "minor",
            "summary": summary.strip(),
            "occurred_at": moment.isoformat(),
            "team_ids": chosen,
        }
        if address.strip():
            body["address"] = address.strip()
        try:
            created = await call(
                request,
                "reporting",
                "POST",
                "/incidents",
                json=body,
                headers={"Idempotency-Key": values["submission"]},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(error, INCIDENT_FIELDS)
                return again(by_field, general, error.status)
            return await error_page(request, error)
        return redirect(request, f"/incidents/{created['id']}?done=reported")

    @router.get("/incidents/{incident_id}")
    async def incident_page(request: Request, incident_id: uuid.UUID) -> Response:
        return await _detail_page(request, incident_id)

    @router.post("/incidents/{incident_id}/status", dependencies=[Depends(check_csrf)])
    async def change_status(
        request: Request,
        incident_id: uuid.UUID,
        status: Annotated[str, Form(max_length=64)] = "",
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        values = {"status": status, "reason": reason}
        errors = {
            name: _("This field is required.")
            for name in ("status", "reason")
            if not values[name].strip()
        }
        if errors:
            return await _detail_page(request, incident_id, values, errors, status=422)
        try:
            await call(
                request,
                "reporting",
                "POST",
                f"/incidents/{incident_id}/status",
                json={"status": status, "reason": reason.strip()},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(
                    error,
                    STATUS_FIELDS,
                    _noop("This move is not allowed from the incident's current status."),
                )
                return await _detail_page(
                    request, incident_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/incidents/{incident_id}?done=status")

    @router.post("/incidents/{incident_id}/duplicate-of", dependencies=[Depends(check_csrf)])
    async def link_duplicate(
        request: Request,
        incident_id: uuid.UUID,
        duplicate_of: Annotated[str, Form(max_length=64)] = "",
        link_reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        values = {"duplicate_of": duplicate_of, "link_reason": link_reason}
        errors = {
            name: _("This field is required.")
            for name in ("duplicate_of", "link_reason")
            if not values[name].strip()
        }
        if errors:
            return await _detail_page(request, incident_id, values, errors, status=422)
        try:
            await call(
                request,
                "reporting",
                "POST",
                f"/incidents/{incident_id}/duplicate-of",
                json={"duplicate_of": duplicate_of, "reason": link_reason.strip()},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(
                    error,
                    LINK_FIELDS,
                    _noop("These incidents cannot be linked: one is already linked or repeated."),
                )
                return await _detail_page(
                    request, incident_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/incidents/{incident_id}?done=linked")

    return router
