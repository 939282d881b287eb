"""Who may do what, against the real processes: every endpoint of every service, for each
role, on the caller's own area, on another area, and without a token. The callers are the
demo users of the real Keycloak, logged in with their passwords; the services verify the
tokens with the issuer's published keys."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import Role, TokenCodec
from tests.keycloak import HAI_HOA, QUANG_AN, LoginAuth, Logins
from tests.support import TEST_SIGNING_KEY

pytestmark = pytest.mark.integration

OWN, OTHER = "own", "other"
FOREIGN_KEY = "a-key-of-enough-length-that-is-not-ours!"
# The demo officers' wards: officer-haihoa and tip-handler act in ward A.
WARD_A, WARD_B = HAI_HOA, QUANG_AN
WARD_NAMES = {HAI_HOA: "Phường Hải Hòa", QUANG_AN: "Phường Quảng An"}


def wait_for(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the services did not catch up in time"
        time.sleep(0.25)


@dataclass
class World:
    """Two wards under one province, each with a group, a team, incidents, a tip, a
    nomination and an award. Officers' tokens name ward A."""

    stack: Any
    admin: httpx.Client
    ids: dict[str, dict[str, str]]

    def url(self, service: str, path: str) -> str:
        return self.stack.url(service) + path

    def post(self, service: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.admin.post(self.url(service, path), json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def incident(self, side: str) -> str:
        ids = self.ids[side]
        return self.post("reporting", "/incidents", incident_body(ids["group"], ids["team"]))["id"]

    def nomination(self, side: str) -> str:
        ids = self.ids[side]
        return self.post("awards", "/nominations", nomination_body(ids["team"]))["id"]


def incident_body(area: str, team: str) -> dict[str, Any]:
    return {
        "area_id": area,
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm cắp",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "team_ids": [team],
    }


def nomination_body(team: str) -> dict[str, Any]:
    return {
        "recipient_kind": "collective",
        "recipient_id": team,
        "recipient_name": "Tổ",
        "award_form": "giay_khen",
        "authority": "ward_committee",
        "reason": "Thành tích",
    }


@pytest.fixture(scope="module")
def world(stack) -> World:
    TOKENS.issuer = stack.keycloak.issuer
    admin = httpx.Client(timeout=15, auth=LoginAuth(TOKENS, "admin"))
    world = World(stack, admin, {OWN: {}, OTHER: {}})
    province = world.post(
        "registry",
        "/areas",
        {"code": f"P-{uuid.uuid4().hex[:6]}", "name": "Tỉnh", "level": "province"},
    )
    for side, code in ((OWN, WARD_A), (OTHER, WARD_B)):
        ward = world.post(
            "registry",
            "/areas",
            {"code": code, "name": WARD_NAMES[code], "level": "ward", "parent_id": province["id"]},
        )
        group = world.post(
            "registry",
            "/areas",
            {
                "code": f"{code}-G1",
                "name": "Tổ dân phố 1",
                "level": "residential_group",
                "parent_id": ward["id"],
            },
        )
        team = world.post(
            "registry",
            "/teams",
            {
                "area_id": group["id"],
                "name": f"Tổ ANTT {code}",
                "kind": "security_order",
                "members": [{"full_name": "Tổ trưởng", "role": "leader"}],
            },
        )
        world.ids[side] = {"ward": ward["id"], "group": group["id"], "team": team["id"]}
    # reporting and awards learn the areas and teams from registry's events
    for side in (OWN, OTHER):
        team = world.ids[side]["team"]
        wait_for(
            lambda t=team: (
                admin.get(world.url("awards", f"/contributions/teams/{t}")).status_code == 200
            )
        )
        group = world.ids[side]["group"]
        wait_for(
            lambda g=group, t=team: (
                admin.post(
                    world.url("reporting", "/incidents"), json=incident_body(g, t)
                ).status_code
                == 201
            )
        )
    for side in (OWN, OTHER):
        ids = world.ids[side]
        ids["incident"] = world.incident(side)
        tip = httpx.post(
            world.url("reporting", "/tips"),
            json={
                "area_id": ids["group"],
                "category": "drugs",
                "summary": "Nghi mua bán ma túy",
                "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                "informant": {"full_name": "Người báo tin", "contact": "0900000000"},
            },
        )
        assert tip.status_code == 201, tip.text
        ids["tip_number"], ids["tip_secret"] = tip.json()["tip_number"], tip.json()["secret"]
        ids["tip_incident"] = next(
            entry["object_id"]
            for entry in admin.get(
                world.url("reporting", "/audit"), params={"action": "submit_tip"}
            ).json()
            if entry["area_id"] == ids["group"]
        )
        ids["nomination"] = world.nomination(side)
        award_nomination = world.nomination(side)
        ids["award"] = world.post(
            "awards", f"/nominations/{award_nomination}/approve", {"decision_number": "1/QĐ"}
        )["id"]
    return world


# admin, officer, tip_handler, auditor, service (client credentials) and none.
TOKENS = Logins()

# Expected status codes: (own area, other area) for each caller.
SCOPED_WRITE = {
    "admin": (201, 201),
    "officer": (201, 422),
    "tip_handler": (201, 422),
    "auditor": (403, 403),
    "service": (403, 403),
    "none": (401, 401),
}
SCOPED_UPDATE = {
    "admin": (200, 200),
    "officer": (200, 404),
    "tip_handler": (200, 404),
    "auditor": (403, 403),
    "service": (403, 403),
    "none": (401, 401),
}
SCOPED_APPROVE = {
    **SCOPED_UPDATE,
    "admin": (201, 201),
    "officer": (201, 404),
    "tip_handler": (201, 404),
}
SCOPED_READ = {
    "admin": (200, 200),
    "officer": (200, 404),
    "tip_handler": (200, 404),
    "auditor": (200, 200),
    "service": (200, 200),
    "none": (401, 401),
}
LIST_READ = {caller: (200, 200) for caller in TOKENS} | {"none": (401, 401)}
INFORMANT = {
    "admin": (403, 403),
    "officer": (403, 403),
    "tip_handler": (200, 404),
    "auditor": (403, 403),
    "service": (403, 403),
    "none": (401, 401),
}
AUDIT = {
    "admin": (200, 200),
    "officer": (403, 403),
    "tip_handler": (403, 403),
    "auditor": (200, 200),
    "service": (403, 403),
    "none": (401, 401),
}
PUBLIC_CREATE = {caller: (201, 201) for caller in TOKENS}
PUBLIC_READ = {caller: (200, 200) for caller in TOKENS}


def new_area(world: World, side: str) -> tuple[str, dict | None]:
    code = f"N-{uuid.uuid4().hex[:8]}"
    return "/areas", {
        "code": code,
        "name": "Tổ mới",
        "level": "residential_group",
        "parent_id": world.ids[side]["ward"],
    }


# An officer of ward A cannot move its areas out of it, nor reach ward B's.
MOVE = {**SCOPED_UPDATE, "officer": (422, 404), "tip_handler": (422, 404)}
# An import naming another ward's group is refused whole (422), not partly hidden.
IMPORT = {**SCOPED_UPDATE, "officer": (200, 422), "tip_handler": (200, 422)}


def new_person(world: World, side: str) -> dict:
    return {"full_name": "Người mới", "area_id": world.ids[side]["group"]}


def new_team(world: World, side: str, size: int = 1) -> dict:
    members = [{"full_name": "Tổ trưởng", "role": "leader"}]
    members += [{"full_name": f"Tổ viên {n}"} for n in range(1, size)]
    body = {"area_id": world.ids[side]["group"], "name": "Tổ", "kind": "mediation"}
    return world.post("registry", "/teams", body | {"members": members})


def leave_request(world: World, side: str) -> tuple[str, dict]:
    team = new_team(world, side, size=2)
    member = next(m for m in team["members"] if m["role"] == "member")
    return f"/teams/{team['id']}/members/{member['person_id']}/leave", {"reason": "Chuyển đi"}


def new_initiative(world: World, side: str) -> dict:
    return {
        "area_id": world.ids[side]["group"],
        "name": "Camera an ninh",
        "launched_on": "2024-01-01",
    }


def initiative_id(world: World, side: str, *, stopped: bool = False) -> str:
    initiative = world.post("registry", "/initiatives", new_initiative(world, side))["id"]
    if stopped:
        response = world.admin.post(
            world.url("registry", f"/initiatives/{initiative}/stop"),
            json={"stopped_on": "2024-06-01", "reason": "Tạm dừng"},
        )
        assert response.status_code == 200, response.text
    return initiative


def new_camera(world: World, side: str) -> dict:
    return {
        "area_id": world.ids[side]["group"],
        "location": "Ngõ 3",
        "funding": "socialised",
        "installed_on": "2024-05-01",
    }


def import_request(side: str) -> tuple[str, bytes]:
    group = f"{WARD_A if side == OWN else WARD_B}-G1"
    rows = [
        "team_ref,area_code,team_name,kind,member_name,role",
        f"T1,{group},Tổ nhập {uuid.uuid4().hex[:4]},mediation,Tổ trưởng,leader",
    ]
    return "/imports/teams", "\n".join(rows).encode()


@dataclass
class Case:
    service: str
    method: str
    path: str  # the OpenAPI path template
    expected: dict[str, tuple[int, int]]
    request: Callable[[World, str], tuple[str, dict | bytes | None]]
    headers: Callable[[World, str], dict[str, str]] = lambda world, side: {}


# One list per service, so each service's routes are added beside each other.
REGISTRY_CASES = [
    Case("registry", "POST", "/areas", SCOPED_WRITE, new_area),
    Case(
        "registry",
        "POST",
        "/teams",
        SCOPED_WRITE,
        lambda w, s: (
            "/teams",
            {
                "area_id": w.ids[s]["group"],
                "name": "Tổ mới",
                "kind": "mediation",
                "members": [{"full_name": "Tổ trưởng", "role": "leader"}],
            },
        ),
    ),
    Case(
        "registry",
        "GET",
        "/teams/{team_id}",
        SCOPED_READ,
        lambda w, s: (f"/teams/{w.ids[s]['team']}", None),
    ),
    Case("registry", "GET", "/team-kinds", LIST_READ, lambda w, s: ("/team-kinds", None)),
    Case("registry", "GET", "/areas", LIST_READ, lambda w, s: ("/areas", None)),
    *(
        Case(
            "registry",
            "GET",
            f"/areas/{{area_id}}{suffix}",
            SCOPED_READ,
            lambda w, s, suffix=suffix: (f"/areas/{w.ids[s]['ward']}{suffix}", None),
        )
        for suffix in ("", "/descendants", "/summary")
    ),
    Case(
        "registry",
        "PATCH",
        "/areas/{area_id}",
        SCOPED_UPDATE,
        lambda w, s: (f"/areas/{w.ids[s]['group']}", {"households": 120}),
    ),
    Case(
        "registry",
        "POST",
        "/areas/{area_id}/move",
        MOVE,
        lambda w, s: (
            f"/areas/{w.post('registry', *new_area(w, s))['id']}/move",
            {"parent_id": w.ids[OTHER if s == OWN else OWN]["ward"]},
        ),
    ),
    Case("registry", "POST", "/people", SCOPED_WRITE, lambda w, s: ("/people", new_person(w, s))),
    Case("registry", "GET", "/people", LIST_READ, lambda w, s: ("/people", None)),
    Case(
        "registry",
        "GET",
        "/people/{person_id}",
        SCOPED_READ,
        lambda w, s: (f"/people/{w.post('registry', '/people', new_person(w, s))['id']}", None),
    ),
    Case("registry", "GET", "/teams", LIST_READ, lambda w, s: ("/teams", None)),
    Case(
        "registry",
        "PATCH",
        "/teams/{team_id}",
        SCOPED_UPDATE,
        lambda w, s: (f"/teams/{new_team(w, s)['id']}", {"name": "Tổ đổi tên"}),
    ),
    Case(
        "registry",
        "POST",
        "/teams/{team_id}/dissolve",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/teams/{new_team(w, s)['id']}/dissolve",
            {"dissolved_on": "2025-07-01", "reason": "Giải thể"},
        ),
    ),
    Case(
        "registry",
        "GET",
        "/teams/{team_id}/members",
        SCOPED_READ,
        lambda w, s: (f"/teams/{w.ids[s]['team']}/members", None),
    ),
    Case(
        "registry",
        "POST",
        "/teams/{team_id}/members",
        SCOPED_APPROVE,
        lambda w, s: (f"/teams/{w.ids[s]['team']}/members", {"full_name": "Tổ viên mới"}),
    ),
    Case(
        "registry",
        "POST",
        "/teams/{team_id}/members/{person_id}/leave",
        SCOPED_UPDATE,
        lambda w, s: leave_request(w, s),
    ),
    Case(
        "registry",
        "POST",
        "/teams/{team_id}/roster",
        SCOPED_UPDATE,
        lambda w, s: (f"/teams/{w.ids[s]['team']}/roster", {"joins": [{"full_name": "Mới"}]}),
    ),
    Case(
        "registry",
        "POST",
        "/initiatives",
        SCOPED_WRITE,
        lambda w, s: ("/initiatives", new_initiative(w, s)),
    ),
    Case("registry", "GET", "/initiatives", LIST_READ, lambda w, s: ("/initiatives", None)),
    Case(
        "registry",
        "GET",
        "/initiatives/{initiative_id}",
        SCOPED_READ,
        lambda w, s: (f"/initiatives/{initiative_id(w, s)}", None),
    ),
    Case(
        "registry",
        "POST",
        "/initiatives/{initiative_id}/results",
        SCOPED_APPROVE,
        lambda w, s: (
            f"/initiatives/{initiative_id(w, s)}/results",
            {"recorded_on": "2025-01-01", "summary": "Giảm trộm cắp"},
        ),
    ),
    Case(
        "registry",
        "POST",
        "/initiatives/{initiative_id}/stop",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/initiatives/{initiative_id(w, s)}/stop",
            {"stopped_on": "2025-06-01", "reason": "Hình thức"},
        ),
    ),
    Case(
        "registry",
        "POST",
        "/initiatives/{initiative_id}/relaunch",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/initiatives/{initiative_id(w, s, stopped=True)}/relaunch",
            {"launched_on": "2025-09-01"},
        ),
    ),
    Case("registry", "POST", "/cameras", SCOPED_WRITE, lambda w, s: ("/cameras", new_camera(w, s))),
    Case("registry", "GET", "/cameras", LIST_READ, lambda w, s: ("/cameras", None)),
    Case(
        "registry",
        "GET",
        "/cameras/{camera_id}",
        SCOPED_READ,
        lambda w, s: (f"/cameras/{w.post('registry', '/cameras', new_camera(w, s))['id']}", None),
    ),
    Case(
        "registry",
        "POST",
        "/cameras/{camera_id}/remove",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/cameras/{w.post('registry', '/cameras', new_camera(w, s))['id']}/remove",
            {"removed_on": "2025-02-01", "reason": "Hỏng"},
        ),
    ),
    Case(
        "registry",
        "POST",
        "/imports/teams",
        IMPORT,
        lambda w, s: import_request(s),
        lambda w, s: {"Content-Type": "text/csv"},
    ),
]

