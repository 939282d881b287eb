"""The activity pages against the real registry and reporting apps in-process: the type
first, then its measures with their units; the record read back through reporting's API;
quantities as typed in Vietnam (1,5); a refused quantity next to its field."""

import re
from datetime import timedelta
from decimal import Decimal

from tests.support import vietnam_today
from tests.unit.console.conftest import AwardsWorld


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|submission|activity_type)" value="([^"]*)"', page))


async def test_the_type_first_then_its_measures_with_units(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    choose = await world.browser.get("/activities/new")
    assert choose.status_code == 200
    assert "Bước 1/2" in choose.text and "Tuyên truyền" in choose.text
    form = await world.browser.get("/activities/new?activity_type=outreach")
    assert form.status_code == 200
    assert '<label for="m_sessions">Số buổi (lần)</label>' in form.text
    assert '<label for="m_people_reached">' in form.text and "(người)" in form.text
    assert awards_world.team_name in form.text
    unknown = await world.browser.get("/activities/new?activity_type=juggling")
    assert unknown.status_code == 422 and 'id="activity_type-error"' in unknown.text


async def test_an_officer_records_an_outreach_session(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    form = await world.browser.get("/activities/new?activity_type=outreach")
    sent = await world.browser.post(
        "/activities/new",
        data={
            **_hidden(form.text),
            "area_id": world.group_id,
            "occurred_on": vietnam_today().isoformat(),
            "m_sessions": "2",
            "m_people_reached": "1.200",  # a thousand and two hundred, as written here
            "team_ids": [awards_world.team_id],
            "notes": "Tuyên truyền phòng chống ma túy",
        },
    )
    assert sent.status_code == 303, sent.text
    stored = (await awards_world.reporting.get("/activities")).json()
    assert len(stored) == 1
    measures = {m["item"]: Decimal(str(m["quantity"])) for m in stored[0]["measures"]}
    assert measures == {"sessions": 2, "people_reached": 1200}
    assert stored[0]["team_ids"] == [awards_world.team_id]

    listed = await world.browser.get(sent.headers["location"])
    assert "Đã ghi nhận hoạt động." in listed.text
    assert "Số lượt người được tuyên truyền: 1.200 người" in listed.text
    assert "Hiển thị 1–1 trên tổng số 1" in listed.text
    detail = await world.browser.get(f"/activities/{stored[0]['id']}")
    assert detail.status_code == 200 and awards_world.team_name in detail.text
    filtered = await world.browser.get("/activities?activity_type=patrol")
    assert stored[0]["id"] not in filtered.text


async def test_weapons_handed_in_with_a_decimal_comma(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    form = await world.browser.get("/activities/new?activity_type=weapons_handover")
    assert 'id="free0_item"' in form.text and "Súng tự chế" in form.text
    sent = await world.browser.post(
        "/activities/new",
        data={
            **_hidden(form.text),
            "area_id": world.ward_id,
            "occurred_on": vietnam_today().isoformat(),
            "free0_item": "firecrackers",
            "free0_quantity": "1,5",
            "free0_unit": "kg",
        },
    )
    assert sent.status_code == 303, sent.text
    stored = (await awards_world.reporting.get("/activities")).json()[0]
    assert stored["measures"] == [{"item": "firecrackers", "unit": "kg", "quantity": "1.5"}]


async def test_refusals_are_shown_next_to_their_field(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    form = await world.browser.get("/activities/new?activity_type=outreach")
    tomorrow = vietnam_today() + timedelta(days=1)
    local = await world.browser.post(
        "/activities/new",
        data={**_hidden(form.text), "area_id": "", "occurred_on": tomorrow.isoformat()},
    )
    assert local.status_code == 422
    for field in ("area_id", "occurred_on", "measures"):
        assert f'id="{field}-error"' in local.text
    # Reporting refuses a fraction of a whole unit: the error is next to that quantity.
    refused = await world.browser.post(
        "/activities/new",
        data={
            **_hidden(form.text),
            "area_id": world.ward_id,
            "occurred_on": vietnam_today().isoformat(),
            "m_sessions": "1,5",
        },
    )
    assert refused.status_code == 422, refused.text
    assert 'id="m_sessions-error"' in refused.text
    assert 'value="1,5"' in refused.text  # what was typed is kept
