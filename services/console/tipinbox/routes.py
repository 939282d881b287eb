"""The tip inbox: ``/tip-inbox`` lists the residents' tips in the user's areas
(reporting's incidents with source ``resident_tip``, newest first, paged), and
``/tip-inbox/{ref}`` shows one: the tip, the incident it became, and who sent it.

Everything is read with the user's own token, so reporting's rules decide: only tip
handlers see a tip's number, look a tip up by it, and read its informant (every reading
is audited by reporting); any other role is told so instead. ``ref`` is the tip number
(what a tip handler types, as the resident read it out) or the incident's id (what the
other roles have)."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.auth.sessions import UserTokens
from services.console.common import (
    check_csrf,
    console_of,
    current_user,
    error_page,
    field_errors,
    redirect,
    render,
)
from services.console.i18n import _
from services.console.tips.routes import CATEGORY_LABELS, STATUS_LABELS

PAGE_SIZE = 20
AREAS_SHOWN = 200
TIP_NUMBER = re.compile(r"^[A-Za-z0-9-]{3,32}$")
STATUSES = ("reported", "verified", "resolved", "mediated", "referred", "dismissed")
LIST_FIELDS = {"status": "status", "area_id": "area_id", "offset": "offset"}


def _label(labels: dict[str, str], key: str) -> str:
    found = labels.get(key)
    return _(found) if found else key


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_tip_handler(user: UserTokens) -> bool:
    return user.principal.role.value == "tip_handler"


async def _area_names(request: Request, user: UserTokens) -> dict[str, dict[str, Any]]:
    areas: list[dict[str, Any]] = await console_of(request).apis.call(
        "registry", "GET", "/areas", token=user.access_token, params={"limit": AREAS_SHOWN}
    )
    return {area["id"]: area for area in areas}


def _incident_view(incident: dict[str, Any], areas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    area = areas.get(str(incident["area_id"]))
    return dict(
        incident,
        category_label=_label(CATEGORY_LABELS, incident["category"]),
        status_label=_label(STATUS_LABELS, incident["status"]),
        area_label=f"{area['name']} ({area['code']})" if area else "—",
        occurred=_moment(incident["occurred_at"]),
        reported=_moment(incident["reported_at"]),
        tip_number=incident.get("tip_number"),  # tip handlers only, and not in lists
    )


async def _inbox(
    request: Request,
    user: UserTokens,
    filters: dict[str, str],
    offset: int = 0,
    lookup: str = "",
    lookup_error: str | None = None,
) -> Response:
    """The inbox page: a page of tips under the filters, and the look-up form."""
    params: dict[str, Any] = {
        "source": "resident_tip",
        "offset": offset,
        "limit": PAGE_SIZE + 1,  # one more tells whether there is a next page
    }
    params.update({name: value for name, value in filters.items() if value})
    try:
        areas = await _area_names(request, user)
    except ApiError as error:
        return await error_page(request, error)
    errors: dict[str, str] = {}
    general: list[str] = []
    incidents: list[dict[str, Any]] = []
    total: int | None = None
    try:
        incidents, total = await console_of(request).apis.call_page(
            "reporting", "/incidents", token=user.access_token, params=params
        )
    except ApiError as error:
        if error.status != 422 and not error.not_yet_known:
            return await error_page(request, error)
        errors, general = field_errors(error, LIST_FIELDS)
    shown = [_incident_view(item, areas) for item in incidents[:PAGE_SIZE]]

    def page(at: int) -> str:
        query = {**{k: v for k, v in filters.items() if v}, "offset": at}
        return f"/tip-inbox?{urlencode(query)}"

    context = {
        "tips": shown,
        "filters": filters,
        "areas": sorted(areas.values(), key=lambda area: area["name"]),
        "statuses": [(code, _(STATUS_LABELS[code])) for code in STATUSES],
        "errors": errors,
        "general": general,
        "first": offset + 1,
        "last": offset + len(shown),
        "total": total,
        "previous_page": page(max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        "next_page": page(offset + PAGE_SIZE) if len(incidents) > PAGE_SIZE else None,
        "tip_handler": _is_tip_handler(user),
        "lookup": lookup,
        "lookup_error": lookup_error,
    }
    failed = errors or general or lookup_error
    return render(request, "tipinbox/inbox.html", context, status=422 if failed else 200)


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/tip-inbox")
    async def inbox(
        request: Request,
        status: Annotated[str, Query(max_length=32)] = "",
        area_id: Annotated[str, Query(max_length=64)] = "",
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        user = await current_user(request)
        return await _inbox(request, user, {"status": status, "area_id": area_id}, offset)

    @router.post("/tip-inbox", dependencies=[Depends(check_csrf)])
    async def filter_inbox(
        request: Request,
        status: Annotated[str, Form(max_length=32)] = "",
        area_id: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        await current_user(request)
        query = {name: value for name, value in (("status", status), ("area_id", area_id)) if value}
        return redirect(request, f"/tip-inbox?{urlencode(query)}" if query else "/tip-inbox")

    @router.post("/tip-inbox/lookup", dependencies=[Depends(check_csrf)])
    async def look_up(
        request: Request, tip_number: Annotated[str, Form(max_length=64)] = ""
    ) -> Response:
        """A tip handler types the number a resident reads out on the phone."""
        user = await current_user(request)
        number = tip_number.strip().upper()
        message: str | None = None
        if not TIP_NUMBER.match(number):
            message = _("Enter a tip number, such as T-7KQ2-M9XD.")
        else:
            try:
                await console_of(request).apis.call(
                    "reporting", "GET", f"/tips/{number}/incident", token=user.access_token
                )
            except ApiError as error:
                if error.status == 404:
                    message = _("No tip with this number in your areas.")
                elif error.status == 403:
                    message = _("Only tip handlers may look tips up by their number.")
                elif error.status == 422:
                    message = _("Enter a tip number, such as T-7KQ2-M9XD.")
                else:
                    return await error_page(request, error)
        if message is None:
            return redirect(request, f"/tip-inbox/{number}")
        filters = {"status": "", "area_id": ""}
        return await _inbox(request, user, filters, lookup=tip_number.strip(), lookup_error=message)

    @router.get("/tip-inbox/{ref}")
    async def tip(request: Request, ref: str) -> Response:
        user = await current_user(request)
        apis = console_of(request).apis
        token = user.access_token
        incident: dict[str, Any] | None = None
        try:
            incident_id = UUID(ref)
        except ValueError:
            incident_id = None
        try:
            if incident_id is not None:
                incident = await apis.call(
                    "reporting", "GET", f"/incidents/{incident_id}", token=token
                )
                if incident is None or incident.get("source") != "resident_tip":
                    return render(request, "errors/not_found.html", status=404)
            elif TIP_NUMBER.match(ref):
                incident = await apis.call(
                    "reporting", "GET", f"/tips/{ref.upper()}/incident", token=token
                )
            else:
                return render(request, "errors/not_found.html", status=404)
        except ApiError as error:
            if error.status == 403:  # looking a tip up by its number is for tip handlers
                return render(
                    request, "tipinbox/tip.html", {"tip": None, "informant": None, "ref": ref}
                )
            return await error_page(request, error)
        assert incident is not None
        informant: dict[str, Any] | None = None
        informant_hidden = False
        try:
            informant = await apis.call(
                "reporting", "GET", f"/incidents/{incident['id']}/informant", token=token
            )
        except ApiError as error:
            if error.status == 403:
                informant_hidden = True
            elif error.status != 404:
                return await error_page(request, error)
        try:
            areas = await _area_names(request, user)
        except ApiError:
            areas = {}
        view = _incident_view(incident, areas)
        view["history"] = [
            dict(
                change,
                status_label=_label(STATUS_LABELS, change["to_status"]),
                changed=_moment(change["changed_at"]),
            )
            for change in incident.get("history", [])
        ]
        return render(
            request,
            "tipinbox/tip.html",
            {
                "tip": view,
                "informant": informant,
                "informant_hidden": informant_hidden,
                "ref": ref,
            },
        )

    return router
