"""Console composition root: settings, the services' and Keycloak's clients, sessions,
templates, the page packages, security headers, health, readiness and metrics.

The console owns no data: every page reads and writes through the three services' HTTP
APIs with the logged-in user's token (the residents' tip pages with none, or the
console's own service token to read categories and wards)."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from pydantic import Field, SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.activities import routes as activities_routes
from services.console.apis import SERVICES, ServiceApis, ServiceToken, StaticToken
from services.console.areas import routes as areas_routes
from services.console.assets import routes as assets_routes
from services.console.auth import routes as auth_routes
from services.console.auth.oidc import OidcClient
from services.console.auth.sessions import SessionStore
from services.console.awards import routes as awards_routes
from services.console.common import (
    Console,
    CsrfRefused,
    NeedsLogin,
    build_templates,
    current_user,
    redirect,
    render,
)
from services.console.home import routes as home_routes
from services.console.i18n import LANGUAGE_COOKIE, catalogues, current_locale, pick_locale
from services.console.incidents import routes as incidents_routes
from services.console.reports import routes as reports_routes
from services.console.teams import routes as teams_routes
from services.console.tipinbox import routes as tipinbox_routes
from services.console.tips import routes as tips_routes
from shared.auth import ConfigurationError, Role, TokenCodec, load_signing_key
from shared.logging import configure_logging, get_logger
from shared.metrics import HttpMetrics, metrics_response
from shared.middleware import ServiceMiddleware
from shared.oidc import ClaimMapping, IssuerKeys, OidcVerifier
from shared.settings import ServiceSettings

log = get_logger()
STATIC_DIR = Path(__file__).parent / "static"
HTTP_TIMEOUT_SECONDS = 10.0

# No inline script or style anywhere, nothing from another origin; forms post here only;
# no page of the console may be framed (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Pages that are not built yet: the navigation's place for them answers "coming soon".
COMING_SOON: tuple[str, ...] = ()


class Settings(ServiceSettings):
    service_name: str = "console"
    port: int = 8000
    registry_url: str = "http://127.0.0.1:8001"
    reporting_url: str = "http://127.0.0.1:8002"
    awards_url: str = "http://127.0.0.1:8003"
    # The confidential client people log in through (authorization code with PKCE).
    console_client_id: str = "antt-console"
    console_client_secret: SecretStr | None = None
    # The address people reach the console at (behind a proxy: its https:// address);
    # unset, the address of each request. Keycloak must list <it>/* as a redirect URI.
    console_public_url: str | None = None
    # Signs the session cookie; unset, a random key per process (sessions live in this
    # process's memory anyway, so a restart ends them either way).
    console_session_secret: SecretStr | None = None
    # A session unused this long is forgotten (Keycloak's own idle timeout is 30 minutes).
    console_session_idle_seconds: float = Field(default=1800.0, gt=0)
    # Cookies only over HTTPS: on by default in production, where a TLS proxy is in front.
    console_secure_cookies: bool | None = None


class SecurityHeaders:
    """The security headers on every response, as plain ASGI (static files included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not scope["path"].startswith("/static/"):
                    # Pages carry a user's data or a tip's secret: no cache keeps them.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PageLanguage:
    """The request's language: ``?lang=``, else the cookie the header's switch sets, else
    Vietnamese; bound for the templates and messages of this request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            current_locale.set(
                pick_locale(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))
            )
        await self.app(scope, receive, send)


def _service_token(settings: Settings, http: httpx.AsyncClient, discovery_url: str | None) -> Any:
    """The console's own token for the public pages' reads: client credentials at the
    issuer, or in development and tests a development token the services accept."""
    if settings.oidc_client_secret is not None and discovery_url:
        return ServiceToken(
            discovery_url,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            http,
        )
    if settings.env == "prod":
        raise ConfigurationError(
            "ANTT_OIDC_CLIENT_SECRET is required: the tip page reads categories and wards "
            "with the console's client-credentials token"
        )
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    codec = TokenCodec(
        load_signing_key(secret, settings.jwt_secret_file, settings.env),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return StaticToken(codec.issue("antt-console", Role.SERVICE, ttl_seconds=365 * 86400))


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The console; ``transport`` carries its outgoing HTTP (tests route it in-process)."""
    settings = settings or Settings()
    configure_logging(
        settings.service_name,
        settings.log_format,
        settings.log_level,
        settings.log_repeat_window_seconds,
    )
    catalogues()  # a broken .po file stops the start, not a page
    http = httpx.AsyncClient(transport=transport, timeout=HTTP_TIMEOUT_SECONDS)
    keys: IssuerKeys | None = None
    oidc: OidcClient | None = None
    if settings.oidc_issuer:
        keys = IssuerKeys(
            settings.oidc_issuer, settings.oidc_algorithms, settings.oidc_discovery_url, http
        )
        mapping = ClaimMapping(
            roles_claim=settings.oidc_roles_claim,
            areas_claim=settings.oidc_areas_claim,
            role_names={role.value: role for role in Role}
            | {name: Role(role) for name, role in settings.oidc_role_names.items()},
        )
        if settings.console_client_secret is None:
            log.warning("console_login_disabled", reason="ANTT_CONSOLE_CLIENT_SECRET is not set")
        else:
            oidc = OidcClient(
                keys,
                OidcVerifier(keys, settings.oidc_audience, mapping),
                settings.console_client_id,
                settings.console_client_secret.get_secret_value(),
                http,
            )
    session_secret = (
        settings.console_session_secret.get_secret_value()
        if settings.console_session_secret
        else secrets.token_urlsafe(32)
    )
    secure = (
        settings.console_secure_cookies
        if settings.console_secure_cookies is not None
        else settings.env == "prod"
    )
    apis = ServiceApis(
        {
            "registry": settings.registry_url,
            "reporting": settings.reporting_url,
            "awards": settings.awards_url,
        },
        http,
    )
    console = Console(
        templates=build_templates(),
        sessions=SessionStore(session_secret, settings.console_session_idle_seconds),
        apis=apis,
        oidc=oidc,
        service_token=_service_token(settings, http, keys.discovery_url if keys else None),
        secure_cookies=secure,
        public_url=settings.console_public_url,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if keys is not None:  # not awaited: /ready answers 503 until the keys load
            tasks.append(asyncio.create_task(keys.keep_loading(), name="identity-provider-keys"))
        log.info("service_started", port=settings.port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await http.aclose()
            log.info("service_stopped")

    app = FastAPI(
        title="ANTT console",
        lifespan=lifespan,
        docs_url=None,  # pages, not an API: nothing to document for clients
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = console
    registry = CollectorRegistry()
    app.state.registry = registry

    app.include_router(auth_routes.create_router())
    app.include_router(home_routes.create_router())
    app.include_router(tips_routes.create_router())
    app.include_router(areas_routes.create_router())
    app.include_router(teams_routes.create_router())
    app.include_router(assets_routes.create_router())
    app.include_router(reports_routes.create_router())
    app.include_router(tipinbox_routes.create_router())
    app.include_router(incidents_routes.create_router())
    app.include_router(activities_routes.create_router())
    app.include_router(awards_routes.create_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    async def coming_soon(request: Request) -> Response:
        await current_user(request)
        return render(request, "coming_soon.html")

    for path in COMING_SOON:
        app.add_api_route(path, coming_soon, methods=["GET"], include_in_schema=False)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        """Ready once Keycloak's discovery answered (its keys loaded) and the three
        services say they are ready."""
        answers = await asyncio.gather(*(apis.ready(name) for name in SERVICES))
        checks = dict(zip(SERVICES, answers, strict=True))
        if keys is not None:
            checks["identity_provider"] = keys.loaded
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response(registry)

    @app.exception_handler(NeedsLogin)
    async def needs_login(request: Request, _: NeedsLogin) -> Response:
        return redirect(request, f"/login?next={request.url.path}")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        log.info("console_csrf_refused", path=request.url.path)
        return render(request, "errors/forbidden.html", status=403)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, _: RequestValidationError) -> Response:
        # A form field past its length, a query that is not a number: a page, not JSON.
        return render(request, "errors/bad_request.html", status=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return render(request, "errors/not_found.html", status=404)
        return render(request, "errors/unavailable.html", status=error.status_code)

    # Outermost first: the language for everything below; the security headers on every
    # answer, refusals included; correlation id, body cap and metrics as in the services.
    app.add_middleware(
        ServiceMiddleware, max_bytes=settings.max_body_bytes, metrics=HttpMetrics(registry)
    )
    app.add_middleware(PageLanguage)
    app.add_middleware(SecurityHeaders)
    return app
