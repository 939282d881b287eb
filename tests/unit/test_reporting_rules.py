"""Reporting's rules: the incident lifecycle and duplicate links, validation of incidents
and activities against the catalogue and the read models, read models that follow
registry's moves and dissolutions, filtered lists and CSV, events, and the privacy rule."""

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.reporting.app import Settings, create_app
from services.reporting.models import Activity, Incident, KnownArea, KnownTeam
from services.reporting.statistics.rules import local_day
from shared.auth import Role
from shared.db import execute
from shared.events import (
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from tests.support import bearer, publish_event, running_app, unit_settings, vietnam_today

PROVINCE, WARD_A, WARD_B, GROUP_A, GROUP_B = (uuid.uuid4() for _ in range(5))
TEAM_A, TEAM_B = uuid.uuid4(), uuid.uuid4()
OFFICER_A = bearer(Role.OFFICER, "W-A", subject="officer-a")
OFFICER_B = bearer(Role.OFFICER, "W-B", subject="officer-b")


async def area(broker, area_id, code, level, parent=None, version=1, name=None):
    await publish_event(
        broker,
        AreaRegistered(
            area_id=area_id,
            code=code,
            name=name or code,
            level=level,
            parent_id=parent,
            aggregate_version=version,
        ),
    )


@pytest.fixture
async def reporting(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        broker = runtime.broker
        await area(broker, PROVINCE, "P", AreaLevel.PROVINCE)
        await area(broker, WARD_A, "W-A", AreaLevel.WARD, PROVINCE)
        await area(broker, WARD_B, "W-B", AreaLevel.WARD, PROVINCE)
        await area(broker, GROUP_A, "W-A-1", AreaLevel.RESIDENTIAL_GROUP, WARD_A)
        await area(broker, GROUP_B, "W-B-1", AreaLevel.RESIDENTIAL_GROUP, WARD_B)
        for team, group in ((TEAM_A, GROUP_A), (TEAM_B, GROUP_B)):
            await publish_event(
                broker,
                TeamRegistered(
                    team_id=team,
                    area_id=group,
                    name="Tổ ANTT",
                    kind="security_order",
                    aggregate_version=1,
                ),
            )
        yield client, runtime


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def incident_body(**changes):
    return {
        "area_id": str(GROUP_A),
        "category": "robbery",
        "source": "patrol",
        "severity": "serious",
        "summary": "Cướp giật tài sản",
        "occurred_at": ago(hours=3),
        "team_ids": [str(TEAM_A)],
        **changes,
    }


def activity_body(**changes):
    return {
        "area_id": str(GROUP_A),
        "activity_type": "outreach",
        "occurred_on": date.today().isoformat(),
        "measures": [{"item": "sessions", "quantity": 2}],
        "team_ids": [str(TEAM_A)],
        **changes,
    }


async def report(client, headers=None, **changes):
    response = await client.post("/incidents", json=incident_body(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, incident_id, status, headers=None):
    return await client.post(
        f"/incidents/{incident_id}/status",
        json={"status": status, "reason": "Công an phường xác minh"},
        headers=headers,
    )


async def outbox(runtime, topic=None):
    table = runtime.outbox.table
    query = select(table).order_by(table.c.id)
    if topic:
        query = query.where(table.c.event_type == topic)
    async with runtime.sessions() as session:
        rows = (await execute(session, query)).mappings().all()
    return [json.loads(row["payload"]) for row in rows]


async def count(runtime, model):
    async with runtime.sessions() as session:
        return (await execute(session, select(func.count()).select_from(model))).scalar()


async def totals(client, area_id=WARD_A):
    # Vietnam's day, as the statistics count: UTC's is a day behind from 17:00 UTC.
    today = local_day(datetime.now(UTC), ZoneInfo("Asia/Ho_Chi_Minh"))
    response = await client.get(
        "/statistics",
        params={
            "area_id": str(area_id),
            "from": today.replace(day=1) - timedelta(days=40),
            "to": today.isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- lifecycle -----------------------------------------------------------------------------


async def test_lifecycle_keeps_who_when_why_and_events_carry_what_consumers_count(reporting):
    client, runtime = reporting
    created = await report(client, headers=OFFICER_A)
    assert (created["severity"], created["category_group"]) == ("serious", "crime")
    assert (await move(client, created["id"], "verified", OFFICER_A)).status_code == 200
    resolved = await move(client, created["id"], "resolved", OFFICER_A)
    assert resolved.status_code == 200
    history = resolved.json()["history"]
    assert [(h["from_status"], h["to_status"], h["changed_by"]) for h in history] == [
        ("reported", "verified", "officer-a"),
        ("verified", "resolved", "officer-a"),
    ]
    assert all(h["reason"] and h["changed_at"] for h in history)
    final = await move(client, created["id"], "dismissed")
    assert final.status_code == 409
    assert final.json()["detail"][0] == {
        "loc": ["body", "status"],
        "msg": "cannot move an incident from resolved to dismissed; resolved is final",
        "type": "conflict",
    }
    # reported → dismissed directly, for a report that proves false
    false_report = await report(client)
    assert (await move(client, false_report["id"], "dismissed")).status_code == 200

    reported, *_ = await outbox(runtime, "incident_reported")
    assert reported["category_group"] == "crime" and reported["severity"] == "serious"
    changed = (await outbox(runtime, "incident_status_changed"))[1]
    assert changed["to_status"] == "resolved"
    assert (changed["category_group"], changed["source"]) == ("crime", "patrol")
    assert changed["occurred_at"] and changed["credited_team_ids"] == [str(TEAM_A)]

    stats = (await totals(client))["incidents"]
    statuses = {f["key"]: f["count"] for f in stats["by_status"]}
    assert statuses == {
        "reported": 0,
        "verified": 0,
        "resolved": 1,
        "mediated": 0,
        "referred": 0,
        "dismissed": 1,
    }
    assert stats["total"]["count"] == 1  # a dismissed report is not an incident
    assert stats["share_solved"]["percent"] == "100.0"


async def test_duplicates_leave_the_counts_and_are_linked_with_rules(reporting):
    client, runtime = reporting
    original, repeat, third = [await report(client) for _ in range(3)]
    other_ward = await report(client, area_id=str(GROUP_B), team_ids=[str(TEAM_B)])

    def link(source, target, headers=None):
        return client.post(
            f"/incidents/{source}/duplicate-of",
            json={"duplicate_of": target, "reason": "Cùng một vụ, hai tin báo"},
            headers=headers,
        )

    itself = await link(repeat["id"], repeat["id"])
    assert itself.status_code == 422 and itself.json()["detail"][0]["loc"] == [
        "body",
        "duplicate_of",
    ]
    hidden = await link(repeat["id"], other_ward["id"], OFFICER_A)
    assert hidden.status_code == 422 and "unknown incident" in hidden.json()["detail"][0]["msg"]

    linked = await link(repeat["id"], original["id"], OFFICER_A)
    assert linked.status_code == 200, linked.text
    assert linked.json()["duplicate_of"] == original["id"]
    assert linked.json()["link"]["linked_by"] == "officer-a"
    assert (await client.get(f"/incidents/{original['id']}")).json()["duplicates"] == [repeat["id"]]
    again = await link(repeat["id"], third["id"])
    assert again.status_code == 409
    chained = await link(third["id"], repeat["id"])
    assert chained.status_code == 422 and original["id"] in chained.json()["detail"][0]["msg"]
    has_repeats = await link(original["id"], third["id"])
    assert has_repeats.status_code == 409
    frozen = await move(client, repeat["id"], "verified")
    assert frozen.status_code == 409 and original["id"] in frozen.json()["detail"][0]["msg"]

    stats = (await totals(client))["incidents"]
    assert stats["total"]["count"] == 2 and stats["duplicates"]["count"] == 1
    event = (await outbox(runtime, "incident_linked"))[0]
    assert (event["incident_id"], event["duplicate_of"]) == (repeat["id"], original["id"])
    assert event["aggregate_version"] == 2


# --- validation ------------------------------------------------------------------------------


INVALID_INCIDENTS = [
    ({"latitude": 21.0}, ["body"], "latitude and longitude go together"),
    ({"latitude": 91, "longitude": 105}, ["body", "latitude"], "less than or equal"),
    (
        {"occurred_at": ago(hours=1), "reported_at": ago(hours=2)},
        ["body"],
        "reported_at cannot be before occurred_at",
    ),
    ({"reported_at": ago(hours=-2)}, ["body", "reported_at"], "future"),
    ({"severity": "apocalyptic"}, ["body", "severity"], "Input should be"),
    ({"area_id": str(PROVINCE)}, ["body", "area_id"], "this area is a province"),
    ({"summary": ""}, ["body", "summary"], "at least 1"),
]


async def test_invalid_incidents_are_422_naming_field_and_rule(reporting):
    """One app for all the cases (each a separate request), to keep the suite quick."""
    client, runtime = reporting
    for changes, loc, message in INVALID_INCIDENTS:
        response = await client.post("/incidents", json=incident_body(**changes))
        assert response.status_code == 422, (changes, response.text)
        detail = response.json()["detail"][0]
        assert detail["loc"] == loc and message in detail["msg"], (changes, detail)
    assert await count(runtime, Incident) == 0 and await outbox(runtime) == []


INVALID_ACTIVITIES = [
    ({"activity_type": "picnic"}, ["body", "activity_type"], "unknown activity type"),
    (
        {"measures": [{"item": "kilometres", "quantity": 3}]},
        ["body", "measures", 0, "item"],
        "unknown item 'kilometres' for activity type outreach; one of sessions, people_reached",
    ),
    (
        {"measures": [{"item": "sessions", "unit": "kg", "quantity": 3}]},
        ["body", "measures", 0, "unit"],
        "the unit of sessions (outreach) is count",
    ),
    (
        {"measures": [{"item": "sessions", "quantity": "2.5"}]},
        ["body", "measures", 0, "quantity"],
        "sessions must be a whole number (unit count)",
    ),
    (
        {"measures": [{"item": "sessions", "quantity": 0}]},
        ["body", "measures", 0, "quantity"],
        "greater than 0",
    ),
    (
        {
            "measures": [
                {"item": "sessions", "quantity": 1},
                {"item": "sessions", "quantity": 2},
            ]
        },
        ["body", "measures", 1, "item"],
        "given twice",
    ),
    ({"measures": []}, ["body", "measures"], "at least 1"),
    ({"outcome": "successful"}, ["body", "outcome"], "has no outcome"),
    ({"topic": "PCCC"}, ["body", "topic"], "has no topic"),
    ({"incident_id": str(uuid.uuid4())}, ["body", "incident_id"], "not linked to an incident"),
    (
        {"occurred_on": (date.today() + timedelta(days=2)).isoformat()},
        ["body", "occurred_on"],
        "future",
    ),
    ({"area_id": str(uuid.uuid4())}, ["body", "area_id"], "unknown area"),
    ({"team_ids": [str(uuid.uuid4())]}, ["body", "team_ids", 0], "unknown team"),
    (
        {"activity_type": "mediation", "measures": [{"item": "cases", "quantity": 1}]},
        ["body", "outcome"],
        "one of successful, unsuccessful",
    ),
    (
        {
            "activity_type": "weapons_handover",
            "measures": [{"item": "grenade", "unit": "bucket", "quantity": 1}],
        },
        ["body", "measures", 0, "unit"],
        "unit must be one of piece, kg",
    ),
    (
        {
            "activity_type": "footage_extraction",
            "measures": [{"item": "extractions", "quantity": 1}],
            "incident_id": str(uuid.uuid4()),
        },
        ["body", "incident_id"],
        "unknown incident",
    ),
]


async def test_invalid_activities_are_422_and_store_nothing(reporting):
    client, runtime = reporting
    for changes, loc, message in INVALID_ACTIVITIES:
        response = await client.post("/activities", json=activity_body(**changes))
        assert response.status_code == 422, (changes, response.text)
        detail = response.json()["detail"][0]
        assert detail["loc"] == loc and message in detail["msg"], (changes, detail)
    assert await count(runtime, Activity) == 0 and await outbox(runtime) == []


async def test_activity_types_keep_their_own_quantities_and_publish_them(reporting):
    client, runtime = reporting
    training = await client.post(
        "/activities",
        json=activity_body(
            activity_type="training",
            topic="Phòng cháy chữa cháy",
            measures=[
                {"item": "sessions", "quantity": 1},
                {"item": "participants", "quantity": 45},
            ],
        ),
    )
    assert training.status_code == 201, training.text
    assert training.json()["topic"] == "Phòng cháy chữa cháy"
    assert training.json()["recorded_by"] == "tester"
    incident = await report(client, headers=OFFICER_A)
    footage = await client.post(
        "/activities",
        json=activity_body(
            activity_type="footage_extraction",
            measures=[{"item": "extractions", "quantity": 3}],
            incident_id=incident["id"],
        ),
        headers=OFFICER_A,
    )
    assert footage.status_code == 201, footage.text
    weapons = await client.post(
        "/activities",
        json=activity_body(
            activity_type="weapons_handover",
            measures=[
                {"item": "firecrackers", "unit": "kg", "quantity": "1.5"},
                {"item": "homemade_gun", "unit": "piece", "quantity": 1},
            ],
        ),
    )
    assert weapons.status_code == 201
    assert {(m["item"], m["quantity"]) for m in weapons.json()["measures"]} == {
        ("firecrackers", "1.5"),
        ("homemade_gun", "1"),
    }
    # A team of another ward, or its incident, is unknown to officer A.
    elsewhere = await report(client, area_id=str(GROUP_B), team_ids=[str(TEAM_B)])
    refused = await client.post(
        "/activities",
        json=activity_body(
            activity_type="footage_extraction",
            measures=[{"item": "extractions", "quantity": 1}],
            incident_id=elsewhere["id"],
        ),
        headers=OFFICER_A,
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == [
        "body",
        "incident_id",
    ]

    events = await outbox(runtime, "activity_logged")
    assert [e["activity_type"] for e in events] == [
        "training",
        "footage_extraction",
        "weapons_handover",
    ]
    assert "topic" not in events[0]
    assert events[1]["incident_id"] == incident["id"]
    assert events[1]["team_ids"] == [str(TEAM_A)]
    assert {(m["item"], m["unit"], m["quantity"]) for m in events[2]["measures"]} == {
        ("firecrackers", "kg", "1.5"),
        ("homemade_gun", "piece", "1"),
    }
    metrics = (await client.get("/metrics")).text
    assert 'antt_activities_logged_total{activity_type="training"} 1.0' in metrics

    got = await client.get(f"/activities/{footage.json()['id']}", headers=OFFICER_B)
    assert got.status_code == 404
    listed = await client.get("/activities", params={"activity_type": "training"})
    assert [a["id"] for a in listed.json()] == [training.json()["id"]]


# --- read models ----------------------------------------------------------------------------


async def test_moves_renames_and_dissolutions_reach_the_read_model(reporting):
    client, runtime = reporting
    broker = runtime.broker
    incident = await report(client)
    assert (await client.get(f"/incidents/{incident['id']}", headers=OFFICER_B)).status_code == 404
    # Group A moves from ward A to ward B: ward B's officer now sees it, A's does not,
    # and the statistics of the wards follow.
    await publish_event(
        broker,
        AreaMoved(
            area_id=GROUP_A,
            code="W-A-1",
            from_parent_id=WARD_A,
            to_parent_id=WARD_B,
            aggregate_version=3,
        ),
    )
    assert (await client.get(f"/incidents/{incident['id']}", headers=OFFICER_B)).status_code == 200
    assert (await client.get(f"/incidents/{incident['id']}", headers=OFFICER_A)).status_code == 404
    assert (await totals(client, WARD_B))["incidents"]["total"]["count"] == 1
    assert (await totals(client, WARD_A))["incidents"]["total"]["count"] == 0
    # A late, older move and a late rename: the move is ignored, the rename applies.
    await publish_event(
        broker,
        AreaMoved(
            area_id=GROUP_A,
            code="W-A-1",
            from_parent_id=None,
            to_parent_id=WARD_A,
            aggregate_version=2,
        ),
    )
    await publish_event(
        broker, AreaUpdated(area_id=GROUP_A, code="W-B-9", name="Tổ dân phố 9", aggregate_version=2)
    )
    async with runtime.sessions() as session:
        group = await session.get(KnownArea, GROUP_A)
    assert (group.parent_id, group.name, group.code) == (WARD_B, "Tổ dân phố 9", "W-B-9")
    # An update that overtakes its area's registration is held, not dead-lettered: the
    # area is not known for records until the registration fills the level in.
    stranger = uuid.uuid4()
    await publish_event(
        broker, AreaUpdated(area_id=stranger, code="X", name="X", aggregate_version=2)
    )
    early = await client.post("/incidents", json=incident_body(area_id=str(stranger)))
    assert early.status_code == 422, early.text
    assert early.json()["detail"][0]["loc"] == ["body", "area_id"]
    await area(broker, stranger, "X-OLD", AreaLevel.WARD, None, name="Old name")
    async with runtime.sessions() as session:
        held = await session.get(KnownArea, stranger)
    # the registration is older than the rename: it fills level and parent, not the name
    assert (held.name, held.code, held.level, held.parent_id, held.version) == (
        "X",
        "X",
        AreaLevel.WARD,
        None,
        2,
    )
    await report(client, area_id=str(stranger), team_ids=[])

    # A group registered before its ward: its counts reach the ward's ancestors once the
    # ward is known.
    late_ward, late_group = uuid.uuid4(), uuid.uuid4()
    await area(broker, late_group, "L-1", AreaLevel.RESIDENTIAL_GROUP, late_ward)
    await report(client, area_id=str(late_group), team_ids=[])
    assert (await totals(client, PROVINCE))["incidents"]["total"]["count"] == 1
    await area(broker, late_ward, "L", AreaLevel.WARD, PROVINCE)
    assert (await totals(client, late_ward))["incidents"]["total"]["count"] == 1
    assert (await totals(client, PROVINCE))["incidents"]["total"]["count"] == 2

    # A dissolved team gets 422 naming it, even if an older update comes after.
    await publish_event(
        broker,
        TeamDissolved(
            team_id=TEAM_B,
            area_id=GROUP_B,
            dissolved_on=date.today(),
            reason="Sáp nhập",
            aggregate_version=3,
        ),
    )
    await publish_event(
        broker,
        TeamUpdated(
            team_id=TEAM_B,
            area_id=GROUP_B,
            name="Tổ cũ",
            kind="security_order",
            aggregate_version=2,
        ),
    )
    async with runtime.sessions() as session:
        team = await session.get(KnownTeam, TEAM_B)
    assert (team.status, team.name) == ("dissolved", "Tổ cũ")
    for path, body in (
        ("/incidents", incident_body(area_id=str(GROUP_B), team_ids=[str(TEAM_B)])),
        ("/activities", activity_body(area_id=str(GROUP_B), team_ids=[str(TEAM_B)])),
    ):
        refused = await client.post(path, json=body)
        assert refused.status_code == 422
        detail = refused.json()["detail"][0]
        assert detail["loc"] == ["body", "team_ids", 0] and str(TEAM_B) in detail["msg"]
        assert "dissolved" in detail["msg"]


# --- lists, CSV and privacy ---------------------------------------------------------------------


async def test_lists_filter_page_and_export_csv_safely(reporting):
    client, _ = reporting
    formula = '=HYPERLINK("http://evil","x")'
    a1 = await report(client, occurred_at=ago(days=3), summary=formula)
    a2 = await report(client, occurred_at=ago(days=2), category="drugs", source="camera")
    a3 = await report(client, occurred_at=ago(days=1), address="-1 Ngõ Huế")
    await move(client, a2["id"], "verified")
    b1 = await report(client, area_id=str(GROUP_B), team_ids=[str(TEAM_B)], occurred_at=ago(days=1))

    async def ids(headers=None, **params):
        response = await client.get("/incidents", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()]

    assert await ids() == [b1["id"], a3["id"], a2["id"], a1["id"]]  # newest first
    assert await ids(headers=OFFICER_A) == [a3["id"], a2["id"], a1["id"]]
    assert await ids(area_id=str(WARD_B)) == [b1["id"]]
    assert await ids(status="verified") == [a2["id"]]
    assert await ids(category_group="drugs_social_evils") == [a2["id"]]
    assert await ids(source="camera", area_id=str(PROVINCE)) == [a2["id"]]
    assert await ids(headers=OFFICER_A, limit=2, offset=1) == [a2["id"], a1["id"]]
    # A ward's day is Vietnam's: after 17:00 UTC it is tomorrow there, and a day ago is today.
    today = local_day(datetime.now(UTC), ZoneInfo("Asia/Ho_Chi_Minh")).isoformat()
    assert await ids(headers=OFFICER_A, **{"from": today, "to": today}) == []
    hidden = await client.get("/incidents", params={"area_id": str(WARD_B)}, headers=OFFICER_A)
    assert hidden.status_code == 404
    too_many = await client.get("/incidents", params={"limit": 201})
    assert too_many.status_code == 422

    response = await client.get("/incidents.csv", headers=OFFICER_A)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [a3["id"], a2["id"], a1["id"]]
    assert rows[2]["summary"] == "'" + formula
    assert rows[0]["address"] == "'-1 Ngõ Huế"
    assert rows[0]["team_ids"] == str(TEAM_A)

    await client.post(
        "/activities",
        json=activity_body(notes="@SUM(A1:A9)", measures=[{"item": "sessions", "quantity": 3}]),
    )
    exported = await client.get("/activities.csv", params={"area_id": str(WARD_A)})
    activity_rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert activity_rows[0]["notes"] == "'@SUM(A1:A9)"
    assert activity_rows[0]["measures"] == "sessions=3 count"


async def test_informant_stays_out_of_events_lists_and_exports(reporting):
    client, runtime = reporting
    marker = uuid.uuid4().hex[:10]
    tip = await client.post(
        "/tips",
        json={
            "area_id": str(GROUP_A),
            "category": "drugs",
            "summary": "Nghi mua bán ma túy",
            "occurred_at": ago(hours=4),
            "informant": {"full_name": f"Người {marker}", "contact": f"09{marker}"},
        },
        headers={},
    )
    assert tip.status_code == 201
    listed = await client.get("/incidents", params={"source": "resident_tip"})
    assert len(listed.json()) == 1 and marker not in listed.text
    exported = await client.get("/incidents.csv")
    assert marker not in exported.text and "resident_tip" in exported.text
    stats = await client.get(
        "/statistics.csv",
        params={"area_id": str(PROVINCE), "from": "2020-01-01", "to": vietnam_today().isoformat()},
    )
    assert marker not in stats.text
    async with runtime.sessions() as session:
        rows = (await execute(session, select(runtime.outbox.table))).mappings().all()
    assert rows and not [row for row in rows if marker in row["payload"]]
    reported = json.loads(rows[0]["payload"])
    assert (
        reported["source"] == "resident_tip" and reported["category_group"] == "drugs_social_evils"
    )


async def test_exports_page_through_every_row_once_in_chunks(reporting, monkeypatch):
    """Exports read in keyset chunks: with a chunk of two, rows sharing a time are neither
    lost nor repeated at the chunk borders."""
    client, _ = reporting
    monkeypatch.setattr("services.reporting.common.EXPORT_CHUNK", 2)
    same_time = ago(days=2)
    created = [(await report(client, occurred_at=same_time))["id"] for _ in range(4)]
    created.append((await report(client, occurred_at=ago(days=1)))["id"])
    for _ in range(3):
        await client.post("/activities", json=activity_body())
    incidents = await client.get("/incidents.csv")
    rows = list(csv.DictReader(io.StringIO(incidents.content.decode("utf-8-sig"))))
    assert len(rows) == 5 and sorted(row["id"] for row in rows) == sorted(created)
    assert rows[0]["id"] == created[-1]  # newest first
    activities = await client.get("/activities.csv")
    activity_rows = list(csv.DictReader(io.StringIO(activities.content.decode("utf-8-sig"))))
    assert len({row["id"] for row in activity_rows}) == len(activity_rows) == 3
