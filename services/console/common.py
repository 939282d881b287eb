"""What every page package of the console shares: the templates, the page's context (who
is logged in, the CSRF token, the language), the session cookie, and the services'
errors as the user reads them (in their language, next to the field they name)."""

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.apis import ApiError, ServiceApis
from services.console.auth.oidc import OidcClient
from services.console.auth.sessions import SESSION_COOKIE, Session, SessionStore, UserTokens
from services.console.i18n import (
    LANGUAGE_COOKIE,
    _,
    current_locale,
    format_day,
    format_moment,
    format_number,
    gettext_,
    ngettext_,
)

CONSOLE_DIR = Path(__file__).parent
# One templates folder per page package (``<package>/templates/<package>/…``), plus the
# layout and error pages in ``templates/``: a package's pages are named by their folder.
PAGE_PACKAGES = (
    "auth",
    "home",
    "tips",
    "incidents",
    "activities",
    "awards",
    "reports",
    "tipinbox",
    "areas",
    "teams",
    "assets",
)


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a msgid, translated when the page is drawn


def _noop(message: str) -> str:
    """Marks a msgid for extraction where the translation happens later."""
    return message


# The officers' navigation. Pages not built yet answer "coming soon" (app.py), so the
# layout is final and a new page package only takes its path over.
NAVIGATION = (
    NavItem("/areas", _noop("Areas")),
    NavItem("/teams", _noop("Teams")),
    NavItem("/incidents", _noop("Incidents")),
    NavItem("/tip-inbox", _noop("Tips")),
    NavItem("/awards", _noop("Awards")),
    NavItem("/reports", _noop("Reports")),
)

ROLE_LABELS = {
    "admin": _noop("Administrator"),
    "officer": _noop("Officer"),
    "tip_handler": _noop("Tip handler"),
    "auditor": _noop("Auditor"),
    "service": _noop("Service"),
}


def build_templates() -> jinja2.Environment:
    folders = [CONSOLE_DIR / "templates"] + [
        CONSOLE_DIR / package / "templates" for package in PAGE_PACKAGES
    ]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext_, ngettext_, newstyle=True
    )
    environment.filters["number"] = format_number
    environment.filters["day"] = format_day
    environment.filters["moment"] = format_moment
    return environment


class NeedsLogin(Exception):
    """The page needs a logged-in user: the handler sends the browser to /login."""


class CsrfRefused(Exception):
    """A POST without its session's CSRF token."""


@dataclass
class Console:
    """The console's parts, on ``app.state.console``; page packages reach them here."""

    templates: jinja2.Environment
    sessions: SessionStore
    apis: ServiceApis
    oidc: OidcClient | None
    service_token: Callable[[], Awaitable[str]]
    secure_cookies: bool
    public_url: str | None

    def base_url(self, request: Request) -> str:
        """Where the browser reaches the console: the configured address, else the one it
        used (Keycloak only sends users back to the addresses registered for the client)."""
        return (self.public_url or str(request.base_url)).rstrip("/")


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request, create: bool = True) -> Session | None:
    """The request's session, made (and its cookie set by ``finish``) when it has none."""
    if hasattr(request.state, "session"):
        session: Session | None = request.state.session
        if session is not None or not create:
            return session
    console = console_of(request)
    session = console.sessions.from_cookie(request.cookies.get(SESSION_COOKIE))
    if session is None and create:
        session = console.sessions.create()
        request.state.new_cookie = True
    request.state.session = session
    return session


def replace_session(request: Request, session: Session) -> None:
    request.state.session = session
    request.state.new_cookie = True


