"""The console end to end, in a real headless Chromium (Debian's ``chromium``, driven by
Playwright through ``executable_path``) against the real stack: the three services on
PostgreSQL and Kafka, and the real Keycloak with its login form.

An officer logs in through Keycloak's form, sees the home page in Vietnamese, switches
to English and logs out; a resident sends a tip and follows it with its number and
secret; every page answers with the security headers; a POST without its CSRF token is
refused; axe-core (bundled in ``axe-playwright-python``, injected from the package, nothing
fetched) finds no serious or critical violation on any page built here."""

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.local_kafka import free_port
from tests.integration.conftest import Service, Stack, start_service, wait_ready
from tests.keycloak import DEMO_PASSWORD, KeycloakAdmin, LoginAuth, Logins

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CONSOLE_CLIENT_SECRET = "antt-console-dev-secret"
SERVICE_CLIENT_SECRET = "antt-service-dev-secret"
SEVERE = {"serious", "critical"}

playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists() and shutil.which("chromium") is None:
    pytest.fail("Debian's chromium is missing: `make chromium` installs it", pytrace=False)


@pytest.fixture(scope="module")
def console(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The console as a process, like the services, on a free port that Keycloak is told
    to accept as a redirect URI (the realm lists only 8000's: a test port is registered
    through the admin API for this run, and the realm file stays as tight as it is)."""
    port = free_port()
    admin = KeycloakAdmin(stack.keycloak)
    client = admin.call("GET", "/antt/clients", params={"clientId": "antt-console"}).json()[0]
    redirect = f"http://127.0.0.1:{port}/*"
    admin.call(
        "PUT",
        f"/antt/clients/{client['id']}",
        {**client, "redirectUris": [*client["redirectUris"], redirect]},
    )
    service = start_service(
        "console",
        stack.kafka,
        tmp_path_factory.mktemp("console"),
        database_url="",
        port=port,
        extra={
            "ANTT_OIDC_ISSUER": stack.keycloak.issuer,
            "ANTT_CONSOLE_CLIENT_SECRET": CONSOLE_CLIENT_SECRET,
            "ANTT_OIDC_CLIENT_SECRET": SERVICE_CLIENT_SECRET,
            "ANTT_REGISTRY_URL": stack.url("registry"),
            "ANTT_REPORTING_URL": stack.url("reporting"),
            "ANTT_AWARDS_URL": stack.url("awards"),
        },
    )
    try:
        wait_ready(service)
        yield service
    finally:
        service.process.terminate()
        service.process.wait(timeout=20)
        client["redirectUris"] = [uri for uri in client["redirectUris"] if uri != redirect]
        admin = KeycloakAdmin(stack.keycloak)  # a fresh token: the master realm's lasts 60 s
        admin.call("PUT", f"/antt/clients/{client['id']}", client)


@pytest.fixture(scope="module")
def ward(stack: Stack) -> dict[str, Any]:
    """A ward of this run's own, registered as the admin (a tip needs one)."""
    logins = Logins()
    logins.issuer = stack.keycloak.issuer
    with httpx.Client(auth=LoginAuth(logins, "admin"), timeout=30) as admin:
        response = admin.post(
            f"{stack.url('registry')}/areas",
            json={
                "code": f"E2E-{uuid.uuid4().hex[:8]}",
                "name": f"Phường Thử Nghiệm {uuid.uuid4().hex[:4]}",
                "level": "ward",
            },
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            headless=True,
            args=["--no-sandbox"],  # as root on the build machines
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    yield context.new_page()
    context.close()


def accessible(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    severe = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in violations
        if violation["impact"] in SEVERE
    ]
    assert not severe, f"{page.url}: {severe}"


def test_an_officer_logs_in_through_keycloak_switches_language_and_logs_out(
    console: Service, page: Any
) -> None:
    response = page.goto(console.url + "/")
    assert response.status == 200
    accessible(page)  # the welcome page
    page.get_by_role("link", name="Đăng nhập").click()
    # Keycloak's own login form
    page.wait_for_selector("#username")
    assert page.url.startswith(console.url) is False
    page.fill("#username", "officer-haihoa")
    page.fill("#password", DEMO_PASSWORD)
    page.locator("#kc-login").click()
    page.wait_for_url(console.url + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    header = page.locator("header").inner_text()
    assert "Cán bộ Phường Hải Hòa" in header or "Phường Hải Hòa" in header
    assert "QN-HH" in header and "Đăng xuất" in header
    for label in ("Khu vực", "Tổ/đội", "Vụ việc", "Tin báo", "Khen thưởng", "Báo cáo"):
        assert page.get_by_role("link", name=label).count() >= 1
    assert page.get_by_role("heading", name="Khu vực của bạn").is_visible()
    accessible(page)  # the home page with the navigation

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Your areas").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    accessible(page)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert "You have logged out." in page.content()
    # The Keycloak session ended: logging in again asks for the password.
    page.get_by_role("link", name="Log in").click()
    page.wait_for_selector("#username")


def test_a_resident_sends_a_tip_and_follows_it(
    console: Service, ward: dict[str, Any], page: Any
) -> None:
    page.goto(console.url + "/tips/new")
    assert page.get_by_role("heading", name="Gửi tin báo").is_visible()
    accessible(page)  # the form
    for control in ("category", "area_id", "occurred_at", "place", "narrative"):
        assert page.locator(f"label[for={control}]").count() == 1
    an_hour_ago = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(hours=1)
    page.select_option("#category", "drugs")
    page.select_option("#area_id", ward["id"])
    page.fill("#occurred_at", an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#place", "Ngõ 5")
    page.fill("#narrative", "Nghi có điểm mua bán ma túy")
    # Reporting hears of the new ward from registry's events: until then the form says
    # it is synchronising and keeps what was typed; sending again is all it takes.
    for _ in range(60):
        page.get_by_role("button", name="Gửi tin báo").click()
        page.wait_for_load_state()
        if page.locator("#tip-number").count():
            break
        assert "đang đồng bộ" in page.content() or "không tồn tại" in page.content().lower()
        page.wait_for_timeout(500)
    number = page.locator("#tip-number").inner_text()
    secret = page.locator("#tip-secret").inner_text()
    assert "chỉ hiển thị một lần" in page.content()
    accessible(page)  # the receipt

    page.get_by_role("link", name="Theo dõi tin báo").first.click()
    page.fill("#tip_number", number)
    page.fill("#secret", secret)
    page.get_by_role("button", name="Xem trạng thái").click()
    page.wait_for_load_state()
    assert page.locator("#tip-status").inner_text() == "Đã tiếp nhận, đang chờ xác minh"
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", page.content())
    accessible(page)  # the status


def test_security_headers_and_csrf(console: Service, page: Any) -> None:
    for path in ("/", "/tips/new", "/tips/follow", "/static/console.css", "/no-such-page"):
        response = page.goto(console.url + path)
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
    assert "Không tìm thấy trang" in page.content()
    accessible(page)  # the 404 page
    page.goto(console.url + "/tips/follow")
    # The browser's own session, but no token in the form: refused.
    refused = page.request.post(
        console.url + "/tips/follow", form={"tip_number": "T-AAAA-BBBB", "secret": "x" * 12}
    )
    assert refused.status == 403
