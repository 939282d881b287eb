"""The tip inbox against the real registry and reporting apps in-process: the tips of the
user's areas, paged; a tip's page with its incident, and its informant for tip handlers
only (an admin reads "Chỉ cán bộ xử lý tin báo được xem"); the look-up by number and the
filters, with their refusals next to the field."""

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.unit.console.conftest import HAI_HOA, ConsoleWorld, FakeUser

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
TIP_HANDLER = FakeUser("tip-handler", "tip_handler", [HAI_HOA], "Cán bộ xử lý tin báo")
ADMIN = FakeUser("admin", "admin", [], "Quản trị")


async def _log_in(world: ConsoleWorld, user: FakeUser) -> None:
    world.issuer.user = user
    response = await world.log_in()
    assert response.status_code == 303, response.text


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def _send_tip(world: ConsoleWorld, **informant: str) -> str:
    form = await world.browser.get("/tips/new")
    values = dict(re.findall(r'name="(csrf_token|submission)" value="([^"]*)"', form.text))
    sent = await world.browser.post(
        "/tips/new",
        data={
            **values,
            "category": "drugs",
            "area_id": world.ward_id,
            "occurred_at": (datetime.now(VIETNAM) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "place": "Ngõ 5",
            "narrative": "Nghi có điểm mua bán ma túy",
            **informant,
        },
    )
    assert sent.status_code == 201, sent.text
    match = re.search(r'id="tip-number">([^<]+)<', sent.text)
    assert match is not None
    return match.group(1)


async def test_the_tip_inbox_shows_the_informant_to_tip_handlers_only(
    world: ConsoleWorld,
) -> None:
    number = await _send_tip(world, full_name="Người báo tin", contact="0912 345 678")
    await _log_in(world, TIP_HANDLER)
    inbox = await world.browser.get("/tip-inbox")
    assert inbox.status_code == 200
    assert "Nghi có điểm mua bán ma túy" in inbox.text and "Hiển thị 1–1" in inbox.text
    match = re.search(r'href="/tip-inbox/([0-9a-f-]{36})"', inbox.text)
    assert match is not None
    opened = await world.browser.get(f"/tip-inbox/{match.group(1)}")
    assert opened.status_code == 200 and number in opened.text  # its number, for tip handlers
    assert 'id="informant-name">Người báo tin<' in opened.text
    tip = await world.browser.get(f"/tip-inbox/{number}")
    assert tip.status_code == 200
    assert 'id="informant-name">Người báo tin<' in tip.text and "0912 345 678" in tip.text
    # Typed as the resident read it out, in lower case: the look-up form finds it.
    looked_up = await world.browser.post(
        "/tip-inbox/lookup", data={"csrf_token": _csrf(inbox.text), "tip_number": number.lower()}
    )
    assert looked_up.status_code == 303 and looked_up.headers["location"] == f"/tip-inbox/{number}"
    # A number that is no tip: said next to the field.
    wrong = await world.browser.post(
        "/tip-inbox/lookup", data={"csrf_token": _csrf(inbox.text), "tip_number": "T-0000-0000"}
    )
    assert wrong.status_code == 422 and 'id="tip_number-error"' in wrong.text
    assert "Không có tin báo nào mang số này" in wrong.text
    # The filter posts and redirects; the effect is what reporting lists.
    filtered = await world.browser.post(
        "/tip-inbox", data={"csrf_token": _csrf(inbox.text), "status": "resolved"}
    )
    assert (
        filtered.status_code == 303 and filtered.headers["location"] == "/tip-inbox?status=resolved"
    )
    none = await world.browser.get(filtered.headers["location"])
    assert number not in none.text and 'id="no-tips"' in none.text
    # An unknown status is refused next to its field (reporting's own 422).
    bad = await world.browser.get("/tip-inbox?status=lost")
    assert bad.status_code == 422 and 'id="status-error"' in bad.text

    # The admin sees the tip, not its number nor its informant.
    await world.browser.post("/logout", data={"csrf_token": _csrf(inbox.text)})
    await _log_in(world, ADMIN)
    inbox = await world.browser.get("/tip-inbox")
    assert number not in inbox.text and "Nghi có điểm mua bán ma túy" in inbox.text
    match = re.search(r'href="/tip-inbox/([0-9a-f-]{36})"', inbox.text)
    assert match is not None
    tip = await world.browser.get(f"/tip-inbox/{match.group(1)}")
    assert tip.status_code == 200
    assert "Chỉ cán bộ xử lý tin báo được xem" in tip.text and "0912 345 678" not in tip.text
    by_number = await world.browser.get(f"/tip-inbox/{number}")
    assert "Chỉ cán bộ xử lý tin báo được xem" in by_number.text
    assert "0912 345 678" not in by_number.text
    unknown = await world.browser.get(f"/tip-inbox/{uuid.uuid4()}")
    assert unknown.status_code == 404


async def test_the_inbox_is_paged_and_says_how_many_it_shows(world: ConsoleWorld) -> None:
    # Straight to reporting (the console's form is tested above): 21 tips, one past a page.
    reporting_app = world.app.state.console.apis.http._transport.transports["reporting.test"].app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=reporting_app), base_url="http://reporting.test"
    ) as reporting:
        for n in range(21):
            sent = await reporting.post(
                "/tips",
                json={
                    "area_id": world.ward_id,
                    "category": "theft",
                    "summary": f"Tin báo số {n}",
                    "occurred_at": (datetime.now(VIETNAM) - timedelta(hours=1)).isoformat(),
                },
            )
            assert sent.status_code == 201, sent.text
    await _log_in(world, TIP_HANDLER)
    first = await world.browser.get("/tip-inbox")
    assert first.status_code == 200
    assert (
        first.text.count('href="/tip-inbox/') == 20
        and "Hiển thị 1–20 trên tổng số 21" in first.text
    )
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = await world.browser.get("/tip-inbox?offset=20")
    assert (
        second.text.count('href="/tip-inbox/') == 1
        and "Hiển thị 21–21 trên tổng số 21" in second.text
    )
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
