"""``/people``: the people of the user's areas (by name, paged); ``/people/{id}``: a
person with every membership, current and past, and their honours."""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.areas.records import (
    area_choices,
    offset_of,
    page,
    paged,
    registry_of,
    team_kinds,
    visible_areas,
)
from services.console.common import error_page, redirect


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/people")
    async def people(request: Request) -> Response:
        registry = await registry_of(request)
        query = request.query_params
        filters = {"area_id": query.get("area_id", ""), "q": query.get("q", "").strip()[:100]}
        try:
            areas = await visible_areas(registry)
            listing = await paged(registry, "/people", filters, offset_of(query.get("offset")))
        except ApiError as error:
            if error.status == 422:
                return redirect(request, "/people")
            return await error_page(request, error)
        names = {area["id"]: area["name"] for area in areas}
        for person in listing.items:
            person["area_name"] = names.get(person["area_id"], "—")
        return page(
            request,
            "teams/people.html",
            {"listing": listing, "filters": filters, "areas": area_choices(areas)},
        )

    @router.get("/people/{person_id}")
    async def person(request: Request, person_id: UUID) -> Response:
        registry = await registry_of(request)
        try:
            profile = await registry.call("GET", f"/people/{person_id}")
            kinds = dict(await team_kinds(registry))
        except ApiError as error:
            return await error_page(request, error)
        for membership in profile["memberships"]:
            membership["kind_label"] = kinds.get(membership["team_kind"], membership["team_kind"])
        return page(request, "teams/person.html", {"person": profile})

    return router