REPORTING_CASES = [
    Case(
        "reporting",
        "POST",
        "/incidents",
        SCOPED_WRITE,
        lambda w, s: ("/incidents", incident_body(w.ids[s]["group"], w.ids[s]["team"])),
    ),
    Case(
        "reporting",
        "GET",
        "/incidents/{incident_id}",
        SCOPED_READ,
        lambda w, s: (f"/incidents/{w.ids[s]['incident']}", None),
    ),
    Case(
        "reporting",
        "POST",
        "/incidents/{incident_id}/status",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/incidents/{w.incident(s)}/status",
            {"status": "verified", "reason": "xác minh"},
        ),
    ),
    Case(
        "reporting",
        "GET",
        "/incidents/{incident_id}/informant",
        INFORMANT,
        lambda w, s: (f"/incidents/{w.ids[s]['tip_incident']}/informant", None),
    ),
    Case(
        "reporting",
        "POST",
        "/tips",
        PUBLIC_CREATE,
        lambda w, s: (
            "/tips",
            {
                "area_id": w.ids[s]["group"],
                "category": "theft",
                "summary": "Tin báo",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            },
        ),
    ),
    Case(
        "reporting",
        "GET",
        "/tips/{tip_number}",
        PUBLIC_READ,
        lambda w, s: (f"/tips/{w.ids[s]['tip_number']}", None),
        headers=lambda w, s: {"X-Tip-Secret": w.ids[s]["tip_secret"]},
    ),
    Case(
        "reporting",
        "GET",
        "/tips/{tip_number}/incident",
        INFORMANT,  # tip handlers only, and only for tips in their areas
        lambda w, s: (f"/tips/{w.ids[s]['tip_number']}/incident", None),
    ),
    Case("reporting", "GET", "/catalogue", LIST_READ, lambda w, s: ("/catalogue", None)),
    Case(
        "reporting",
        "GET",
        "/incidents",
        SCOPED_READ,
        lambda w, s: (f"/incidents?area_id={w.ids[s]['ward']}", None),
    ),
    Case(
        "reporting",
        "GET",
        "/incidents.csv",
        SCOPED_READ,
        lambda w, s: (f"/incidents.csv?area_id={w.ids[s]['ward']}", None),
    ),
    Case(
        "reporting",
        "POST",
        "/incidents/{incident_id}/duplicate-of",
        SCOPED_UPDATE,
        lambda w, s: (
            f"/incidents/{w.incident(s)}/duplicate-of",
            {"duplicate_of": w.incident(s), "reason": "Cùng một vụ"},
        ),
    ),
    Case(
        "reporting",
        "POST",
        "/activities",
        SCOPED_WRITE,
        lambda w, s: ("/activities", activity_body(w.ids[s]["group"], w.ids[s]["team"])),
    ),
    Case(
        "reporting",
        "GET",
        "/activities",
        SCOPED_READ,
        lambda w, s: (f"/activities?area_id={w.ids[s]['ward']}", None),
    ),
    Case(
        "reporting",
        "GET",
        "/activities.csv",
        SCOPED_READ,
        lambda w, s: (f"/activities.csv?area_id={w.ids[s]['ward']}", None),
    ),
    Case(
        "reporting",
        "GET",
        "/activities/{activity_id}",
        SCOPED_READ,
        lambda w, s: (
            "/activities/"
            + w.post(
                "reporting", "/activities", activity_body(w.ids[s]["group"], w.ids[s]["team"])
            )["id"],
            None,
        ),
    ),
    Case(
        "reporting",
        "GET",
        "/statistics",
        SCOPED_READ,
        lambda w, s: (
            f"/statistics?area_id={w.ids[s]['ward']}&from=2020-01-01&to=2030-12-31",
            None,
        ),
    ),
    Case(
        "reporting",
        "GET",
        "/statistics.csv",
        SCOPED_READ,
        lambda w, s: (
            f"/statistics.csv?area_id={w.ids[s]['ward']}&from=2020-01-01&to=2030-12-31",
            None,
        ),
    ),
]


