"""Emulation scores on real Kafka: a team registered in registry solves incidents reported
in reporting; awards raises its score from their events, suggests a nomination at the
threshold (20 points by default, 10 per solved incident), and an officer accepts it."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.auth import Role
from tests.integration.conftest import NOT_HEARD_OF_YET
from tests.integration.test_slice import check_cloudevent, of_type, poll, post, read_topic
from tests.support import bearer

pytestmark = pytest.mark.integration


async def test_solved_incidents_raise_a_teams_score_and_suggest_a_nomination(stack):
    registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
    code = f"QA-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        ward = await post(
            client,
            f"{registry}/areas",
            {"code": code, "name": "Phường Quảng An", "level": "ward"},
        )
        team = await post(
            client,
            f"{registry}/teams",
            {
                "area_id": ward["id"],
                "name": "Tổ ANTT tổ dân phố số 3",
                "kind": "security_order",
                "members": [{"full_name": "Nguyễn Chu Thực", "role": "leader"}],
            },
        )
        incident_body = {
            "area_id": ward["id"],
            "category": "theft",
            "source": "patrol",
            "summary": "Trộm xe máy",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
            "team_ids": [team["id"]],
        }

        async def report() -> dict | None:
            response = await client.post(f"{reporting}/incidents", json=incident_body)
            if response.status_code in NOT_HEARD_OF_YET:  # reporting has not heard of the team
                return None
            assert response.status_code == 201, response.text
            return response.json()

        async def solve() -> None:
            incident = await poll(report)
            for status in ("verified", "resolved"):
                await post(
                    client,
                    f"{reporting}/incidents/{incident['id']}/status",
                    {"status": status, "reason": "Công an phường xác minh, giải quyết"},
                )

        async def score() -> int:
            response = await client.get(f"{awards}/scores/team/{team['id']}")
            return response.json()["points"] if response.status_code == 200 else 0

        async def suggestions() -> list:
            listed = (await client.get(f"{awards}/suggestions", params={"limit": 200})).json()
            return [s for s in listed if s["subject_id"] == team["id"]]

        await solve()
        assert await poll(score) == 10
        assert await suggestions() == []
        await solve()
        assert await poll(lambda: _at_least(score, 20)) == 20
        (suggestion,) = await poll(suggestions)
        assert (suggestion["status"], suggestion["threshold"], suggestion["points"]) == (
            "suggested",
            20,
            20,
        )
        assert suggestion["recipient_name"] == "Tổ ANTT tổ dân phố số 3"

        # A ward officer accepts it: a real nomination, published as suggested.
        officer = bearer(Role.OFFICER, code, subject="can-bo-phuong")
        response = await client.post(
            f"{awards}/suggestions/{suggestion['id']}/accept", headers=officer
        )
        assert response.status_code == 201, response.text
        nomination = response.json()
        assert nomination["suggested"] is True and len(nomination["achievements"]) == 2
        board = (await client.get(f"{awards}/leaderboard", params={"area_id": ward["id"]})).json()
        assert board["rows"][0]["subject_id"] == team["id"]

    created = await read_topic(
        stack.kafka.bootstrap_servers,
        "awards.nomination",
        of_type(nomination["id"], "nomination_created"),
    )
    payload = check_cloudevent(created, "nomination_created", "/antt/awards", nomination["id"])
    assert payload["suggested"] is True
    assert payload["recipient_id"] == team["id"] and payload["area_id"] == ward["id"]


async def _at_least(check, target: int) -> int | None:
    value = await check()
    return value if value >= target else None
