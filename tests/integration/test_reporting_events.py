"""Reporting on real Kafka: an activity and a duplicate link reach their topics as plain
CloudEvents any client can read, and registry's moves and dissolutions (hand-built records,
as any producer would send them) reach reporting's read model."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.auth import Role
from tests.integration.conftest import NOT_HEARD_OF_YET
from tests.integration.test_slice import check_cloudevent, of_type, plain_record, poll, read_topic
from tests.support import bearer, vietnam_today

pytestmark = pytest.mark.integration


async def send(stack, topic: str, subject: str, payload: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(**plain_record(topic, subject, "/antt/registry", payload))
    finally:
        await producer.stop()


async def announce_area(stack, code: str, level: str, parent: str | None = None) -> str:
    area_id = str(uuid.uuid4())
    payload = {"aggregate_version": 1, "area_id": area_id, "code": code, "name": code}
    await send(stack, "area_registered", area_id, {**payload, "level": level, "parent_id": parent})
    return area_id


async def test_activity_and_link_events_and_registry_changes_on_real_kafka(stack):
    reporting = stack.url("reporting")
    suffix = uuid.uuid4().hex[:6]
    ward_a = await announce_area(stack, f"RA-{suffix}", "ward")
    ward_b = await announce_area(stack, f"RB-{suffix}", "ward")
    group = await announce_area(stack, f"RA-{suffix}-1", "residential_group", ward_a)
    team = str(uuid.uuid4())
    await send(
        stack,
        "team_registered",
        team,
        {
            "aggregate_version": 1,
            "team_id": team,
            "area_id": group,
            "name": "Tổ ANTT",
            "kind": "security_order",
        },
    )
    activity_body = {
        "area_id": group,
        "activity_type": "weapons_handover",
        "occurred_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "measures": [
            {"item": "homemade_gun", "unit": "piece", "quantity": 1},
            {"item": "explosives", "unit": "kg", "quantity": "2.3"},
        ],
        "team_ids": [team],
    }
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:

        async def log() -> dict | None:
            response = await client.post(f"{reporting}/activities", json=activity_body)
            if response.status_code in NOT_HEARD_OF_YET:  # the area and team are on their way
                return None
            assert response.status_code == 201, response.text
            return response.json()

        activity = await poll(log)

        incident_body = {
            "area_id": group,
            "category": "theft",
            "source": "camera",
            "summary": "Trộm xe đạp",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
            "team_ids": [team],
        }
        first, second = [
            (await client.post(f"{reporting}/incidents", json=incident_body)).json()
            for _ in range(2)
        ]
        linked = await client.post(
            f"{reporting}/incidents/{second['id']}/duplicate-of",
            json={"duplicate_of": first["id"], "reason": "Cùng một vụ"},
        )
        assert linked.status_code == 200, linked.text

        # registry moves the group to ward B, then dissolves the team
        await send(
            stack,
            "area_moved",
            group,
            {
                "aggregate_version": 2,
                "area_id": group,
                "code": f"RA-{suffix}-1",
                "from_parent_id": ward_a,
                "to_parent_id": ward_b,
            },
        )
        officer_b = bearer(Role.OFFICER, f"RB-{suffix}")

        async def visible_to_ward_b() -> bool:
            response = await client.get(f"{reporting}/incidents/{first['id']}", headers=officer_b)
            return response.status_code == 200

        assert await poll(visible_to_ward_b)
        stats = await client.get(
            f"{reporting}/statistics",
            params={"area_id": ward_b, "from": "2020-01-01", "to": vietnam_today().isoformat()},
        )
        assert stats.json()["incidents"]["total"]["count"] == 1
        assert stats.json()["incidents"]["duplicates"]["count"] == 1

        await send(
            stack,
            "team_dissolved",
            team,
            {
                "aggregate_version": 2,
                "team_id": team,
                "area_id": group,
                "dissolved_on": date.today().isoformat(),
                "reason": "Sáp nhập",
            },
        )

        async def refused() -> dict | None:
            response = await client.post(f"{reporting}/incidents", json=incident_body)
            return response.json()["detail"][0] if response.status_code == 422 else None

        detail = await poll(refused)
        assert detail["loc"] == ["body", "team_ids", 0] and "dissolved" in detail["msg"]

    bootstrap = stack.kafka.bootstrap_servers
    record = await read_topic(
        bootstrap, "reporting.activity", of_type(activity["id"], "activity_logged")
    )
    payload = check_cloudevent(record, "activity_logged", "/antt/reporting", activity["id"])
    assert payload["activity_type"] == "weapons_handover"
    assert payload["area_id"] == group and payload["team_ids"] == [team]
    assert {(m["item"], m["unit"], m["quantity"]) for m in payload["measures"]} == {
        ("homemade_gun", "piece", "1"),
        ("explosives", "kg", "2.3"),
    }
    record = await read_topic(
        bootstrap, "reporting.incident", of_type(second["id"], "incident_linked")
    )
    payload = check_cloudevent(record, "incident_linked", "/antt/reporting", second["id"])
    assert payload["duplicate_of"] == first["id"] and payload["category"] == "theft"
