"""The residents' tip pages against the real reporting and registry apps: the form's
choices, the receipt shown once, following the tip, the services' refusals as the
resident reads them, and no address of the resident in the console's log."""

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.unit.console.conftest import ConsoleWorld

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def _form(world: ConsoleWorld, page: str, **fields: str) -> dict[str, str]:
    values = dict(re.findall(r'name="(csrf_token|submission)" value="([^"]*)"', page))
    an_hour_ago = datetime.now(VIETNAM) - timedelta(hours=1)
    return {
        **values,
        "category": "drugs",
        "area_id": world.group_id,
        "occurred_at": an_hour_ago.strftime("%Y-%m-%dT%H:%M"),
        "place": "Ngõ 5, tổ dân phố 3",
        "narrative": "Nghi có điểm mua bán ma túy",
        **fields,
    }


async def test_the_form_offers_reportings_categories_and_the_wards(world: ConsoleWorld) -> None:
    page = await world.browser.get("/tips/new")
    assert page.status_code == 200
    assert "Gửi tin báo" in page.text and "Ma túy" in page.text and "Trộm cắp tài sản" in page.text
    assert "Tổ dân phố 3 — Phường Hải Hòa" in page.text
    for control in (
        "category",
        "area_id",
        "occurred_at",
        "place",
        "narrative",
        "full_name",
        "contact",
    ):
        assert f'<label for="{control}">' in page.text  # every control has its label


async def test_a_resident_sends_a_tip_and_follows_it(
    world: ConsoleWorld, caplog: pytest.LogCaptureFixture
) -> None:
    page = await world.browser.get("/tips/new")
    # Reporting was told of the ward (conftest announced it): the tip goes there.
    form = _form(world, page.text, area_id=world.ward_id, full_name="Người báo tin")
    with caplog.at_level(logging.INFO):
        sent = await world.browser.post("/tips/new", data=form)
    assert sent.status_code == 201, sent.text
    assert "Đã nhận tin báo" in sent.text and "chỉ hiển thị một lần" in sent.text
    number = _found(r'id="tip-number">([^<]+)<', sent.text)
    secret = _found(r'id="tip-secret">([^<]+)<', sent.text)
    # The resident's address (the test client's) is in no line the console wrote.
    console_lines = [r.getMessage() for r in caplog.records if "console" in r.name]
    assert not any("127.0.0.1" in line for line in console_lines)

    again = await world.browser.post("/tips/new", data=form)  # a double click
    assert number in again.text  # the form's Idempotency-Key: the same receipt

    follow = await world.browser.get("/tips/follow")
    token = _found(r'name="csrf_token" value="([^"]+)"', follow.text)
    status = await world.browser.post(
        "/tips/follow", data={"csrf_token": token, "tip_number": number, "secret": secret}
    )
    assert status.status_code == 200
    assert "Đã tiếp nhận, đang chờ xác minh" in status.text
    received = re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", status.text)
    assert received is not None  # dd/mm/yyyy HH:mm, Vietnam's time
    wrong = await world.browser.post(
        "/tips/follow", data={"csrf_token": token, "tip_number": number, "secret": "x" * 20}
    )
    assert wrong.status_code == 404
    assert "Không có tin báo nào khớp" in wrong.text


async def test_refusals_are_shown_next_to_their_field(world: ConsoleWorld) -> None:
    page = await world.browser.get("/tips/new")
    future = (datetime.now(VIETNAM) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = await world.browser.post(
        "/tips/new", data=_form(world, page.text, occurred_at=future, narrative="")
    )
    assert refused.status_code == 422
    assert 'id="narrative-error">Trường này là bắt buộc.' in refused.text
    # The residential group is registry's: reporting has not heard of it (conftest told it
    # only of the ward), so it refuses it by its field.
    unknown = await world.browser.post("/tips/new", data=_form(world, page.text))
    assert unknown.status_code in (409, 422)
    assert 'id="area_id-error"' in unknown.text
    assert "Nghi có điểm mua bán ma túy" in unknown.text  # what was typed is kept


async def test_a_post_without_its_csrf_token_is_refused(world: ConsoleWorld) -> None:
    page = await world.browser.get("/tips/new")
    form = _form(world, page.text, area_id=world.ward_id)
    del form["csrf_token"]
    refused = await world.browser.post("/tips/new", data=form)
    assert refused.status_code == 403
    form["csrf_token"] = "not-the-sessions-token"
    assert (await world.browser.post("/tips/new", data=form)).status_code == 403


@pytest.mark.parametrize("tip_limit", [1])
async def test_too_many_tips_get_a_friendly_message(world: ConsoleWorld) -> None:
    # Reporting limits tips per client address; every resident reaches it through the
    # console, so they share one bucket (see the README's console section).
    page = await world.browser.get("/tips/new")
    statuses = []
    for _ in range(2):
        form = _form(world, page.text, area_id=world.ward_id, submission="")
        response = await world.browser.post("/tips/new", data=form)
        statuses.append(response.status_code)
    assert statuses == [201, 429]
    assert "Hiện có quá nhiều tin báo được gửi đến" in response.text
