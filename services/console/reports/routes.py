"""The ward report ("Báo cáo kết quả phong trào"): ``/reports`` chooses an area the user
may see and a period; ``/reports/ward`` draws the area's figures from the services' own
answers, read with the user's token: registry's area summary (teams by kind, members,
cameras, initiatives), reporting's statistics (incidents against the same dates a year
earlier, the share solved, by category and by month, the activities with their
quantities) and awards' report (awards by authority and level). The page is its own print
view (console.css's ``@media print``)."""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from babel.dates import format_date
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.auth.sessions import UserTokens
from services.console.common import (
    _noop,
    check_csrf,
    console_of,
    current_user,
    error_page,
    field_errors,
    redirect,
    render,
)
from services.console.i18n import VIETNAM, _, current_locale, format_number
from services.console.reports.charts import column_chart, row_chart
from services.console.tips.routes import CATEGORY_LABELS, STATUS_LABELS

AREAS_SHOWN = 200
MONTHS_CHARTED = 24  # a longer period is charted by its totals only
REPORT_FIELDS = {"area_id": "area_id", "from": "from", "to": "to"}

GROUP_LABELS = {
    "crime": _noop("Crime"),
    "drugs_social_evils": _noop("Drugs and social evils"),
    "public_order": _noop("Public order"),
    "traffic": _noop("Traffic"),
    "fire_explosion": _noop("Fire or explosion"),
    "administrative": _noop("Administrative violations"),
    "security": _noop("National security"),
}
ACTIVITY_LABELS = {
    "outreach": _noop("Outreach sessions"),
    "patrol": _noop("Patrols"),
    "training": _noop("Trainings"),
    "mediation": _noop("Mediations"),
    "household_pledge": _noop("Household pledges"),
    "weapons_handover": _noop("Weapons and explosives handed in"),
    "footage_extraction": _noop("Camera footage extractions"),
    "eid_assistance": _noop("Help with electronic identification"),
}
ITEM_LABELS = {
    "sessions": _noop("sessions"),
    "people_reached": _noop("people reached"),
    "patrols": _noop("patrols"),
    "participants": _noop("participants"),
    "cases": _noop("cases"),
    "households": _noop("households"),
    "extractions": _noop("extractions"),
    "level_1_activated": _noop("level 1 accounts activated"),
    "level_2_collected": _noop("level 2 applications collected"),
    "level_2_activated": _noop("level 2 accounts activated"),
    "homemade_gun": _noop("homemade guns"),
    "firecrackers": _noop("firecrackers"),
    "explosives": _noop("explosives"),
}
UNIT_LABELS = {
    "count": "",
    "people": _noop("people"),
    "households": _noop("households"),
    "piece": _noop("pieces"),
    "kg": "kg",
    "g": "g",
    "litre": _noop("litres"),
    "box": _noop("boxes"),
    "round": _noop("rounds"),
}
OUTCOME_LABELS = {"successful": _noop("successful"), "unsuccessful": _noop("unsuccessful")}
LEVEL_LABELS = {
    "national": _noop("National"),
    "province": _noop("Province or city"),
    "district": _noop("District"),
    "ward": _noop("Ward or commune"),
}


def _label(labels: dict[str, str], key: str) -> str:
    found = labels.get(key)
    return _(found) if found else key


def _this_year_so_far() -> tuple[date, date]:
    today = datetime.now(VIETNAM).date()
    return date(today.year, 1, 1), today


def percent(value: int | Decimal | None) -> str:
    return "—" if value is None else f"{format_number(value)}%"


def change_text(change_percent: int | None, count: int, previous: int) -> str:
    """The change as police statistics state it: "giảm 72% so với cùng kỳ"."""
    if change_percent is None:
        if count == 0:
            return _("the same as the same period last year")
        return _("none in the same period last year")
    if change_percent < 0:
        return _("down {percent}% on the same period last year").format(
            percent=format_number(-change_percent)
        )
    if change_percent > 0:
        return _("up {percent}% on the same period last year").format(
            percent=format_number(change_percent)
        )
    return _("the same as the same period last year")


def incidents_sentence(total: dict[str, Any]) -> str:
    """The seeds' own sentence: "5 vụ việc, giảm 72% so với cùng kỳ"."""
    return _("{count} incidents, {change}").format(
        count=format_number(total["count"]),
        change=change_text(total["change_percent"], total["count"], total["previous"]),
    )


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """The period cut at month ends: [(first day, last day), …]."""
    spans: list[tuple[date, date]] = []
    first = start
    while first <= end:
        next_month = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = min(end, next_month - timedelta(days=1))
        spans.append((first, last))
        first = next_month
    return spans


def _month_label(day: date, several_years: bool) -> str:
    pattern = "MM/yyyy" if several_years else "MMM"
    return str(format_date(day, pattern, locale=current_locale.get()))


@dataclass
class Section:
    """One service's part of the report: its answer, or why it is missing."""

    data: Any = None
    syncing: bool = False
    unavailable: bool = False


