"""The ward report and the tip inbox end to end, in Debian's Chromium against the real
stack and Keycloak (the fixtures of test_console.py): a resident sends a tip about Hải
Hòa; ``tip-handler`` sees who sent it on the tip's page, ``admin`` does not;
``officer-haihoa`` opens the ward report of QN-HH. axe-core on the inbox, the tip and the
report; a full-page screenshot of the report is written to the test's own directory
(pytest's ``tmp_path``: ``console-report.png``), and to ``docs/console-report.png`` when
``ANTT_SAVE_SCREENSHOT=1``."""

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.auth import Role
from tests.integration.conftest import Service, Stack
from tests.integration.console_support import area, hai_hoa_ward, log_in, send_until_known
from tests.integration.test_console import accessible, browser, console  # noqa: F401
from tests.support import bearer

pytestmark = pytest.mark.integration

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console-report.png"


def _until(call: Callable[[], httpx.Response], expected: int = 201) -> httpx.Response:
    """A write that names a fresh area or team answers 409 not_yet_known until the
    service has heard registry's events: ask again."""
    deadline = time.monotonic() + 60
    while True:
        response = call()
        if response.status_code == expected or time.monotonic() > deadline:
            assert response.status_code == expected, response.text
            return response
        assert response.status_code == 409, response.text
        time.sleep(0.3)


