"""Reporting: the read model from registry events, incidents and their lifecycle."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.reporting.app import Settings, create_app
from services.reporting.models import Incident
from shared.auth import Role
from shared.db import execute
from shared.events import TeamRegistered
from tests.support import (
    announce_area,
    announce_team,
    bearer,
    publish_event,
    running_app,
    unit_settings,
)

AREA_ID = uuid.uuid4()
TEAM_ID = uuid.uuid4()


@pytest.fixture
async def reporting(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        await announce_area(runtime.broker, AREA_ID, "TH-NS-HH", "Phường Hải Hòa")
        await announce_team(
            runtime.broker, TEAM_ID, AREA_ID, "Tổ bảo vệ dân phố 1", "civil_defence"
        )
        yield client, runtime


def incident(**changes):
    body = {
        "area_id": str(AREA_ID),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm cắp tài sản",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "team_ids": [str(TEAM_ID)],
    }
    return {**body, **changes}


async def counts(runtime):
    async with runtime.sessions() as session:
        incidents = (await execute(session, select(func.count()).select_from(Incident))).scalar()
        outbox = (
            await execute(session, select(func.count()).select_from(runtime.outbox.table))
        ).scalar()
    return incidents, outbox


async def test_report_and_resolve_incident(reporting):
    client, runtime = reporting
    response = await client.post("/incidents", json=incident())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "reported" and created["team_ids"] == [str(TEAM_ID)]

    for status in ("verified", "resolved"):
        response = await client.post(
            f"/incidents/{created['id']}/status", json={"status": status, "reason": "xác minh"}
        )
        assert response.status_code == 200, response.text
    final = response.json()
    assert final["version"] == 3
    assert [(h["from_status"], h["to_status"]) for h in final["history"]] == [
        ("reported", "verified"),
        ("verified", "resolved"),
    ]

    async with runtime.sessions() as session:
        rows = (
            (
                await execute(
                    session, select(runtime.outbox.table).order_by(runtime.outbox.table.c.id)
                )
            )
            .mappings()
            .all()
        )
    assert [row["event_type"] for row in rows] == [
        "incident_reported",
        "incident_status_changed",
        "incident_status_changed",
    ]
    resolved = json.loads(rows[-1]["payload"])
    assert resolved["to_status"] == "resolved"
    assert resolved["credited_team_ids"] == [str(TEAM_ID)]
    assert resolved["aggregate_version"] == 3


@pytest.mark.parametrize(
    ("changes", "loc", "message"),
    [
        ({"area_id": str(uuid.uuid4())}, ["body", "area_id"], "unknown area"),
        ({"team_ids": [str(TEAM_ID), str(uuid.uuid4())]}, ["body", "team_ids", 1], "unknown team"),
        ({"category": "jaywalking_cats"}, ["body", "category"], "unknown category"),
        (
            {"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
            ["body", "occurred_at"],
            "future",
        ),
        ({"summary": ""}, ["body", "summary"], "at least 1"),
    ],
)
async def test_invalid_incident_is_refused_and_nothing_is_stored(reporting, changes, loc, message):
    client, runtime = reporting
    response = await client.post("/incidents", json=incident(**changes))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc
    assert message in detail["msg"]
    assert await counts(runtime) == (0, 0)


async def test_illegal_transition_is_409_naming_the_allowed_ones(reporting):
    client, runtime = reporting
    created = (await client.post("/incidents", json=incident())).json()
    response = await client.post(
        f"/incidents/{created['id']}/status", json={"status": "resolved", "reason": "x"}
    )
    assert response.status_code == 409
    assert "allowed: verified, dismissed" in response.json()["detail"][0]["msg"]
    assert (await client.get(f"/incidents/{created['id']}")).json()["status"] == "reported"
    assert await counts(runtime) == (1, 1)


async def test_unknown_incident_is_404(reporting):
    client, _ = reporting
    response = await client.post(
        f"/incidents/{uuid.uuid4()}/status", json={"status": "verified", "reason": "x"}
    )
    assert response.status_code == 404


async def test_older_team_version_does_not_overwrite_newer(reporting):
    _, runtime = reporting
    await publish_event(
        runtime.broker,
        TeamRegistered(
            team_id=TEAM_ID,
            area_id=AREA_ID,
            name="renamed",
            kind="civil_defence",
            aggregate_version=3,
        ),
    )
    await publish_event(
        runtime.broker,
        TeamRegistered(
            team_id=TEAM_ID,
            area_id=AREA_ID,
            name="stale",
            kind="civil_defence",
            aggregate_version=2,
        ),
    )
    from services.reporting.models import KnownTeam

    async with runtime.sessions() as session:
        team = await session.get(KnownTeam, TEAM_ID)
    assert (team.name, team.version) == ("renamed", 3)


async def test_lists_say_how_many_rows_match_in_all(reporting):
    client, runtime = reporting
    other = uuid.uuid4()
    await announce_area(runtime.broker, other, "TH-NS-HP", "Phường Hải Phú")
    for _ in range(4):
        assert (await client.post("/incidents", json=incident())).status_code == 201
    robbery = incident(category="robbery", team_ids=[])
    assert (await client.post("/incidents", json=robbery)).status_code == 201
    elsewhere = incident(area_id=str(other), team_ids=[])
    assert (await client.post("/incidents", json=elsewhere)).status_code == 201
    today = datetime.now(UTC).date().isoformat()
    for area in (AREA_ID, AREA_ID, other):
        body = {
            "area_id": str(area),
            "activity_type": "outreach",
            "occurred_on": today,
            "measures": [{"item": "sessions", "quantity": 1}],
            "team_ids": [],
        }
        response = await client.post("/activities", json=body)
        assert response.status_code == 201, response.text

    async def listed(path, headers=None, **params):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return len(response.json()), int(response.headers["X-Total-Count"])

    # a filter, and a limit smaller than the total
    assert await listed("/incidents", category="theft", limit=2) == (2, 5)
    assert await listed("/incidents", limit=1, offset=5) == (1, 6)
    assert await listed("/incidents", area_id=str(AREA_ID), limit=3) == (3, 5)
    assert await listed("/activities", limit=1) == (1, 3)
    # an officer's total counts only their areas
    officer = bearer(Role.OFFICER, "TH-NS-HP")
    assert await listed("/incidents", headers=officer, limit=1) == (1, 1)
    assert await listed("/activities", headers=officer) == (1, 1)
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/incidents", "/activities"):
        assert "X-Total-Count" in paths[path]["get"]["responses"]["200"]["headers"]
