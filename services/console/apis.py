"""The three services' HTTP APIs, as the console calls them: with the user's token (or, for
the public tip page, the console's own client-credentials token), errors turned into
``ApiError`` carrying the services' ``[{loc, msg, type}]`` detail."""

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.logging import CORRELATION_HEADER, current_correlation_id

SERVICES = ("registry", "reporting", "awards")
# How many rows a paged list matches in all (the page itself is the body).
TOTAL_HEADER = "X-Total-Count"
# A client-credentials token is replaced this long before it expires.
SERVICE_TOKEN_MARGIN_SECONDS = 30.0


@dataclass
class ApiError(Exception):
    """A service's refusal (or silence: status 503 with ``unreachable``)."""

    status: int
    detail: list[dict[str, Any]] = field(default_factory=list)
    retry_after: str | None = None

    @property
    def types(self) -> set[str]:
        return {str(item.get("type", "")) for item in self.detail}

    @property
    def not_yet_known(self) -> bool:
        """409 ``not_yet_known``: the service has not heard of a fresh record yet."""
        return self.status == 409 and "not_yet_known" in self.types


def _detail(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return [item for item in detail if isinstance(item, dict)]
    if isinstance(detail, str):
        return [{"loc": [], "msg": detail, "type": "error"}]
    return []


class ServiceApis:
    def __init__(self, urls: dict[str, str], http: httpx.AsyncClient) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.http = http

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON; raises ApiError for a 4xx/5xx or a service that is down."""
        response = await self._request(
            service, method, path, token=token, json=json, params=params, headers=headers
        )
        return response.json() if response.content else None

    async def call_page(
        self,
        service: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[list[Any], int | None]:
        """A paged list (``GET``): the page's rows and how many match in all, from the
        ``X-Total-Count`` header (``None`` if the service did not say)."""
        response = await self._request(service, "GET", path, token=token, params=params)
        rows = response.json() if response.content else []
        try:
            total = int(response.headers[TOTAL_HEADER])
        except (KeyError, ValueError):
            total = None
        return rows, total

    async def _request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        correlation = current_correlation_id()
        if correlation:  # one piece of work, followed across the console and the services
            sent[CORRELATION_HEADER] = correlation
        try:
            response = await self.http.request(
                method, f"{self.urls[service]}{path}", json=json, params=params, headers=sent
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                503, [{"loc": [], "msg": exc.__class__.__name__, "type": "unreachable"}]
            ) from exc
        if response.status_code >= 400:
            raise ApiError(
                response.status_code, _detail(response), response.headers.get("retry-after")
            )
        return response

    async def ready(self, service: str) -> bool:
        try:
            response = await self.http.get(f"{self.urls[service]}/ready", timeout=3)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


class ServiceToken:
    """The console's own token (client credentials of ANTT_OIDC_CLIENT_ID), for what a
    resident's page reads without an account: the categories and the wards."""

    def __init__(
        self, discovery_url: str, client_id: str, secret: str, http: httpx.AsyncClient
    ) -> None:
        self.discovery_url = discovery_url
        self.client_id = client_id
        self.secret = secret
        self.http = http
        self._token_endpoint: str | None = None
        self._token = ""
        self._expires_at = 0.0

    async def __call__(self) -> str:
        if self._token and self._expires_at - time.time() > SERVICE_TOKEN_MARGIN_SECONDS:
            return self._token
        try:
            if self._token_endpoint is None:
                discovery = (await self.http.get(self.discovery_url)).json()
                self._token_endpoint = str(discovery["token_endpoint"])
            response = await self.http.post(
                self._token_endpoint,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.secret),
            )
            response.raise_for_status()
            answer = response.json()
            self._token = str(answer["access_token"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ApiError(
                503, [{"loc": [], "msg": "service login failed", "type": "unreachable"}]
            ) from exc
        self._expires_at = time.time() + float(answer.get("expires_in") or 60)
        return self._token


class StaticToken:
    """A fixed token: development and tests, where the services accept HS256 tokens."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def __call__(self) -> str:
        return self._token
