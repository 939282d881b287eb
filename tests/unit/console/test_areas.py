"""The area tree and an area's summary, against the real registry app, as the officer of
Hải Hòa sees them: their ward and its groups, the kept counters, nothing of another ward."""

import re

from tests.unit.console.conftest import ConsoleWorld


async def _team(world: ConsoleWorld) -> str:
    response = await world.registry.post(
        "/teams",
        json={
            "area_id": world.group_id,
            "name": "Tổ ANTT tổ dân phố số 3",
            "kind": "security_order",
            "members": [
                {"full_name": "Nguyễn Chu Thực", "role": "leader"},
                {"full_name": "Trần Văn Bình", "role": "deputy"},
                {"full_name": "Lê Thị Cúc", "role": "member"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_tree_nests_the_groups_under_their_ward(world: ConsoleWorld) -> None:
    await world.log_in()
    page = await world.browser.get("/areas")
    assert page.status_code == 200
    assert "Cây khu vực" in page.text
    ward = page.text.index(f'href="/areas/{world.ward_id}"')
    group = page.text.index(f'href="/areas/{world.group_id}"')
    assert ward < group
    nested = page.text[ward:]
    assert re.search(r"<ul>\s*<li><a href=\"/areas/" + world.group_id, nested)
    assert "3.437 hộ" in page.text  # households, in Vietnamese figures


async def test_the_summary_counts_teams_members_and_links_the_ward_report(
    world: ConsoleWorld,
) -> None:
    await world.log_in()
    await _team(world)
    page = await world.browser.get(f"/areas/{world.ward_id}")
    assert page.status_code == 200, page.text
    assert re.search(r'id="summary-teams">1<', page.text)
    assert re.search(r'id="summary-members">3<', page.text)
    assert "Tổ bảo vệ an ninh, trật tự" in page.text  # the kind's Vietnamese name
    assert f'href="/reports/ward?area_id={world.ward_id}"' in page.text
    assert f'href="/areas/{world.group_id}"' in page.text  # its child
    group = await world.browser.get(f"/areas/{world.group_id}")
    assert f'href="/areas/{world.ward_id}"' in group.text  # "part of" its ward


async def test_another_wards_area_is_not_found(world: ConsoleWorld) -> None:
    other = await world.registry.post(
        "/areas", json={"code": "HN-QA", "name": "Phường Quảng An", "level": "ward"}
    )
    assert other.status_code == 201
    await world.log_in()
    page = await world.browser.get(f"/areas/{other.json()['id']}")
    assert page.status_code == 404 and "Không tìm thấy trang" in page.text
    assert "Quảng An" not in (await world.browser.get("/areas")).text


async def test_the_pages_need_a_login(world: ConsoleWorld) -> None:
    for path in ("/areas", "/teams", "/people", "/initiatives", "/cameras", "/imports/teams"):
        response = await world.browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
