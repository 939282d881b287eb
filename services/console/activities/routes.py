"""The activity pages: the list with its filters, an activity's page, and the record form
in two steps without JavaScript (the type first, then its measures with their units from
reporting's catalogue). Everything through reporting's API with the officer's token."""

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.common import (
    _noop,
    check_csrf,
    error_page,
    error_text,
    redirect,
    render,
)
from services.console.i18n import _, format_number
from services.console.incidents.lookups import (
    PAGE_SIZE,
    area_choices,
    aware,
    call,
    call_page,
    form_errors,
    label,
    page_of,
    parse_day,
    reporting_catalogue,
    team_choices,
    today,
)

ACTIVITY_LABELS = {
    "outreach": _noop("Outreach session"),
    "patrol": _noop("Patrol"),
    "training": _noop("Training"),
    "mediation": _noop("Mediation"),
    "household_pledge": _noop("Household pledges"),
    "weapons_handover": _noop("Weapons and explosives handed in"),
    "footage_extraction": _noop("Camera footage extraction"),
    "eid_assistance": _noop("Electronic ID help"),
}
MEASURE_LABELS = {
    "sessions": _noop("Sessions"),
    "people_reached": _noop("People reached"),
    "patrols": _noop("Patrols"),
    "participants": _noop("Participants"),
    "cases": _noop("Cases"),
    "households": _noop("Households"),
    "extractions": _noop("Extractions"),
    "level_1_activated": _noop("Level 1 accounts activated"),
    "level_2_collected": _noop("Level 2 applications collected"),
    "level_2_activated": _noop("Level 2 accounts activated"),
}
# What people hand in (a type with free items): reporting takes any code, these are the
# ones the form offers, in the seeds' words.
HANDED_IN = {
    "military_guns": _noop("Military guns"),
    "homemade_gun": _noop("Homemade guns"),
    "ammunition": _noop("Ammunition"),
    "explosives": _noop("Explosives"),
    "firecrackers": _noop("Firecrackers"),
    "bladed_weapons": _noop("Knives, swords and other bladed weapons"),
    "other_weapons": _noop("Other weapons and support tools"),
}
MEASURE_LABELS.update(HANDED_IN)
UNIT_LABELS = {
    "count": _noop("times"),
    "people": _noop("persons"),
    "households": _noop("households"),
    "piece": _noop("pieces"),
    "kg": _noop("kg"),
    "g": _noop("g"),
    "litre": _noop("litres"),
    "box": _noop("boxes"),
    "round": _noop("rounds"),
}
OUTCOME_LABELS = {
    "successful": _noop("Successful"),
    "unsuccessful": _noop("Unsuccessful"),
}
FREE_ROWS = 5  # rows for a type with free items (weapons handed in: what, how much, unit)
FILTERS = ("activity_type", "area_id", "from", "to")
ACTIVITY_FIELDS = {
    "area_id": "area_id",
    "activity_type": "activity_type",
    "occurred_on": "occurred_on",
    "topic": "topic",
    "outcome": "outcome",
    "incident_id": "incident_id",
    "notes": "notes",
    "team_ids": "team_ids",
}


