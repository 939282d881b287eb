"""The award pages: awards granted (and revoking one), the campaign report with its CSV,
and, from the package's other modules, nominations, suggestions and the safe-area
certification. Everything through awards' API with the officer's own token."""

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.awards import certifications, nominations
from services.console.awards.labels import (
    AWARD_STATUS_LABELS,
    awards_catalogue,
    campaign_choices,
    campaign_name,
    day_of,
    describe,
)
from services.console.common import _noop, check_csrf, error_page, redirect, render
from services.console.i18n import _
from services.console.incidents.lookups import (
    PAGE_SIZE,
    area_choices,
    call,
    call_page,
    form_errors,
    label,
    page_of,
    parse_day,
    stream_csv,
    today,
)

REVOKE_FIELDS = {"reason": "reason", "revoked_on": "revoked_on"}
REPORT_FILTERS = ("area_id", "campaign", "granted_from", "granted_to")
DONE = {
    "granted": _noop("The nomination was approved: the award is granted."),
    "recorded": _noop("The award was recorded."),
    "revoked": _noop("The award was revoked."),
}


async def _award_page(
    request: Request,
    award_id: uuid.UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        award = await call(request, "awards", "GET", f"/awards/{award_id}")
        catalogue = await awards_catalogue(request)
        areas = {area["id"]: area["label"] for area in await area_choices(request)}
    except ApiError as error:
        return await error_page(request, error)
    describe(award, catalogue, areas)
    award["status_label"] = label(AWARD_STATUS_LABELS, award["status"])
    award["granted"] = day_of(award["granted_on"])
    award["revoked"] = day_of(award.get("revoked_on"))
    done = request.query_params.get("done", "")
    return render(
        request,
        "awards/detail.html",
        {
            "award": award,
            "values": values or {"revoked_on": today().isoformat()},
            "errors": errors or {},
            "general": general or [],
            "done": _(DONE[done]) if done in DONE else "",
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()
    router.include_router(nominations.create_router())
    router.include_router(certifications.create_router())

    @router.get("/awards")
    async def list_awards(request: Request, offset: int = 0) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "").strip() for name in ("status", "campaign")}
        offset = max(0, min(offset, 1_000_000))
        errors: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        total: int | None = None
        try:
            catalogue = await awards_catalogue(request)
            areas = {area["id"]: area["label"] for area in await area_choices(request)}
        except ApiError as error:
            return await error_page(request, error)
        try:
            rows, total = await call_page(
                request,
                "awards",
                "/awards",
                params={
                    **{k: v for k, v in filters.items() if v},
                    "offset": offset,
                    "limit": PAGE_SIZE + 1,
                },
            )
        except ApiError as error:
            if error.status != 422:
                return await error_page(request, error)
            errors, _general = form_errors(error, {"status": "status", "campaign": "campaign"})
        shown, page = page_of(rows, offset, "/awards", filters, total=total)
        for award in shown:
            describe(award, catalogue, areas)
            award["status_label"] = label(AWARD_STATUS_LABELS, award["status"])
            award["granted"] = day_of(award["granted_on"])
        return render(
            request,
            "awards/list.html",
            {
                "awards": shown,
                "page": page,
                "filters": filters,
                "errors": errors,
                "statuses": [(code, _(text)) for code, text in AWARD_STATUS_LABELS.items()],
                "campaigns": campaign_choices(catalogue),
            },
            status=422 if errors else 200,
        )

    @router.get("/awards/{award_id}")
    async def award_page(request: Request, award_id: uuid.UUID) -> Response:
        return await _award_page(request, award_id)

    @router.post("/awards/{award_id}/revoke", dependencies=[Depends(check_csrf)])
    async def revoke_award(
        request: Request,
        award_id: uuid.UUID,
        reason: Annotated[str, Form(max_length=4000)] = "",
        revoked_on: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        values = {"reason": reason, "revoked_on": revoked_on}
        errors: dict[str, str] = {}
        if not reason.strip():
            errors["reason"] = _("This field is required.")
        day = parse_day(revoked_on)
        if revoked_on and day is None:
            errors["revoked_on"] = _("Enter a valid date.")
        elif day is not None and day > today():
            errors["revoked_on"] = _("The date must not be in the future.")
        if errors:
            return await _award_page(request, award_id, values, errors, status=422)
        body: dict[str, Any] = {"reason": reason.strip()}
        if day is not None:
            body["revoked_on"] = day.isoformat()
        try:
            await call(request, "awards", "POST", f"/awards/{award_id}/revoke", json=body)
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(
                    error, REVOKE_FIELDS, _noop("This award has already been revoked.")
                )
                return await _award_page(request, award_id, values, by_field, general, error.status)
            return await error_page(request, error)
        return redirect(request, f"/awards/{award_id}?done=revoked")

    @router.get("/campaigns/report")
    async def campaign_report(request: Request) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "").strip() for name in REPORT_FILTERS}
        errors = {
            name: _("Enter a valid date.")
            for name in ("granted_from", "granted_to")
            if filters[name] and parse_day(filters[name]) is None
        }
        try:
            catalogue = await awards_catalogue(request)
            areas = await area_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        report: dict[str, Any] | None = None
        if filters["area_id"] and not errors:
            try:
                report = await call(
                    request,
                    "awards",
                    "GET",
                    "/reports/awards",
                    params={k: v for k, v in filters.items() if v},
                )
            except ApiError as error:
                if error.status != 422:
                    return await error_page(request, error)
                errors, _general = form_errors(error, {name: name for name in REPORT_FILTERS})
        elif query.get("shown"):
            errors["area_id"] = _("This field is required.")
        csv_query = urlencode({k: v for k, v in filters.items() if v})
        return render(
            request,
            "awards/report.html",
            {
                "report": report,
                "filters": filters,
                "errors": errors,
                "areas": areas,
                "campaigns": campaign_choices(catalogue),
                "campaign_label": campaign_name(catalogue, filters["campaign"]),
                "area_label": next(
                    (a["label"] for a in areas if a["id"] == filters["area_id"]), ""
                ),
                "csv_url": f"/campaigns/report.csv?{csv_query}",
            },
            status=422 if errors else 200,
        )

    @router.get("/campaigns/report.csv")
    async def campaign_report_csv(request: Request) -> Response:
        query = request.query_params
        params = {name: query.get(name, "").strip() for name in REPORT_FILTERS}
        return await stream_csv(
            request, "awards", "/reports/awards.csv", params, "awards-report.csv"
        )

    return router
