"""What the registry's pages (areas, teams, people, initiatives, cameras, imports) share:
the user's token on every call, paged lists, the areas to choose from, dates as people
type and read them, and registry's refusals as sentences next to the fields they name."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.auth.sessions import UserTokens
from services.console.common import _noop, console_of, current_user, error_text, render
from services.console.i18n import _, current_locale, format_day

PAGE_SIZE = 50
MAX_AREAS = 1000  # the tree a page draws; more is a province's, read by ward instead

LEVEL_LABELS = {
    "province": _noop("Province"),
    "district": _noop("District"),
    "ward": _noop("Ward"),
    "commune": _noop("Commune"),
    "residential_group": _noop("Residential group"),
}
ROLE_LABELS = {
    "leader": _noop("Leader"),
    "deputy": _noop("Deputy leader"),
    "member": _noop("Member"),
}
ROLES = ("leader", "deputy", "member")


class Registry:
    """Registry's API with the logged-in user's own token: its access rules apply."""

    def __init__(self, request: Request, user: UserTokens) -> None:
        self.request = request
        self.user = user

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        return await console_of(self.request).apis.call(
            "registry",
            method,
            path,
            token=self.user.access_token,
            params={key: value for key, value in (params or {}).items() if value not in ("", None)},
            json=json,
        )

    async def call_page(
        self, path: str, *, params: dict[str, Any] | None = None
    ) -> tuple[list[Any], int | None]:
        """A paged list: its rows and how many match in all (``None`` if not said)."""
        return await console_of(self.request).apis.call_page(
            "registry",
            path,
            token=self.user.access_token,
            params={key: value for key, value in (params or {}).items() if value not in ("", None)},
        )


async def registry_of(request: Request) -> Registry:
    return Registry(request, await current_user(request))


@dataclass(frozen=True)
class Page:
    """One page of a list: the API is asked for one more row than shown, so the page
    knows whether there is a next one; ``total`` is how many rows match in all, as the
    service counted them (``None`` if it did not say)."""

    items: list[dict[str, Any]]
    offset: int
    has_next: bool
    query: dict[str, str]
    total: int | None = None

    @property
    def first(self) -> int:
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items)

    def link(self, offset: int) -> str:
        return "?" + urlencode({**self.query, "offset": max(offset, 0)})

    @property
    def previous_link(self) -> str | None:
        return self.link(self.offset - PAGE_SIZE) if self.offset > 0 else None

    @property
    def next_link(self) -> str | None:
        return self.link(self.offset + PAGE_SIZE) if self.has_next else None


async def paged(registry: Registry, path: str, filters: dict[str, str], offset: int) -> Page:
    rows, total = await registry.call_page(
        path, params={**filters, "offset": offset, "limit": PAGE_SIZE + 1}
    )
    kept = {key: value for key, value in filters.items() if value}
    return Page(rows[:PAGE_SIZE], offset, len(rows) > PAGE_SIZE, kept, total)


async def visible_areas(registry: Registry) -> list[dict[str, Any]]:
    """The areas the user may see, by code (up to MAX_AREAS), each with its level's label."""
    areas: list[dict[str, Any]] = []
    while len(areas) < MAX_AREAS:
        batch = await registry.call("GET", "/areas", params={"offset": len(areas), "limit": 200})
        areas += batch
        if len(batch) < 200:
            break
    for area in areas:
        area["level_label"] = _(LEVEL_LABELS.get(area["level"], area["level"]))
    return areas


