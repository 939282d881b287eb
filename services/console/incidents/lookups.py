"""What the incident, activity and award pages share: the user's areas and teams for the
forms' choices (registry, with the user's own token), the labels of reporting's codes,
list paging, and a service's CSV streamed through to the browser."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from services.console.apis import ApiError, _detail
from services.console.common import (
    _noop,
    console_of,
    current_user,
    error_page,
    field_errors,
    render,
)
from services.console.i18n import VIETNAM, _
from services.console.tips.routes import CATEGORY_LABELS
from shared.logging import CORRELATION_HEADER, current_correlation_id

PAGE_SIZE = 50
CHOICES_LIMIT = 200  # a ward's areas and teams fit; a bigger scope needs a search box

# The officers' words for an incident's statuses (the residents' tip page has its own).
INCIDENT_STATUS_LABELS = {
    "reported": _noop("Reported"),
    "verified": _noop("Verified"),
    "resolved": _noop("Resolved"),
    "mediated": _noop("Mediated"),
    "referred": _noop("Referred"),
    "dismissed": _noop("Dismissed as unfounded"),
}
SOURCE_LABELS = {
    "resident_tip": _noop("Resident's tip"),
    "patrol": _noop("Patrol"),
    "camera": _noop("Camera"),
    "police": _noop("Police"),
    "other": _noop("Other"),
}
SEVERITY_LABELS = {
    "minor": _noop("Minor (not a crime)"),
    "less_serious": _noop("Less serious"),
    "serious": _noop("Serious"),
    "very_serious": _noop("Very serious"),
    "especially_serious": _noop("Especially serious"),
}
CATEGORY_GROUP_LABELS = {
    "crime": _noop("Crime"),
    "drugs_social_evils": _noop("Drugs and social evils"),
    "public_order": _noop("Public order"),
    "traffic": _noop("Traffic"),
    "fire_explosion": _noop("Fire and explosion"),
    "administrative": _noop("Administrative violations"),
    "security": _noop("National security"),
}


def label(labels: dict[str, str], code: str | None) -> str:
    """A code's label in the user's language; a configured code without one as it is."""
    if code is None:
        return ""
    return _(labels[code]) if code in labels else code


def category_label(code: str | None) -> str:
    return label(CATEGORY_LABELS, code)


def aware(moment: str) -> datetime:
    """A service's moment; one without a zone is UTC, as the services store them."""
    value = datetime.fromisoformat(moment)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def today() -> date:
    """The day in Vietnam, as the services count days."""
    return datetime.now(VIETNAM).date()


async def token_of(request: Request) -> str:
    return (await current_user(request)).access_token


async def call(request: Request, service: str, method: str, path: str, **kwargs: Any) -> Any:
    """A service's API with the logged-in user's token (NeedsLogin when there is none)."""
    token = await token_of(request)
    return await console_of(request).apis.call(service, method, path, token=token, **kwargs)


async def call_page(
    request: Request, service: str, path: str, params: dict[str, Any]
) -> tuple[list[Any], int | None]:
    """A paged list with the logged-in user's token: its rows and how many match in all."""
    token = await token_of(request)
    return await console_of(request).apis.call_page(service, path, token=token, params=params)


async def area_choices(request: Request) -> list[dict[str, Any]]:
    """The areas the user may see (registry decides), a residential group named with its
    ward: "Tổ dân phố 3 — Phường Hải Hòa"."""
    areas: list[dict[str, Any]] = await call(
        request, "registry", "GET", "/areas", params={"limit": CHOICES_LIMIT}
    )
    names = {area["id"]: area["name"] for area in areas}
    choices = [
        {
            "id": area["id"],
            "level": area["level"],
            "label": f"{area['name']} — {names[area['parent_id']]}"
            if area["level"] == "residential_group" and area.get("parent_id") in names
            else area["name"],
        }
        for area in areas
    ]
    choices.sort(key=lambda choice: choice["label"])
    return choices


