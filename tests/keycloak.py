"""Logins against the real Keycloak the integration suite starts, as the demo users of
deploy/keycloak/antt-users-0.json, and its admin API for what a test changes there."""

import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx

from shared.local_keycloak import LocalKeycloak
from shared.login import client_credentials_token, password_token

DEMO_PASSWORD = "antt-demo"
SERVICE_CLIENT_SECRET = "antt-service-dev-secret"
CONSOLE_CLIENT_SECRET = "antt-console-dev-secret"
# The access matrix's callers, as demo users; officers and tip handlers act in Hải Hòa.
DEMO_USERS = {
    "admin": "admin",
    "officer": "officer-haihoa",
    "tip_handler": "tip-handler",
    "auditor": "auditor",
}
HAI_HOA, QUANG_AN = "QN-HH", "HN-QA"
# Access tokens live 5 minutes: one older than this is replaced before it is used.
TOKEN_REUSE_SECONDS = 240


class Logins:
    """Bearer headers per caller, each logged in on first use and again before its token
    expires; "service" uses the client-credentials grant, "none" sends no token."""

    def __init__(self) -> None:
        self.issuer = ""
        self._tokens: dict[str, tuple[float, str]] = {}

    def token(self, caller: str) -> str:
        if not self.issuer:
            raise RuntimeError("Logins.issuer is set by the fixture that starts Keycloak")
        made, token = self._tokens.get(caller, (0.0, ""))
        if time.monotonic() - made > TOKEN_REUSE_SECONDS:
            if caller == "service":
                token = client_credentials_token(self.issuer, "antt-service", SERVICE_CLIENT_SECRET)
            else:
                token = password_token(
                    self.issuer, "antt-cli", DEMO_USERS.get(caller, caller), DEMO_PASSWORD
                )
            self._tokens[caller] = (time.monotonic(), token)
        return token

    CALLERS = ("admin", "officer", "tip_handler", "auditor", "service", "none")

    def __iter__(self) -> Iterator[str]:
        return iter(self.CALLERS)

    def __getitem__(self, caller: str) -> dict[str, str]:
        if caller == "none":
            return {}
        return {"Authorization": f"Bearer {self.token(caller)}"}


class LoginAuth(httpx.Auth):
    """An httpx client's authentication as one caller, fresh on every request."""

    def __init__(self, logins: Logins, caller: str) -> None:
        self.logins = logins
        self.caller = caller

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.logins[self.caller])
        yield request


class KeycloakAdmin:
    """Keycloak's admin REST API as its bootstrap admin (realm master)."""

    def __init__(self, keycloak: LocalKeycloak) -> None:
        self.keycloak = keycloak
        token = password_token(
            f"{keycloak.url}/realms/master",
            "admin-cli",
            "antt-bootstrap",
            keycloak.admin_password(),
        )
        self.client = httpx.Client(
            base_url=f"{keycloak.url}/admin/realms",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        response = self.client.request(method, path, json=body, params=params)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response

    def user_id(self, realm: str, username: str) -> str:
        found = self.call(
            "GET", f"/{realm}/users", params={"username": username, "exact": "true"}
        ).json()
        return str(found[0]["id"])

    def set_enabled(self, realm: str, username: str, enabled: bool) -> None:
        user_id = self.user_id(realm, username)
        self.call("PUT", f"/{realm}/users/{user_id}", {"enabled": enabled})
