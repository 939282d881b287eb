"""Initiatives and cameras, against the real registry app: launched, stopped, relaunched,
results recorded; cameras recorded and taken down; each effect read back through
registry's API and counted in the area's summary; refusals next to their field."""

import re
from datetime import date, timedelta

from tests.unit.console.conftest import ConsoleWorld


async def test_an_initiative_is_launched_stopped_and_launched_again(world: ConsoleWorld) -> None:
    await world.log_in()
    form = await world.browser.get(f"/initiatives/new?area_id={world.ward_id}")
    assert form.status_code == 200
    for control in ("area_id", "name", "description", "launched_on"):
        assert f'<label for="{control}">' in form.text
    token = await world.csrf("/initiatives/new")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    refused = await world.browser.post(
        "/initiatives/new",
        data={"csrf_token": token, "area_id": world.ward_id, "name": "", "launched_on": tomorrow},
    )
    assert refused.status_code == 422
    assert 'id="name-error">Trường này là bắt buộc.' in refused.text
    assert 'id="launched_on-error">Ngày không được sau hôm nay.' in refused.text

    launched = await world.browser.post(
        "/initiatives/new",
        data={
            "csrf_token": token,
            "area_id": world.ward_id,
            "name": "Camera an ninh",
            "description": "Lắp camera ở các ngõ",
            "launched_on": "2025-03-01",
        },
    )
    assert launched.status_code == 303, launched.text
    initiative_id = launched.headers["location"].split("/")[2].split("?")[0]
    summary = (await world.registry.get(f"/areas/{world.ward_id}/summary")).json()
    assert summary["initiatives"] == 1
    page = await world.browser.get(launched.headers["location"])
    assert "Đã triển khai mô hình." in page.text and "01/03/2025" in page.text

    result = await world.browser.post(
        f"/initiatives/{initiative_id}/results",
        data={"csrf_token": token, "recorded_on": "2025-06-01", "summary": "12 camera"},
    )
    assert result.status_code == 303
    stopped = await world.browser.post(
        f"/initiatives/{initiative_id}/stop",
        data={"csrf_token": token, "stopped_on": "2025-09-01", "stop_reason": "Hình thức"},
    )
    assert stopped.status_code == 303
    early = await world.browser.post(
        f"/initiatives/{initiative_id}/relaunch",
        data={"csrf_token": token, "relaunched_on": "2025-08-01"},
    )
    assert early.status_code == 422 and 'id="relaunched_on-error"' in early.text
    again = await world.browser.post(
        f"/initiatives/{initiative_id}/relaunch",
        data={"csrf_token": token, "relaunched_on": "2025-10-01"},
    )
    assert again.status_code == 303
    profile = (await world.registry.get(f"/initiatives/{initiative_id}")).json()
    assert profile["status"] == "running" and len(profile["periods"]) == 2
    assert profile["results"][0]["summary"] == "12 camera"
    listing = await world.browser.get("/initiatives?status=running")
    assert "Camera an ninh" in listing.text and "Đang triển khai" in listing.text


async def test_a_camera_is_recorded_and_taken_down(world: ConsoleWorld) -> None:
    await world.log_in()
    token = await world.csrf("/cameras/new")
    refused = await world.browser.post(
        "/cameras/new",
        data={"csrf_token": token, "area_id": world.group_id, "funding": "socialised"},
    )
    assert refused.status_code == 422
    assert 'id="location-error">Trường này là bắt buộc.' in refused.text
    installed = await world.browser.post(
        "/cameras/new",
        data={
            "csrf_token": token,
            "area_id": world.group_id,
            "location": "Ngõ 5, tổ dân phố 3",
            "funding": "socialised",
            "funded_by": "Nhân dân tổ 3",
            "installed_on": "2025-05-10",
        },
    )
    assert installed.status_code == 303, installed.text
    camera_id = re.search(r"/cameras/([0-9a-f-]+)", installed.headers["location"])
    assert camera_id is not None
    summary = (await world.registry.get(f"/areas/{world.ward_id}/summary")).json()
    assert summary["cameras"] == 1
    page = await world.browser.get(f"/areas/{world.ward_id}")
    assert re.search(r'id="summary-cameras">1<', page.text)
    listing = await world.browser.get(f"/cameras?area_id={world.ward_id}")
    assert "Ngõ 5, tổ dân phố 3" in listing.text and "10/05/2025" in listing.text

    no_reason = await world.browser.post(
        f"/cameras/{camera_id.group(1)}/remove",
        data={"csrf_token": token, "removed_on": "2025-12-01"},
    )
    assert no_reason.status_code == 422
    assert 'id="removal_reason-error">' in no_reason.text
    removed = await world.browser.post(
        f"/cameras/{camera_id.group(1)}/remove",
        data={"csrf_token": token, "removed_on": "2025-12-01", "removal_reason": "Hỏng"},
    )
    assert removed.status_code == 303
    camera = (await world.registry.get(f"/cameras/{camera_id.group(1)}")).json()
    assert camera["status"] == "removed" and camera["removal_reason"] == "Hỏng"
