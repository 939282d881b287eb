"""The yearly safe-area certification (Circular 124/2021/TT-BCA): the areas registered
for a year with each criterion's result, registering an area, and evaluating it (again,
with a reason, when later records changed what a criterion shows)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.awards.labels import CRITERION_LABELS
from services.console.common import _noop, check_csrf, error_page, redirect, render
from services.console.i18n import _
from services.console.incidents.lookups import (
    PAGE_SIZE,
    area_choices,
    aware,
    call,
    call_page,
    form_errors,
    label,
    page_of,
    today,
)

DONE = {
    "registered": _noop("The area was registered for certification."),
    "evaluated": _noop("The certification was evaluated."),
}
FIRST_YEAR = 2000


def _year(text: str) -> int | None:
    try:
        year = int(text)
    except ValueError:
        return None
    return year if FIRST_YEAR <= year <= today().year + 1 else None


def _criteria(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {**result, "criterion_label": label(CRITERION_LABELS, result["criterion"])}
        for result in results or []
    ]


async def _page(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    query = request.query_params
    year = _year(query.get("year", "")) or today().year
    area_id = query.get("area_id", "").strip()
    offset = max(0, min(int(query.get("offset", "0") or 0), 1_000_000))
    try:
        areas = await area_choices(request)
        rows, total = await call_page(
            request,
            "awards",
            "/certifications",
            params={"year": year, "offset": offset, "limit": PAGE_SIZE + 1},
        )
    except ApiError as error:
        return await error_page(request, error)
    names = {area["id"]: area["label"] for area in areas}
    filters = {"year": str(year), "area_id": area_id}
    shown, page = page_of(
        rows, offset, "/certifications", filters, total=None if area_id else total
    )
    certifications = []
    for row in shown:
        if area_id and row["area_id"] != area_id:
            continue
        decision = row.get("decision")
        certifications.append(
            {
                **row,
                "area_label": names.get(row["area_id"], _("Area outside your list")),
                "registered": aware(row["registered_at"]),
                "decided": aware(decision["decided_at"]) if decision else None,
                "criteria": _criteria(decision["criteria"] if decision else None),
                "current_criteria": _criteria(row.get("current")),
            }
        )
    done = query.get("done", "")
    return render(
        request,
        "awards/certifications.html",
        {
            "certifications": certifications,
            "page": page,
            "filters": filters,
            "areas": areas,
            "years": list(range(today().year, today().year - 6, -1)),
            "errors": errors or {},
            "values": values or {"year": str(year), "area_id": area_id},
            "done": _(DONE[done]) if done in DONE else "",
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/certifications")
    async def certifications(request: Request) -> Response:
        if request.query_params.get("offset", "0").strip().isdigit() is False:
            return render(request, "errors/bad_request.html", status=422)
        return await _page(request)

    @router.post("/certifications/new", dependencies=[Depends(check_csrf)])
    async def register(
        request: Request,
        area_id: Annotated[str, Form(max_length=64)] = "",
        year: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        values = {"area_id": area_id, "year": year}
        errors: dict[str, str] = {}
        if not area_id:
            errors["area_id"] = _("This field is required.")
        chosen = _year(year)
        if chosen is None:
            errors["year"] = _("Choose a value from the list.")
        if errors:
            return await _page(request, errors, values, 422)
        try:
            await call(
                request,
                "awards",
                "POST",
                "/certifications",
                json={"area_id": area_id, "year": chosen},
            )
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = form_errors(
                    error,
                    {"area_id": "area_id", "year": "year"},
                    _noop("This area is already registered for that year."),
                )
                if general and not by_field:
                    by_field = {"area_id": general[0]}
                return await _page(request, by_field, values, error.status)
            return await error_page(request, error)
        return redirect(request, f"/certifications?year={chosen}&done=registered")

    @router.post("/certifications/{certification_id}/evaluate", dependencies=[Depends(check_csrf)])
    async def evaluate(
        request: Request,
        certification_id: uuid.UUID,
        reason: Annotated[str, Form(max_length=2000)] = "",
        year: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        field = f"reason-{certification_id}"
        body = {"reason": reason.strip()} if reason.strip() else None
        try:
            await call(
                request,
                "awards",
                "POST",
                f"/certifications/{certification_id}/evaluate",
                json=body,
            )
        except ApiError as error:
            if error.status in (409, 422):
                errors = {field: _("A reason is required to evaluate again.")}
                return await _page(request, errors, {field: reason}, error.status)
            return await error_page(request, error)
        back = _year(year) or today().year
        return redirect(request, f"/certifications?year={back}&done=evaluated")

    return router