async def _section(call: Any) -> Section:
    try:
        return Section(data=await call)
    except ApiError as error:
        if error.not_yet_known:
            return Section(syncing=True)
        return Section(unavailable=True)


def _choose_form(
    request: Request,
    areas: list[dict[str, Any]],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "reports/choose.html",
        {"areas": areas, "values": values, "errors": errors or {}, "general": general or []},
        status=status,
    )


async def _areas(request: Request, user: UserTokens) -> list[dict[str, Any]]:
    areas: list[dict[str, Any]] = await console_of(request).apis.call(
        "registry", "GET", "/areas", token=user.access_token, params={"limit": AREAS_SHOWN}
    )
    return areas


def _check(values: dict[str, str]) -> tuple[dict[str, str], UUID | None, date | None, date | None]:
    errors: dict[str, str] = {}
    area: UUID | None = None
    start = end = None
    try:
        area = UUID(values["area_id"])
    except ValueError:
        errors["area_id"] = _("Choose a value from the list.")
    for name in ("from", "to"):
        try:
            parsed = date.fromisoformat(values[name])
        except ValueError:
            errors[name] = _("Enter a valid date.")
            continue
        if name == "from":
            start = parsed
        else:
            end = parsed
    if start and end and end < start:
        errors["to"] = _("The end of the period must not be before its start.")
    if end and end > datetime.now(VIETNAM).date():
        errors["to"] = _("The period must not end after today.")
    return errors, area, start, end


def _incident_figures(stats: dict[str, Any]) -> dict[str, Any]:
    incidents = stats["incidents"]
    categories = sorted(incidents["by_category"], key=lambda f: (-f["count"], -f["previous"]))
    for figure in categories:
        figure["label"] = _label(CATEGORY_LABELS, figure["key"])
        figure["group_label"] = _label(GROUP_LABELS, figure.get("group") or "")
        figure["change_label"] = percent(figure["change_percent"])
    statuses = [dict(f, label=_label(STATUS_LABELS, f["key"])) for f in incidents["by_status"]]
    chart = row_chart(
        [
            (f["label"], [(f["count"], "bar-current"), (f["previous"], "bar-previous")])
            for f in categories
            if f["count"] or f["previous"]
        ],
        format_number,
    )
    return {
        "total": incidents["total"],
        "sentence": incidents_sentence(incidents["total"]),
        "change_label": percent(incidents["total"]["change_percent"]),
        "share": incidents["share_solved"],
        "share_label": percent(incidents["share_solved"]["percent"]),
        "previous_share_label": percent(incidents["share_solved"]["previous_percent"]),
        "categories": [f for f in categories if f["count"] or f["previous"]],
        "statuses": [f for f in statuses if f["count"] or f["previous"]],
        "category_chart": chart,
    }