def _quantity(text: str) -> Decimal | None:
    """A quantity as people type it here: 1,5 or 1.5; 1.000 or 1 000 for a thousand."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(".") == 1 and len(cleaned.split(".")[1]) == 3 and cleaned[0] != "0":
        cleaned = cleaned.replace(".", "")  # 1.000: Vietnamese thousands
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _type_spec(catalogue: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((t for t in catalogue["activity_types"] if t["activity_type"] == kind), None)


def _measures_text(measures: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{label(MEASURE_LABELS, m['item'])}: {format_number(Decimal(str(m['quantity'])))} "
        f"{label(UNIT_LABELS, m['unit'])}"
        for m in measures
    )


def _row(item: dict[str, Any], areas: dict[str, str]) -> dict[str, Any]:
    return {
        **item,
        "day": parse_day(item["occurred_on"]),
        "type_label": label(ACTIVITY_LABELS, item["activity_type"]),
        "area_label": areas.get(item["area_id"], _("Area outside your list")),
        "measures_text": _measures_text(item["measures"]),
    }


def _form_context(catalogue: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec": spec,
        "type_label": label(ACTIVITY_LABELS, spec["activity_type"]),
        "fixed": [
            (item, label(MEASURE_LABELS, item), label(UNIT_LABELS, unit))
            for item, unit in spec["measures"].items()
        ],
        "free_rows": range(FREE_ROWS) if spec["free_items"] else range(0),
        "units": [(unit, label(UNIT_LABELS, unit)) for unit in catalogue["units"]],
        "handed_in": [(code, _(text)) for code, text in HANDED_IN.items()],
        "outcomes": [(code, label(OUTCOME_LABELS, code)) for code in spec["outcomes"]],
    }


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/activities")
    async def list_activities(request: Request, offset: int = 0) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "").strip() for name in FILTERS}
        errors = {
            name: _("Enter a valid date.")
            for name in ("from", "to")
            if filters[name] and parse_day(filters[name]) is None
        }
        offset = max(0, min(offset, 1_000_000))
        try:
            catalogue = await reporting_catalogue(request)
            areas = await area_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        rows: list[dict[str, Any]] = []
        total: int | None = None
        if not errors:
            try:
                rows, total = await call_page(
                    request,
                    "reporting",
                    "/activities",
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
        names = {area["id"]: area["label"] for area in areas}
        shown, page = page_of(rows, offset, "/activities", filters, total=total)
        types = [
            (t["activity_type"], label(ACTIVITY_LABELS, t["activity_type"]))
            for t in catalogue["activity_types"]
        ]
        return render(
            request,
            "activities/list.html",
            {
                "activities": [_row(item, names) for item in shown],
                "page": page,
                "filters": filters,
                "errors": errors,
                "areas": areas,
                "types": types,
                "done": _("The activity was recorded.") if query.get("done") else "",
            },
            status=422 if errors else 200,
        )

    @router.get("/activities/new")
    async def activity_form(request: Request, activity_type: str = "") -> Response:
        try:
            catalogue = await reporting_catalogue(request)
            spec = _type_spec(catalogue, activity_type) if activity_type else None
            if spec is None:
                types = [
                    (t["activity_type"], label(ACTIVITY_LABELS, t["activity_type"]))
                    for t in catalogue["activity_types"]
                ]
                return render(
                    request,
                    "activities/choose.html",
                    {
                        "types": types,
                        "error": _("Choose a value from the list.") if activity_type else "",
                    },
                    status=422 if activity_type else 200,
                )
            areas = await area_choices(request)
            teams = await team_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        values = {"submission": str(uuid.uuid4()), "occurred_on": today().isoformat()}
        return render(
            request,
            "activities/new.html",
            {
                **_form_context(catalogue, spec),
                "areas": areas,
                "teams": teams,
                "values": values,
                "team_ids": [],
                "errors": {},
                "general": [],
            },
        )

    @router.post("/activities/new", dependencies=[Depends(check_csrf)])
    async def record_activity(
        request: Request,
        submission: Annotated[str, Form(max_length=64)] = "",
        activity_type: Annotated[str, Form(max_length=64)] = "",
        area_id: Annotated[str, Form(max_length=64)] = "",
        occurred_on: Annotated[str, Form(max_length=32)] = "",
        topic: Annotated[str, Form(max_length=500)] = "",
        outcome: Annotated[str, Form(max_length=64)] = "",
        incident_id: Annotated[str, Form(max_length=64)] = "",
        notes: Annotated[str, Form(max_length=4000)] = "",
        team_ids: Annotated[list[str] | None, Form(max_length=50)] = None,
    ) -> Response:
        form = await request.form()
        try:
            catalogue = await reporting_catalogue(request)
            areas = await area_choices(request)
            teams = await team_choices(request)
        except ApiError as error:
            return await error_page(request, error)
        spec = _type_spec(catalogue, activity_type)
        if spec is None:
            return render(request, "errors/bad_request.html", status=422)
        values: dict[str, str] = {
            "submission": submission or str(uuid.uuid4()),
            "area_id": area_id,
            "occurred_on": occurred_on,
            "topic": topic,
            "outcome": outcome,
            "incident_id": incident_id,
            "notes": notes,
        }
        errors: dict[str, str] = {}
        # The measures in the order sent, each with the form field an error goes next to.
        measures: list[dict[str, Any]] = []
        measure_fields: list[str] = []
        for item in spec["measures"]:
            name = f"m_{item}"
            text = str(form.get(name, "")).strip()[:32]
            values[name] = text
            if not text:
                continue
            quantity = _quantity(text)
            if quantity is None or quantity <= 0:
                errors[name] = _("Enter a number greater than zero.")
                continue
            measures.append({"item": item, "quantity": str(quantity)})
            measure_fields.append(name)
        for row in range(FREE_ROWS if spec["free_items"] else 0):
            item = str(form.get(f"free{row}_item", "")).strip()[:64]
            unit = str(form.get(f"free{row}_unit", "")).strip()[:64]
            text = str(form.get(f"free{row}_quantity", "")).strip()[:32]
            values.update(
                {f"free{row}_item": item, f"free{row}_unit": unit, f"free{row}_quantity": text}
            )
            if not (item or text):
                continue
            quantity = _quantity(text)
            if not item:
                errors[f"free{row}_item"] = _("This field is required.")
            elif quantity is None or quantity <= 0:
                errors[f"free{row}_quantity"] = _("Enter a number greater than zero.")
            else:
                measures.append({"item": item, "unit": unit or None, "quantity": str(quantity)})
                measure_fields.append(f"free{row}_quantity")
        if not measures and not errors:
            errors["measures"] = _("Enter at least one quantity.")
        day = parse_day(occurred_on)
        if day is None:
            errors["occurred_on"] = _("Enter a valid date.")
        elif day > today():
            errors["occurred_on"] = _("The date must not be in the future.")
        if not area_id:
            errors["area_id"] = _("This field is required.")
        chosen = [team for team in team_ids or [] if team]

        def again(errors: dict[str, str], general: list[str], status: int) -> Response:
            assert spec is not None
            context = {
                **_form_context(catalogue, spec),
                "areas": areas,
                "teams": teams,
                "values": values,
                "team_ids": chosen,
                "errors": errors,
                "general": general,
            }
            return render(request, "activities/new.html", context, status=status)

        if errors:
            return again(errors, [], 422)
        body: dict[str, Any] = {
            "area_id": area_id,
            "activity_type": activity_type,
            "occurred_on": occurred_on,
            "measures": measures,
            "team_ids": chosen,
        }
        for name in ("topic", "outcome", "incident_id", "notes"):
            if values[name].strip():
                body[name] = values[name].strip()
        try:
            await call(
                request,
                "reporting",
                "POST",
                "/activities",
                json=body,
                headers={"Idempotency-Key": values["submission"]},
            )
        except ApiError as error:
            if error.status not in (409, 422):
                return await error_page(request, error)
            by_field, general = form_errors(error, ACTIVITY_FIELDS)
            # A measure's error (["body", "measures", i, …]) goes next to its quantity.
            for item in error.detail:
                loc = list(item.get("loc", []))
                if "measures" in loc:
                    at = loc.index("measures") + 1
                    index = loc[at] if at < len(loc) else None
                    target = (
                        measure_fields[index]
                        if isinstance(index, int) and index < len(measure_fields)
                        else "measures"
                    )
                    by_field.setdefault(target, error_text(item))
                    general = [g for g in general if g != error_text(item)]
            return again(by_field, general, error.status)
        return redirect(request, "/activities?done=1")

    @router.get("/activities/{activity_id}")
    async def activity_page(request: Request, activity_id: uuid.UUID) -> Response:
        try:
            activity = await call(request, "reporting", "GET", f"/activities/{activity_id}")
            areas = {area["id"]: area["label"] for area in await area_choices(request)}
            teams = {team["id"]: team["name"] for team in await team_choices(request)}
        except ApiError as error:
            return await error_page(request, error)
        view = _row(activity, areas)
        view["recorded"] = aware(activity["recorded_at"])
        view["team_names"] = [teams.get(team, team) for team in activity["team_ids"]]
        view["outcome_label"] = label(OUTCOME_LABELS, activity.get("outcome"))
        view["measure_rows"] = [
            (
                label(MEASURE_LABELS, m["item"]),
                Decimal(str(m["quantity"])),
                label(UNIT_LABELS, m["unit"]),
            )
            for m in activity["measures"]
        ]
        return render(request, "activities/detail.html", {"activity": view})

    return router
