"""Login, the return from Keycloak, logout, and the language switch."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.console.auth.oidc import LoginFailed
from services.console.common import (
    check_csrf,
    console_of,
    local_path,
    redirect,
    render,
    replace_session,
    session_of,
    set_language_cookie,
)
from services.console.i18n import LOCALES, current_locale
from shared.logging import get_logger
from shared.oidc import IssuerUnavailable

log = get_logger()
CALLBACK_PATH = "/auth/callback"


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/login")
    async def login(request: Request, next: str = "/") -> Response:
        console = console_of(request)
        if console.oidc is None:
            return render(request, "auth/no_login.html", status=503)
        session = session_of(request)
        assert session is not None
        try:
            address, pending = await console.oidc.start(
                console.base_url(request) + CALLBACK_PATH, local_path(next), current_locale.get()
            )
        except IssuerUnavailable:
            return render(request, "errors/unavailable.html", status=503)
        session.pending = pending
        return redirect(request, address, status=303)

    @router.get(CALLBACK_PATH)
    async def callback(
        request: Request,
        state: Annotated[str, Query(max_length=200)] = "",
        code: Annotated[str, Query(max_length=4000)] = "",
        error: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        console = console_of(request)
        session = session_of(request)
        assert session is not None and console.oidc is not None
        pending, session.pending = session.pending, None  # one use
        if error or not code:
            log.info("console_login_refused", reason=error or "no code")
            return render(request, "auth/login_failed.html", status=400)
        try:
            user = await console.oidc.finish(
                pending, state, code, console.base_url(request) + CALLBACK_PATH
            )
        except (LoginFailed, IssuerUnavailable) as exc:
            log.info("console_login_failed", reason=str(exc))
            return render(request, "auth/login_failed.html", status=400)
        session.user = user
        replace_session(request, console.sessions.rotate(session))
        log.info("console_login", subject=user.principal.subject, role=user.principal.role.value)
        assert pending is not None
        return redirect(request, pending.next_path)

    @router.post("/logout", dependencies=[Depends(check_csrf)])
    async def logout(request: Request) -> Response:
        console = console_of(request)
        session = session_of(request, create=False)
        if session is not None:
            if session.user is not None and console.oidc is not None:
                await console.oidc.logout(session.user)
                log.info("console_logout", subject=session.user.principal.subject)
            console.sessions.drop(session)
        request.state.session = None
        request.state.clear_cookie = True
        return redirect(request, "/?logged_out=1")

    @router.get("/lang/{locale}")
    async def language(request: Request, locale: str, next: str = "/") -> Response:
        """The language switch in the header: a cookie, then back to the page."""
        response = redirect(request, local_path(next))
        if locale in LOCALES:
            set_language_cookie(response, locale, console_of(request).secure_cookies)
        return response

    return router
