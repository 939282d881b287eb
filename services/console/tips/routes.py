"""The residents' tip pages (public, no login). The console reads the categories and the
wards with its own service token, sends the tip to reporting's ``POST /tips`` without any
token, and shows the receipt once. It forwards nothing about the resident's connection:
reporting sees the console as the client, and the console logs no address."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.common import (
    _noop,
    check_csrf,
    console_of,
    field_errors,
    render,
)
from services.console.i18n import VIETNAM, _
from shared.logging import get_logger

log = get_logger()

CATEGORY_LABELS = {
    "theft": _noop("Theft"),
    "robbery": _noop("Robbery"),
    "snatching": _noop("Snatch theft"),
    "assault": _noop("Assault"),
    "fraud": _noop("Fraud"),
    "online_fraud": _noop("Online fraud"),
    "property_damage": _noop("Damage to property"),
    "weapons": _noop("Weapons"),
    "drugs": _noop("Drugs"),
    "gambling": _noop("Gambling"),
    "public_disorder": _noop("Public disorder"),
    "dispute": _noop("Dispute"),
    "traffic": _noop("Traffic"),
    "fire_explosion": _noop("Fire or explosion"),
    "administrative_violation": _noop("Administrative violation"),
    "security": _noop("National security"),
    "murder": _noop("Murder"),
    "explosives": _noop("Explosives"),
    "prostitution": _noop("Prostitution"),
}
STATUS_LABELS = {
    "reported": _noop("Received, waiting to be checked"),
    "verified": _noop("Checked by the ward police"),
    "resolved": _noop("Resolved"),
    "mediated": _noop("Settled by mediation"),
    "referred": _noop("Passed to the competent authority"),
    "dismissed": _noop("Closed: not confirmed"),
}
# The API body's fields (by the last part of an error's loc) → the form's fields.
TIP_FIELDS = {
    "category": "category",
    "area_id": "area_id",
    "occurred_at": "occurred_at",
    "summary": "narrative",
    "full_name": "full_name",
    "contact": "contact",
}
AREA_LEVELS = ("ward", "commune", "residential_group")
MAX_AREAS = 200  # per level: a province's wards fit; a bigger catalogue needs a search box


async def _choices(request: Request) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The categories (reporting's catalogue) and the wards, communes and residential
    groups (registry), read with the console's own token: the page has no user."""
    console = console_of(request)
    token = await console.service_token()
    catalogue = await console.apis.call("reporting", "GET", "/catalogue", token=token)
    categories = [
        (code, _(CATEGORY_LABELS[code]) if code in CATEGORY_LABELS else code)
        for codes in catalogue["category_groups"].values()
        for code in codes
    ]
    categories.sort(key=lambda choice: choice[1])
    areas: list[dict[str, Any]] = []
    for level in AREA_LEVELS:
        areas += await console.apis.call(
            "registry", "GET", "/areas", token=token, params={"level": level, "limit": MAX_AREAS}
        )
    names = {area["id"]: area["name"] for area in areas}
    choices = [
        {
            "id": area["id"],
            # A residential group is named with its ward: "Tổ dân phố 3 — Phường Hải Hòa".
            "label": f"{area['name']} — {names[area['parent_id']]}"
            if area["level"] == "residential_group" and area.get("parent_id") in names
            else area["name"],
        }
        for area in areas
    ]
    choices.sort(key=lambda choice: choice["label"])
    return categories, choices


