"""The registry's pages end to end, in Debian's Chromium against the real stack and the
real Keycloak: the officer of Hải Hòa logs in through Keycloak's form, registers a team
through the form, finds it in the list and in the ward summary's counts, walks the
registry pages (axe-core on each: no serious or critical violation), and gets the
console's 404 page for Quảng An's area and team, which are outside their areas."""

import re
import uuid
from typing import Any

import pytest

from tests.integration.conftest import Service, Stack
from tests.integration.console_support import admin_client, area, hai_hoa_ward, log_in
from tests.integration.test_console import accessible, browser, console, page

pytestmark = pytest.mark.integration
__all__ = ["browser", "console", "page"]  # the fixtures, shared with test_console.py


@pytest.fixture(scope="module")
def wards(stack: Stack) -> dict[str, Any]:
    """QN-HH (the officer's ward, under its province) and HN-QA with a team of its own,
    registered with an admin token when missing."""
    registry = stack.url("registry")
    with admin_client(stack) as admin:
        hai_hoa = hai_hoa_ward(admin, registry)
        ha_noi = area(admin, registry, "HN", name="Thành phố Hà Nội", level="province")
        quang_an = area(
            admin, registry, "HN-QA", name="Phường Quảng An", level="ward", parent_id=ha_noi["id"]
        )
        team = admin.post(
            f"{registry}/teams",
            json={
                "area_id": quang_an["id"],
                "name": f"Tổ hòa giải Quảng An {uuid.uuid4().hex[:4]}",
                "kind": "mediation",
                "members": [{"full_name": "Đỗ Văn Em", "role": "leader"}],
            },
        )
        assert team.status_code == 201, team.text
    return {"hai_hoa": hai_hoa, "quang_an": quang_an, "quang_an_team": team.json()}


def _teams_count(page: Any) -> int:
    return int(page.locator("#summary-teams").inner_text().replace(".", ""))


def test_an_officer_registers_a_team_and_sees_it_counted(
    console: Service, wards: dict[str, Any], page: Any
) -> None:
    hai_hoa = wards["hai_hoa"]
    log_in(page, console, "officer-haihoa")
    assert page.get_by_role("heading", name="Cây khu vực").is_visible()
    assert page.get_by_role("link", name="Phường Hải Hòa").count() >= 1
    accessible(page)  # the tree

    page.goto(f"{console.url}/areas/{hai_hoa['id']}")
    before = _teams_count(page)
    accessible(page)  # the summary

    name = f"Tổ ANTT khu phố {uuid.uuid4().hex[:6]}"
    page.goto(console.url + "/teams/new")
    accessible(page)  # the registration form
    for control in ("area_id", "name", "kind", "m0_full_name", "m0_role"):
        assert page.locator(f"label[for={control}]").count() == 1
    page.select_option("#area_id", hai_hoa["id"])
    page.fill("#name", name)
    page.select_option("#kind", "security_order")
    page.fill("#founded_on", "2024-07-01")
    page.fill("#m0_full_name", "Nguyễn Chu Thực")
    page.fill("#m1_full_name", "Trần Văn Bình")
    page.select_option("#m1_role", "deputy")
    page.fill("#m2_full_name", "Lê Thị Cúc")
    page.get_by_role("button", name="Đăng ký tổ").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=name).is_visible()
    assert "Đã đăng ký tổ." in page.content() and "01/07/2024" in page.content()
    accessible(page)  # the team with its roster and forms

    page.goto(console.url + "/teams?q=" + name.split()[-1])
    assert page.get_by_role("link", name=name).is_visible()
    accessible(page)  # the list

    page.goto(f"{console.url}/areas/{hai_hoa['id']}")
    assert _teams_count(page) == before + 1  # registry's counters, kept with the change
    assert re.search(r"/reports/ward\?area_id=" + hai_hoa["id"], page.content())

    for path in ("/people", "/initiatives", "/initiatives/new", "/cameras", "/cameras/new"):
        response = page.goto(console.url + path)
        assert response.status == 200, path
        accessible(page)
    page.goto(console.url + "/imports/teams")
    assert page.locator("label[for=file]").count() == 1
    accessible(page)  # the import form


def test_another_wards_area_and_team_are_not_found(
    console: Service, wards: dict[str, Any], page: Any
) -> None:
    log_in(page, console, "officer-haihoa")
    for path in (
        f"/areas/{wards['quang_an']['id']}",
        f"/teams/{wards['quang_an_team']['id']}",
    ):
        response = page.goto(console.url + path)
        assert response.status == 404, path
        assert page.get_by_role("heading", name="Không tìm thấy trang").is_visible()
    accessible(page)
    page.goto(console.url + "/teams")
    assert wards["quang_an_team"]["name"] not in page.content()
