"""Awards: contributions from incident events (once each), nominations and awards."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.awards.app import Settings, create_app
from shared.db import execute
from shared.events import (
    IncidentStatus,
    IncidentStatusChanged,
)
from tests.support import announce_area, announce_team, publish_event, running_app, unit_settings

TEAM_ID = uuid.uuid4()


AREA_ID = uuid.uuid4()


@pytest.fixture
async def awards(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as running:
        broker = running[1].broker
        await announce_area(broker, AREA_ID, "HN-TH-QA", "Phường Quảng An")
        await announce_team(broker, TEAM_ID, AREA_ID, "Tổ dân phố số 3", "security_order")
        yield running


def resolved(incident_id, teams=(TEAM_ID,), to_status=IncidentStatus.RESOLVED, version=3):
    return IncidentStatusChanged(
        incident_id=incident_id,
        area_id=uuid.uuid4(),
        category="theft",
        from_status=IncidentStatus.VERIFIED,
        to_status=to_status,
        changed_at=datetime.now(UTC),
        credited_team_ids=list(teams),
        aggregate_version=version,
    )


async def resolved_count(client, team_id=TEAM_ID):
    response = await client.get(f"/contributions/teams/{team_id}")
    return response.json()["resolved_incidents"]


async def test_same_event_delivered_twice_counts_once(awards):
    client, runtime = awards
    event = resolved(uuid.uuid4())
    event_id = await publish_event(runtime.broker, event)
    assert await resolved_count(client) == 1
    await publish_event(runtime.broker, event, event_id=event_id)
    assert await resolved_count(client) == 1
    await publish_event(runtime.broker, resolved(uuid.uuid4()))
    assert await resolved_count(client) == 2


async def test_only_resolutions_count(awards):
    client, runtime = awards
    await publish_event(runtime.broker, resolved(uuid.uuid4(), to_status=IncidentStatus.MEDIATED))
    assert await resolved_count(client) == 0


NOMINATION = {
    "recipient_kind": "collective",
    "recipient_id": str(TEAM_ID),
    "recipient_name": "Tổ dân phố số 3",
    "award_form": "giay_khen",
    "authority": "ward_committee",
    "reason": "Thành tích xuất sắc trong phong trào toàn dân bảo vệ an ninh Tổ quốc",
}


async def test_approve_nomination_grants_award_and_writes_event(awards):
    client, runtime = awards
    nomination = (await client.post("/nominations", json=NOMINATION)).json()
    assert nomination["status"] == "nominated"
    response = await client.post(
        f"/nominations/{nomination['id']}/approve",
        json={"decision_number": "15/QĐ-UBND", "decided_on": "2023-08-19"},
    )
    assert response.status_code == 201, response.text
    award = response.json()
    assert award["granted_on"].startswith("2023-08-19")
    assert (await client.get(f"/nominations/{nomination['id']}")).json()["status"] == "approved"
    assert [a["id"] for a in (await client.get("/awards")).json()] == [award["id"]]

    async with runtime.sessions() as session:
        rows = (await execute(session, select(runtime.outbox.table))).mappings().all()
    assert [row["topic"] for row in rows] == ["award_granted"]
    payload = json.loads(rows[0]["payload"])
    assert payload["award_id"] == award["id"] and payload["recipient_id"] == str(TEAM_ID)
    assert rows[0]["message_key"] == award["id"]

    again = await client.post(
        f"/nominations/{nomination['id']}/approve", json={"decision_number": "16/QĐ-UBND"}
    )
    assert again.status_code == 409
    assert len((await client.get("/awards")).json()) == 1


@pytest.mark.parametrize(
    ("field", "value"), [("award_form", "gold_star"), ("authority", "district_cat_committee")]
)
async def test_unknown_catalogue_entries_are_422(awards, field, value):
    client, _ = awards
    response = await client.post("/nominations", json={**NOMINATION, field: value})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


async def test_awards_list_is_paginated_and_bounded(awards):
    client, _ = awards
    assert (await client.get("/awards?limit=201")).status_code == 422
    assert (await client.get("/awards?offset=-1")).status_code == 422
