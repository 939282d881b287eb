"""Registry changes reach the other services' read models on real Kafka: after a ward
moves out of a dissolved district, and after a team is dissolved, reporting and awards
judge scopes and references by the new state."""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import Role
from tests.support import bearer

pytestmark = pytest.mark.integration


def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the read models did not follow in time"
        time.sleep(0.25)


def test_moves_and_dissolutions_reach_reporting_and_awards(stack) -> None:
    admin = httpx.Client(timeout=15, headers=bearer())
    tag = uuid.uuid4().hex[:6]

    def post(service: str, path: str, body: dict[str, Any], expected: int = 201) -> Any:
        response = admin.post(stack.url(service) + path, json=body)
        assert response.status_code == expected, response.text
        return response.json()

    province = post(
        "registry", "/areas", {"code": f"P{tag}", "name": "Hà Nội", "level": "province"}
    )
    district = post(
        "registry",
        "/areas",
        {
            "code": f"D{tag}",
            "name": "Quận Tây Hồ",
            "level": "district",
            "parent_id": province["id"],
        },
    )
    ward = post(
        "registry",
        "/areas",
        {
            "code": f"W{tag}",
            "name": "Phường Quảng An",
            "level": "ward",
            "parent_id": district["id"],
        },
    )
    group = post(
        "registry",
        "/areas",
        {"code": f"G{tag}", "name": "TDP 3", "level": "residential_group", "parent_id": ward["id"]},
    )
    team = post(
        "registry",
        "/teams",
        {
            "area_id": group["id"],
            "name": "Tổ bảo vệ dân phố số 3",
            "kind": "civil_defence",
            "members": [{"full_name": "Nguyễn Chu Thực", "role": "leader"}],
        },
    )
    district_officer = bearer(Role.OFFICER, f"D{tag}")
    province_officer = bearer(Role.OFFICER, f"P{tag}")

    def incident(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            stack.url("reporting") + "/incidents",
            json={
                "area_id": group["id"],
                "category": "theft",
                "source": "patrol",
                "summary": "Trộm xe máy",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                "team_ids": [team["id"]],
            },
            headers=headers,
            timeout=15,
        )

    def nomination(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            stack.url("awards") + "/nominations",
            json={
                "recipient_kind": "collective",
                "recipient_id": team["id"],
                "recipient_name": team["name"],
                "award_form": "giay_khen",
                "authority": "ward_committee",
                "reason": "Bắt quả tang trộm xe máy",
            },
            headers=headers,
            timeout=15,
        )

    eventually(lambda: incident(district_officer).status_code == 201)
    eventually(lambda: nomination(district_officer).status_code == 201)

    # Mid-2025: the district level ends and the ward moves straight under the city.
    moved = admin.post(
        f"{stack.url('registry')}/areas/{ward['id']}/move", json={"parent_id": province["id"]}
    )
    assert moved.status_code == 200, moved.text
    eventually(lambda: incident(district_officer).status_code == 422)
    assert "unknown area" in incident(district_officer).text
    assert incident(province_officer).status_code == 201
    eventually(lambda: nomination(district_officer).status_code in (404, 422))
    assert nomination(province_officer).status_code == 201

    dissolved = admin.post(
        f"{stack.url('registry')}/teams/{team['id']}/dissolve",
        json={"dissolved_on": datetime.now(UTC).date().isoformat(), "reason": "Sáp nhập"},
    )
    assert dissolved.status_code == 200, dissolved.text
    eventually(lambda: incident(province_officer).status_code == 422)
    refused = incident(province_officer).json()["detail"][0]
    assert team["id"] in refused["msg"] and "dissolved" in refused["msg"]
    eventually(lambda: nomination(province_officer).status_code == 422)
    assert "dissolved" in nomination(province_officer).text