def finish(request: Request, response: Response) -> Response:
    """Set the session cookie when the request made (or rotated) one."""
    session: Session | None = getattr(request.state, "session", None)
    if getattr(request.state, "new_cookie", False) and session is not None:
        response.set_cookie(
            SESSION_COOKIE,
            console_of(request).sessions.cookie_value(session),
            httponly=True,
            samesite="lax",
            secure=console_of(request).secure_cookies,
            path="/",
        )
    if getattr(request.state, "clear_cookie", False):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    session = session_of(request)
    assert session is not None
    user = session.user
    page = {
        "request": request,
        "locale": current_locale.get(),
        "csrf_token": session.csrf_token,
        "user": user,
        "role_label": _(ROLE_LABELS[user.principal.role.value]) if user else "",
        "navigation": [(item.path, _(item.label)) for item in NAVIGATION],
        "current_path": request.url.path,
        "here": quote(request.url.path, safe="/"),
        **(context or {}),
    }
    html = console_of(request).templates.get_template(template).render(page)
    return finish(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, location: str, status: int = 303) -> Response:
    return finish(request, RedirectResponse(location, status_code=status))


def local_path(candidate: str | None) -> str:
    """A path on this console to go back to; anything else (another site) becomes "/"."""
    if candidate and candidate.startswith("/") and not candidate.startswith(("//", "/\\")):
        return candidate
    return "/"


async def current_user(request: Request) -> UserTokens:
    """The logged-in user, with an access token good for the next minute (refreshed with
    the refresh token when near expiry); NeedsLogin otherwise."""
    session = session_of(request)
    console = console_of(request)
    if session is None or session.user is None or console.oidc is None:
        raise NeedsLogin
    if console.oidc.needs_refresh(session.user):
        refreshed = await console.oidc.refresh(session.user)
        if refreshed is None:  # the Keycloak session ended (logout elsewhere, idle, disabled)
            session.user = None
            raise NeedsLogin
        session.user = refreshed
    return session.user


async def check_csrf(request: Request) -> None:
    """Every POST form carries its session's token in ``csrf_token``."""
    form = await request.form()
    submitted = form.get("csrf_token")
    session = session_of(request, create=False)
    if session is None or not isinstance(submitted, str):
        raise CsrfRefused
    if not secrets.compare_digest(session.csrf_token.encode(), submitted.encode()):
        raise CsrfRefused


def set_language_cookie(response: Response, locale: str, secure: bool) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE, locale, max_age=365 * 86400, samesite="lax", secure=secure, path="/"
    )


# What the services' error types mean, in the user's language. A type not listed shows a
# general sentence: the services' own messages are English and name rules, not values.
ERROR_MESSAGES = {
    "missing": _noop("This field is required."),
    "string_too_short": _noop("This field is required."),
    "string_too_long": _noop("This text is too long."),
    "uuid_parsing": _noop("Choose a value from the list."),
    "uuid_type": _noop("Choose a value from the list."),
    "enum": _noop("Choose a value from the list."),
    "unknown_reference": _noop("This does not exist, or you may not use it."),
    "datetime_parsing": _noop("Enter a valid date and time."),
    "datetime_from_date_parsing": _noop("Enter a valid date and time."),
    "datetime_past": _noop("The time must not be in the future."),
    "value_error": _noop("This value is not accepted."),
    "not_yet_known": _noop(
        "The system is still synchronising this record; please try again in a few seconds."
    ),
}


def error_text(item: dict[str, Any]) -> str:
    return _(ERROR_MESSAGES.get(str(item.get("type")), _noop("This value is not accepted.")))


def field_errors(error: ApiError, fields: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The services' ``[{loc, msg, type}]`` as messages by form field (``fields`` maps a
    field of the API body, by its last ``loc`` part, to the form's field), and the rest
    for the top of the form."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for item in error.detail:
        loc = [str(part) for part in item.get("loc", [])]
        named = next((fields[part] for part in reversed(loc) if part in fields), None)
        if named is not None:
            by_field.setdefault(named, error_text(item))
        else:
            general.append(error_text(item))
    return by_field, general


async def error_page(request: Request, error: ApiError) -> Response:
    """A service's refusal as a page: 404 → not found; 409 not_yet_known → synchronising;
    403 → not allowed; a service down → unavailable."""
    if error.status == 404:
        return render(request, "errors/not_found.html", status=404)
    if error.not_yet_known:
        return render(request, "errors/syncing.html", status=409)
    if error.status == 403:
        return render(request, "errors/forbidden.html", status=403)
    if error.status == 401:
        raise NeedsLogin
    return render(request, "errors/unavailable.html", status=503)