def activity_body(area: str, team: str) -> dict[str, Any]:
    return {
        "area_id": area,
        "activity_type": "patrol",
        "occurred_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "measures": [{"item": "patrols", "quantity": 1}, {"item": "participants", "quantity": 4}],
        "team_ids": [team],
    }


# --- awards: records the cases above need, made with the admin's token -------------------

AWARDS_DECIDED = {
    "admin": (409, 409),
    "officer": (409, 404),
    "tip_handler": (409, 404),
    "auditor": (403, 403),
    "service": (403, 403),
    "none": (401, 401),
}
AWARDS_YEARS = iter(range(2099, 2000, -1))  # one certification per area and year


def awards_record_body(area: str) -> dict[str, Any]:
    """An award already decided, for a person the registry does not hold."""
    return {
        "recipient_kind": "individual",
        "recipient_name": "Cá nhân",
        "area_id": area,
        "award_form": "giay_khen",
        "authority": "ward_committee",
        "award_kind": "campaign",
        "campaign": "festival-19-8-2023",
        "reason": "Thành tích",
        "decision_number": "4/QĐ",
        "decided_on": "2023-08-19",
    }


def awards_fresh_award(world: World, side: str) -> str:
    approve = f"/nominations/{world.nomination(side)}/approve"
    return str(world.post("awards", approve, {"decision_number": "3/QĐ"})["id"])


