"""``/areas``: the area tree the user may see (registry's ``GET /areas``, drawn from each
area's ``parent_id``); ``/areas/{id}``: an area's summary (teams by kind, distinct members,
cameras, running initiatives, from registry's kept counters) with its children."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.areas.records import (
    LEVEL_LABELS,
    MAX_AREAS,
    page,
    registry_of,
    visible_areas,
)
from services.console.common import error_page
from services.console.i18n import _, current_locale


def tree(areas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The areas as a forest: an area whose parent the user may not see is a root."""
    by_id = {area["id"]: {**area, "children": []} for area in areas}
    roots: list[dict[str, Any]] = []
    for node in by_id.values():
        parent = by_id.get(node.get("parent_id"))
        (parent["children"] if parent else roots).append(node)
    return roots


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/areas")
    async def area_tree(request: Request) -> Response:
        registry = await registry_of(request)
        try:
            areas = await visible_areas(registry)
        except ApiError as error:
            return await error_page(request, error)
        return page(
            request,
            "areas/tree.html",
            {"roots": tree(areas), "count": len(areas), "truncated": len(areas) >= MAX_AREAS},
        )

    @router.get("/areas/{area_id}")
    async def area_summary(request: Request, area_id: UUID) -> Response:
        registry = await registry_of(request)
        try:
            summary = await registry.call("GET", f"/areas/{area_id}/summary")
            below = await registry.call(
                "GET", "/areas", params={"area_id": str(area_id), "limit": 200}
            )
        except ApiError as error:
            return await error_page(request, error)
        area = summary["area"]
        area["level_label"] = _(LEVEL_LABELS.get(area["level"], area["level"]))
        children = [child for child in below if child.get("parent_id") == area["id"]]
        for child in children:
            child["level_label"] = _(LEVEL_LABELS.get(child["level"], child["level"]))
        parent = None
        if area.get("parent_id"):
            try:  # the parent may be outside the user's areas: then it is not linked
                parent = await registry.call("GET", f"/areas/{area['parent_id']}")
            except ApiError as error:
                if error.status not in (403, 404):
                    return await error_page(request, error)
        english = current_locale.get() == "en"
        kinds = [
            {**kind, "label": kind["name_en"] if english else kind["name_vi"]}
            for kind in summary["by_kind"]
        ]
        return page(
            request,
            "areas/summary.html",
            {
                "area": area,
                "summary": summary,
                "kinds": kinds,
                "children": children,
                "more_children": len(below) >= 200,
                "parent": parent,
            },
        )

    return router
