"""Tokens from an OpenID Connect issuer (Keycloak): its discovery document and signing keys,
fetched at start with backoff and again when a token names a key not seen yet, and the
mapping of a verified token's claims onto a caller (role, area scope)."""

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from shared.auth import (
    SCOPED_ROLES,
    AuthError,
    ConfigurationError,
    Principal,
    Role,
    TokenCodec,
    TokenVerifier,
    load_signing_key,
)
from shared.logging import get_logger
from shared.settings import ServiceSettings

log = get_logger()

# A token naming an unknown key refreshes the key set at most this often: a flood of
# forged kids cannot turn into a flood of requests to the issuer.
KEY_REFRESH_MIN_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0
CLOCK_LEEWAY_SECONDS = 10


@dataclass(frozen=True)
class ClaimMapping:
    """Where a token carries the caller's role and areas, and how the issuer's role names
    read as this platform's roles. A token with none of the mapped roles is refused, and
    so is one with several (an account acts in one role)."""

    roles_claim: str = "realm_access.roles"
    areas_claim: str = "antt_areas"
    subject_claims: tuple[str, ...] = ("preferred_username", "sub")
    role_names: Mapping[str, Role] = field(
        default_factory=lambda: {role.value: role for role in Role}
    )

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = next(
            (str(claims[name]) for name in self.subject_claims if claims.get(name)), None
        )
        if subject is None:
            raise AuthError("token names no subject")
        named = claim_at(claims, self.roles_claim)
        if isinstance(named, str):
            named = named.split()
        if not isinstance(named, list):
            named = []
        roles = sorted({self.role_names[name] for name in named if name in self.role_names})
        if not roles:
            raise AuthError("token carries no ANTT role")
        if len(roles) > 1:
            raise AuthError(
                f"token carries several ANTT roles ({', '.join(roles)}); an account has one"
            )
        role = roles[0]
        areas = claim_at(claims, self.areas_claim)
        if areas is None:
            areas = []
        elif isinstance(areas, str):
            areas = areas.replace(",", " ").split()
        if not isinstance(areas, list) or not all(isinstance(area, str) for area in areas):
            raise AuthError(f"token's {self.areas_claim} must be a list of area codes")
        if role in SCOPED_ROLES and not areas:
            raise AuthError(f"{role} tokens must list their areas in {self.areas_claim}")
        return Principal(subject=subject, role=role, areas=tuple(areas))


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles``); None when any step is missing."""
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


class IssuerUnavailable(RuntimeError):
    """The issuer's discovery document or keys could not be read."""


class IssuerKeys:
    """The issuer's signing keys by kid, as its JWKS publishes them."""

    def __init__(
        self,
        issuer: str,
        algorithms: Sequence[str],
        discovery_url: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.algorithms = tuple(algorithms)
        self.discovery_url = discovery_url or f"{self.issuer}/.well-known/openid-configuration"
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    async def load(self) -> None:
        """Read the discovery document, then the key set; raises IssuerUnavailable."""
        async with self._lock:
            await self._load()

    async def _load(self) -> None:
        self._fetched_at = time.monotonic()
        client = self._client or httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS)
        try:
            discovery = await self._json(client, self.discovery_url)
            announced = str(discovery.get("issuer", "")).rstrip("/")
            if announced != self.issuer:
                raise IssuerUnavailable(
                    f"the discovery document names issuer {announced!r}, "
                    f"not ANTT_OIDC_ISSUER {self.issuer!r}"
                )
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise IssuerUnavailable("the discovery document has no jwks_uri")
            key_set = await self._json(client, jwks_uri)
        finally:
            if self._client is None:
                await client.aclose()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in key_set.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue  # encryption keys sign nothing
            if entry.get("alg") and entry["alg"] not in self.algorithms:
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue  # a key type this library cannot use
            keys[str(entry.get("kid", ""))] = key
        if not keys:
            raise IssuerUnavailable(
                f"the issuer publishes no signing key for {', '.join(self.algorithms)}"
            )
        self._keys = keys
        log.info("identity_provider_keys_loaded", issuer=self.issuer, keys=sorted(keys))

    @staticmethod
    async def _json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            response = await client.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        if not isinstance(document, dict):
            raise IssuerUnavailable(f"{url}: not a JSON object")
        return document

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for ``kid``; an unknown one refreshes the set (rate-limited) first."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._keys.get(kid)
            if found is None and time.monotonic() - self._fetched_at >= KEY_REFRESH_MIN_SECONDS:
                try:
                    await self._load()
                except IssuerUnavailable as exc:
                    log.warning("identity_provider_unreachable", reason=str(exc))
                found = self._keys.get(kid)
        return found

    async def keep_loading(self, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
        """Until the keys are loaded: try, and wait longer after each failure."""
        delay = first_delay
        while not self.loaded:
            try:
                await self.load()
            except IssuerUnavailable as exc:
                log.warning("identity_provider_unreachable", reason=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)


class OidcVerifier:
    """Verifies a token the issuer signed and reads the caller from its claims."""

    def __init__(self, keys: IssuerKeys, audience: str, mapping: ClaimMapping) -> None:
        self.keys = keys
        self.audience = audience
        self.mapping = mapping

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.keys.algorithms

    async def decode(self, token: str, header: Mapping[str, Any]) -> Principal:
        try:  # read before any key is looked for: another issuer's kid is not worth a fetch
            claimed = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise AuthError("token is malformed") from exc
        if str(claimed.get("iss", "")).rstrip("/") != self.keys.issuer:
            raise AuthError("token was issued by another issuer")
        if not self.keys.loaded:
            raise AuthError("the identity provider's keys are not loaded yet; try again shortly")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("token names no signing key (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise AuthError("token is signed by a key the issuer does not publish")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.keys.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("token signature does not verify") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token not valid yet") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token was issued by another issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token is meant for another audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("token algorithm is not accepted") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("token is malformed") from exc
        return self.mapping.principal(claims)


def token_verifier(settings: ServiceSettings) -> tuple[TokenVerifier, IssuerKeys | None]:
    """The verifier the settings call for, and the issuer's keys for the runtime to load.
    HS256 tokens are accepted with ANTT_ENV=dev or test only; prod needs an issuer."""
    keys = issuer = None
    if settings.oidc_issuer:
        keys = IssuerKeys(
            settings.oidc_issuer, settings.oidc_algorithms, settings.oidc_discovery_url
        )
        names = {role.value: role for role in Role} | {
            name: Role(role) for name, role in settings.oidc_role_names.items()
        }
        mapping = ClaimMapping(
            roles_claim=settings.oidc_roles_claim,
            areas_claim=settings.oidc_areas_claim,
            role_names=names,
        )
        issuer = OidcVerifier(keys, settings.oidc_audience, mapping)
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    development = None
    if settings.env == "prod":
        if secret or settings.jwt_secret_file:
            raise ConfigurationError(
                "ANTT_JWT_SECRET is for development and tests: with ANTT_ENV=prod tokens "
                "come from ANTT_OIDC_ISSUER alone; unset ANTT_JWT_SECRET(_FILE)"
            )
        if issuer is None:
            raise ConfigurationError("ANTT_OIDC_ISSUER is required when ANTT_ENV=prod")
    elif issuer is None or secret or settings.jwt_secret_file or settings.env == "dev":
        development = TokenCodec(
            load_signing_key(secret, settings.jwt_secret_file, settings.env),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    return TokenVerifier(issuer, development), keys