def awards_certification(world: World, side: str) -> str:
    ids = world.ids[side]
    if "certification" not in ids:
        body = {"area_id": ids["ward"], "year": 2000}
        ids["certification"] = world.post("awards", "/certifications", body)["id"]
    return ids["certification"]


def awards_suggestion(world: World, side: str) -> str:
    """A dismissed suggestion: a new team solves two incidents, crossing the threshold."""
    ids = world.ids[side]
    if "suggestion" in ids:
        return ids["suggestion"]
    team = world.post(
        "registry",
        "/teams",
        {
            "area_id": ids["group"],
            "name": "Tổ thi đua",
            "kind": "security_order",
            "members": [{"full_name": "Tổ trưởng", "role": "leader"}],
        },
    )["id"]
    incidents: list[str] = []

    def report() -> bool:
        response = world.admin.post(
            world.url("reporting", "/incidents"), json=incident_body(ids["group"], team)
        )
        if response.status_code == 201:
            incidents.append(response.json()["id"])
        return len(incidents) == 2

    wait_for(report)
    for incident in incidents:
        for status in ("verified", "resolved"):
            response = world.admin.post(
                world.url("reporting", f"/incidents/{incident}/status"),
                json={"status": status, "reason": "Công an phường xác minh"},
            )
            assert response.status_code == 200, response.text

    def suggested() -> list[dict[str, Any]]:
        listed = world.admin.get(world.url("awards", "/suggestions?limit=200")).json()
        return [item for item in listed if item["subject_id"] == team]

    wait_for(lambda: bool(suggested()))
    suggestion = suggested()[0]["id"]
    response = world.admin.post(
        world.url("awards", f"/suggestions/{suggestion}/dismiss"), json={"reason": "Thử"}
    )
    assert response.status_code == 200, response.text
    ids["suggestion"] = suggestion
    return suggestion


