"""``/``: for a visitor, the way in (log in, or send a tip); for a logged-in user, the
areas they may see, from registry's ``GET /areas`` with their own token."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.common import (
    NeedsLogin,
    _noop,
    console_of,
    current_user,
    error_page,
    render,
)
from services.console.i18n import _

LEVEL_LABELS = {
    "province": _noop("Province"),
    "district": _noop("District"),
    "ward": _noop("Ward"),
    "commune": _noop("Commune"),
    "residential_group": _noop("Residential group"),
}
AREAS_SHOWN = 200


async def _areas(request: Request) -> Response:
    user = await current_user(request)
    try:
        areas: list[dict[str, Any]] = await console_of(request).apis.call(
            "registry", "GET", "/areas", token=user.access_token, params={"limit": AREAS_SHOWN}
        )
    except ApiError as error:
        return await error_page(request, error)
    for area in areas:
        area["level_label"] = _(LEVEL_LABELS.get(area["level"], area["level"]))
    return render(request, "home/areas.html", {"areas": areas, "limit": AREAS_SHOWN})


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/")
    async def home(request: Request, logged_out: int = 0) -> Response:
        try:
            return await _areas(request)
        except NeedsLogin:
            return render(request, "home/welcome.html", {"logged_out": bool(logged_out)})

    return router
