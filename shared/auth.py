"""Who is calling and what they may do: signed bearer tokens (JWT), roles, area scopes,
and the router that makes every route declare its access rule in one table per service."""

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.logging import dev_notice, get_logger

log = get_logger()

DEV_SIGNING_KEY = "antt-dev-only-signing-key-do-not-use-in-production!"
MIN_KEY_BYTES = 32
VERIFIED_TOKEN_SECONDS = 60.0
VERIFIED_TOKENS_KEPT = 4096


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    TIP_HANDLER = "tip_handler"
    AUDITOR = "auditor"
    SERVICE = "service"


class Access(StrEnum):
    PUBLIC = "public"  # no token: submitting a tip-off and following it with its secret
    READ = "read"
    WRITE = "write"
    INFORMANT = "informant"  # an informant's identity and contact
    AUDIT = "audit"  # the audit trail


# Informants' identities are for tip handlers alone: not even an admin reads them.
ROLE_ACCESS: dict[Role, frozenset[Access]] = {
    Role.ADMIN: frozenset({Access.READ, Access.WRITE, Access.AUDIT}),
    Role.OFFICER: frozenset({Access.READ, Access.WRITE}),
    Role.TIP_HANDLER: frozenset({Access.READ, Access.WRITE, Access.INFORMANT}),
    Role.AUDITOR: frozenset({Access.READ, Access.AUDIT}),
    Role.SERVICE: frozenset({Access.READ}),
}
# Officers and tip handlers act only inside the areas their token lists (and below).
SCOPED_ROLES = frozenset({Role.OFFICER, Role.TIP_HANDLER})


def roles_with(access: Access) -> list[str]:
    return sorted(role.value for role, allowed in ROLE_ACCESS.items() if access in allowed)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    areas: tuple[str, ...] = ()

    @property
    def everywhere(self) -> bool:
        return self.role not in SCOPED_ROLES

    def may(self, access: Access) -> bool:
        return access in ROLE_ACCESS[self.role]


ANONYMOUS = Principal(subject="anonymous", role=Role.SERVICE)  # never granted: see Access.PUBLIC


class AuthError(Exception):
    """A token that cannot be trusted; the message says why, without echoing the token."""


class ConfigurationError(RuntimeError):
    pass


def load_signing_key(secret: str | None, secret_file: Path | None, env: str) -> str:
    """The key from ANTT_JWT_SECRET or ANTT_JWT_SECRET_FILE; a fixed dev key only in dev."""
    if secret_file is not None:
        key = secret_file.read_text().strip()
    elif secret:
        key = secret
    elif env == "dev":
        dev_notice(
            "dev_signing_key_in_use",
            "tokens signed with the development key are accepted (ANTT_JWT_SECRET sets "
            "another); outside development tokens come from ANTT_OIDC_ISSUER alone",
        )
        return DEV_SIGNING_KEY
    else:
        raise ConfigurationError(
            "ANTT_OIDC_ISSUER, or for tests ANTT_JWT_SECRET or ANTT_JWT_SECRET_FILE, is required "
            "unless ANTT_ENV=dev"
        )
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ConfigurationError(f"the JWT signing key must be at least {MIN_KEY_BYTES} bytes")
    return key


