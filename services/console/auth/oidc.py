"""The console as an OpenID Connect client of Keycloak (confidential client ``antt-console``):
the authorization code flow with PKCE (S256), the token exchange, refresh and logout.

The access token is verified with the services' own verifier (``shared.oidc``), so the
console reads the same role and areas they will; the ID token is checked for its audience
(this client) and the nonce of the login that asked for it.
"""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from services.console.auth.sessions import PendingLogin, UserTokens
from shared.auth import AuthError
from shared.logging import get_logger
from shared.oidc import CLOCK_LEEWAY_SECONDS, IssuerKeys, IssuerUnavailable, OidcVerifier

log = get_logger()

# An access token this close to its expiry is refreshed before it is used: a request to a
# service must not carry a token that expires on the way.
REFRESH_MARGIN_SECONDS = 60.0
# A login not finished within this long is refused (the user starts again).
LOGIN_TIMEOUT_SECONDS = 600.0


class LoginFailed(Exception):
    """The callback cannot be trusted or the token exchange failed; says why, no secrets."""


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    end_session: str | None


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    def __init__(
        self,
        keys: IssuerKeys,
        verifier: OidcVerifier,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.keys = keys
        self.verifier = verifier
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self._endpoints: Endpoints | None = None

    async def endpoints(self) -> Endpoints:
        """From the discovery document, read once (and again after a failure)."""
        if self._endpoints is None:
            try:
                response = await self.http.get(self.keys.discovery_url)
                response.raise_for_status()
                document = response.json()
                self._endpoints = Endpoints(
                    authorization=str(document["authorization_endpoint"]),
                    token=str(document["token_endpoint"]),
                    end_session=document.get("end_session_endpoint"),
                )
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise IssuerUnavailable(f"discovery: {exc.__class__.__name__}") from exc
        return self._endpoints

    async def start(
        self, redirect_uri: str, next_path: str, locale: str
    ) -> tuple[str, PendingLogin]:
        """The address to send the browser to, and what its return must match."""
        pending = PendingLogin(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            next_path=next_path,
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid profile",
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": pkce_challenge(pending.code_verifier),
                "code_challenge_method": "S256",
                "ui_locales": locale,  # Keycloak's login form in the console's language
            }
        )
        return f"{(await self.endpoints()).authorization}?{query}", pending

    async def finish(
        self, pending: PendingLogin | None, state: str, code: str, redirect_uri: str
    ) -> UserTokens:
        """Exchange the code (with the PKCE verifier) and verify what comes back."""
        if pending is None or not secrets.compare_digest(pending.state, state):
            raise LoginFailed("this login was not started in this browser, or already used")
        if time.monotonic() - pending.started > LOGIN_TIMEOUT_SECONDS:
            raise LoginFailed("the login took too long")
        answer = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": pending.code_verifier,
            }
        )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("the issuer sent no ID token")
        claims = await self._verify_id_token(id_token, pending.nonce)
        return await self._tokens(answer, id_token, claims)

    async def refresh(self, tokens: UserTokens) -> UserTokens | None:
        """New tokens from the refresh token; None when the session has ended there."""
        if not tokens.refresh_token:
            return None
        try:
            answer = await self._token_request(
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
            )
            id_token = str(answer.get("id_token") or tokens.id_token)
            claims = jwt.decode(id_token, options={"verify_signature": False})
            return await self._tokens(answer, id_token, claims)
        except LoginFailed as exc:
            log.info("console_refresh_refused", reason=str(exc))
            return None

    async def logout(self, tokens: UserTokens) -> None:
        """End the user's Keycloak session (refresh-token logout, a back-channel POST to the
        end_session_endpoint): their other tokens stop refreshing, and the next login asks
        for the password again."""
        endpoints = await self.endpoints()
        if endpoints.end_session is None or not tokens.refresh_token:
            return
        try:
            response = await self.http.post(
                endpoints.end_session,
                data={"refresh_token": tokens.refresh_token},
                auth=(self.client_id, self.client_secret),
            )
            if response.status_code >= 400:
                log.warning("console_logout_refused", status=response.status_code)
        except httpx.HTTPError as exc:
            log.warning("console_logout_failed", error=exc.__class__.__name__)

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        endpoints = await self.endpoints()
        try:
            response = await self.http.post(
                endpoints.token, data=form, auth=(self.client_id, self.client_secret)
            )
        except httpx.HTTPError as exc:
            raise LoginFailed(f"the issuer did not answer ({exc.__class__.__name__})") from exc
        if response.status_code != 200:
            try:
                reason = str(response.json().get("error", response.status_code))
            except ValueError:
                reason = str(response.status_code)
            raise LoginFailed(f"the issuer refused the token request: {reason}")
        answer = response.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
            raise LoginFailed("the issuer sent no access token")
        return answer

    async def _verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self.keys.key(str(kid)) if isinstance(kid, str) else None
            if key is None:
                raise LoginFailed("the ID token is signed by a key the issuer does not publish")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=list(self.keys.algorithms),
                audience=self.client_id,
                issuer=self.keys.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise LoginFailed(f"the ID token does not verify ({exc.__class__.__name__})") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise LoginFailed("the ID token answers another login (nonce)")
        return claims

    async def _tokens(
        self, answer: dict[str, Any], id_token: str, claims: dict[str, Any]
    ) -> UserTokens:
        access_token = str(answer["access_token"])
        header = jwt.get_unverified_header(access_token)
        try:
            # The services' own verifier: the console sees the role and areas they will.
            principal = await self.verifier.decode(access_token, header)
        except AuthError as exc:
            raise LoginFailed(f"the access token is not accepted: {exc}") from exc
        expires_in = float(answer.get("expires_in") or 300)
        name = claims.get("name") or " ".join(
            str(claims[part]) for part in ("given_name", "family_name") if claims.get(part)
        )
        return UserTokens(
            principal=principal,
            display_name=str(name or principal.subject),
            access_token=access_token,
            access_expires_at=time.time() + expires_in,
            refresh_token=answer.get("refresh_token"),
            id_token=id_token,
        )

    @staticmethod
    def needs_refresh(tokens: UserTokens) -> bool:
        return tokens.access_expires_at - time.time() < REFRESH_MARGIN_SECONDS
