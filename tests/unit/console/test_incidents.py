"""The incident pages against the real registry and reporting apps in-process: the list
with its filters, paging and CSV, the report form (its effect read back through
reporting's API), the status moves the lifecycle allows, a duplicate link, and the
services' refusals next to the field they name."""

import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.unit.console.conftest import AwardsWorld, ConsoleWorld

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|submission)" value="([^"]*)"', page))


async def _report(world: ConsoleWorld, **fields: Any) -> Any:
    page = await world.browser.get("/incidents/new")
    assert page.status_code == 200, page.text
    an_hour_ago = datetime.now(VIETNAM) - timedelta(hours=1)
    form = {
        **_hidden(page.text),
        "area_id": world.ward_id,
        "category": "theft",
        "source": "patrol",
        "severity": "minor",
        "occurred_at": an_hour_ago.strftime("%Y-%m-%dT%H:%M"),
        "address": "Ngõ 5",
        "summary": "Trộm xe máy",
        **fields,
    }
    return await world.browser.post("/incidents/new", data=form)


async def test_the_report_form_offers_the_catalogue_areas_and_teams(
    awards_world: AwardsWorld,
) -> None:
    world = awards_world.world
    await world.log_in()
    page = await world.browser.get("/incidents/new")
    assert page.status_code == 200
    assert "Báo vụ việc" in page.text and "Trộm cắp tài sản" in page.text
    assert "Tổ dân phố 3 — Phường Hải Hòa" in page.text
    assert awards_world.team_name in page.text
    for control in ("area_id", "category", "severity", "source", "occurred_at", "summary"):
        assert f'<label for="{control}">' in page.text


async def test_an_officer_reports_an_incident_and_resolves_it(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    sent = await _report(world, team_ids=[awards_world.team_id])
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    incident_id = _found(r"/incidents/([0-9a-f-]{36})", location)
    # The effect, through reporting's own API.
    stored = (await awards_world.reporting.get(f"/incidents/{incident_id}")).json()
    assert stored["team_ids"] == [awards_world.team_id] and stored["address"] == "Ngõ 5"
    shown = await world.browser.get(location)
    assert "Đã ghi nhận vụ việc." in shown.text
    assert 'id="incident-status">Mới tiếp nhận<' in shown.text
    assert awards_world.team_name in shown.text
    # Only the lifecycle's moves are offered: verified or dismissed.
    offered = re.findall(r'<option value="(\w+)"', shown.text.split('id="status"')[1])
    assert offered[:2] == ["verified", "dismissed"]

    token = _hidden(shown.text)["csrf_token"]
    for status, reason in (("verified", "Công an phường xác minh"), ("resolved", "Đã thu hồi")):
        moved = await world.browser.post(
            f"/incidents/{incident_id}/status",
            data={"csrf_token": token, "status": status, "reason": reason},
        )
        assert moved.status_code == 303, moved.text
    final = await world.browser.get(f"/incidents/{incident_id}")
    assert 'id="incident-status">Đã giải quyết<' in final.text
    assert "Đã thu hồi" in final.text  # the history
    assert 'action="/incidents/' + incident_id + '/status"' not in final.text

    listed = await world.browser.get("/incidents?status=resolved")
    assert incident_id in listed.text and "Đã giải quyết" in listed.text
    assert "Hiển thị 1–1 trên tổng số 1" in listed.text
    none = await world.browser.get("/incidents?status=dismissed")
    assert incident_id not in none.text and "Không có mục nào." in none.text


async def test_an_illegal_move_is_shown_next_to_the_status(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    sent = await _report(world)
    incident_id = _found(r"/incidents/([0-9a-f-]{36})", sent.headers["location"])
    token = await world.csrf(f"/incidents/{incident_id}")
    refused = await world.browser.post(
        f"/incidents/{incident_id}/status",
        data={"csrf_token": token, "status": "resolved", "reason": "Quá sớm"},
    )
    assert refused.status_code == 409
    error = _found(r'<p class="error" id="status-error">([^<]+)<', refused.text)
    assert error.startswith("Không được phép chuyển")
    missing = await world.browser.post(
        f"/incidents/{incident_id}/status", data={"csrf_token": token, "status": "verified"}
    )
    assert missing.status_code == 422
    assert 'id="reason-error"' in missing.text


async def test_a_report_refused_by_reporting_names_the_field(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    # A team reporting has never heard of: 409 not yet known, or 422 unknown, at team_ids.
    sent = await _report(world, team_ids=[str(uuid.uuid4())])
    assert sent.status_code in (409, 422), sent.text
    assert 'id="team_ids-error"' in sent.text
    future = datetime.now(VIETNAM) + timedelta(days=2)
    later = await _report(world, occurred_at=future.strftime("%Y-%m-%dT%H:%M"), summary="")
    assert later.status_code == 422
    assert 'id="occurred_at-error"' in later.text and 'id="summary-error"' in later.text
    assert "Trộm xe máy" not in later.text or 'value="Ngõ 5"' in later.text  # kept


async def test_duplicates_csv_paging_and_404(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    first = _found(r"/incidents/([0-9a-f-]{36})", (await _report(world)).headers["location"])
    second = _found(r"/incidents/([0-9a-f-]{36})", (await _report(world)).headers["location"])
    page = await world.browser.get(f"/incidents/{second}")
    assert f'<option value="{first}"' in page.text
    linked = await world.browser.post(
        f"/incidents/{second}/duplicate-of",
        data={
            "csrf_token": _hidden(page.text)["csrf_token"],
            "duplicate_of": first,
            "link_reason": "Cùng một vụ",
        },
    )
    assert linked.status_code == 303
    shown = await world.browser.get(f"/incidents/{second}")
    assert f'href="/incidents/{first}"' in shown.text and "Cùng một vụ" in shown.text

    csv = await world.browser.get("/incidents.csv?category=theft")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert first in csv.text and second in csv.text

    for _ in range(50):
        await _report(world)
    listed = await world.browser.get("/incidents")
    assert "Hiển thị 1–50 trên tổng số 52" in listed.text and "offset=50" in listed.text
    rest = await world.browser.get("/incidents?offset=50")
    assert "Hiển thị 51–52 trên tổng số 52" in rest.text and "Trang trước" in rest.text

    missing = await world.browser.get(f"/incidents/{uuid.uuid4()}")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text
    bad = await world.browser.get("/incidents?from=2026-13-45")
    assert bad.status_code == 422 and 'id="from-error"' in bad.text