AWARDS_CASES = [
    Case(
        "awards",
        "POST",
        "/nominations",
        SCOPED_WRITE,
        lambda w, s: ("/nominations", nomination_body(w.ids[s]["team"])),
    ),
    Case(
        "awards",
        "GET",
        "/nominations/{nomination_id}",
        SCOPED_READ,
        lambda w, s: (f"/nominations/{w.ids[s]['nomination']}", None),
    ),
    Case(
        "awards",
        "POST",
        "/nominations/{nomination_id}/approve",
        SCOPED_APPROVE,
        lambda w, s: (f"/nominations/{w.nomination(s)}/approve", {"decision_number": "2/QĐ"}),
    ),
    Case("awards", "GET", "/awards", LIST_READ, lambda w, s: ("/awards", None)),
    Case(
        "awards",
        "GET",
        "/contributions/teams/{team_id}",
        SCOPED_READ,
        lambda w, s: (f"/contributions/teams/{w.ids[s]['team']}", None),
    ),
    Case("awards", "GET", "/catalogue", LIST_READ, lambda w, s: ("/catalogue", None)),
    Case("awards", "GET", "/nominations", LIST_READ, lambda w, s: ("/nominations", None)),
    Case(
        "awards",
        "POST",
        "/nominations/{nomination_id}/reject",
        SCOPED_UPDATE,
        lambda w, s: (f"/nominations/{w.nomination(s)}/reject", {"reason": "Chưa đủ"}),
    ),
    Case(
        "awards",
        "POST",
        "/awards",
        SCOPED_WRITE,
        lambda w, s: ("/awards", awards_record_body(w.ids[s]["group"])),
    ),
    Case(
        "awards",
        "GET",
        "/awards/{award_id}",
        SCOPED_READ,
        lambda w, s: (f"/awards/{w.ids[s]['award']}", None),
    ),
    Case(
        "awards",
        "POST",
        "/awards/{award_id}/revoke",
        SCOPED_UPDATE,
        lambda w, s: (f"/awards/{awards_fresh_award(w, s)}/revoke", {"reason": "Gian lận"}),
    ),
    *(
        Case(
            "awards",
            "GET",
            path,
            SCOPED_READ,
            lambda w, s, p=path: (f"{p}?area_id={w.ids[s]['ward']}", None),
        )
        for path in ("/reports/awards", "/reports/awards.csv", "/leaderboard")
    ),
    Case(
        "awards",
        "GET",
        "/scores/{subject}/{subject_id}",
        SCOPED_READ,
        lambda w, s: (f"/scores/team/{w.ids[s]['team']}", None),
    ),
    Case("awards", "GET", "/suggestions", LIST_READ, lambda w, s: ("/suggestions", None)),
    # The 201/200 paths are in tests/integration/test_awards_scores.py; here a suggestion
    # already dismissed shows the rules: 409 where visible, 404 where not.
    Case(
        "awards",
        "POST",
        "/suggestions/{suggestion_id}/accept",
        AWARDS_DECIDED,
        lambda w, s: (f"/suggestions/{awards_suggestion(w, s)}/accept", {}),
    ),
    Case(
        "awards",
        "POST",
        "/suggestions/{suggestion_id}/dismiss",
        AWARDS_DECIDED,
        lambda w, s: (f"/suggestions/{awards_suggestion(w, s)}/dismiss", {"reason": "Thử"}),
    ),
    Case(
        "awards",
        "POST",
        "/certifications",
        SCOPED_WRITE,
        lambda w, s: (
            "/certifications",
            {"area_id": w.ids[s]["ward"], "year": next(AWARDS_YEARS)},
        ),
    ),
    Case("awards", "GET", "/certifications", LIST_READ, lambda w, s: ("/certifications", None)),
    Case(
        "awards",
        "GET",
        "/certifications/{certification_id}",
        SCOPED_READ,
        lambda w, s: (f"/certifications/{awards_certification(w, s)}", None),
    ),
    Case(
        "awards",
        "POST",
        "/certifications/{certification_id}/evaluate",
        SCOPED_APPROVE,
        lambda w, s: (
            f"/certifications/{awards_certification(w, s)}/evaluate",
            {"reason": "Đánh giá lại"},
        ),
    ),
]

