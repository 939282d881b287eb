"""Server-side sessions: the browser holds a signed cookie with a random session id and
nothing else; tokens stay in this process's memory.

One console replica, or a load balancer with sticky sessions: another replica does not
know the session and sends the user to log in again (Keycloak's own session makes that a
redirect, not a password). A restart logs everyone out the same way.
"""

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

from shared.auth import Principal

SESSION_COOKIE = "antt_console_session"


@dataclass
class PendingLogin:
    """What a login started in this browser must match when Keycloak sends it back."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str
    started: float = field(default_factory=time.monotonic)


@dataclass
class UserTokens:
    """A logged-in user's tokens and who they say the user is."""

    principal: Principal
    display_name: str
    access_token: str
    access_expires_at: float  # time.time()
    refresh_token: str | None
    id_token: str


@dataclass
class Session:
    id: str
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: float = field(default_factory=time.monotonic)
    pending: PendingLogin | None = None
    user: UserTokens | None = None


class SessionStore:
    """Sessions by id, forgotten after ``idle_seconds`` unused; at most ``max_sessions``
    (the oldest go first), so a flood of anonymous visitors cannot exhaust memory."""

    def __init__(self, secret: str, idle_seconds: float, max_sessions: int = 50_000) -> None:
        self._signer = URLSafeSerializer(secret, salt="antt-console-session")
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def cookie_value(self, session: Session) -> str:
        return str(self._signer.dumps(session.id))

    def from_cookie(self, value: str | None) -> Session | None:
        """The live session a cookie names; None for a missing, forged or expired one."""
        if not value:
            return None
        try:
            session_id = self._signer.loads(value)
        except BadSignature:
            return None
        session = self._sessions.get(str(session_id))
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle_seconds:
            del self._sessions[session.id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session.id)
        return session

    def create(self) -> Session:
        self._expire()
        session = Session(id=secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        return session

    def rotate(self, session: Session) -> Session:
        """A new id (and CSRF token) for the same session, after login: an id planted in
        the browser before it (session fixation) is worth nothing after."""
        self._sessions.pop(session.id, None)
        fresh = self.create()
        fresh.user = session.user
        return fresh

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if (
                now - oldest.last_seen <= self.idle_seconds
                and len(self._sessions) < self.max_sessions
            ):
                break
            del self._sessions[oldest.id]
