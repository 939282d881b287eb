"""Awards: read models, the nomination workflow, the catalogue's rules, one achievement one
award, revocation and scopes. (Scores, certification and the campaign report have files of
their own: test_awards_scores.py, test_awards_certification.py, test_awards_campaign.py.)"""

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from services.awards.app import Settings, create_app
from services.awards.awards.models import Award
from services.awards.nominations.models import Nomination
from shared.auth import Role
from shared.db import execute
from shared.events import (
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    IncidentLinked,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    TeamDissolved,
    TeamRole,
)
from tests.support import (
    announce_area,
    announce_team,
    bearer,
    publish_event,
    running_app,
    unit_settings,
)

PROVINCE, DISTRICT, WARD, GROUP, OTHER_WARD = (uuid.uuid4() for _ in range(5))
TEAM_ID, OTHER_TEAM, PERSON_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
OFFICER = bearer(Role.OFFICER, "HN-TH-QA", subject="can-bo-quang-an")


async def announce_tree(broker) -> None:
    """Hà Nội › quận Tây Hồ › phường Quảng An › tổ dân phố số 3; phường Nhật Tân beside it."""
    for area_id, code, name, level, parent in (
        (PROVINCE, "HN", "TP. Hà Nội", AreaLevel.PROVINCE, None),
        (DISTRICT, "HN-TH", "Quận Tây Hồ", AreaLevel.DISTRICT, PROVINCE),
        (WARD, "HN-TH-QA", "Phường Quảng An", AreaLevel.WARD, DISTRICT),
        (GROUP, "HN-TH-QA-3", "Tổ dân phố số 3", AreaLevel.RESIDENTIAL_GROUP, WARD),
        (OTHER_WARD, "HN-TH-NT", "Phường Nhật Tân", AreaLevel.WARD, DISTRICT),
    ):
        await publish_event(
            broker,
            AreaRegistered(
                area_id=area_id,
                code=code,
                name=name,
                level=level,
                parent_id=parent,
                households=400 if area_id == GROUP else None,
                aggregate_version=1,
            ),
        )


async def announce_member(broker, person_id, team_id=TEAM_ID, name="Nguyễn Chu Thực", version=2):
    await publish_event(
        broker,
        MemberJoined(
            team_id=team_id,
            area_id=WARD,
            person_id=person_id,
            full_name=name,
            role=TeamRole.LEADER,
            aggregate_version=version,
        ),
    )


