"""What the console's end-to-end modules share: the demo wards, registered with an admin
token when the stack lacks them, a login through Keycloak's own form, and a form sent
again while a service has not heard of a fresh record yet."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.integration.conftest import Service, Stack
from tests.keycloak import DEMO_PASSWORD, LoginAuth, Logins

ATTEMPTS = 120  # the form sent again every half second while a service catches up


@contextmanager
def admin_client(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client logged in as the demo admin (a fresh token whenever one is due)."""
    logins = Logins()
    logins.issuer = stack.keycloak.issuer
    with httpx.Client(auth=LoginAuth(logins, "admin"), timeout=30) as client:
        yield client


def area(admin: httpx.Client, registry: str, code: str, **fields: Any) -> dict[str, Any]:
    """The area with this code, registered if this stack does not have it yet."""
    found = admin.get(f"{registry}/areas", params={"q": code, "limit": 200})
    assert found.status_code == 200, found.text
    for item in found.json():
        if item["code"] == code:
            return dict(item)
    created = admin.post(f"{registry}/areas", json={"code": code, **fields})
    assert created.status_code == 201, created.text
    return dict(created.json())


def hai_hoa_ward(admin: httpx.Client, registry: str) -> dict[str, Any]:
    """Phường Hải Hòa (QN-HH), the demo officer's and tip handler's ward."""
    province = area(admin, registry, "QN", name="Tỉnh Quảng Ninh", level="province")
    return area(
        admin, registry, "QN-HH", name="Phường Hải Hòa", level="ward", parent_id=province["id"]
    )


def log_in(page: Any, console: Service, user: str, path: str = "/areas") -> None:
    """Through Keycloak's login form, as a person would; back on ``path``."""
    page.goto(f"{console.url}/login?next={path}")
    page.wait_for_selector("#username")
    page.fill("#username", user)
    page.fill("#password", DEMO_PASSWORD)
    page.locator("#kc-login").click()
    page.wait_for_url(f"{console.url}{path}")


def send_until_known(page: Any, button: str, done: str) -> None:
    """Send the form; while the service has not heard of the new ward or team yet it
    says it is synchronising and keeps what was typed: sending again is all it takes."""
    for _ in range(ATTEMPTS):
        page.get_by_role("button", name=button).click()
        page.wait_for_load_state()
        if page.locator(done).count():
            return
        assert "đang đồng bộ" in page.content(), page.content()
        page.wait_for_timeout(500)
    raise AssertionError(f"{button}: still synchronising")