class TokenCodec:
    algorithm = "HS256"

    def __init__(self, key: str, issuer: str = "antt", audience: str = "antt") -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def issue(
        self, subject: str, role: Role, areas: Sequence[str] = (), ttl_seconds: int = 8 * 3600
    ) -> str:
        if role in SCOPED_ROLES and not areas:
            raise ValueError(f"{role} tokens need at least one area (--area CODE)")
        now = int(time.time())
        claims = {
            "sub": subject,
            "role": role.value,
            "areas": list(areas),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm=self.algorithm)

    def decode(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("token signature does not verify") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token not valid yet") from exc
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise AuthError("token was issued for another system") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("token is malformed") from exc
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise AuthError("token names no known role") from exc
        areas = claims.get("areas") or []
        if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
            raise AuthError("token's areas must be a list of area codes")
        if role in SCOPED_ROLES and not areas:
            raise AuthError(f"{role} tokens must list their areas")
        return Principal(subject=str(claims["sub"]), role=role, areas=tuple(areas))


bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>`; ops mint tokens with `antt token issue`.",
)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=[{"loc": ["header", "authorization"], "msg": reason, "type": "unauthorized"}],
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


class IssuerVerifier(Protocol):
    """Tokens of an OpenID Connect issuer (shared/oidc.py)."""

    @property
    def algorithms(self) -> tuple[str, ...]: ...

    async def decode(self, token: str, header: Mapping[str, Any]) -> Principal: ...


# Names a refusal may echo back; anything else a token claims as its algorithm is not repeated.
KNOWN_ALGORITHMS = frozenset(
    {"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
    | {"PS256", "PS384", "PS512", "EdDSA"}
)


class TokenVerifier:
    """Sends a token to the verifier its algorithm belongs to: the issuer's (RS256, ES256)
    or, in development and tests only, the HS256 key's. Any other algorithm is refused.
    A verified token is remembered for ``remember_seconds`` (within its own validity), so
    a key the issuer withdraws stops its tokens within that time."""

    def __init__(
        self,
        issuer: IssuerVerifier | None,
        development: TokenCodec | None,
        remember_seconds: float = VERIFIED_TOKEN_SECONDS,
    ) -> None:
        if issuer is None and development is None:
            raise ConfigurationError("no way to verify tokens: set ANTT_OIDC_ISSUER")
        self.issuer = issuer
        self.development = development
        self.remember_seconds = remember_seconds
        # token → (principal, valid from, valid until, verified again after): a client sends
        # one token with every request, and verifying it is a tenth of a write's CPU.
        self._verified: OrderedDict[str, tuple[Principal, float, float, float]] = OrderedDict()

    async def decode(self, token: str) -> Principal:
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, valid_from, valid_until, verify_again = remembered
            if valid_from <= now < valid_until and now < verify_again:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # out of its window: verified anew, which says why
        principal = await self._verify(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        expires = claims.get("exp")
        starts = [claims[name] for name in ("nbf", "iat") if claims.get(name) is not None]
        if isinstance(expires, int | float) and all(isinstance(t, int | float) for t in starts):
            valid_from = float(max(starts, default=now))
            verify_again = now + self.remember_seconds
            self._verified[token] = (principal, valid_from, float(expires), verify_again)
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError("token is malformed") from exc
        algorithm = header.get("alg")
        if algorithm == TokenCodec.algorithm and self.development is not None:
            return self.development.decode(token)
        if self.issuer is not None and algorithm in self.issuer.algorithms:
            return await self.issuer.decode(token, header)
        named = algorithm if algorithm in KNOWN_ALGORITHMS else "it names"
        raise AuthError(f"token algorithm {named} is not accepted")


class Authenticator:
    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    def requirement(self, access: Access) -> Callable[..., Awaitable[Principal]]:
        if access is Access.PUBLIC:

            async def public(request: Request) -> Principal:
                request.state.principal = ANONYMOUS
                return ANONYMOUS

            return public

        async def authenticated(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        ) -> Principal:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise _unauthorized("missing bearer token")
            try:
                principal = await self.verifier.decode(credentials.credentials)
            except AuthError as exc:
                raise _unauthorized(str(exc)) from exc
            if not principal.may(access):
                raise HTTPException(
                    status_code=status.HTTP_403_FORBIDDEN,
                    detail=[
                        {
                            "loc": ["header", "authorization"],
                            "msg": f"role {principal.role} may not {access} here; "
                            f"needs one of: {', '.join(roles_with(access))}",
                            "type": "forbidden",
                        }
                    ],
                )
            request.state.principal = principal
            return principal

        return authenticated


async def current_principal(request: Request) -> Principal:
    """The caller, as established by the route's access rule (which always runs first).
    Async, though it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, a round trip through the thread pool on every request."""
    principal: Principal = request.state.principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, expired, malformed or wrongly signed token"},
    403: {"description": "The caller's role may not do this"},
}


class ProtectedRouter(APIRouter):
    """A router whose every route must appear in its access table; the rule is enforced by
    a dependency and shown in the OpenAPI document (``x-access``, ``x-roles``)."""

    def __init__(self, access: dict[str, Access], auth: Authenticator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_table = access
        self.auth = auth

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        name = kwargs.get("name") or endpoint.__name__
        if name not in self.access_table:
            raise RuntimeError(f"route {name!r} ({path}) has no entry in the access table")
        access = self.access_table[name]
        dependencies = [
            *(kwargs.pop("dependencies", None) or []),
            Depends(self.auth.requirement(access)),
        ]
        extra = {
            **(kwargs.pop("openapi_extra", None) or {}),
            "x-access": access.value,
            "x-roles": ["anonymous"] if access is Access.PUBLIC else roles_with(access),
        }
        responses = dict(kwargs.pop("responses", None) or {})
        if access is not Access.PUBLIC:
            responses = {**AUTH_RESPONSES, **responses}
        super().add_api_route(
            path,
            endpoint,
            dependencies=dependencies,
            openapi_extra=extra,
            responses=responses,
            **kwargs,
        )


def unused_routes(router: ProtectedRouter) -> Iterable[str]:
    """Access-table entries with no route: a typo would otherwise go unnoticed."""
    names = {getattr(route, "name", None) for route in router.routes}
    return sorted(set(router.access_table) - names)
