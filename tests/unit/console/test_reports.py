"""The ward report against the real registry, reporting and awards apps in-process: Hải
Hòa's figures from the seeds recorded through reporting's API come back as the seed's own
sentence ("5 vụ việc, giảm 72% so với cùng kỳ"), with the charts and their tables; the
period form refuses a bad period next to its field; a section whose service is down or
still synchronising says so while the rest of the report is there."""

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from tests.support import announce_area, bearer, eventually, running_app, unit_settings
from tests.unit.console.conftest import HAI_HOA, ISSUER, OFFICER, ConsoleWorld, FakeUser

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class ReportWorld:
    world: ConsoleWorld
    reporting: httpx.AsyncClient  # reporting as its admin
    awards: httpx.AsyncClient  # awards as its admin


@pytest.fixture
async def reports_world(world: ConsoleWorld, tmp_path: Any) -> AsyncIterator[ReportWorld]:
    """``world`` with awards running too (on ``awards.test``) and knowing the ward, and an
    admin client for reporting."""
    hosts = world.app.state.console.apis.http._transport
    awards_app = create_awards(
        unit_settings(
            AwardsSettings, f"sqlite+aiosqlite:///{tmp_path / 'awards.db'}", oidc_issuer=ISSUER
        )
    )
    awards_app.state.runtime.issuer_keys._client = httpx.AsyncClient(transport=hosts)
    reporting_app = hosts.transports["reporting.test"].app
    async with (
        running_app(awards_app) as (awards, awards_runtime),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reporting_app),
            base_url="http://reporting.test",
            headers=bearer(),
        ) as reporting,
    ):
        hosts.transports["awards.test"] = httpx.ASGITransport(app=awards_app)
        await eventually(lambda: _keys_loaded(awards_app))
        await announce_area(awards_runtime.broker, world.ward_id, HAI_HOA, "Phường Hải Hòa")
        yield ReportWorld(world, reporting, awards)
        hosts.transports.pop("awards.test", None)


async def _keys_loaded(app: Any) -> bool:
    return bool(app.state.runtime.issuer_keys.loaded)


async def _log_in(world: ConsoleWorld, user: FakeUser) -> None:
    world.issuer.user = user
    response = await world.log_in()
    assert response.status_code == 303, response.text


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def _incident(client: httpx.AsyncClient, area: str, day: str, category: str) -> str:
    created = await _post(
        client,
        "/incidents",
        {
            "area_id": area,
            "category": category,
            "source": "police",
            "summary": "Vụ việc về ANTT",
            "occurred_at": f"{day}T09:00:00+07:00",
            "reported_at": f"{day}T15:00:00+07:00",
        },
    )
    return str(created["id"])