@pytest.fixture
async def awards(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as running:
        broker = running[1].broker
        await announce_tree(broker)
        await announce_team(broker, TEAM_ID, WARD, "Tổ ANTT tổ dân phố số 3", "security_order")
        await announce_team(broker, OTHER_TEAM, OTHER_WARD, "Tổ ANTT Nhật Tân")
        await announce_member(broker, PERSON_ID)
        yield running


def resolved(incident_id, teams=(TEAM_ID,), to_status=IncidentStatus.RESOLVED, version=3):
    return IncidentStatusChanged(
        incident_id=incident_id,
        area_id=GROUP,
        category="theft",
        from_status=IncidentStatus.VERIFIED,
        to_status=to_status,
        changed_at=datetime.now(UTC),
        credited_team_ids=list(teams),
        aggregate_version=version,
    )


async def report_incident(broker, incident_id=None, area_id=GROUP, category="theft", **fields):
    incident_id = incident_id or uuid.uuid4()
    await publish_event(
        broker,
        IncidentReported(
            incident_id=incident_id,
            area_id=area_id,
            category=category,
            source=fields.pop("source", IncidentSource.PATROL),
            status=IncidentStatus.REPORTED,
            occurred_at=fields.pop("occurred_at", datetime.now(UTC) - timedelta(days=1)),
            reported_at=datetime.now(UTC),
            credited_team_ids=fields.pop("teams", [TEAM_ID]),
            aggregate_version=1,
            **fields,
        ),
    )
    return incident_id


async def resolved_count(client, team_id=TEAM_ID):
    response = await client.get(f"/contributions/teams/{team_id}")
    return response.json()["resolved_incidents"]


async def outbox(runtime):
    async with runtime.sessions() as session:
        rows = (await execute(session, select(runtime.outbox.table))).mappings().all()
    return [(row["event_type"], json.loads(row["payload"])) for row in rows]


async def count_rows(runtime, model):
    async with runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()[0]


NOMINATION = {
    "recipient_kind": "collective",
    "recipient_id": str(TEAM_ID),
    "recipient_name": "Tổ dân phố số 3",
    "award_form": "giay_khen",
    "authority": "ward_committee",
    "reason": "Thành tích xuất sắc trong phong trào toàn dân bảo vệ an ninh Tổ quốc",
}


def citing(*incidents, **fields):
    achievements = [{"kind": "incident", "ref_id": str(i)} for i in incidents]
    return {**NOMINATION, "achievements": achievements, **fields}


async def nominate(client, body=None, **headers):
    response = await client.post("/nominations", json=body or NOMINATION, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def approve(client, nomination, number="15/QĐ-UBND", decided_on="2023-08-19"):
    response = await client.post(
        f"/nominations/{nomination['id']}/approve",
        json={"decision_number": number, "decided_on": decided_on},
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- contributions and read models ------------------------------------------------------


async def test_same_event_delivered_twice_counts_once(awards):
    client, runtime = awards
    event = resolved(uuid.uuid4())
    event_id = await publish_event(runtime.broker, event)
    assert await resolved_count(client) == 1
    await publish_event(runtime.broker, event, event_id=event_id)
    assert await resolved_count(client) == 1
    await publish_event(runtime.broker, resolved(uuid.uuid4()))
    assert await resolved_count(client) == 2


async def test_only_resolutions_count_and_a_duplicate_no_longer_does(awards):
    client, runtime = awards
    await publish_event(runtime.broker, resolved(uuid.uuid4(), to_status=IncidentStatus.MEDIATED))
    assert await resolved_count(client) == 0
    duplicate = await report_incident(runtime.broker)
    await publish_event(runtime.broker, resolved(duplicate))
    assert await resolved_count(client) == 1
    link = IncidentLinked(
        incident_id=duplicate,
        duplicate_of=uuid.uuid4(),
        area_id=GROUP,
        category="theft",
        linked_at=datetime.now(UTC),
        aggregate_version=4,
    )
    await publish_event(runtime.broker, link)
    await publish_event(runtime.broker, link)  # a second link event changes nothing more
    assert await resolved_count(client) == 0
    # and a duplicate cannot be cited as an achievement
    response = await client.post("/nominations", json=citing(duplicate))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "achievements", 0, "ref_id"]


async def test_read_models_take_events_in_any_order(awards):
    client, runtime = awards
    late_team, late_area, new_parent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # The dissolution arrives before the registration (another topic, another consumer).
    await publish_event(
        runtime.broker,
        TeamDissolved(
            team_id=late_team,
            area_id=WARD,
            dissolved_on=date(2025, 7, 1),
            reason="Sáp nhập",
            aggregate_version=3,
        ),
    )
    await announce_team(runtime.broker, late_team, WARD, "Tổ ANTT cũ")
    response = await client.post(
        "/nominations", json={**NOMINATION, "recipient_id": str(late_team)}
    )
    assert response.status_code == 422
    assert "dissolved on 2025-07-01" in response.json()["detail"][0]["msg"]

    # A move (version 2) before the registration (version 1): the parent stays the moved one.
    await announce_area(runtime.broker, new_parent, "HN-TH-XL", "Phường Xuân La", DISTRICT)
    await publish_event(
        runtime.broker,
        AreaMoved(
            area_id=late_area,
            code="HN-TH-QA-9",
            from_parent_id=OTHER_WARD,
            to_parent_id=new_parent,
            aggregate_version=2,
        ),
    )
    await announce_area(runtime.broker, late_area, "HN-TH-QA-9", "Tổ 9", OTHER_WARD)
    officer = bearer(Role.OFFICER, "HN-TH-XL")
    body = {**NOMINATION, "recipient_id": str(late_area), "recipient_name": None}
    created = await nominate(client, body, **officer)
    assert created["recipient_name"] == "Tổ 9" and created["recipient_source"] == "area"


async def test_a_moved_area_takes_its_records_to_the_new_parents_officers(awards):
    client, runtime = awards
    nomination = await nominate(client)  # the team of ward Quảng An
    other_district = uuid.uuid4()
    await announce_area(runtime.broker, other_district, "HN-BD", "Quận Ba Đình", PROVINCE)
    district_officer = bearer(Role.OFFICER, "HN-BD")
    url = f"/nominations/{nomination['id']}"
    assert (await client.get(url, headers=district_officer)).status_code == 404
    await publish_event(
        runtime.broker,
        AreaMoved(
            area_id=WARD,
            code="HN-TH-QA",
            from_parent_id=DISTRICT,
            to_parent_id=other_district,
            aggregate_version=2,
        ),
    )
    assert (await client.get(url, headers=district_officer)).status_code == 200
    assert (await client.get(url, headers=bearer(Role.OFFICER, "HN-TH"))).status_code == 404


# --- the workflow -------------------------------------------------------------------------


async def test_approval_grants_the_award_and_publishes_the_decision(awards):
    client, runtime = awards
    incident = await report_incident(runtime.broker)
    nomination = await nominate(client, citing(incident))
    assert nomination["status"] == "nominated"
    assert nomination["achievements"] == [
        {"kind": "incident", "ref_id": str(incident), "text": None}
    ]
    award = await approve(client, nomination)
    assert award["granted_on"].startswith("2023-08-19")
    assert (award["authority_level"], award["status"], award["award_kind"]) == (
        "ward",
        "active",
        "regular",
    )
    assert (await client.get(f"/nominations/{nomination['id']}")).json()["status"] == "approved"
    assert [a["id"] for a in (await client.get("/awards")).json()] == [award["id"]]
    assert (await client.get(f"/awards/{award['id']}")).json()["decision_number"] == "15/QĐ-UBND"

    events = await outbox(runtime)
    assert [topic for topic, _ in events] == [
        "nomination_created",
        "nomination_decided",
        "award_granted",
    ]
    created, decided, granted = (payload for _, payload in events)
    assert created["nomination_id"] == nomination["id"] and created["suggested"] is False
    assert (created["aggregate_version"], decided["aggregate_version"]) == (1, 2)
    assert decided["decision"] == "approved" and decided["area_id"] == str(WARD)
    assert granted["award_id"] == award["id"] and granted["recipient_id"] == str(TEAM_ID)
    assert granted["authority_level"] == "ward" and granted["award_kind"] == "regular"

    again = await client.post(
        f"/nominations/{nomination['id']}/approve", json={"decision_number": "16/QĐ-UBND"}
    )
    assert again.status_code == 409
    assert len((await client.get("/awards")).json()) == 1


async def test_rejection_states_its_reason_and_closes_the_nomination(awards):
    client, runtime = awards
    nomination = await nominate(client)
    url = f"/nominations/{nomination['id']}"
    assert (await client.post(f"{url}/reject", json={})).status_code == 422
    rejected = await client.post(f"{url}/reject", json={"reason": "Chưa đủ thành tích"})
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_reason"] == "Chưa đủ thành tích"
    assert (await client.post(f"{url}/approve", json={"decision_number": "1"})).status_code == 409
    assert (await client.post(f"{url}/reject", json={"reason": "x"})).status_code == 409
    listed = (await client.get("/nominations?status=rejected")).json()
    assert [n["id"] for n in listed] == [nomination["id"]]
    decided = [payload for topic, payload in await outbox(runtime) if topic == "nomination_decided"]
    assert [(d["decision"], d["reason"]) for d in decided] == [("rejected", "Chưa đủ thành tích")]
    assert await count_rows(runtime, Award) == 0


async def test_revocation_publishes_and_frees_nothing_else(awards):
    client, runtime = awards
    award = await approve(client, await nominate(client))
    url = f"/awards/{award['id']}/revoke"
    future = (date.today() + timedelta(days=3)).isoformat()
    response = await client.post(url, json={"reason": "Gian lận", "revoked_on": future})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "revoked_on"
    response = await client.post(url, json={"reason": "Khai man thành tích"})
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert (revoked["status"], revoked["revocation_reason"]) == ("revoked", "Khai man thành tích")
    assert (await client.post(url, json={"reason": "again"})).status_code == 409
    assert [a["id"] for a in (await client.get("/awards?status=revoked")).json()] == [award["id"]]
    assert (await client.get("/awards?status=active")).json() == []
    events = dict(await outbox(runtime))
    assert events["award_revoked"]["award_id"] == award["id"]
    assert events["award_revoked"]["reason"] == "Khai man thành tích"
    assert events["award_revoked"]["aggregate_version"] == 2
    assert events["award_revoked"]["recipient_id"] == str(TEAM_ID)
    text = (await client.get("/metrics")).text
    assert 'antt_awards_revoked_total{authority_level="ward"} 1.0' in text
    assert 'antt_nominations_decided_total{decision="approved"} 1.0' in text


async def test_one_achievement_earns_one_award(awards):
    client, runtime = awards
    incident, other = await report_incident(runtime.broker), await report_incident(runtime.broker)
    first = await approve(client, await nominate(client, citing(incident)))

    # The same team again for the same incident, even cited beside another: 409 naming it.
    response = await client.post(
        "/nominations", json=citing(other, incident, authority="city_police")
    )
    assert response.status_code == 409
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "achievements", 1]
    assert first["id"] in detail["msg"] and "15/QĐ-UBND" in detail["msg"]

    # Free text counts too, whatever its spacing and case.
    text = {"kind": "text", "text": "Bắt quả tang  đối tượng trộm cắp"}
    await approve(client, await nominate(client, {**NOMINATION, "achievements": [text]}))
    same = {"kind": "text", "text": "bắt quả tang đối tượng TRỘM CẮP"}
    response = await client.post("/nominations", json={**NOMINATION, "achievements": [same]})
    assert response.status_code == 409

    # Two nominations waiting for the same achievement: the second approval is refused.
    waiting = [await nominate(client, citing(other)) for _ in range(2)]
    await approve(client, waiting[0])
    response = await client.post(
        f"/nominations/{waiting[1]['id']}/approve", json={"decision_number": "20/QĐ"}
    )
    assert response.status_code == 409
    assert (await client.get(f"/nominations/{waiting[1]['id']}")).json()["status"] == "nominated"

    # Another recipient's part in the same incident is its own achievement.
    member = {
        "recipient_kind": "individual",
        "recipient_id": str(PERSON_ID),
        **{k: NOMINATION[k] for k in ("award_form", "authority", "reason")},
        "achievements": [{"kind": "incident", "ref_id": str(incident)}],
    }
    await approve(client, await nominate(client, member))

    # Once the award is revoked the achievement may be rewarded again.
    await client.post(f"/awards/{first['id']}/revoke", json={"reason": "Sai hình thức"})
    await nominate(client, citing(incident))


async def test_catalogue_rules_name_the_field_and_the_rule(awards):
    client, runtime = awards
    cases = [
        ({"award_form": "gold_star"}, "award_form", "unknown award form"),
        ({"authority": "district_cat_committee"}, "authority", "unknown authority"),
        ({"award_form": "bang_khen"}, "award_form", "ward_committee may not give bang_khen"),
        ({"award_kind": "campaign"}, "campaign", "names its campaign"),
        ({"award_kind": "campaign", "campaign": "x-2023"}, "campaign", "unknown campaign"),
        ({"campaign": "festival-19-8-2023"}, "campaign", "only a campaign award"),
    ]
    for change, field, message in cases:
        response = await client.post("/nominations", json={**NOMINATION, **change})
        assert response.status_code == 422, (change, response.text)
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["body", field] and message in detail["msg"], (change, detail)
    created = await nominate(
        client,
        {
            **NOMINATION,
            "award_form": "bang_khen",
            "authority": "provincial_committee",
            "award_kind": "campaign",
            "campaign": "festival-19-8-2023",
        },
    )
    assert created["campaign"] == "festival-19-8-2023"
    catalogue = (await client.get("/catalogue")).json()
    assert catalogue["authorities"]["ward_committee"] == {
        "name": "Chủ tịch UBND phường",
        "level": "ward",
        "forms": ["giay_khen"],
    }
    assert catalogue["award_forms"]["bang_khen"]["name_vi"] == "Bằng khen"
    assert catalogue["award_kinds"] == ["regular", "ad_hoc", "campaign"]
    assert await count_rows(runtime, Nomination) == 1


async def test_recipients_must_be_known_active_and_placed(awards):
    client, runtime = awards
    await publish_event(
        runtime.broker,
        TeamDissolved(
            team_id=TEAM_ID,
            area_id=WARD,
            dissolved_on=date(2026, 1, 5),
            reason="Giải thể",
            aggregate_version=2,
        ),
    )
    individual = {k: v for k, v in NOMINATION.items() if k != "recipient_id"}
    individual["recipient_kind"] = "individual"
    refused = [
        (NOMINATION, ["body", "recipient_id"], "dissolved"),
        ({**individual, "recipient_id": str(uuid.uuid4())}, ["body", "recipient_id"], "unknown"),
        ({**NOMINATION, "recipient_id": str(uuid.uuid4())}, ["body", "recipient_id"], "unknown"),
        (individual, ["body", "area_id"], "area_id"),
        (
            {**individual, "recipient_name": None, "area_id": str(WARD)},
            ["body", "recipient_name"],
            "",
        ),
        ({**individual, "area_id": str(uuid.uuid4())}, ["body", "area_id"], "unknown area"),
        ({**individual, "recipient_kind": "household"}, ["body", "area_id"], "area_id"),
        (
            {**individual, "recipient_id": str(PERSON_ID), "area_id": str(OTHER_WARD)},
            ["body", "area_id"],
            "recipient's own area",
        ),
        (
            {
                **individual,
                "area_id": str(WARD),
                "achievements": [{"kind": "activity", "ref_id": str(uuid.uuid4())}],
            },
            ["body", "achievements", 0, "ref_id"],
            "unknown activity",
        ),
        ({**individual, "area_id": str(WARD), "achievements": [{"kind": "text"}]}, None, ""),
    ]
    for body, loc, message in refused:
        response = await client.post("/nominations", json=body)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"][0]
        if loc is not None:
            assert detail["loc"] == loc and message in detail["msg"], (body, detail)
    # Nothing was half-written by any of them.
    assert await count_rows(runtime, Nomination) == 0
    assert await outbox(runtime) == []

    person = await nominate(
        client, {**individual, "recipient_id": str(PERSON_ID), "recipient_name": None}
    )
    assert (person["recipient_source"], person["recipient_name"]) == ("person", "Nguyễn Chu Thực")
    assert person["area_id"] == str(WARD)
    named = await nominate(
        client, {**individual, "recipient_name": "Bà Lê Thị Hoa", "area_id": str(GROUP)}
    )
    assert named["recipient_source"] == "named" and named["area_id"] == str(GROUP)
    household = await nominate(
        client,
        {
            **individual,
            "recipient_kind": "household",
            "recipient_name": "Hộ ông Tư",
            "area_id": str(GROUP),
        },
    )
    assert household["recipient_source"] == "named"
    ward = await nominate(client, {**NOMINATION, "recipient_id": str(WARD), "recipient_name": None})
    assert (ward["recipient_source"], ward["recipient_name"]) == ("area", "Phường Quảng An")


async def test_decisions_may_be_dated_in_the_past_not_in_the_future(awards):
    client, _ = awards
    nomination = await nominate(client)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = await client.post(
        f"/nominations/{nomination['id']}/approve",
        json={"decision_number": "1/QĐ", "decided_on": tomorrow},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "decided_on"]
    award = await approve(client, nomination, decided_on="2019-08-19")
    assert award["granted_on"].startswith("2019-08-19")


async def test_officers_act_only_in_their_areas_and_are_audited(awards):
    client, _ = awards
    theirs = await nominate(client, {**NOMINATION, "recipient_id": str(OTHER_TEAM)})
    response = await client.post("/nominations", json=NOMINATION, headers=OFFICER)
    assert response.status_code == 201
    ours = response.json()
    response = await client.post(
        "/nominations", json={**NOMINATION, "recipient_id": str(OTHER_TEAM)}, headers=OFFICER
    )
    assert response.status_code == 422 and "unknown team" in response.json()["detail"][0]["msg"]
    record = {
        **{k: v for k, v in NOMINATION.items() if k != "recipient_id"},
        "recipient_kind": "individual",
        "recipient_name": "Ông Nguyễn Văn A",
        "area_id": str(OTHER_WARD),
        "decision_number": "3/QĐ",
    }
    response = await client.post("/awards", json=record, headers=OFFICER)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "area_id",
    ]
    assert (await client.get(f"/nominations/{theirs['id']}", headers=OFFICER)).status_code == 404
    listed = (await client.get("/nominations", headers=OFFICER)).json()
    assert [n["id"] for n in listed] == [ours["id"]]
    their_award = await approve(client, theirs)
    response = await client.post(
        f"/awards/{their_award['id']}/revoke", json={"reason": "x"}, headers=OFFICER
    )
    assert response.status_code == 404
    assert (await client.get(f"/awards/{their_award['id']}", headers=OFFICER)).status_code == 404

    audit = (await client.get(f"/audit?object_id={ours['id']}")).json()
    assert [(e["subject"], e["action"]) for e in audit] == [("can-bo-quang-an", "nominate")]