def _activities(stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for figure in stats["activities"]:
        if not figure["activities"] and not figure["previous"]:
            continue  # the catalogue's every type is listed: only those done are reported
        measures = []
        for measure in figure["measures"]:
            if not Decimal(str(measure["quantity"])) and not Decimal(str(measure["previous"])):
                continue
            unit = UNIT_LABELS.get(measure["unit"], measure["unit"])
            measures.append(
                {
                    "label": _label(ITEM_LABELS, measure["item"]),
                    "unit": _(unit) if unit and unit not in ("kg", "g") else unit,
                    "quantity": format_number(Decimal(str(measure["quantity"]))),
                    "previous": format_number(Decimal(str(measure["previous"]))),
                    "change": percent(measure["change_percent"]),
                }
            )
        outcomes = [
            {
                "label": _label(OUTCOME_LABELS, outcome["key"]),
                "count": outcome["count"],
                "previous": outcome["previous"],
            }
            for outcome in figure["outcomes"]
            if outcome["key"] and (outcome["count"] or outcome["previous"])
        ]
        rows.append(
            {
                "label": _label(ACTIVITY_LABELS, figure["activity_type"]),
                "activities": figure["activities"],
                "previous": figure["previous"],
                "change": percent(figure["change_percent"]),
                "measures": measures,
                "outcomes": outcomes,
            }
        )
    return rows


def _forces(summary: dict[str, Any]) -> dict[str, Any]:
    english = current_locale.get() == "en"
    kinds = [
        {
            "label": kind["name_en"] if english else kind["name_vi"],
            "teams": kind["teams"],
            "members": kind["members"],
        }
        for kind in summary["by_kind"]
        if kind["teams"] or kind["members"]
    ]
    chart = row_chart([(k["label"], [(k["teams"], "bar-current")]) for k in kinds], format_number)
    return {"summary": summary, "kinds": kinds, "chart": chart}


def _awards(report: dict[str, Any], catalogue: dict[str, Any] | None) -> dict[str, Any]:
    english = current_locale.get() == "en"
    forms = (catalogue or {}).get("award_forms", {})
    authorities = (catalogue or {}).get("authorities", {})
    rows = []
    for row in report["rows"]:
        given = authorities.get(row["authority"], {}).get("forms", [])
        names = [
            (forms[form]["name_en"] if english else forms[form]["name_vi"])
            if form in forms
            else form
            for form in given
        ]
        rows.append(
            dict(
                row,
                level_label=_label(LEVEL_LABELS, row["authority_level"]),
                forms=", ".join(names),
            )
        )
    return dict(report, rows=rows)


async def _monthly(
    request: Request, user: UserTokens, area_id: UUID, start: date, end: date
) -> Section:
    months = _months(start, end)
    if len(months) > MONTHS_CHARTED:
        return Section()
    apis = console_of(request).apis
    try:
        answers = await asyncio.gather(
            *(
                apis.call(
                    "reporting",
                    "GET",
                    "/statistics",
                    token=user.access_token,
                    params={
                        "area_id": str(area_id),
                        "from": first.isoformat(),
                        "to": last.isoformat(),
                    },
                )
                for first, last in months
            )
        )
    except ApiError as error:
        return Section(syncing=error.not_yet_known, unavailable=not error.not_yet_known)
    several_years = start.year != end.year
    rows = [
        {
            "label": _month_label(first, several_years),
            "count": answer["incidents"]["total"]["count"],
            "previous": answer["incidents"]["total"]["previous"],
        }
        for (first, _last), answer in zip(months, answers, strict=True)
    ]
    chart = column_chart([(r["label"], r["count"], r["previous"]) for r in rows], format_number)
    return Section(data={"rows": rows, "chart": chart})


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reports")
    async def choose(request: Request) -> Response:
        user = await current_user(request)
        try:
            areas = await _areas(request, user)
        except ApiError as error:
            return await error_page(request, error)
        start, end = _this_year_so_far()
        values = {
            "area_id": areas[0]["id"] if len(areas) == 1 else "",
            "from": start.isoformat(),
            "to": end.isoformat(),
        }
        return _choose_form(request, areas, values)

    @router.post("/reports", dependencies=[Depends(check_csrf)])
    async def chosen(
        request: Request,
        area_id: Annotated[str, Form(max_length=64)] = "",
        start: Annotated[str, Form(alias="from", max_length=10)] = "",
        end: Annotated[str, Form(alias="to", max_length=10)] = "",
    ) -> Response:
        user = await current_user(request)
        values = {"area_id": area_id, "from": start, "to": end}
        errors, _area, _start, _end = _check(values)
        if errors:
            try:
                areas = await _areas(request, user)
            except ApiError as error:
                return await error_page(request, error)
            return _choose_form(request, areas, values, errors, status=422)
        return redirect(request, f"/reports/ward?{urlencode(values)}")

    @router.get("/reports/ward")
    async def ward_report(
        request: Request,
        area_id: Annotated[str, Query(max_length=64)] = "",
        start: Annotated[str, Query(alias="from", max_length=10)] = "",
        end: Annotated[str, Query(alias="to", max_length=10)] = "",
    ) -> Response:
        user = await current_user(request)
        values = {"area_id": area_id, "from": start, "to": end}
        errors, area, first, last = _check(values)
        if errors or area is None or first is None or last is None:
            try:
                areas = await _areas(request, user)
            except ApiError as error:
                return await error_page(request, error)
            return _choose_form(request, areas, values, errors, status=422)
        apis = console_of(request).apis
        token = user.access_token
        try:  # registry knows the area first: a missing or hidden one is the 404 page
            summary = await apis.call("registry", "GET", f"/areas/{area}/summary", token=token)
        except ApiError as error:
            if error.status == 422:
                areas = await _areas(request, user)
                by_field, general = field_errors(error, REPORT_FIELDS)
                return _choose_form(request, areas, values, by_field, general, 422)
            return await error_page(request, error)
        period = {"area_id": str(area), "from": first.isoformat(), "to": last.isoformat()}
        awarded = {
            "area_id": str(area),
            "granted_from": first.isoformat(),
            "granted_to": last.isoformat(),
        }
        stats, monthly, awards, catalogue = await asyncio.gather(
            _section(apis.call("reporting", "GET", "/statistics", token=token, params=period)),
            _monthly(request, user, area, first, last),
            _section(apis.call("awards", "GET", "/reports/awards", token=token, params=awarded)),
            _section(apis.call("awards", "GET", "/catalogue", token=token)),
        )
        if stats.data is not None:
            stats.data = {
                "raw": stats.data,
                "incidents": _incident_figures(stats.data),
                "activities": _activities(stats.data),
                "compared_with": stats.data["compared_with"],
            }
        if awards.data is not None:
            awards.data = _awards(awards.data, catalogue.data)
        return render(
            request,
            "reports/ward.html",
            {
                "area": summary["area"],
                "forces": _forces(summary),
                "stats": stats,
                "monthly": monthly,
                "awards": awards,
                "first": first,
                "last": last,
                "previous_first": date.fromisoformat(stats.data["compared_with"]["from"])
                if stats.data
                else None,
                "previous_last": date.fromisoformat(stats.data["compared_with"]["to"])
                if stats.data
                else None,
                "today": datetime.now(VIETNAM).date(),
            },
        )

    return router
