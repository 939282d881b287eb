"""Registry: areas, teams with members, and honours from award_granted."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.registry.app import Settings, create_app
from shared.db import execute
from shared.events import AwardGranted, RecipientKind
from tests.support import eventually, publish_event, running_app, unit_settings


@pytest.fixture
async def registry(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as running:
        yield running


async def outbox_rows(runtime):
    async with runtime.sessions() as session:
        rows = await execute(
            session, select(runtime.outbox.table).order_by(runtime.outbox.table.c.id)
        )
        return rows.mappings().all()


async def register_ward(client, code="HN-TH-QA"):
    response = await client.post(
        "/areas", json={"code": code, "name": "Phường Quảng An", "level": "ward"}
    )
    assert response.status_code == 201, response.text
    return response.json()


TEAM_MEMBERS = [
    {"full_name": "Nguyễn Chu Thực", "role": "leader"},
    {"full_name": "Trần Văn Bình", "role": "deputy"},
    {"full_name": "Lê Thị Cúc", "role": "member"},
]


async def test_register_team_lists_members_and_writes_outbox(registry):
    client, runtime = registry
    area = await register_ward(client)
    response = await client.post(
        "/teams",
        json={
            "area_id": area["id"],
            "name": "Tổ ANTT TDP 3",
            "kind": "security_order",
            "members": TEAM_MEMBERS,
        },
    )
    assert response.status_code == 201, response.text
    team = response.json()
    assert [m["role"] for m in team["members"]] == ["leader", "deputy", "member"]
    assert team["honours"] == []

    fetched = await client.get(f"/teams/{team['id']}")
    assert fetched.json() == team

    rows = await outbox_rows(runtime)
    assert [row["event_type"] for row in rows] == [
        "area_registered",
        "team_registered",
        "member_joined",
        "member_joined",
        "member_joined",
    ]
    registered = json.loads(rows[1]["payload"])
    assert registered["team_id"] == team["id"] and registered["area_id"] == area["id"]
    assert registered["schema_version"] == 1 and registered["aggregate_version"] == 1
    assert {row["message_key"] for row in rows[1:]} == {team["id"]}


async def test_relay_publishes_the_outbox(registry):
    client, runtime = registry
    await register_ward(client)
    rows = await eventually(lambda: _published(runtime), within=5)
    assert rows[0]["published_at"] is not None


async def _published(runtime):
    rows = await outbox_rows(runtime)
    return rows if rows and all(row["published_at"] for row in rows) else None


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"area_id": str(uuid.uuid4())}, ["body", "area_id"], "unknown area"),
        ({"kind": "book_club"}, ["body", "kind"], "unknown team kind"),
        (
            {
                "members": [
                    {"full_name": "A", "role": "leader"},
                    {"full_name": "B", "role": "leader"},
                ]
            },
            ["body", "members"],
            "exactly one leader",
        ),
        ({"founded_on": "2999-01-01"}, ["body"], "future"),
    ],
)
async def test_invalid_team_is_refused_and_nothing_is_written(registry, change, loc, message):
    client, runtime = registry
    area = await register_ward(client)
    before = len(await outbox_rows(runtime))
    body = {"area_id": area["id"], "name": "Tổ", "kind": "security_order", "members": TEAM_MEMBERS}
    response = await client.post("/teams", json={**body, **change})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"][: len(loc)] == loc
    assert message in detail["msg"]
    assert len(await outbox_rows(runtime)) == before


async def test_duplicate_area_code_is_a_conflict(registry):
    client, _ = registry
    await register_ward(client)
    response = await client.post("/areas", json={"code": "HN-TH-QA", "name": "x", "level": "ward"})
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "code"]


async def test_unknown_team_is_404(registry):
    client, _ = registry
    response = await client.get(f"/teams/{uuid.uuid4()}")
    assert response.status_code == 404


async def test_award_granted_shows_once_on_team_profile_even_if_redelivered(registry):
    client, runtime = registry
    area = await register_ward(client)
    team = (
        await client.post(
            "/teams",
            json={
                "area_id": area["id"],
                "name": "Tổ",
                "kind": "security_order",
                "members": TEAM_MEMBERS,
            },
        )
    ).json()
    award = AwardGranted(
        award_id=uuid.uuid4(),
        nomination_id=uuid.uuid4(),
        recipient_kind=RecipientKind.COLLECTIVE,
        recipient_id=team["id"],
        recipient_name="Tổ",
        award_form="giay_khen",
        authority="ward_committee",
        reason="Thành tích xuất sắc",
        decision_number="12/QĐ-UBND",
        granted_on=datetime(2023, 8, 19, tzinfo=UTC),
        aggregate_version=1,
    )
    event_id = await publish_event(runtime.broker, award)
    await publish_event(runtime.broker, award, event_id=event_id)

    profile = (await client.get(f"/teams/{team['id']}")).json()
    assert [h["decision_number"] for h in profile["honours"]] == ["12/QĐ-UBND"]
    metrics = (await client.get("/metrics")).text
    assert 'antt_inbox_duplicates_skipped_total{topic="awards.award"} 1.0' in metrics


async def test_operations_endpoints(registry):
    client, _ = registry
    assert (await client.get("/health")).json()["status"] == "ok"
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "broker": True}
    assert "antt_outbox_pending_messages" in (await client.get("/metrics")).text
    assert (await client.get("/openapi.json")).status_code == 200