OPERATIONS_CASES = [
    *(
        Case(service, "GET", "/audit", AUDIT, lambda w, s: ("/audit", None))
        for service in ("registry", "reporting", "awards")
    ),
    *(
        Case(service, "GET", path, PUBLIC_READ, lambda w, s, p=path: (p, None))
        for service in ("registry", "reporting", "awards")
        for path in ("/health", "/ready", "/metrics", "/asyncapi.json")
    ),
]

CASES = REGISTRY_CASES + REPORTING_CASES + AWARDS_CASES + OPERATIONS_CASES


@pytest.mark.parametrize("caller", Logins.CALLERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.service}:{c.method}:{c.path}")
def test_access_matrix(world: World, case: Case, caller: str) -> None:
    for side, expected in zip((OWN, OTHER), case.expected[caller], strict=True):
        path, body = case.request(world, side)
        response = httpx.request(
            case.method,
            world.url(case.service, path),
            json=None if isinstance(body, bytes) else body,
            content=body if isinstance(body, bytes) else None,
            headers={**TOKENS[caller], **case.headers(world, side)},
            timeout=15,
        )
        assert response.status_code == expected, (
            f"{caller} on {side} area: {response.status_code} {response.text[:300]}"
        )
        if expected == 404:
            assert "not found" in response.json()["detail"][0]["msg"]


