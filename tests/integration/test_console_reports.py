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
from tests.integration.test_console import accessible, browser, console  # noqa: F401
from tests.keycloak import DEMO_PASSWORD
from tests.support import bearer

pytestmark = pytest.mark.integration

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
HAI_HOA = "QN-HH"
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


def _find_or_create(admin: httpx.Client, registry: str, area: dict[str, Any]) -> dict[str, Any]:
    found = admin.get(f"{registry}/areas", params={"q": area["code"], "limit": 200}).json()
    existing = next((item for item in found if item["code"] == area["code"]), None)
    if existing is not None:
        return dict(existing)
    created = admin.post(f"{registry}/areas", json=area)
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture(scope="module")
def hai_hoa(stack: Stack) -> dict[str, Any]:
    """Phường Hải Hòa (QN-HH, the demo officer's and tip handler's area) with a
    residential group (registered as the admin when missing), and for the report two
    teams, incidents this year and last, an activity and an award."""
    with httpx.Client(headers=bearer(Role.ADMIN), timeout=30) as admin:
        registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
        ward = _find_or_create(
            admin,
            registry,
            {"code": HAI_HOA, "name": "Phường Hải Hòa", "level": "ward", "households": 5210},
        )
        group = _find_or_create(
            admin,
            registry,
            {
                "code": "QN-HH-TK1",
                "name": "Tiểu khu 1",
                "level": "residential_group",
                "parent_id": ward["id"],
                "households": 820,
            },
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


def _log_in(page: Any, console: Service, user: str, path: str) -> None:  # noqa: F811
    page.goto(f"{console.url}/login?next={path}")
    page.wait_for_selector("#username")
    page.fill("#username", user)
    page.fill("#password", DEMO_PASSWORD)
    page.locator("#kc-login").click()
    page.wait_for_url(f"{console.url}{path}")


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
    _log_in(handler, console, "tip-handler", "/tip-inbox")
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
    _log_in(admin, console, "admin", "/tip-inbox")
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
    _log_in(officer, console, "officer-haihoa", "/reports")
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