async def team_choices(request: Request) -> list[dict[str, Any]]:
    """The active teams of the user's areas, by name."""
    teams: list[dict[str, Any]] = await call(
        request, "registry", "GET", "/teams", params={"status": "active", "limit": CHOICES_LIMIT}
    )
    teams.sort(key=lambda team: team["name"])
    return teams


async def reporting_catalogue(request: Request) -> dict[str, Any]:
    catalogue: dict[str, Any] = await call(request, "reporting", "GET", "/catalogue")
    return catalogue


def category_choices(catalogue: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The categories by group, for a select's optgroups."""
    return [
        (
            label(CATEGORY_GROUP_LABELS, group),
            sorted(((code, category_label(code)) for code in codes), key=lambda c: c[1]),
        )
        for group, codes in catalogue["category_groups"].items()
    ]


@dataclass(frozen=True)
class Page:
    """One page of a list the services page with offset and limit: one more row than
    shown is asked for, to know whether a next page exists; the services say how many
    rows match in all (``count``, ``None`` when not known)."""

    offset: int
    shown: int
    has_next: bool
    previous_url: str | None
    next_url: str | None
    count: int | None = None

    @property
    def first(self) -> int:
        return self.offset + 1 if self.shown else 0

    @property
    def last(self) -> int:
        return self.offset + self.shown

    @property
    def total(self) -> int | None:
        """As the service counted it; else known only on the last page."""
        if self.count is not None:
            return self.count
        return None if self.has_next else self.offset + self.shown


def page_of(
    rows: list[Any],
    offset: int,
    path: str,
    filters: dict[str, str],
    size: int = PAGE_SIZE,
    total: int | None = None,
) -> tuple[list[Any], Page]:
    """``rows`` asked with ``limit=size + 1``: the rows to show and the page's links;
    ``total``, the service's count of all matching rows, when it gave one."""
    kept = {key: value for key, value in filters.items() if value}

    def url(at: int) -> str:
        query = {**kept, "offset": str(at)} if at else kept
        return f"{path}?{urlencode(query)}" if query else path

    has_next = len(rows) > size
    shown = rows[:size]
    return shown, Page(
        offset=offset,
        shown=len(shown),
        has_next=has_next,
        previous_url=url(max(offset - size, 0)) if offset > 0 else None,
        next_url=url(offset + size) if has_next else None,
        count=total,
    )


async def stream_csv(
    request: Request, service: str, path: str, params: dict[str, str], filename: str
) -> Response:
    """A service's CSV export, streamed to the browser as it comes, with the user's token
    (so the service's own scope applies); a refusal is the console's page."""
    console = console_of(request)
    token = await token_of(request)
    headers = {"Authorization": f"Bearer {token}"}
    correlation = current_correlation_id()
    if correlation:
        headers[CORRELATION_HEADER] = correlation
    http = console.apis.http
    upstream = http.build_request(
        "GET",
        f"{console.apis.urls[service]}{path}",
        params={key: value for key, value in params.items() if value},
        headers=headers,
    )
    try:
        response = await http.send(upstream, stream=True)
    except httpx.HTTPError:
        return await error_page(request, ApiError(503))
    if response.status_code >= 400:
        await response.aread()
        await response.aclose()
        error = ApiError(response.status_code, _detail(response))
        if error.status == 422:  # a filter the service refuses
            return render(request, "errors/bad_request.html", status=422)
        return await error_page(request, error)

    async def body() -> Any:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    return StreamingResponse(
        body(),
        media_type=response.headers.get("content-type", "text/csv; charset=utf-8"),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def form_errors(
    error: ApiError, fields: dict[str, str], conflict: str | None = None
) -> tuple[dict[str, str], list[str]]:
    """``field_errors``, with a page's own sentence for a 409 conflict (an illegal move,
    an award already held) where the general one would say too little."""
    by_field, general = field_errors(error, fields)
    if conflict and error.status == 409 and not error.not_yet_known:
        by_field = {name: _(conflict) for name in by_field}
        if not by_field:
            general = [_(conflict)]
    return by_field, general
