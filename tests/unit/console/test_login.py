"""Logging in through the issuer (authorization code with PKCE), the session cookie, token
refresh, logout, CSRF on every POST form, and the security headers."""

import time

from tests.unit.console.conftest import ConsoleWorld


async def test_an_officer_logs_in_and_sees_their_areas_in_vietnamese(world: ConsoleWorld) -> None:
    response = await world.log_in()
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "antt_console_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    home = await world.browser.get("/")
    assert home.status_code == 200
    page = home.text
    assert '<html lang="vi">' in page
    assert "Cán bộ Phường Hải Hòa" in page  # the user's name, from the ID token
    assert "Cán bộ" in page and "QN-HH" in page  # role and areas
    for label in ("Khu vực", "Tổ/đội", "Vụ việc", "Tin báo", "Khen thưởng", "Báo cáo"):
        assert label in page
    assert "Phường Hải Hòa" in page and "Tổ dân phố 3" in page  # registry's areas
    assert "3.437" in page  # households, as Vietnamese write numbers
    assert "Đăng xuất" in page and "English" in page


async def test_the_cookie_holds_only_a_signed_random_id_and_rotates_at_login(
    world: ConsoleWorld,
) -> None:
    await world.browser.get("/tips/follow")
    before = world.browser.cookies["antt_console_session"]
    await world.log_in()
    after = world.browser.cookies["antt_console_session"]
    assert before != after  # a session id planted before login is worth nothing after
    assert "eyJ" not in after  # no token (a JWT) in the cookie
    world.browser.cookies.set("antt_console_session", after[:-2] + "xx")
    forged = await world.browser.get("/")
    assert "Đăng nhập" in forged.text and "Cán bộ Phường Hải Hòa" not in forged.text


async def test_a_callback_with_another_state_is_refused(world: ConsoleWorld) -> None:
    start = await world.browser.get("/login")
    assert start.status_code == 303
    refused = await world.browser.get("/auth/callback?code=abc&state=not-the-one")
    assert refused.status_code == 400
    assert "Đăng nhập không thành công" in refused.text
    assert "Cán bộ Phường Hải Hòa" not in (await world.browser.get("/")).text


async def test_pages_need_a_login(world: ConsoleWorld) -> None:
    response = await world.browser.get("/areas")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/areas"


async def test_a_token_near_expiry_is_refreshed(world: ConsoleWorld) -> None:
    await world.log_in()
    session = next(iter(world.app.state.console.sessions._sessions.values()))
    session.user.access_expires_at = time.time() + 5  # within the refresh margin
    page = await world.browser.get("/")
    assert page.status_code == 200 and "Phường Hải Hòa" in page.text
    assert world.issuer.refreshed == 1
    assert session.user.access_expires_at > time.time() + 200


async def test_an_ended_keycloak_session_sends_the_user_to_log_in(world: ConsoleWorld) -> None:
    await world.log_in()
    session = next(iter(world.app.state.console.sessions._sessions.values()))
    world.issuer.refresh_tokens.clear()  # ended at the issuer
    session.user.access_expires_at = time.time()
    response = await world.browser.get("/areas")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_logout_ends_the_issuer_session_and_clears_the_cookie(world: ConsoleWorld) -> None:
    await world.log_in()
    token = await world.csrf("/")
    refused = await world.browser.post("/logout", data={})
    assert refused.status_code == 403 and "Không được phép" in refused.text
    response = await world.browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert world.issuer.logged_out  # refresh-token logout at the end_session_endpoint
    assert 'antt_console_session=""' in response.headers["set-cookie"]
    home = await world.browser.get(response.headers["location"])
    assert "Bạn đã đăng xuất." in home.text and "Cán bộ Phường Hải Hòa" not in home.text


async def test_every_answer_carries_the_security_headers(world: ConsoleWorld) -> None:
    for path in ("/", "/tips/new", "/static/console.css", "/no-such-page"):
        response = await world.browser.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