async def _record_hai_hoa(report: ReportWorld) -> None:
    """The seed (shared/seeds/001…): "trong 8 tháng năm 2023 … chỉ xảy ra 5 vụ việc về
    ANTT, giảm 72% so với cùng kỳ": 18 incidents in January–August 2022, 5 in 2023 (four
    of them solved), as tests/unit/test_reporting_seeds.py records them."""
    client, ward = report.reporting, report.world.ward_id
    categories = ["theft", "assault", "gambling", "drugs", "public_disorder", "snatching"]
    for n in range(18):
        await _incident(client, ward, f"2022-{n % 8 + 1:02d}-{n % 27 + 1:02d}", categories[n % 6])
    created = [await _incident(client, ward, f"2023-0{n + 2}-10", categories[n]) for n in range(5)]
    for incident_id, outcome in zip(
        created[:4], ["resolved", "resolved", "resolved", "mediated"], strict=True
    ):
        for step in ("verified", outcome):
            await _post(
                client, f"/incidents/{incident_id}/status", {"status": step, "reason": "Xử lý"}
            )
    # "tổ chức hòa giải 11 vụ mâu thuẫn"; "ký cam kết … 3.993 hộ gia đình"
    for n in range(11):
        await _post(
            client,
            "/activities",
            {
                "area_id": ward,
                "activity_type": "mediation",
                "occurred_on": f"2023-0{n % 8 + 1}-05",
                "measures": [{"item": "cases", "quantity": 1}],
                "outcome": "successful",
            },
        )
    await _post(
        client,
        "/activities",
        {
            "area_id": ward,
            "activity_type": "household_pledge",
            "occurred_on": "2023-04-01",
            "measures": [{"item": "households", "quantity": 3993}],
        },
    )
    # The team and the award the other sections show.
    team = await report.world.registry.post(
        "/teams",
        json={
            "area_id": ward,
            "name": "Tổ bảo vệ dân phố số 1",
            "kind": "security_order",
            "members": [
                {"full_name": "Nguyễn Văn An", "role": "leader"},
                {"full_name": "Trần Văn Bình", "role": "deputy"},
                {"full_name": "Lê Thị Cúc", "role": "member"},
            ],
        },
    )
    assert team.status_code == 201, team.text
    await _post(
        report.awards,
        "/awards",
        {
            "recipient_kind": "individual",
            "recipient_name": "Nguyễn Văn An",
            "area_id": ward,
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "reason": "Thành tích xuất sắc trong phong trào năm 2023",
            "decision_number": "19/QĐ-UBND",
            "decided_on": "2023-08-19",
        },
    )


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def test_the_ward_report_states_the_seeds_sentence_for_hai_hoa(
    reports_world: ReportWorld,
) -> None:
    world = reports_world.world
    await _record_hai_hoa(reports_world)
    await _log_in(world, OFFICER)

    chooser = await world.browser.get("/reports")
    assert chooser.status_code == 200
    assert "Báo cáo kết quả phong trào" in chooser.text
    for control in ("area_id", "from", "to"):
        assert f'<label for="{control}">' in chooser.text
    year = datetime.now(VIETNAM).year
    assert f'value="{year}-01-01"' in chooser.text  # this year so far, by default
    # The form posts and redirects to the report's own address (printable, bookmarkable).
    chosen = await world.browser.post(
        "/reports",
        data={
            "csrf_token": _csrf(chooser.text),
            "area_id": world.ward_id,
            "from": "2023-01-01",
            "to": "2023-08-31",
        },
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == (
        f"/reports/ward?area_id={world.ward_id}&from=2023-01-01&to=2023-08-31"
    )
    report = await world.browser.get(chosen.headers["location"])
    assert report.status_code == 200, report.text
    page = report.text
    assert "5 vụ việc, giảm 72% so với cùng kỳ" in page
    assert "từ 01/01/2023 đến 31/08/2023" in page and "từ 01/01/2022 đến 31/08/2022" in page
    assert "4 (80%)" in page  # solved: three resolved, one mediated
    # What the page shows is what the services answer.
    stats = (
        await reports_world.reporting.get(
            "/statistics",
            params={"area_id": world.ward_id, "from": "2023-01-01", "to": "2023-08-31"},
        )
    ).json()
    assert stats["incidents"]["total"]["change_percent"] == -72
    # Three SVG charts, each with its title, description and a table of its numbers.
    assert page.count('<svg class="chart"') == 3
    for chart in ("chart-kinds", "chart-months", "chart-categories"):
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    months = page[page.index('id="months-table"') :]
    assert "Thg 3" in months or "thg 3" in months
    assert 'id="categories-table"' in page and "Trộm cắp tài sản" in page
    # Activities with their quantities, in Vietnamese numbers; teams; awards.
    assert "3.993" in page and "Hòa giải" in page
    assert re.search(r'id="teams-total">1<', page) and re.search(r'id="members-total">3<', page)
    awards = page[page.index('id="awards-table"') :]
    assert "Chủ tịch UBND phường" in awards and "Giấy khen" in awards
    assert "style=" not in page and "<script" not in page  # the CSP allows neither


async def test_the_report_refuses_a_period_that_ends_before_it_starts(
    reports_world: ReportWorld,
) -> None:
    world = reports_world.world
    await _log_in(world, OFFICER)
    chooser = await world.browser.get("/reports")
    refused = await world.browser.post(
        "/reports",
        data={
            "csrf_token": _csrf(chooser.text),
            "area_id": world.ward_id,
            "from": "2023-08-31",
            "to": "2023-01-01",
        },
    )
    assert refused.status_code == 422
    assert 'id="to-error"' in refused.text and 'aria-describedby="to-error"' in refused.text
    assert "không được trước ngày bắt đầu" in refused.text
    # No CSRF token: refused.
    forged = await world.browser.post("/reports", data={"area_id": world.ward_id})
    assert forged.status_code == 403
    # Another ward's area, or none at all: the console's 404 page.
    missing = await world.browser.get(
        f"/reports/ward?area_id={uuid.uuid4()}&from=2023-01-01&to=2023-08-31"
    )
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text


async def test_a_report_of_an_area_awards_has_not_heard_of_says_it_is_synchronising(
    world: ConsoleWorld,
) -> None:
    # Awards is not running in this world: its section says so, the rest is there.
    await _log_in(world, OFFICER)
    today = datetime.now(VIETNAM).date()
    page = await world.browser.get(
        f"/reports/ward?area_id={world.ward_id}&from={today.year}-01-01&to={today}"
    )
    assert page.status_code == 200
    assert "0 vụ việc" in page.text
    assert "Không đọc được các số liệu này" in page.text