async def test_lists_are_paginated_and_bounded(awards):
    client, _ = awards
    for path in ("/awards", "/nominations", "/suggestions", "/certifications"):
        assert (await client.get(f"{path}?limit=201")).status_code == 422
        assert (await client.get(f"{path}?offset=-1")).status_code == 422
    created = [await nominate(client) for _ in range(3)]
    pages = [(await client.get(f"/nominations?offset={o}&limit=2")).json() for o in (0, 2)]
    assert [n["id"] for page in pages for n in page] == [n["id"] for n in reversed(created)]


def test_settings_accept_the_former_names_and_refuse_inconsistent_catalogues():
    legacy = Settings(
        award_forms=["giay_khen", "bang_khen"],
        authority_levels={"ward_committee": "ward", "ubnd_tinh": "province"},
    )
    assert legacy.award_forms["giay_khen"].name_vi == "giay_khen"
    assert set(legacy.authorities) == {"ward_committee", "ubnd_tinh"}
    assert legacy.authorities["ward_committee"].forms == ["giay_khen"]
    assert legacy.authorities["ubnd_tinh"].forms == ["giay_khen", "bang_khen"]
    with pytest.raises(ValidationError, match="unknown award forms"):
        Settings(award_forms={"giay_khen": {"name_vi": "Giấy khen", "name_en": "Merit"}})
    with pytest.raises(ValidationError, match="does not give"):
        Settings(
            suggestion_thresholds=[
                {"points": 5, "award_form": "bang_khen", "authority": "ward_committee"}
            ]
        )


