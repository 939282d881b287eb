"""The incident, activity and award pages end to end, in Debian's Chromium against the
real stack and the real Keycloak: the officer of Hải Hòa reports an incident through the
form, moves it to resolved through the form and finds it resolved in the list, then
nominates the ward's team; the admin logs in and approves the nomination, and the award
is there. axe-core on every page on the way and on the other pages of these sections (no
serious or critical violation)."""

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import Service, Stack
from tests.integration.console_support import admin_client, hai_hoa_ward, log_in, send_until_known
from tests.integration.test_console import accessible, browser, console, page

pytestmark = pytest.mark.integration
__all__ = ["browser", "console", "page"]  # the fixtures, shared with test_console.py

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def hai_hoa(stack: Stack) -> dict[str, Any]:
    """The ward QN-HH (under its province) and a security team of this run in it,
    registered with an admin token when missing."""
    registry = stack.url("registry")
    with admin_client(stack) as admin:
        ward = hai_hoa_ward(admin, registry)
        team = admin.post(
            f"{registry}/teams",
            json={
                "area_id": ward["id"],
                "name": f"Tổ ANTT khu phố {uuid.uuid4().hex[:6]}",
                "kind": "security_order",
                "members": [
                    {"full_name": "Nguyễn Chu Thực", "role": "leader"},
                    {"full_name": "Trần Văn Bình", "role": "deputy"},
                    {"full_name": "Lê Thị Cúc", "role": "member"},
                ],
            },
        )
        assert team.status_code == 201, team.text
    return {"ward": ward, "team": team.json()}


def test_an_incident_is_reported_resolved_and_its_team_awarded(
    console: Service, hai_hoa: dict[str, Any], browser: Any, page: Any
) -> None:
    ward, team = hai_hoa["ward"], hai_hoa["team"]
    log_in(page, console, "officer-haihoa", "/incidents/new")
    assert page.get_by_role("heading", name="Báo vụ việc").is_visible()
    accessible(page)  # the report form
    for control in ("area_id", "category", "severity", "source", "occurred_at", "summary"):
        assert page.locator(f"label[for={control}]").count() == 1
    summary = f"Trộm xe máy tại ngõ {uuid.uuid4().hex[:6]}"
    an_hour_ago = datetime.now(VIETNAM) - timedelta(hours=1)
    page.select_option("#area_id", ward["id"])
    page.select_option("#category", "theft")
    page.select_option("#source", "patrol")
    page.fill("#occurred_at", an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#address", "Ngõ 5, khu phố 3")
    page.fill("#summary", summary)
    page.check(f"#team-{team['id']}")
    send_until_known(page, "Lưu vụ việc", "#incident-status")
    assert page.locator("#incident-status").inner_text() == "Mới tiếp nhận"
    assert "Đã ghi nhận vụ việc." in page.content() and team["name"] in page.content()
    accessible(page)  # the incident with its forms

    for status, reason in (("verified", "Công an phường xác minh"), ("resolved", "Đã thu hồi")):
        page.select_option("#status", status)
        page.fill("#reason", reason)
        page.get_by_role("button", name="Chuyển trạng thái").click()
        page.wait_for_load_state()
        assert "Đã chuyển trạng thái." in page.content()
    assert page.locator("#incident-status").inner_text() == "Đã giải quyết"
    assert page.locator("#status").count() == 0  # a final status offers no move
    accessible(page)

    page.goto(console.url + "/incidents?status=resolved")
    assert page.get_by_role("cell", name=summary).is_visible()
    row = page.get_by_role("row").filter(has_text=summary)
    assert "Đã giải quyết" in row.inner_text()
    accessible(page)  # the list with its filters

    # The team, nominated by the officer (awards hears of it from registry's events).
    page.goto(console.url + "/nominations/new")
    accessible(page)  # the nomination form
    page.select_option("#recipient", f"team:{team['id']}")
    page.fill("#reason", "Tham gia bắt quả tang vụ trộm xe máy")
    page.fill("#achievement_text", summary)
    send_until_known(page, "Lưu đề nghị", "#nomination-status")
    assert page.locator("#nomination-status").inner_text() == "Chờ quyết định"
    nomination = page.url.split("?")[0]
    accessible(page)

    # The admin approves it.
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    admin = context.new_page()
    try:
        path = nomination.removeprefix(console.url)
        log_in(admin, console, "admin", path)
        admin.fill("#decision_number", "19/QĐ-UBND")
        admin.fill("#decided_on", "2026-08-19")
        admin.get_by_role("button", name="Phê duyệt", exact=True).click()
        admin.wait_for_load_state()
        assert admin.locator("#award-status").inner_text() == "Còn hiệu lực"
        assert "19/QĐ-UBND, 19/08/2026" in admin.content()
        accessible(admin)  # the award with its revocation form
        admin.goto(console.url + "/awards")
        assert admin.get_by_role("link", name=team["name"]).count() >= 1
        accessible(admin)  # the awards list
    finally:
        context.close()


def test_the_other_pages_of_these_sections(
    console: Service, hai_hoa: dict[str, Any], page: Any
) -> None:
    ward = hai_hoa["ward"]
    log_in(page, console, "officer-haihoa", "/activities")
    accessible(page)
    for path in (
        "/activities/new",
        "/activities/new?activity_type=outreach",
        "/activities/new?activity_type=weapons_handover",
        "/nominations",
        "/suggestions",
        "/campaigns/report",
        f"/campaigns/report?area_id={ward['id']}&shown=1",
        "/certifications",
    ):
        response = page.goto(console.url + path)
        assert response.status == 200, path
        accessible(page)
    # A validation error next to its field, as a screen reader reaches it.
    page.goto(console.url + "/activities/new?activity_type=outreach")
    page.get_by_role("button", name="Lưu hoạt động").click()
    page.wait_for_load_state()
    assert page.locator("#measures-error").count() == 1
    assert page.locator("#area_id").get_attribute("aria-invalid") == "true"
    accessible(page)
    missing = page.goto(f"{console.url}/incidents/{uuid.uuid4()}")
    assert missing.status == 404
    assert page.get_by_role("heading", name="Không tìm thấy trang").is_visible()