def area_choices(areas: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Areas for a select: "Tổ dân phố 3 (QN-HH-03)"."""
    return [(area["id"], f"{area['name']} ({area['code']})") for area in areas]


async def team_kinds(registry: Registry) -> list[tuple[str, str]]:
    """The catalogue of team kinds in the page's language."""
    kinds = await registry.call("GET", "/team-kinds")
    english = current_locale.get() == "en"
    return [(kind["code"], kind["name_en"] if english else kind["name_vi"]) for kind in kinds]


def as_day(value: str | date | None) -> str:
    """An API date (``2026-08-19``) as dd/mm/yyyy; nothing as a dash."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    return format_day(value)


def role_label(role: str) -> str:
    return _(ROLE_LABELS.get(role, role))


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """``render`` with what these pages' templates use besides the layout's."""
    return render(
        request,
        template,
        {"as_day": as_day, "role_label": role_label, "notice": None, **(context or {})},
        status=status,
    )


def offset_of(value: str | None) -> int:
    try:
        return min(max(int(value or 0), 0), 1_000_000)
    except ValueError:
        return 0


_SIZE = re.compile(r"has (?:at least (\d+)|(\d+) to (\d+)) members; this leaves (\d+)")
_AGE = re.compile(r"are (?:(\d+) to (\d+)|at least (\d+)|at most (\d+)) years old; .* is (\d+) on")
_LEADERS = re.compile(r"exactly one leader; this leaves (\d+)")


def describe(item: dict[str, Any]) -> str:
    """A registry refusal in the user's language: the team rules with their numbers,
    the date rules, and the common types (``common.error_text``) for the rest."""
    message = str(item.get("msg", ""))
    kind = str(item.get("type", ""))
    if message.startswith("rule team_size") and (found := _SIZE.search(message)):
        least, low, high, left = found.groups()
        if least is not None:
            return _("This team needs at least %(low)s members; this change leaves %(left)s.") % {
                "low": least,
                "left": left,
            }
        return _("This team has %(low)s to %(high)s members; this change leaves %(left)s.") % {
            "low": low,
            "high": high,
            "left": left,
        }
    if message.startswith("rule member_age") and (found := _AGE.search(message)):
        low, high, least, most, age = found.groups()
        low, high = low or least or "", high or most or ""
        return _("Members must be %(low)s to %(high)s years old; this person is %(age)s.") % {
            "low": low or "…",
            "high": high or "…",
            "age": age,
        }
    if message.startswith("rule one_leader") and (found := _LEADERS.search(message)):
        return _("A team has exactly one leader; this change leaves %(count)s.") % {
            "count": found.group(1)
        }
    if message.startswith("rule one_membership"):
        return _("This person is already on the team.")
    if message.startswith("rule coverage"):
        return _("A team covers residential groups only.")
    if message.startswith("rule level_order"):
        return _("This level cannot be placed under that area.")
    if "is not a current member" in message:
        return _("This person is no longer on the team.")
    if message.startswith("already the team's"):
        return _("This person already has that role.")
    if message.startswith("nothing to change"):
        return _("Nothing was changed.")
    if "full_name is required" in message:
        return _("Enter the person's full name.")
    if "cannot be in the future" in message:
        return _("The date must not be in the future.")
    if " is before " in message:
        return _("This date is earlier than the record allows.")
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return _("Enter a valid date.")
    if kind == "conflict":
        return _("This record has ended and takes no more changes.")
    return error_text(item)


def errors_by_field(
    error: ApiError, field_of: Callable[[list[str]], str | None]
) -> tuple[dict[str, str], list[str]]:
    """Like ``common.field_errors``, with the field found by a function of the whole
    ``loc`` (a member row's index matters) and the registry's rules described."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for item in error.detail:
        named = field_of([str(part) for part in item.get("loc", [])])
        if named is not None:
            by_field.setdefault(named, describe(item))
        else:
            general.append(describe(item))
    if not error.detail:
        general.append(_("This value is not accepted."))
    return by_field, general


def last_of(fields: dict[str, str]) -> Callable[[list[str]], str | None]:
    """The form field of a loc's last known part (``common.field_errors``'s rule)."""

    def field_of(loc: list[str]) -> str | None:
        return next((fields[part] for part in reversed(loc) if part in fields), None)

    return field_of


def parse_day(value: str) -> str | None:
    """A browser's date (``yyyy-mm-dd``) or a typed ``dd/mm/yyyy``, as ISO; None if neither."""
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    found = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if found:
        day, month, year = (int(part) for part in found.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            return None
    return None


def check_day(value: str, name: str, errors: dict[str, str], required: bool = False) -> str | None:
    """The form's date as ISO, recording an error for ``name`` when it is not one."""
    if not value.strip():
        if required:
            errors[name] = _("This field is required.")
        return None
    parsed = parse_day(value)
    if parsed is None:
        errors[name] = _("Enter a valid date.")
    elif parsed > date.today().isoformat():
        errors[name] = _("The date must not be in the future.")
    return parsed
