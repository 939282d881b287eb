"""From a tip's number to its incident: a tip handler of the tip's area looks the incident
up by the number the resident reads out, and sees the number on the incident. Nobody else
does (not even an admin), the receipt still carries only number, secret and status, and
the informant stays behind `/incidents/{id}/informant`."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.reporting.app import Settings, create_app
from shared.auth import Role
from tests.support import announce_area, bearer, running_app, unit_settings

WARD, OTHER_WARD = uuid.uuid4(), uuid.uuid4()
HANDLER = bearer(Role.TIP_HANDLER, "TH-HH", subject="tip-handler-1")
INFORMANT_NAME, INFORMANT_CONTACT = "Lê Văn Tố Giác", "0911222333"


@pytest.fixture
async def reporting(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url)), headers={}) as (
        client,
        runtime,
    ):
        await announce_area(runtime.broker, WARD, "TH-HH", "Phường Hải Hòa")
        await announce_area(runtime.broker, OTHER_WARD, "QN-VD", "Phường Vĩnh Điện")
        yield client


async def test_a_tip_handler_gets_from_the_tip_number_to_the_incident(reporting):
    client = reporting
    response = await client.post(
        "/tips",
        json={
            "area_id": str(WARD),
            "category": "drugs",
            "summary": "Nghi có điểm mua bán ma túy",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            "informant": {"full_name": INFORMANT_NAME, "contact": INFORMANT_CONTACT},
        },
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    # The receipt is the informant's: it names no incident.
    assert set(receipt) == {"tip_number", "secret", "status"}
    number = receipt["tip_number"]

    found = await client.get(f"/tips/{number}/incident", headers=HANDLER)
    assert found.status_code == 200, found.text
    incident = found.json()
    assert incident["tip_number"] == number
    assert (incident["source"], incident["category"], incident["status"]) == (
        "resident_tip",
        "drugs",
        "reported",
    )
    assert INFORMANT_NAME not in found.text and INFORMANT_CONTACT not in found.text
    # As the resident reads it out, in lower case too.
    lower = await client.get(f"/tips/{number.lower()}/incident", headers=HANDLER)
    assert lower.status_code == 200 and lower.json()["id"] == incident["id"]

    # The incident shows its tip number to tip handlers, on reading and on every change.
    path = f"/incidents/{incident['id']}"
    assert (await client.get(path, headers=HANDLER)).json()["tip_number"] == number
    moved = await client.post(
        f"{path}/status", json={"status": "verified", "reason": "Xác minh"}, headers=HANDLER
    )
    assert moved.status_code == 200 and moved.json()["tip_number"] == number
    # From there, the informant, audited as before.
    informant = await client.get(f"{path}/informant", headers=HANDLER)
    assert informant.json()["tip_number"] == number
    assert informant.json()["full_name"] == INFORMANT_NAME

    # Every other role sees the incident without the number, and may not look tips up.
    for role, areas in (
        (Role.OFFICER, ("TH-HH",)),
        (Role.ADMIN, ()),
        (Role.AUDITOR, ()),
        (Role.SERVICE, ()),
    ):
        headers = bearer(role, *areas)
        seen = await client.get(path, headers=headers)
        assert seen.status_code == 200 and seen.json()["tip_number"] is None, role
        assert number not in seen.text, role
        listed = await client.get("/incidents", headers=headers)
        assert number not in listed.text, role
        refused = await client.get(f"/tips/{number}/incident", headers=headers)
        assert refused.status_code == 403, role
    assert (await client.get(f"/tips/{number}/incident")).status_code == 401

    # Another ward's tip handler: 404, as for a number that does not exist.
    elsewhere = bearer(Role.TIP_HANDLER, "QN-VD")
    hidden = await client.get(f"/tips/{number}/incident", headers=elsewhere)
    unknown = await client.get("/tips/T-AAAA-AAAA/incident", headers=HANDLER)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()
    assert hidden.json()["detail"][0]["loc"] == ["path", "tip_number"]
    assert (await client.get(path, headers=elsewhere)).status_code == 404


async def test_an_incident_not_from_a_tip_has_no_tip_number(reporting):
    client = reporting
    created = await client.post(
        "/incidents",
        headers=HANDLER,
        json={
            "area_id": str(WARD),
            "category": "theft",
            "source": "patrol",
            "summary": "Trộm xe máy",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["tip_number"] is None
    seen = await client.get(f"/incidents/{created.json()['id']}", headers=HANDLER)
    assert seen.json()["tip_number"] is None
