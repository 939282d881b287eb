"""Yearly safe-area certification: criteria met and missed, each with its value and rule;
late events make a decision stale instead of changing it; re-evaluation is explicit."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from shared.auth import Role
from shared.events import ActivityLogged, ActivityMeasure, IncidentStatus, IncidentStatusChanged
from tests.support import bearer, publish_event
from tests.unit.test_awards import (
    GROUP,
    OFFICER,
    OTHER_WARD,
    WARD,
    outbox,
    report_incident,
)
from tests.unit.test_awards import (
    awards as awards,
)

ICT = timezone(timedelta(hours=7))


def on(year, month, day, hour=10):
    return datetime(year, month, day, hour, tzinfo=ICT)


async def pledge(broker, area, households, day):
    await publish_event(
        broker,
        ActivityLogged(
            activity_id=uuid.uuid4(),
            area_id=area,
            activity_type="household_pledge",
            occurred_on=day,
            measures=[ActivityMeasure(item="households", unit="households", quantity=households)],
            aggregate_version=1,
        ),
    )


async def register(client, area, year=2023, **headers):
    response = await client.post(
        "/certifications", json={"area_id": str(area), "year": year}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def criteria(certification):
    return {c["criterion"]: (c["met"], c["value"]) for c in certification["decision"]["criteria"]}


async def test_an_area_meeting_every_criterion_is_certified_and_late_events_make_it_stale(
    awards,
):
    client, runtime = awards
    broker = runtime.broker
    for day in (on(2022, 3, 1), on(2022, 6, 1), on(2022, 12, 31, 23)):
        await report_incident(broker, occurred_at=day)
    # 2023: two incidents (the first one just after midnight in Hà Nội, still 2022 in UTC),
    # and a report dismissed as unfounded, which does not count.
    await report_incident(broker, occurred_at=on(2023, 1, 1, 0))
    await report_incident(broker, occurred_at=on(2023, 7, 1), category="dispute")
    unfounded = await report_incident(broker, occurred_at=on(2023, 8, 1))
    await publish_event(
        broker,
        IncidentStatusChanged(
            incident_id=unfounded,
            area_id=GROUP,
            category="theft",
            from_status=IncidentStatus.REPORTED,
            to_status=IncidentStatus.DISMISSED,
            changed_at=datetime.now(UTC),
            aggregate_version=2,
        ),
    )
    await pledge(broker, GROUP, Decimal(200), date(2023, 3, 5))
    await pledge(broker, GROUP, Decimal(172), date(2023, 9, 5))
    await pledge(broker, GROUP, Decimal(100), date(2022, 9, 5))  # another year

    certification = await register(client, WARD, **OFFICER)
    assert certification["decision"] is None and certification["stale"] is False
    response = await client.post(f"/certifications/{certification['id']}/evaluate", headers=OFFICER)
    assert response.status_code == 201, response.text
    decided = response.json()
    assert decided["decision"]["certified"] is True
    assert decided["decision"]["evaluation"] == 1
    assert criteria(decided) == {
        "incidents_not_up": (True, "2"),
        "no_serious_incidents": (True, "0"),
        "active_security_team": (True, "1"),
        "household_pledges": (True, "0.93"),  # 372 of the group's 400 households
    }
    rules = {c["criterion"]: c["rule"] for c in decided["decision"]["criteria"]}
    assert rules["incidents_not_up"] == "incidents in 2023 at most 2022's 3"
    assert "0.8 of the 400 households" in rules["household_pledges"]
    assert decided["stale"] is False

    # A late report of a 2023 incident changes what the first criterion shows, and a
    # robbery breaks the second; the decision stays as it was, marked stale.
    await report_incident(broker, occurred_at=on(2023, 11, 2), category="robbery")
    await report_incident(broker, occurred_at=on(2023, 11, 3))
    url = f"/certifications/{certification['id']}"
    stale = (await client.get(url)).json()
    assert stale["stale"] is True and stale["decision"]["certified"] is True
    current = {c["criterion"]: (c["met"], c["value"]) for c in stale["current"]}
    assert current["incidents_not_up"] == (False, "4")
    assert current["no_serious_incidents"] == (False, "1")

    # Re-evaluation is explicit and says why.
    response = await client.post(f"{url}/evaluate", json={})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "reason"]
    response = await client.post(f"{url}/evaluate", json={"reason": "Báo cáo bổ sung tháng 11"})
    assert response.status_code == 201
    again = response.json()
    assert again["decision"]["evaluation"] == 2 and again["decision"]["certified"] is False
    assert again["stale"] is False and [h["evaluation"] for h in again["history"]] == [2, 1]

    decisions = [p for topic, p in await outbox(runtime) if topic == "certification_decided"]
    assert [(d["evaluation"], d["certified"], d["aggregate_version"]) for d in decisions] == [
        (1, True, 1),
        (2, False, 2),
    ]
    assert decisions[0]["criteria"][3] == {
        "criterion": "household_pledges",
        "met": True,
        "value": "0.93",
        "rule": rules["household_pledges"],
    }
    audit = (await client.get(f"/audit?object_id={certification['id']}")).json()
    assert [e["action"] for e in audit] == [
        "evaluate_certification",
        "evaluate_certification",
        "register_certification",
    ]


async def test_missed_criteria_are_named_with_what_the_data_showed(awards):
    client, runtime = awards
    await report_incident(
        runtime.broker, area_id=OTHER_WARD, category="robbery", occurred_at=on(2023, 4, 1)
    )
    certification = await register(client, OTHER_WARD)
    response = await client.post(f"/certifications/{certification['id']}/evaluate")
    decided = response.json()
    assert decided["decision"]["certified"] is False
    assert criteria(decided) == {
        "incidents_not_up": (False, "1"),  # last year had none
        "no_serious_incidents": (False, "1"),
        "active_security_team": (True, "1"),
        "household_pledges": (False, "unknown"),  # the registry gave no household count
    }
    assert (await client.get("/certifications?year=2023")).json()[0]["id"] == certification["id"]
    assert (await client.get("/certifications?year=2022")).json() == []


async def test_registration_is_once_a_year_in_the_callers_areas(awards):
    client, _ = awards
    first = await register(client, WARD, 2024)
    response = await client.post("/certifications", json={"area_id": str(WARD), "year": 2024})
    assert response.status_code == 409 and first["id"] in response.json()["detail"][0]["msg"]
    other = bearer(Role.OFFICER, "HN-TH-NT")
    response = await client.post(
        "/certifications", json={"area_id": str(WARD), "year": 2025}, headers=other
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "area_id",
    ]
    response = await client.post(
        "/certifications", json={"area_id": str(uuid.uuid4()), "year": 2025}
    )
    assert response.status_code == 422
    url = f"/certifications/{first['id']}"
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.post(f"{url}/evaluate", headers=other)).status_code == 404
    assert (await client.get("/certifications", headers=other)).json() == []