def _tip_form(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
    choices: tuple[list[tuple[str, str]], list[dict[str, Any]]] | None = None,
) -> Response:
    categories, areas = choices or ([], [])
    return render(
        request,
        "tips/form.html",
        {
            "categories": categories,
            "areas": areas,
            "values": values or {"submission": str(uuid.uuid4())},
            "errors": errors or {},
            "general": general or [],
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/tips/new")
    async def tip_form(request: Request) -> Response:
        try:
            choices = await _choices(request)
        except ApiError:
            return render(request, "errors/unavailable.html", status=503)
        return _tip_form(request, choices=choices)

    @router.post("/tips/new", dependencies=[Depends(check_csrf)])
    async def submit_tip(
        request: Request,
        submission: Annotated[str, Form(max_length=64)] = "",
        category: Annotated[str, Form(max_length=64)] = "",
        area_id: Annotated[str, Form(max_length=64)] = "",
        occurred_at: Annotated[str, Form(max_length=32)] = "",
        place: Annotated[str, Form(max_length=500)] = "",
        narrative: Annotated[str, Form(max_length=4000)] = "",
        full_name: Annotated[str, Form(max_length=200)] = "",
        contact: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        values = {
            "submission": submission or str(uuid.uuid4()),
            "category": category,
            "area_id": area_id,
            "occurred_at": occurred_at,
            "place": place,
            "narrative": narrative,
            "full_name": full_name,
            "contact": contact,
        }
        try:
            choices = await _choices(request)
        except ApiError:
            return render(request, "errors/unavailable.html", status=503)
        errors: dict[str, str] = {}
        moment: datetime | None = None
        try:  # the browser's datetime-local has no zone: it is Vietnam's time
            moment = datetime.fromisoformat(occurred_at).replace(tzinfo=VIETNAM)
        except ValueError:
            errors["occurred_at"] = _("Enter a valid date and time.")
        else:
            if moment > datetime.now(VIETNAM):
                errors["occurred_at"] = _("The time must not be in the future.")
        if not narrative.strip():
            errors["narrative"] = _("This field is required.")
        for name in ("category", "area_id"):
            if not values[name]:
                errors[name] = _("This field is required.")
        if errors:
            return _tip_form(request, values, errors, status=422, choices=choices)
        assert moment is not None
        # The tip has no field of its own for the place: it leads the text the officer reads.
        summary = f"Địa điểm: {place.strip()}\n{narrative.strip()}" if place.strip() else narrative
        informant = {
            key: value.strip()
            for key, value in (("full_name", full_name), ("contact", contact))
            if value.strip()
        }
        body = {
            "area_id": area_id,
            "category": category,
            "summary": summary.strip(),
            "occurred_at": moment.isoformat(),
            "informant": informant or None,
        }
        try:
            # The form's own key: a double click or a retry gets the same receipt.
            receipt = await console_of(request).apis.call(
                "reporting",
                "POST",
                "/tips",
                json=body,
                headers={"Idempotency-Key": values["submission"], **resident_address(request)},
            )
        except ApiError as error:
            if error.status == 429:
                general = [
                    _(
                        "Too many tips are being sent right now. "
                        "Please wait a minute and send it again."
                    )
                ]
                return _tip_form(request, values, general=general, status=429, choices=choices)
            if error.status in (409, 422):
                by_field, general = field_errors(error, TIP_FIELDS)
                return _tip_form(request, values, by_field, general, error.status, choices)
            return _tip_form(
                request,
                values,
                general=[_("The tip could not be sent now. Please try again later.")],
                status=503,
                choices=choices,
            )
        log.info("console_tip_sent")  # nothing about the tip or its sender
        response = render(request, "tips/receipt.html", {"receipt": receipt}, status=201)
        return response

    @router.get("/tips/follow")
    async def follow_form(request: Request) -> Response:
        return render(request, "tips/follow.html", {"values": {}, "tip": None, "general": []})

    @router.post("/tips/follow", dependencies=[Depends(check_csrf)])
    async def follow_tip(
        request: Request,
        tip_number: Annotated[str, Form(max_length=40)] = "",
        secret: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        # The secret travels in a POST body and a header, never in an address (history, logs).
        number = tip_number.strip().upper()
        values = {"tip_number": number}
        if not number or len(secret.strip()) < 8:
            general = [_("Enter the tip number and the secret from your receipt.")]
            return render(
                request,
                "tips/follow.html",
                {"values": values, "tip": None, "general": general},
                status=422,
            )
        try:
            tip = await console_of(request).apis.call(
                "reporting",
                "GET",
                f"/tips/{number}",
                headers={"X-Tip-Secret": secret.strip(), **resident_address(request)},
            )
        except ApiError as error:
            if error.status in (404, 422):
                general = [_("No tip matches this number and secret.")]
                status = 404
            elif error.status == 429:
                general = [_("Too many attempts. Please wait a minute and try again.")]
                status = 429
            else:
                general = [_("The tip's status cannot be read now. Please try again later.")]
                status = 503
            return render(
                request,
                "tips/follow.html",
                {"values": values, "tip": None, "general": general},
                status=status,
            )
        tip["status_label"] = _(STATUS_LABELS.get(tip["status"], tip["status"]))
        received = datetime.fromisoformat(tip["received_at"])
        # A moment without a zone is UTC, as the services store them.
        tip["received"] = received if received.tzinfo else received.replace(tzinfo=UTC)
        return render(request, "tips/follow.html", {"values": values, "tip": tip, "general": []})

    return router


def resident_address(request: Request) -> dict[str, str]:
    """The resident's address for reporting's per-client tip limit, which trusts it from the
    console alone (ANTT_FORWARDED_ALLOW_IPS): else every resident shares the console's."""
    return {"X-Forwarded-For": request.client.host} if request.client is not None else {}
