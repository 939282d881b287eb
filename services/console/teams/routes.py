"""``/teams``: the teams the user may see (filters, paged); ``/teams/new``: register a team
with its roster; ``/teams/{id}``: the team, its roster and history, and the forms that
change it (a member joins, a member leaves, roles change together, the team is
dissolved). Every change is registry's use case, called with the user's own token."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from services.console.apis import ApiError
from services.console.areas.records import (
    ROLE_LABELS,
    ROLES,
    Registry,
    area_choices,
    check_day,
    errors_by_field,
    last_of,
    offset_of,
    page,
    paged,
    registry_of,
    role_label,
    team_kinds,
    visible_areas,
)
from services.console.common import _noop, check_csrf, error_page, redirect
from services.console.i18n import _
from services.console.teams import imports, people

MEMBER_ROWS = 6
MEMBER_FIELDS = ("full_name", "birth_date", "phone", "role", "joined_on")
STATUS_LABELS = {"active": _noop("Active"), "dissolved": _noop("Dissolved")}
DONE = {
    "registered": _noop("The team is registered."),
    "added": _noop("The member was added."),
    "left": _noop("The member's leaving is recorded."),
    "roles": _noop("The roles are changed."),
    "dissolved": _noop("The team is dissolved."),
}
TEAM_FIELDS = {
    "area_id": "area_id",
    "name": "name",
    "kind": "kind",
    "founded_on": "founded_on",
    "number": "decision_number",
    "issued_on": "decision_issued_on",
    "issuer": "decision_issuer",
}
Text = Annotated[str, Form(max_length=200)]
LongText = Annotated[str, Form(max_length=1000)]


def _label(kinds: list[tuple[str, str]]) -> dict[str, str]:
    return dict(kinds)


# --- the list ---------------------------------------------------------------------------


async def _team_list(request: Request, registry: Registry) -> Response:
    query = request.query_params
    filters = {
        "area_id": query.get("area_id", ""),
        "kind": query.get("kind", ""),
        "status": query.get("status", ""),
        "q": query.get("q", "").strip()[:100],
    }
    try:
        kinds = await team_kinds(registry)
        areas = await visible_areas(registry)
        listing = await paged(registry, "/teams", filters, offset_of(query.get("offset")))
    except ApiError as error:
        if error.status == 422:  # a filter registry refuses: the list without it
            return redirect(request, "/teams")
        return await error_page(request, error)
    names = {area["id"]: area["name"] for area in areas}
    kind_names = _label(kinds)
    for team in listing.items:
        team["area_name"] = names.get(team["area_id"], "—")
        team["kind_label"] = kind_names.get(team["kind"], team["kind"])
        team["status_label"] = _(STATUS_LABELS.get(team["status"], team["status"]))
    return page(
        request,
        "teams/list.html",
        {
            "listing": listing,
            "filters": filters,
            "kinds": kinds,
            "areas": area_choices(areas),
            "statuses": [(code, _(label)) for code, label in STATUS_LABELS.items()],
        },
    )


# --- registering a team -----------------------------------------------------------------


async def _new_team_form(
    request: Request,
    registry: Registry,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        kinds = await team_kinds(registry)
        areas = await visible_areas(registry)
    except ApiError as error:
        return await error_page(request, error)
    places = [area for area in areas if area["level"] in ("ward", "commune", "residential_group")]
    return page(
        request,
        "teams/new.html",
        {
            "values": values
            or {
                "area_id": request.query_params.get("area_id", ""),
                **{
                    f"m{row}_role": "leader" if row == 0 else "member" for row in range(MEMBER_ROWS)
                },
            },
            "errors": errors or {},
            "general": general or [],
            "kinds": kinds,
            "areas": area_choices(places),
            "rows": range(MEMBER_ROWS),
            "roles": [(role, _(label)) for role, label in _role_labels()],
        },
        status=status,
    )


def _role_labels() -> list[tuple[str, str]]:
    return [(role, ROLE_LABELS[role]) for role in ROLES]


def _members_of(
    form: dict[str, str], errors: dict[str, str]
) -> tuple[list[dict[str, Any]], list[int]]:
    """The member rows that were filled in, and which row each came from."""
    members: list[dict[str, Any]] = []
    rows: list[int] = []
    for row in range(MEMBER_ROWS):
        name = form.get(f"m{row}_full_name", "").strip()
        birth = form.get(f"m{row}_birth_date", "")
        phone = form.get(f"m{row}_phone", "").strip()
        if not (name or birth.strip() or phone):
            continue
        if not name:
            errors[f"m{row}_full_name"] = _("Enter the person's full name.")
        member: dict[str, Any] = {
            "full_name": name,
            "role": form.get(f"m{row}_role") or "member",
        }
        if birth_date := check_day(birth, f"m{row}_birth_date", errors):
            member["birth_date"] = birth_date
        if phone:
            member["phone"] = phone[:32]
        members.append(member)
        rows.append(row)
    return members, rows


def _team_field(rows: list[int]) -> Any:
    """Where an error of ``POST /teams`` belongs on the form: a member row's own field,
    the member rows as a whole (size, one leader), or a team field."""
    team_field = last_of(TEAM_FIELDS)

    def field_of(loc: list[str]) -> str | None:
        if "members" in loc:
            after = loc[loc.index("members") + 1 :]
            if after and after[0].isdigit() and int(after[0]) < len(rows):
                row = rows[int(after[0])]
                name = next((part for part in after[1:] if part in MEMBER_FIELDS), "full_name")
                return f"m{row}_{name}"
            return "members"
        return team_field(loc)

    return field_of


# --- one team ----------------------------------------------------------------------------


async def _team_page(
    request: Request,
    registry: Registry,
    team_id: UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        team = await registry.call("GET", f"/teams/{team_id}")
        history = await registry.call("GET", f"/teams/{team_id}/members", params={"limit": 200})
        kinds = await team_kinds(registry)
        area = await registry.call("GET", f"/areas/{team['area_id']}")
        candidates = await registry.call(
            "GET", "/people", params={"area_id": team["area_id"], "limit": 200}
        )
    except ApiError as error:
        return await error_page(request, error)
    serving = {member["person_id"] for member in team["members"]}
    done = request.query_params.get("done")
    return page(
        request,
        "teams/team.html",
        {
            "team": team,
            "area": area,
            "kind_label": _label(kinds).get(team["kind"], team["kind"]),
            "status_label": _(STATUS_LABELS.get(team["status"], team["status"])),
            "history": [member for member in history if member.get("left_on")],
            "candidates": [
                (person["id"], person["full_name"])
                for person in candidates
                if person["id"] not in serving
            ],
            "current": [
                (member["person_id"], f"{member['full_name']} ({role_label(member['role'])})")
                for member in team["members"]
            ],
            "roles": [(role, _(label)) for role, label in _role_labels()],
            "values": values or {},
            "errors": errors or {},
            "general": general or [],
            "notice": _(DONE[done]) if done in DONE else None,
        },
        status=status,
    )


async def _change(
    request: Request,
    registry: Registry,
    team_id: UUID,
    path: str,
    body: dict[str, Any],
    values: dict[str, str],
    field_of: Any,
    done: str,
) -> Response:
    """Send one roster or team change; its refusal is shown by the form that sent it."""
    try:
        await registry.call("POST", path, json=body)
    except ApiError as error:
        if error.status in (409, 422) and not error.not_yet_known:
            errors, general = errors_by_field(error, field_of)
            return await _team_page(
                request, registry, team_id, values, errors, general, status=error.status
            )
        return await error_page(request, error)
    return redirect(request, f"/teams/{team_id}?done={done}")


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/teams")
    async def team_list(request: Request) -> Response:
        return await _team_list(request, await registry_of(request))

    @router.get("/teams/new")
    async def new_team(request: Request) -> Response:
        return await _new_team_form(request, await registry_of(request))

    @router.post("/teams/new", dependencies=[Depends(check_csrf)])
    async def register_team(request: Request) -> Response:
        registry = await registry_of(request)
        submitted = await request.form()
        form = {key: value[:1000] for key, value in submitted.items() if isinstance(value, str)}
        errors: dict[str, str] = {}
        for name in ("area_id", "name", "kind"):
            if not form.get(name, "").strip():
                errors[name] = _("This field is required.")
        body: dict[str, Any] = {
            "area_id": form.get("area_id", ""),
            "name": form.get("name", "").strip()[:200],
            "kind": form.get("kind", ""),
        }
        if founded := check_day(form.get("founded_on", ""), "founded_on", errors):
            body["founded_on"] = founded
        number = form.get("decision_number", "").strip()
        issuer = form.get("decision_issuer", "").strip()
        issued = check_day(form.get("decision_issued_on", ""), "decision_issued_on", errors)
        if number or issuer or issued:
            for name, value in (
                ("decision_number", number),
                ("decision_issued_on", issued),
                ("decision_issuer", issuer),
            ):
                if not value:
                    errors.setdefault(name, _("This field is required."))
            body["founding_decision"] = {
                "number": number[:64],
                "issued_on": issued,
                "issuer": issuer[:200],
            }
        members, rows = _members_of(form, errors)
        body["members"] = members
        if errors:
            return await _new_team_form(request, registry, form, errors, status=422)
        try:
            team = await registry.call("POST", "/teams", json=body)
        except ApiError as error:
            if error.status in (409, 422):
                errors, general = errors_by_field(error, _team_field(rows))
                return await _new_team_form(
                    request, registry, form, errors, general, status=error.status
                )
            return await error_page(request, error)
        return redirect(request, f"/teams/{team['id']}?done=registered")

    @router.get("/teams/{team_id}")
    async def team_page(request: Request, team_id: UUID) -> Response:
        return await _team_page(request, await registry_of(request), team_id)

    @router.post("/teams/{team_id}/members", dependencies=[Depends(check_csrf)])
    async def add_member(
        request: Request,
        team_id: UUID,
        add_person_id: Annotated[str, Form(max_length=64)] = "",
        add_full_name: Text = "",
        add_birth_date: Annotated[str, Form(max_length=32)] = "",
        add_phone: Annotated[str, Form(max_length=32)] = "",
        add_role: Annotated[str, Form(max_length=16)] = "member",
        add_joined_on: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        registry = await registry_of(request)
        values = {
            "add_person_id": add_person_id,
            "add_full_name": add_full_name,
            "add_birth_date": add_birth_date,
            "add_phone": add_phone,
            "add_role": add_role,
            "add_joined_on": add_joined_on,
        }
        errors: dict[str, str] = {}
        body: dict[str, Any] = {"role": add_role or "member"}
        if add_person_id:
            body["person_id"] = add_person_id
        elif add_full_name.strip():
            body["full_name"] = add_full_name.strip()
            if birth := check_day(add_birth_date, "add_birth_date", errors):
                body["birth_date"] = birth
            if add_phone.strip():
                body["phone"] = add_phone.strip()
        else:
            errors["add_full_name"] = _("Choose a person or enter a new person's full name.")
        if joined := check_day(add_joined_on, "add_joined_on", errors):
            body["joined_on"] = joined
        if errors:
            return await _team_page(request, registry, team_id, values, errors, status=422)
        fields = {
            "person_id": "add_person_id",
            "full_name": "add_full_name",
            "birth_date": "add_birth_date",
            "phone": "add_phone",
            "role": "add_role",
            "joined_on": "add_joined_on",
            "members": "add_full_name",
        }
        path = f"/teams/{team_id}/members"
        return await _change(
            request, registry, team_id, path, body, values, last_of(fields), "added"
        )

    @router.post("/teams/{team_id}/leave", dependencies=[Depends(check_csrf)])
    async def member_leaves(
        request: Request,
        team_id: UUID,
        leave_person_id: Annotated[str, Form(max_length=64)] = "",
        leave_left_on: Annotated[str, Form(max_length=32)] = "",
        leave_reason: LongText = "",
    ) -> Response:
        registry = await registry_of(request)
        values = {
            "leave_person_id": leave_person_id,
            "leave_left_on": leave_left_on,
            "leave_reason": leave_reason,
        }
        errors: dict[str, str] = {}
        person = ""
        try:
            person = str(UUID(leave_person_id))
        except ValueError:
            errors["leave_person_id"] = _("Choose a value from the list.")
        if not leave_reason.strip():
            errors["leave_reason"] = _("This field is required.")
        left_on = check_day(leave_left_on, "leave_left_on", errors)
        if errors:
            return await _team_page(request, registry, team_id, values, errors, status=422)
        body: dict[str, Any] = {"reason": leave_reason.strip()}
        if left_on:
            body["left_on"] = left_on
        fields = {
            "left_on": "leave_left_on",
            "reason": "leave_reason",
            "person_id": "leave_person_id",
            "members": "leave_person_id",
            "effective_on": "leave_left_on",
        }
        path = f"/teams/{team_id}/members/{person}/leave"
        return await _change(
            request, registry, team_id, path, body, values, last_of(fields), "left"
        )

    @router.post("/teams/{team_id}/roles", dependencies=[Depends(check_csrf)])
    async def change_roles(request: Request, team_id: UUID) -> Response:
        registry = await registry_of(request)
        submitted = await request.form()
        values = {key: value[:1000] for key, value in submitted.items() if isinstance(value, str)}
        errors: dict[str, str] = {}
        try:
            team = await registry.call("GET", f"/teams/{team_id}")
        except ApiError as error:
            return await error_page(request, error)
        changes = [
            {"person_id": member["person_id"], "role": values[f"role_{member['person_id']}"]}
            for member in team["members"]
            if values.get(f"role_{member['person_id']}") in ROLES
            and values[f"role_{member['person_id']}"] != member["role"]
        ]
        effective = check_day(values.get("roles_effective_on", ""), "roles_effective_on", errors)
        if not changes:
            errors["roles"] = _("Nothing was changed.")
        if errors:
            return await _team_page(request, registry, team_id, values, errors, status=422)
        body: dict[str, Any] = {
            "role_changes": changes,
            "reason": values.get("roles_reason", "").strip() or "roster change",
        }
        if effective:
            body["effective_on"] = effective

        def field_of(loc: list[str]) -> str | None:
            if "role_changes" in loc:
                after = loc[loc.index("role_changes") + 1 :]
                if after and after[0].isdigit() and int(after[0]) < len(changes):
                    return f"role_{changes[int(after[0])]['person_id']}"
            if "effective_on" in loc:
                return "roles_effective_on"
            if "reason" in loc:
                return "roles_reason"
            return "roles"

        path = f"/teams/{team_id}/roster"
        return await _change(request, registry, team_id, path, body, values, field_of, "roles")

    @router.post("/teams/{team_id}/dissolve", dependencies=[Depends(check_csrf)])
    async def dissolve(
        request: Request,
        team_id: UUID,
        dissolved_on: Annotated[str, Form(max_length=32)] = "",
        dissolve_reason: LongText = "",
    ) -> Response:
        registry = await registry_of(request)
        values = {"dissolved_on": dissolved_on, "dissolve_reason": dissolve_reason}
        errors: dict[str, str] = {}
        day = check_day(dissolved_on, "dissolved_on", errors, required=True)
        if not dissolve_reason.strip():
            errors["dissolve_reason"] = _("This field is required.")
        if errors:
            return await _team_page(request, registry, team_id, values, errors, status=422)
        body = {"dissolved_on": day, "reason": dissolve_reason.strip()}
        fields = {"dissolved_on": "dissolved_on", "reason": "dissolve_reason"}
        path = f"/teams/{team_id}/dissolve"

        def field_of(loc: list[str]) -> str | None:
            return last_of(fields)(loc) or "dissolve_reason"

        return await _change(request, registry, team_id, path, body, values, field_of, "dissolved")

    router.include_router(people.create_router())
    router.include_router(imports.create_router())
    return router
