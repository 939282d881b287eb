"""The layout's language switch, the Vietnamese 404 page, the services' 404 and 409
``not_yet_known`` as pages, readiness and metrics."""

from starlette.requests import Request

from services.console.apis import ApiError
from services.console.common import error_page
from tests.unit.console.conftest import ConsoleWorld


async def test_the_language_switch_turns_the_pages_to_english_and_back(
    world: ConsoleWorld,
) -> None:
    await world.log_in()
    switched = await world.browser.get("/lang/en?next=/areas")
    assert switched.status_code == 303 and switched.headers["location"] == "/areas"
    page = await world.browser.get("/areas")
    assert '<html lang="en">' in page.text and "Log out" in page.text and "Teams" in page.text
    assert "3,437" in page.text
    elsewhere = await world.browser.get("/lang/vi?next=https://evil.example/")
    assert elsewhere.headers["location"] == "/"  # only this console's pages
    assert "Đăng xuất" in (await world.browser.get("/")).text


async def test_an_unknown_page_is_a_vietnamese_404(world: ConsoleWorld) -> None:
    response = await world.browser.get("/no-such-page")
    assert response.status_code == 404 and "Không tìm thấy trang" in response.text


async def test_the_services_refusals_become_pages(world: ConsoleWorld) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/areas",
        "headers": [],
        "query_string": b"",
        "app": world.app,
    }
    missing = await error_page(Request(scope), ApiError(404))
    assert missing.status_code == 404 and "Không tìm thấy trang" in bytes(missing.body).decode()
    syncing = await error_page(
        Request(scope),
        ApiError(409, [{"loc": ["body", "area_id"], "msg": "…", "type": "not_yet_known"}]),
    )
    assert syncing.status_code == 409 and "đang đồng bộ" in bytes(syncing.body).decode()


async def test_ready_names_what_is_missing_and_metrics_count_pages(world: ConsoleWorld) -> None:
    ready = await world.browser.get("/ready")
    # awards is not running in the unit tests; the rest answer.
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "registry": True,
        "reporting": True,
        "awards": False,
        "identity_provider": True,
    }
    assert (await world.browser.get("/health")).json() == {"status": "ok"}
    await world.browser.get("/tips/new")
    metrics = (await world.browser.get("/metrics")).text
    assert 'antt_http_requests_total{method="GET",route="/tips/new",status_class="2xx"}' in metrics
