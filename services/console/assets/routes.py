"""``/initiatives`` (mô hình): list, launch, and on each one's page record a result, stop
it with the reason, or launch it again; ``/cameras``: list, record an installation, and
record a camera taken down. Each is registry's use case, called with the user's token."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.areas.records import (
    Registry,
    area_choices,
    check_day,
    errors_by_field,
    last_of,
    offset_of,
    page,
    paged,
    registry_of,
    visible_areas,
)
from services.console.common import _noop, check_csrf, error_page, redirect
from services.console.i18n import _

INITIATIVE_STATUS = {"running": _noop("Running"), "stopped": _noop("Stopped")}
CAMERA_STATUS = {"installed": _noop("Installed"), "removed": _noop("Removed")}
FUNDING_LABELS = {
    "state_budget": _noop("State budget"),
    "socialised": _noop("Contributions from residents and sponsors"),
    "mixed": _noop("Mixed"),
    "business": _noop("A business"),
    "other": _noop("Other"),
}
DONE = {
    "launched": _noop("The initiative is launched."),
    "result": _noop("The result is recorded."),
    "stopped": _noop("The initiative is stopped."),
    "relaunched": _noop("The initiative is launched again."),
    "installed": _noop("The camera is recorded."),
    "removed": _noop("The camera's removal is recorded."),
}
Day = Annotated[str, Form(max_length=32)]
Text = Annotated[str, Form(max_length=300)]
LongText = Annotated[str, Form(max_length=4000)]


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done")
    return _(DONE[done]) if done in DONE else None


def _labels(labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in labels.items()]


async def _listing(
    request: Request, path: str, template: str, statuses: dict[str, str]
) -> Response:
    registry = await registry_of(request)
    query = request.query_params
    filters = {"area_id": query.get("area_id", ""), "status": query.get("status", "")}
    try:
        areas = await visible_areas(registry)
        listing = await paged(registry, path, filters, offset_of(query.get("offset")))
    except ApiError as error:
        if error.status == 422:
            return redirect(request, path)
        return await error_page(request, error)
    names = {area["id"]: area["name"] for area in areas}
    for item in listing.items:
        item["area_name"] = names.get(item["area_id"], "—")
        item["status_label"] = _(statuses.get(item["status"], item["status"]))
        if "funding" in item:
            item["funding_label"] = _(FUNDING_LABELS.get(item["funding"], item["funding"]))
    return page(
        request,
        template,
        {
            "listing": listing,
            "filters": filters,
            "areas": area_choices(areas),
            "statuses": _labels(statuses),
        },
    )


async def _create_form(
    request: Request,
    registry: Registry,
    template: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        areas = await visible_areas(registry)
    except ApiError as error:
        return await error_page(request, error)
    return page(
        request,
        template,
        {
            "values": values or {"area_id": request.query_params.get("area_id", "")},
            "errors": errors or {},
            "general": general or [],
            "areas": area_choices(areas),
            "fundings": _labels(FUNDING_LABELS),
        },
        status=status,
    )


async def _created(
    request: Request,
    registry: Registry,
    path: str,
    body: dict[str, Any],
    template: str,
    values: dict[str, str],
    fields: dict[str, str],
    done: str,
) -> Response:
    try:
        created = await registry.call("POST", path, json=body)
    except ApiError as error:
        if error.status in (409, 422):
            errors, general = errors_by_field(error, last_of(fields))
            return await _create_form(
                request, registry, template, values, errors, general, error.status
            )
        return await error_page(request, error)
    return redirect(request, f"{path}/{created['id']}?done={done}")


async def _initiative_page(
    request: Request,
    registry: Registry,
    initiative_id: UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        initiative = await registry.call("GET", f"/initiatives/{initiative_id}")
        area = await registry.call("GET", f"/areas/{initiative['area_id']}")
    except ApiError as error:
        return await error_page(request, error)
    initiative["status_label"] = _(INITIATIVE_STATUS.get(initiative["status"], ""))
    return page(
        request,
        "assets/initiative.html",
        {
            "initiative": initiative,
            "area": area,
            "values": values or {},
            "errors": errors or {},
            "general": general or [],
            "notice": _notice(request),
        },
        status=status,
    )


async def _camera_page(
    request: Request,
    registry: Registry,
    camera_id: UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        camera = await registry.call("GET", f"/cameras/{camera_id}")
        area = await registry.call("GET", f"/areas/{camera['area_id']}")
    except ApiError as error:
        return await error_page(request, error)
    camera["status_label"] = _(CAMERA_STATUS.get(camera["status"], camera["status"]))
    camera["funding_label"] = _(FUNDING_LABELS.get(camera["funding"], camera["funding"]))
    return page(
        request,
        "assets/camera.html",
        {
            "camera": camera,
            "area": area,
            "values": values or {},
            "errors": errors or {},
            "general": general or [],
            "notice": _notice(request),
        },
        status=status,
    )


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/initiatives")
    async def initiatives(request: Request) -> Response:
        return await _listing(request, "/initiatives", "assets/initiatives.html", INITIATIVE_STATUS)

    @router.get("/initiatives/new")
    async def new_initiative(request: Request) -> Response:
        registry = await registry_of(request)
        return await _create_form(request, registry, "assets/new_initiative.html")

    @router.post("/initiatives/new", dependencies=[Depends(check_csrf)])
    async def launch_initiative(
        request: Request,
        area_id: Annotated[str, Form(max_length=64)] = "",
        name: Annotated[str, Form(max_length=200)] = "",
        description: LongText = "",
        launched_on: Day = "",
    ) -> Response:
        registry = await registry_of(request)
        values = {
            "area_id": area_id,
            "name": name,
            "description": description,
            "launched_on": launched_on,
        }
        errors: dict[str, str] = {}
        for field, value in (("area_id", area_id), ("name", name)):
            if not value.strip():
                errors[field] = _("This field is required.")
        day = check_day(launched_on, "launched_on", errors, required=True)
        template = "assets/new_initiative.html"
        if errors:
            return await _create_form(request, registry, template, values, errors, status=422)
        body = {
            "area_id": area_id,
            "name": name.strip(),
            "description": description.strip(),
            "launched_on": day,
        }
        fields = {key: key for key in values}
        return await _created(
            request, registry, "/initiatives", body, template, values, fields, "launched"
        )

    @router.get("/initiatives/{initiative_id}")
    async def initiative(request: Request, initiative_id: UUID) -> Response:
        return await _initiative_page(request, await registry_of(request), initiative_id)

    async def _initiative_change(
        request: Request,
        initiative_id: UUID,
        action: str,
        body: dict[str, Any],
        values: dict[str, str],
        errors: dict[str, str],
        fields: dict[str, str],
        done: str,
    ) -> Response:
        registry = await registry_of(request)
        if errors:
            return await _initiative_page(
                request, registry, initiative_id, values, errors, status=422
            )
        try:
            await registry.call("POST", f"/initiatives/{initiative_id}/{action}", json=body)
        except ApiError as error:
            if error.status in (409, 422):
                by_field, general = errors_by_field(error, last_of(fields))
                return await _initiative_page(
                    request, registry, initiative_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/initiatives/{initiative_id}?done={done}")

    @router.post("/initiatives/{initiative_id}/results", dependencies=[Depends(check_csrf)])
    async def record_result(
        request: Request, initiative_id: UUID, recorded_on: Day = "", summary: LongText = ""
    ) -> Response:
        values = {"recorded_on": recorded_on, "summary": summary}
        errors: dict[str, str] = {}
        day = check_day(recorded_on, "recorded_on", errors, required=True)
        if not summary.strip():
            errors["summary"] = _("This field is required.")
        body = {"recorded_on": day, "summary": summary.strip()}
        fields = {"recorded_on": "recorded_on", "summary": "summary"}
        return await _initiative_change(
            request, initiative_id, "results", body, values, errors, fields, "result"
        )

    @router.post("/initiatives/{initiative_id}/stop", dependencies=[Depends(check_csrf)])
    async def stop_initiative(
        request: Request, initiative_id: UUID, stopped_on: Day = "", stop_reason: LongText = ""
    ) -> Response:
        values = {"stopped_on": stopped_on, "stop_reason": stop_reason}
        errors: dict[str, str] = {}
        day = check_day(stopped_on, "stopped_on", errors, required=True)
        if not stop_reason.strip():
            errors["stop_reason"] = _("This field is required.")
        body = {"stopped_on": day, "reason": stop_reason.strip()[:1000]}
        fields = {"stopped_on": "stopped_on", "reason": "stop_reason", "path": "stop_reason"}
        return await _initiative_change(
            request, initiative_id, "stop", body, values, errors, fields, "stopped"
        )

    @router.post("/initiatives/{initiative_id}/relaunch", dependencies=[Depends(check_csrf)])
    async def relaunch_initiative(
        request: Request, initiative_id: UUID, relaunched_on: Day = ""
    ) -> Response:
        values = {"relaunched_on": relaunched_on}
        errors: dict[str, str] = {}
        day = check_day(relaunched_on, "relaunched_on", errors, required=True)
        fields = {"launched_on": "relaunched_on", "path": "relaunched_on"}
        return await _initiative_change(
            request,
            initiative_id,
            "relaunch",
            {"launched_on": day},
            values,
            errors,
            fields,
            "relaunched",
        )

    @router.get("/cameras")
    async def cameras(request: Request) -> Response:
        return await _listing(request, "/cameras", "assets/cameras.html", CAMERA_STATUS)

    @router.get("/cameras/new")
    async def new_camera(request: Request) -> Response:
        registry = await registry_of(request)
        return await _create_form(request, registry, "assets/new_camera.html")

    @router.post("/cameras/new", dependencies=[Depends(check_csrf)])
    async def install_camera(
        request: Request,
        area_id: Annotated[str, Form(max_length=64)] = "",
        location: Text = "",
        funding: Annotated[str, Form(max_length=64)] = "",
        funded_by: Annotated[str, Form(max_length=200)] = "",
        installed_on: Day = "",
    ) -> Response:
        registry = await registry_of(request)
        values = {
            "area_id": area_id,
            "location": location,
            "funding": funding,
            "funded_by": funded_by,
            "installed_on": installed_on,
        }
        errors: dict[str, str] = {}
        for field in ("area_id", "location", "funding"):
            if not values[field].strip():
                errors[field] = _("This field is required.")
        day = check_day(installed_on, "installed_on", errors, required=True)
        template = "assets/new_camera.html"
        if errors:
            return await _create_form(request, registry, template, values, errors, status=422)
        body = {
            "area_id": area_id,
            "location": location.strip(),
            "funding": funding,
            "funded_by": funded_by.strip() or None,
            "installed_on": day,
        }
        fields = {key: key for key in values}
        return await _created(
            request, registry, "/cameras", body, template, values, fields, "installed"
        )

    @router.get("/cameras/{camera_id}")
    async def camera(request: Request, camera_id: UUID) -> Response:
        return await _camera_page(request, await registry_of(request), camera_id)

    @router.post("/cameras/{camera_id}/remove", dependencies=[Depends(check_csrf)])
    async def remove_camera(
        request: Request, camera_id: UUID, removed_on: Day = "", removal_reason: LongText = ""
    ) -> Response:
        registry = await registry_of(request)
        values = {"removed_on": removed_on, "removal_reason": removal_reason}
        errors: dict[str, str] = {}
        day = check_day(removed_on, "removed_on", errors, required=True)
        if not removal_reason.strip():
            errors["removal_reason"] = _("This field is required.")
        if errors:
            return await _camera_page(request, registry, camera_id, values, errors, status=422)
        body = {"removed_on": day, "reason": removal_reason.strip()[:1000]}
        try:
            await registry.call("POST", f"/cameras/{camera_id}/remove", json=body)
        except ApiError as error:
            if error.status in (409, 422):
                fields = {"removed_on": "removed_on", "reason": "removal_reason"}
                by_field, general = errors_by_field(error, last_of(fields))
                return await _camera_page(
                    request, registry, camera_id, values, by_field, general, error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/cameras/{camera_id}?done=removed")

    return router