async def test_lists_say_how_many_rows_match_in_all(awards):
    client, _ = awards
    ours = [await nominate(client) for _ in range(3)]
    theirs = [await nominate(client, {**NOMINATION, "recipient_id": str(OTHER_TEAM)}) for _ in "ab"]
    await approve(client, ours[0])
    await approve(client, theirs[0], number="16/QĐ-UBND")

    async def listed(path, headers=None, **params):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return len(response.json()), int(response.headers["X-Total-Count"])

    # a filter, and a limit smaller than the total
    assert await listed("/nominations", status="nominated", limit=2) == (2, 3)
    assert await listed("/nominations", limit=1, offset=4) == (1, 5)
    assert await listed("/awards", limit=1) == (1, 2)
    assert await listed("/audit", action="nominate", limit=2) == (2, 5)
    # an officer's total counts only their areas
    assert await listed("/nominations", headers=OFFICER, limit=1) == (1, 3)
    assert await listed("/nominations", headers=OFFICER, status="approved") == (1, 1)
    assert await listed("/awards", headers=OFFICER) == (1, 1)
    board = await client.get("/leaderboard", params={"area_id": str(PROVINCE), "limit": 1})
    assert board.status_code == 200 and board.headers["X-Total-Count"] == str(
        len((await client.get("/leaderboard", params={"area_id": str(PROVINCE)})).json()["rows"])
    )
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/nominations",
        "/awards",
        "/suggestions",
        "/certifications",
        "/leaderboard",
        "/scores/{subject}/{subject_id}",
        "/audit",
    ):
        assert "X-Total-Count" in paths[path]["get"]["responses"]["200"]["headers"], path