@pytest.fixture(scope="module")
def hai_hoa(stack: Stack) -> dict[str, Any]:
    """Phường Hải Hòa (QN-HH, the demo officer's and tip handler's area) with a
    residential group (registered as the admin when missing), and for the report two
    teams, incidents this year and last, an activity and an award."""
    with httpx.Client(headers=bearer(Role.ADMIN), timeout=30) as admin:
        registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
        ward = hai_hoa_ward(admin, registry)
        group = area(
            admin,
            registry,
            "QN-HH-TK1",
            name="Tiểu khu 1",
            level="residential_group",
            parent_id=ward["id"],
            households=820,
        )
        for name, kind, people in (
            ("Tổ bảo vệ dân phố Tiểu khu 1", "security_order", ["An", "Bình", "Cúc", "Dũng"]),
            ("Tổ hòa giải Tiểu khu 1", "mediation", ["Hà", "Lan", "Minh"]),
        ):
            roles = ["leader", "deputy"] + ["member"] * (len(people) - 2)
            team = admin.post(
                f"{registry}/teams",
                json={
                    "area_id": group["id"],
                    "name": name,
                    "kind": kind,
                    "members": [
                        {"full_name": f"Nguyễn Văn {person}", "role": role}
                        for person, role in zip(people, roles, strict=True)
                    ],
                },
            )
            assert team.status_code == 201, team.text
        today = datetime.now(VIETNAM).date()
        categories = ["theft", "gambling", "public_disorder", "drugs", "assault", "traffic"]
        days = [date(today.year - 1, month, 12) for month in range(1, 13)] * 2 + [
            date(today.year, month, 12) for month in range(1, today.month + 1)
        ]
        for n, day in enumerate(d for d in days if d < today):
            _until(
                lambda n=n, day=day: admin.post(
                    f"{reporting}/incidents",
                    json={
                        "area_id": group["id"],
                        "category": categories[n % len(categories)],
                        "source": "patrol",
                        "summary": "Vụ việc về ANTT",
                        "occurred_at": f"{day.isoformat()}T09:00:00+07:00",
                    },
                )
            )
        _until(
            lambda: admin.post(
                f"{reporting}/activities",
                json={
                    "area_id": group["id"],
                    "activity_type": "outreach",
                    "occurred_on": date(today.year, 1, 20).isoformat(),
                    "measures": [
                        {"item": "sessions", "quantity": 12},
                        {"item": "people_reached", "quantity": 1450},
                    ],
                },
            )
        )
        _until(
            lambda: admin.post(
                f"{awards}/awards",
                json={
                    "recipient_kind": "individual",
                    "recipient_name": "Nguyễn Văn An",
                    "area_id": group["id"],
                    "award_form": "giay_khen",
                    "authority": "ward_committee",
                    "reason": "Thành tích xuất sắc trong phong trào",
                    "decision_number": "19/QĐ-UBND",
                    "decided_on": date(today.year, 1, 25).isoformat(),
                },
            )
        )
    return {"ward": ward, "group": group}


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:  # noqa: F811
    """Pages in contexts of their own (one user each: no shared cookies)."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_the_tip_handler_sees_the_informant_and_the_admin_does_not(
    console: Service,  # noqa: F811
    hai_hoa: dict[str, Any],
    new_page: Callable[[], Any],
) -> None:
    resident = new_page()
    resident.goto(console.url + "/tips/new")
    narrative = f"Nghi có điểm đánh bạc ở Tiểu khu 1 ({uuid.uuid4().hex[:6]})"
    an_hour_ago = datetime.now(VIETNAM) - timedelta(hours=1)
    resident.select_option("#category", "gambling")
    resident.select_option("#area_id", hai_hoa["group"]["id"])
    resident.fill("#occurred_at", an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    resident.fill("#narrative", narrative)
    resident.fill("#full_name", "Trần Thị Báo Tin")
    resident.fill("#contact", "0912 345 678")
    for _ in range(60):  # until reporting has heard of the residential group
        resident.get_by_role("button", name="Gửi tin báo").click()
        resident.wait_for_load_state()
        if resident.locator("#tip-number").count():
            break
        resident.wait_for_timeout(500)
    number = resident.locator("#tip-number").inner_text()

    handler = new_page()
    log_in(handler, console, "tip-handler", "/tip-inbox")
    assert handler.get_by_role("heading", name="Hộp tin báo").is_visible()
    accessible(handler)  # the inbox
    handler.get_by_role("link", name=narrative).click()
    handler.wait_for_load_state()
    assert number in handler.locator("h1").inner_text()
    assert handler.locator("#informant-name").inner_text() == "Trần Thị Báo Tin"
    assert "0912 345 678" in handler.content()
    accessible(handler)  # the tip, with its informant
    # The number the resident reads out on the phone opens the same tip.
    handler.goto(console.url + "/tip-inbox")
    handler.fill("#tip_number", number.lower())
    handler.get_by_role("button", name="Mở tin báo").click()
    handler.wait_for_url(f"{console.url}/tip-inbox/{number}")
    assert handler.locator("#informant-name").inner_text() == "Trần Thị Báo Tin"

    admin = new_page()
    log_in(admin, console, "admin", "/tip-inbox")
    admin.get_by_role("link", name=narrative).click()
    admin.wait_for_load_state()
    assert admin.locator("#informant-hidden").inner_text() == "Chỉ cán bộ xử lý tin báo được xem."
    assert "Trần Thị Báo Tin" not in admin.content() and "0912 345 678" not in admin.content()
    assert number not in admin.content()
    accessible(admin)  # the tip without its informant


def test_the_officer_opens_the_ward_report(
    console: Service,  # noqa: F811
    hai_hoa: dict[str, Any],
    new_page: Callable[[], Any],
    tmp_path: Path,
) -> None:
    officer = new_page()
    log_in(officer, console, "officer-haihoa", "/reports")
    accessible(officer)  # the period form
    officer.select_option("#area_id", hai_hoa["ward"]["id"])
    year = datetime.now(VIETNAM).year
    assert officer.locator("#from").input_value() == f"{year}-01-01"  # this year so far
    officer.get_by_role("button", name="Xem báo cáo").click()
    officer.wait_for_url(re.compile(r".*/reports/ward\?area_id=.*"))
    # Reporting and awards may still be reading the fresh records: the sections say so
    # ("đang đồng bộ") until they have; the report is opened again until none does.
    for _ in range(40):
        if "đang được đồng bộ" not in officer.content():
            break
        officer.wait_for_timeout(500)
        officer.reload()
    heading = officer.locator("h1").inner_text()
    assert "Báo cáo kết quả phong trào" in heading and "Phường Hải Hòa" in heading
    sentence = officer.locator("#incidents-sentence").inner_text()
    assert "vụ việc" in sentence and "so với cùng kỳ" in sentence, sentence
    assert officer.locator("svg.chart").count() == 3
    assert int(officer.locator("#teams-total").inner_text().replace(".", "")) >= 2
    assert int(officer.locator("#members-total").inner_text().replace(".", "")) >= 7
    assert "Chủ tịch UBND phường" in officer.locator("#awards-table").inner_text()
    accessible(officer)  # the report, with its charts
    officer.set_viewport_size({"width": 1100, "height": 900})
    shot = tmp_path / "console-report.png"
    officer.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    if os.environ.get("ANTT_SAVE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.write_bytes(shot.read_bytes())
    # The print view: no navigation, A4.
    officer.emulate_media(media="print")
    assert not officer.locator("header.top").is_visible()
    pdf = officer.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


def _report_figures(page: Any, site: Service, ward: dict[str, Any]) -> tuple[int, int]:
    """Teams, and incidents this period, as the ward report of this year so far shows them."""
    today = datetime.now(VIETNAM).date()
    page.goto(
        f"{site.url}/reports/ward?area_id={ward['id']}"
        f"&from={today.year}-01-01&to={today.isoformat()}"
    )
    for _ in range(40):  # a section may say it is still reading fresh records
        if "đang được đồng bộ" not in page.content():
            break
        page.wait_for_timeout(500)
        page.reload()
    teams = int(page.locator("#teams-total").inner_text().replace(".", ""))
    sentence = page.locator("#incidents-sentence").inner_text()
    found = re.match(r"\s*([\d.]+)", sentence)
    assert found, sentence
    return teams, int(found.group(1).replace(".", ""))


def test_what_an_officer_records_shows_in_the_summary_and_the_report(
    console: Service,  # noqa: F811
    hai_hoa: dict[str, Any],
    new_page: Callable[[], Any],
) -> None:
    ward, officer = hai_hoa["ward"], new_page()
    log_in(officer, console, "officer-haihoa", f"/areas/{ward['id']}")
    summary_teams = int(officer.locator("#summary-teams").inner_text().replace(".", ""))
    teams, incidents = _report_figures(officer, console, ward)

    # A team, registered through the form.
    officer.goto(console.url + "/teams/new")
    name = f"Tổ tự quản {uuid.uuid4().hex[:6]}"
    officer.select_option("#area_id", ward["id"])
    officer.fill("#name", name)
    officer.select_option("#kind", "security_order")
    officer.fill("#m0_full_name", "Phạm Văn Đức")
    officer.get_by_role("button", name="Đăng ký tổ").click()
    officer.wait_for_load_state()
    assert officer.get_by_role("heading", name=name).is_visible()
    team_id = officer.url.split("/teams/", 1)[1].split("?")[0]

    # An incident the team helped with, reported and resolved through the forms.
    officer.goto(console.url + "/incidents/new")
    officer.select_option("#area_id", ward["id"])
    officer.select_option("#category", "theft")
    officer.select_option("#source", "patrol")
    an_hour_ago = datetime.now(VIETNAM) - timedelta(hours=1)
    officer.fill("#occurred_at", an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    officer.fill("#summary", f"Trộm cắp tài sản {uuid.uuid4().hex[:6]}")
    for _ in range(120):  # the form lists the team once reporting has heard of it
        if officer.locator(f"#team-{team_id}").count():
            break
        officer.wait_for_timeout(500)
        officer.reload()
        officer.select_option("#area_id", ward["id"])
        officer.select_option("#category", "theft")
        officer.select_option("#source", "patrol")
        officer.fill("#occurred_at", an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
        officer.fill("#summary", f"Trộm cắp tài sản {uuid.uuid4().hex[:6]}")
    officer.check(f"#team-{team_id}")
    send_until_known(officer, "Lưu vụ việc", "#incident-status")
    for status, reason in (("verified", "Đã xác minh"), ("resolved", "Đã thu hồi tài sản")):
        officer.select_option("#status", status)
        officer.fill("#reason", reason)
        officer.get_by_role("button", name="Chuyển trạng thái").click()
        officer.wait_for_load_state()
    assert officer.locator("#incident-status").inner_text() == "Đã giải quyết"

    officer.goto(f"{console.url}/areas/{ward['id']}")
    assert int(officer.locator("#summary-teams").inner_text().replace(".", "")) == (
        summary_teams + 1
    )
    deadline = time.monotonic() + 60
    while _report_figures(officer, console, ward) != (teams + 1, incidents + 1):
        assert time.monotonic() < deadline, _report_figures(officer, console, ward)
        officer.wait_for_timeout(500)