def test_matrix_covers_every_route_of_every_service(stack) -> None:
    covered = {(c.service, c.method, c.path) for c in CASES}
    for service in ("registry", "reporting", "awards"):
        document = httpx.get(f"{stack.url(service)}/openapi.json").json()
        for path, operations in document["paths"].items():
            for method in operations:
                assert (service, method.upper(), path) in covered, (service, method, path)
                assert "x-access" in operations[method], (service, method, path)


def test_officer_lists_only_awards_of_own_areas(world: World) -> None:
    def award_ids(headers: dict[str, str]) -> set[str]:
        response = httpx.get(world.url("awards", "/awards?limit=200"), headers=headers)
        return {award["id"] for award in response.json()}

    assert world.ids[OWN]["award"] in award_ids(TOKENS["officer"])
    assert world.ids[OTHER]["award"] not in award_ids(TOKENS["officer"])
    assert {world.ids[OWN]["award"], world.ids[OTHER]["award"]} <= award_ids(TOKENS["auditor"])


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        ("Bearer not-a-jwt", "malformed"),
        (
            f"Bearer {TokenCodec(TEST_SIGNING_KEY).issue('x', Role.ADMIN, ttl_seconds=-10)}",
            "expired",
        ),
        (
            f"Bearer {TokenCodec(FOREIGN_KEY).issue('x', Role.ADMIN)}",
            "signature",
        ),
        (
            f"Bearer {TokenCodec(TEST_SIGNING_KEY, audience='elsewhere').issue('x', Role.ADMIN)}",
            "another system",
        ),
        ("Basic dXNlcjpwYXNz", "missing bearer token"),
    ],
)
def test_untrustworthy_tokens_get_401_with_the_reason(world: World, authorization, reason):
    response = httpx.get(
        world.url("registry", f"/teams/{world.ids[OWN]['team']}"),
        headers={"Authorization": authorization},
    )
    assert response.status_code == 401
    assert reason in response.json()["detail"][0]["msg"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_changes_are_in_the_audit_trail_with_who_made_them(world: World) -> None:
    officer = TOKENS["officer"]
    response = httpx.post(
        world.url("reporting", "/incidents"),
        json=incident_body(world.ids[OWN]["group"], world.ids[OWN]["team"]),
        headers=officer,
    )
    assert response.status_code == 201
    entries = httpx.get(
        world.url("reporting", "/audit"),
        params={"object_id": response.json()["id"]},
        headers=TOKENS["auditor"],
    ).json()
    assert [(e["subject"], e["role"], e["action"]) for e in entries] == [
        ("officer-haihoa", "officer", "report_incident")
    ]
