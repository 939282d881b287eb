"""The console in-process with httpx's ASGITransport, calling the real registry and
reporting apps in-process too, and a small OpenID Connect issuer standing in for Keycloak
(the authorization code flow with PKCE, refresh, logout; RS256 keys of its own). The
integration test (tests/integration/test_console.py) runs the same flow against the real
Keycloak in a real browser."""

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from services.console.app import Settings as ConsoleSettings
from services.console.app import create_app as create_console
from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from tests.support import (
    TEST_SIGNING_KEY,
    announce_area,
    eventually,
    lifespan,
    running_app,
    unit_settings,
)

ISSUER = "http://idp.test/realms/antt"
CLIENT_ID, CLIENT_SECRET = "antt-console", "console-test-secret"
HAI_HOA = "QN-HH"


@dataclass(frozen=True)
class FakeUser:
    username: str
    role: str
    areas: list[str]
    name: str


OFFICER = FakeUser("officer-haihoa", "officer", [HAI_HOA], "Cán bộ Phường Hải Hòa")


@dataclass
class FakeIssuer:
    """An OpenID Connect issuer for the unit tests: it logs in ``user`` without a form,
    and checks what Keycloak checks of the console (client secret, redirect URI, PKCE)."""

    user: FakeUser = OFFICER
    access_ttl: int = 300
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, FakeUser] = field(default_factory=dict)
    logged_out: list[str] = field(default_factory=list)
    refreshed: int = 0

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "test-key"})

    def tokens(self, user: FakeUser, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        common = {"iss": ISSUER, "iat": now, "exp": now + self.access_ttl, "sub": str(uuid.uuid4())}
        access = self.sign(
            {
                **common,
                "aud": ["antt", "account"],
                "azp": CLIENT_ID,
                "preferred_username": user.username,
                "realm_access": {"roles": [user.role]},
                "antt_areas": user.areas,
            }
        )
        identity = self.sign({**common, "aud": CLIENT_ID, "nonce": nonce, "name": user.name})
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = user
        return {
            "access_token": access,
            "id_token": identity,
            "refresh_token": refresh,
            "expires_in": self.access_ttl,
            "token_type": "Bearer",
        }

    def app(self) -> FastAPI:
        app = FastAPI()
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        base = f"{ISSUER}/protocol/openid-connect"

        @app.get("/realms/antt/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": ISSUER,
                "authorization_endpoint": f"{base}/auth",
                "token_endpoint": f"{base}/token",
                "end_session_endpoint": f"{base}/logout",
                "jwks_uri": f"{base}/certs",
            }

        @app.get("/realms/antt/protocol/openid-connect/certs")
        async def certs() -> dict[str, Any]:
            return {"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}

        @app.get("/realms/antt/protocol/openid-connect/auth")
        async def authorize(request: Request) -> Any:
            query = request.query_params
            assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
            assert query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(query)
            target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            return RedirectResponse(target, status_code=302)

        def client_ok(request: Request) -> bool:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            return request.headers.get("authorization") == f"Basic {expected}"

        @app.post("/realms/antt/protocol/openid-connect/token")
        async def token(
            request: Request,
            grant_type: str = Form(),
            code: str = Form(""),
            redirect_uri: str = Form(""),
            code_verifier: str = Form(""),
            refresh_token: str = Form(""),
        ) -> Any:
            if not client_ok(request):
                return JSONResponse({"error": "unauthorized_client"}, status_code=401)
            if grant_type == "refresh_token":
                user = self.refresh_tokens.pop(refresh_token, None)
                if user is None:
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
                self.refreshed += 1
                return self.tokens(user, None)
            asked = self.codes.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                asked is None
                or asked["redirect_uri"] != redirect_uri
                or asked["code_challenge"] != challenge
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return self.tokens(self.user, asked["nonce"])

        @app.post("/realms/antt/protocol/openid-connect/logout")
        async def logout(request: Request, refresh_token: str = Form()) -> Any:
            assert client_ok(request)
            self.refresh_tokens.pop(refresh_token, None)
            self.logged_out.append(refresh_token)
            return JSONResponse({}, status_code=204)

        return app


class Hosts(httpx.AsyncBaseTransport):
    """Outgoing HTTP routed by host to apps in this process."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.transports.get(request.url.host)
        if transport is None:  # a host not running here is down
            raise httpx.ConnectError(f"{request.url.host} is not running", request=request)
        return await transport.handle_async_request(request)


@dataclass
class ConsoleWorld:
    browser: httpx.AsyncClient  # the console as a browser sees it (cookies kept)
    registry: httpx.AsyncClient  # registry as its admin
    reporting: Any  # reporting's runtime
    issuer: FakeIssuer
    app: FastAPI
    ward_id: str
    group_id: str

    async def log_in(self) -> httpx.Response:
        """Through the whole redirect dance: console → issuer → console's callback."""
        response = await self.browser.get("/login?next=/")
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith(f"{ISSUER}/protocol/openid-connect/auth?")
        at_issuer = await self.browser.get(location)
        assert at_issuer.status_code == 302
        back = urlsplit(at_issuer.headers["location"])
        assert back.path == "/auth/callback"
        return await self.browser.get(f"{back.path}?{back.query}")

    async def csrf(self, path: str = "/") -> str:
        page = await self.browser.get(path)
        marker = 'name="csrf_token" value="'
        start = page.text.index(marker) + len(marker)
        return page.text[start : page.text.index('"', start)]


def console_settings(**overrides: Any) -> ConsoleSettings:
    values: dict[str, Any] = {
        "env": "test",
        "log_format": "console",
        "jwt_secret": TEST_SIGNING_KEY,
        "oidc_issuer": ISSUER,
        "console_client_secret": CLIENT_SECRET,
        "registry_url": "http://registry.test",
        "reporting_url": "http://reporting.test",
        "awards_url": "http://awards.test",
    }
    return ConsoleSettings(**{**values, **overrides})


@pytest.fixture
def tip_limit() -> int:
    """Reporting's tips per client per minute (a test parametrizes it to reach the limit)."""
    return 1000


@pytest.fixture
async def world(tmp_path: Any, tip_limit: int) -> AsyncIterator[ConsoleWorld]:
    issuer = FakeIssuer()
    issuer_app = issuer.app()
    registry_app = create_registry(
        unit_settings(
            RegistrySettings, f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", oidc_issuer=ISSUER
        )
    )
    reporting_app = create_reporting(
        unit_settings(
            ReportingSettings,
            f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
            oidc_issuer=ISSUER,
            tips_per_client_per_minute=tip_limit,
        )
    )
    hosts = Hosts(
        {
            "idp.test": issuer_app,
            "registry.test": registry_app,
            "reporting.test": reporting_app,
        }
    )
    for service in (registry_app, reporting_app):
        # The services read the issuer's keys with a client of their own; here it must
        # reach the in-process issuer (IssuerKeys takes a client, the runtime makes none).
        service.state.runtime.issuer_keys._client = httpx.AsyncClient(transport=hosts)
    console_app = create_console(console_settings(), transport=hosts)
    async with (
        running_app(registry_app) as (registry, _),
        running_app(reporting_app, headers={}) as (_, reporting_runtime),
        lifespan(console_app),
    ):
        await eventually(lambda: _loaded(registry_app, reporting_app, console_app))
        ward = await registry.post(
            "/areas", json={"code": HAI_HOA, "name": "Phường Hải Hòa", "level": "ward"}
        )
        assert ward.status_code == 201, ward.text
        group = await registry.post(
            "/areas",
            json={
                "code": "QN-HH-03",
                "name": "Tổ dân phố 3",
                "level": "residential_group",
                "parent_id": ward.json()["id"],
                "households": 3437,
            },
        )
        assert group.status_code == 201, group.text
        await announce_area(reporting_runtime.broker, ward.json()["id"], HAI_HOA, "Phường Hải Hòa")
        # The browser reaches the console and, when redirected there, the issuer.
        browser_hosts = Hosts({"console.test": console_app, "idp.test": issuer_app})
        async with httpx.AsyncClient(
            transport=browser_hosts, base_url="http://console.test"
        ) as browser:
            yield ConsoleWorld(
                browser,
                registry,
                reporting_runtime,
                issuer,
                console_app,
                ward.json()["id"],
                group.json()["id"],
            )


async def _loaded(*apps: FastAPI) -> bool:
    for app in apps:
        runtime = getattr(app.state, "runtime", None)
        keys = runtime.issuer_keys if runtime else app.state.console.oidc.keys
        if not keys.loaded:
            return False
    return True


# --- incidents, activities and awards pages (tests/unit/console/test_incidents.py,
# test_activities.py, test_awards.py): the awards app in-process beside the other two, and
# a team of the ward that reporting and awards have heard of. ---


@dataclass
class AwardsWorld:
    world: ConsoleWorld
    awards: httpx.AsyncClient  # awards as its admin
    awards_runtime: Any
    team_id: str
    team_name: str
    reporting: httpx.AsyncClient  # reporting's API as its admin, to read effects back


@pytest.fixture
async def awards_world(world: ConsoleWorld, tmp_path: Any) -> AsyncIterator[AwardsWorld]:
    from services.awards.app import Settings as AwardsSettings
    from services.awards.app import create_app as create_awards
    from tests.support import announce_team

    awards_app = create_awards(
        unit_settings(
            AwardsSettings, f"sqlite+aiosqlite:///{tmp_path / 'awards.db'}", oidc_issuer=ISSUER
        )
    )
    # The console's outgoing HTTP routes by host: awards joins the apps it reaches.
    hosts: Hosts = world.app.state.console.apis.http._transport
    hosts.transports["awards.test"] = httpx.ASGITransport(app=awards_app)
    awards_app.state.runtime.issuer_keys._client = httpx.AsyncClient(transport=hosts)
    async with running_app(awards_app) as (awards, awards_runtime):
        await eventually(lambda: _loaded(awards_app))
        team_name = "Tổ ANTT tổ dân phố số 3"
        team = await world.registry.post(
            "/teams",
            json={
                "area_id": world.group_id,
                "name": team_name,
                "kind": "security_order",
                "members": [
                    {"full_name": "Nguyễn Chu Thực", "role": "leader"},
                    {"full_name": "Trần Văn Bình", "role": "deputy"},
                    {"full_name": "Lê Thị Cúc", "role": "member"},
                ],
            },
        )
        assert team.status_code == 201, team.text
        team_id = team.json()["id"]
        group = await world.registry.get(f"/areas/{world.group_id}")
        for broker in (world.reporting.broker, awards_runtime.broker):
            await announce_area(broker, world.ward_id, HAI_HOA, "Phường Hải Hòa")
        # The residential group, under the ward, and the team in it.
        from shared.events import AreaLevel, AreaRegistered
        from tests.support import publish_event

        for broker in (world.reporting.broker, awards_runtime.broker):
            await publish_event(
                broker,
                AreaRegistered(
                    area_id=world.group_id,
                    code=group.json()["code"],
                    name=group.json()["name"],
                    level=AreaLevel.RESIDENTIAL_GROUP,
                    parent_id=world.ward_id,
                    aggregate_version=1,
                ),
            )
            await announce_team(broker, team_id, world.group_id, team_name)
        from tests.support import bearer

        async with httpx.AsyncClient(
            transport=hosts.transports["reporting.test"],
            base_url="http://reporting.test",
            headers=bearer(),
        ) as reporting:
            yield AwardsWorld(world, awards, awards_runtime, team_id, team_name, reporting)
