"""Getting an access token from the OpenID Connect issuer: a person with the password grant
(for scripts), a system with the client-credentials grant."""

from typing import Any

import httpx


class LoginError(RuntimeError):
    """The issuer refused the login, or could not be reached; the message says which."""


def token_endpoint(issuer: str, discovery_url: str | None = None) -> str:
    """Read from the issuer's discovery document, as the services read its keys."""
    url = discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    discovery = _request("GET", url, issuer)
    endpoint = discovery.get("token_endpoint")
    if not isinstance(endpoint, str):
        raise LoginError(f"the issuer {issuer} announces no token endpoint")
    return endpoint


def password_token(
    issuer: str, client_id: str, username: str, password: str, discovery_url: str | None = None
) -> str:
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "username": username,
        "password": password,
        "scope": "openid",
    }
    return _access_token(_request("POST", token_endpoint(issuer, discovery_url), issuer, form))


def client_credentials_token(
    issuer: str, client_id: str, client_secret: str, discovery_url: str | None = None
) -> str:
    form = {"grant_type": "client_credentials"}
    endpoint = token_endpoint(issuer, discovery_url)
    answer = _request("POST", endpoint, issuer, form, auth=(client_id, client_secret))
    return _access_token(answer)


def _access_token(answer: dict[str, Any]) -> str:
    token = answer.get("access_token")
    if not isinstance(token, str):
        raise LoginError("the issuer answered without an access token")
    return token


def _request(
    method: str,
    url: str,
    issuer: str,
    form: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> dict[str, Any]:
    try:
        response = httpx.request(method, url, data=form, auth=auth, timeout=15)
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach the identity provider at {issuer}: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code >= 400 or not isinstance(answer, dict):
        # OAuth errors say what went wrong ("Invalid user credentials", "Account disabled").
        reason = answer.get("error_description") or answer.get("error") if answer else None
        raise LoginError(f"login refused ({response.status_code}): {reason or response.text}")
    return answer
