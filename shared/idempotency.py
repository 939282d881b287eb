"""Idempotency keys for writes: a client whose create timed out retries it with the same
``Idempotency-Key`` header and gets the first answer again, instead of a second record.

- A use case that honours the header calls ``IdempotentRequest.remember`` inside its
  transaction, before the commit: the key and the answer are stored in the same
  transaction as the write, so a crash cannot leave one without the other.
- Before the use case runs, the route's dependency looks the key up (one query): the same
  key with the same request (method, path, caller, body as canonical JSON) replays the
  stored answer with ``Idempotent-Replayed: true``; the same key with another request is
  422 naming the header.
- Two requests with the same key at once: the key's primary key lets only one commit. The
  other's insert finds the key taken (on PostgreSQL it waits for the first transaction),
  its transaction rolls back with everything it wrote, and it answers with what the first
  stored (or 409 with ``Retry-After`` if it cannot see it).
- Only successful answers are remembered: a refused request wrote nothing, so a corrected
  retry with the same key proceeds as new.
- Keys belong to the caller (the token's subject; ``anonymous`` on public routes) and are
  kept ``keep_hours``; an expired key is unknown, and a periodic job purges them.
- A route whose answer must not be stored in the clear (a tip's follow secret) seals the
  stored answer and the request's fingerprint (which hashes what the informant sent) with
  the service's ``Sealer``.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import ANONYMOUS
from shared.db import SessionFactory, execute, shared_table, transaction
from shared.errors import DomainError
from shared.logging import get_logger

log = get_logger()

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
ANONYMOUS_CALLER = "anonymous"
KEY_LOC: list[str | int] = ["header", KEY_HEADER]
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
KEY_DESCRIPTION = (
    "Makes a retry of this create safe: a key of your choosing (a UUID, say; 1 to 255 "
    "printable ASCII characters), the same on every retry of one request. For 24 hours a "
    "retry with the same key and body returns the first answer (with `Idempotent-Replayed: "
    "true`) and writes nothing; the same key with another body is 422. Only successful "
    "answers are remembered."
)


def idempotency_table(metadata: MetaData) -> Table:
    return shared_table(
        metadata,
        "idempotency_key",
        Column("caller", String(200), primary_key=True),
        Column("request_key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("fingerprint", Text, nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", Text, nullable=False),
        Column("sealed", Boolean, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )


class Sealer(Protocol):
    """Encrypts what a sealed route remembers (reporting: the informant keys)."""

    def seal_text(self, value: str) -> str: ...

    def open_text(self, token: str) -> str: ...

    def reseal_text(self, token: str) -> str: ...


class InvalidIdempotencyKeyError(DomainError):
    status_code = 422
    error_type = "invalid_idempotency_key"


class IdempotencyKeyReusedError(DomainError):
    status_code = 422
    error_type = "idempotency_key_reused"


REUSED_MESSAGE = (
    f"this {KEY_HEADER} was already used for a different request (another body or route); "
    "use a new key for a new request"
)


class IdempotentReplay(Exception):  # not an error: the answer to a retry
    """A retry of a request already answered: the stored answer goes back as it was."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__("idempotent replay")
        self.status_code = status_code
        self.body = body

    def response(self) -> Response:
        return Response(
            content=self.body,
            status_code=self.status_code,
            media_type="application/json",
            headers={REPLAYED_HEADER: "true"},
        )


class IdempotencyKeyTakenError(Exception):
    """A concurrent request with the same key committed first; raised inside the use case's
    transaction so that it rolls back, then answered with what the first stored."""

    def __init__(self, pending: "IdempotentRequest") -> None:
        super().__init__("idempotency key taken by a concurrent request")
        self.pending = pending


def check_key(key: str) -> str:
    rule = f"{KEY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
    if not key:
        raise InvalidIdempotencyKeyError(f"{rule}; it is empty", KEY_LOC)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKeyError(f"{rule}; it is longer", KEY_LOC)
    if not PRINTABLE_ASCII.fullmatch(key):
        raise InvalidIdempotencyKeyError(f"{rule}; it has other characters", KEY_LOC)
    return key


def canonical_body(body: bytes) -> bytes:
    """The body as canonical JSON (sorted keys, no spaces), so key order and whitespace do
    not make a retry a different request; anything not JSON as it came."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(method: str, path: str, caller: str, body: bytes) -> str:
    """sha256 of method, path, caller and canonical body, each length-prefixed."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), caller.encode(), canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    """A request that came with an ``Idempotency-Key`` not seen before (or expired)."""

    store: "Idempotency"
    caller: str
    key: str
    fingerprint: str
    status_code: int
    sealed: bool

    async def remember(self, session: AsyncSession, body: BaseModel) -> None:
        """Store the answer in the use case's transaction (call it last, before the commit).
        Raises ``IdempotencyKeyTakenError`` if a concurrent request took the key: let it
        leave the transaction, which then rolls back."""
        await self.store.remember(session, self, body)


class Idempotency:
    """The ``idempotency_key`` table of one service, the routes' dependency, the lookup,
    ``remember`` and the purge."""

    def __init__(
        self,
        metadata: MetaData,
        sessions: SessionFactory,
        keep_hours: float,
        sealer: Sealer | None = None,
    ) -> None:
        self.table = idempotency_table(metadata)
        self.sessions = sessions
        self.keep = timedelta(hours=keep_hours)
        self.sealer = sealer
        table = self.table
        # Built once: a key of this caller stored since the cutoff.
        self._lookup = select(
            table.c.fingerprint, table.c.status_code, table.c.response, table.c.sealed
        ).where(
            table.c.caller == bindparam("caller"),
            table.c.request_key == bindparam("key"),
            table.c.created_at >= bindparam("cutoff"),
        )

    def cutoff(self) -> datetime:
        return datetime.now(UTC) - self.keep

    # --- the route's side -----------------------------------------------------------------

    def dependency(
        self, *, sealed: bool = False
    ) -> Callable[..., Awaitable[IdempotentRequest | None]]:
        """A FastAPI dependency for a create route: None without the header (no query at
        all); otherwise checks the key, replays a known one (``IdempotentReplay``) or refuses
        it (422), and hands the use case what it needs to ``remember`` its answer."""

        async def idempotency_key(
            request: Request,
            key: Annotated[
                str | None, Header(alias=KEY_HEADER, description=KEY_DESCRIPTION)
            ] = None,
        ) -> IdempotentRequest | None:
            if key is None:
                return None
            check_key(key)
            # The route's access rule ran first and named the caller.
            principal = getattr(request.state, "principal", None)
            if principal is None or principal is ANONYMOUS:
                caller = ANONYMOUS_CALLER
            else:
                caller = principal.subject
            route = request.scope.get("route")
            pending = IdempotentRequest(
                store=self,
                caller=caller,
                key=key,
                fingerprint=fingerprint(
                    request.method, request.url.path, caller, await request.body()
                ),
                status_code=getattr(route, "status_code", None) or 200,
                sealed=sealed,
            )
            await self.check(pending)
            return pending

        return idempotency_key

    async def check(self, pending: IdempotentRequest) -> None:
        """Raise ``IdempotentReplay`` with the stored answer of a retry, or
        ``IdempotencyKeyReusedError`` for the same key on another request; return if the
        key is unknown (or expired)."""
        async with self.sessions() as session:
            found = await execute(
                session,
                self._lookup,
                [{"caller": pending.caller, "key": pending.key, "cutoff": self.cutoff()}],
            )
            row = found.first()
        if row is None:
            return
        stored = self._open(row.fingerprint) if row.sealed else row.fingerprint
        if not hmac.compare_digest(stored, pending.fingerprint):
            raise IdempotencyKeyReusedError(REUSED_MESSAGE, KEY_LOC)
        body = self._open(row.response) if row.sealed else row.response
        raise IdempotentReplay(row.status_code, body)

    def install(self, app: FastAPI) -> None:
        """Answer replays, and requests that lost a race for their key, in ``app``."""

        @app.exception_handler(IdempotentReplay)
        async def replay(request: Request, exc: IdempotentReplay) -> Response:
            log.info("idempotent_replay", path=request.url.path, status=exc.status_code)
            return exc.response()

        @app.exception_handler(IdempotencyKeyTakenError)
        async def taken(request: Request, exc: IdempotencyKeyTakenError) -> Response:
            # This request's transaction rolled back; the one that took the key committed.
            try:
                await self.check(exc.pending)
            except IdempotentReplay as replayed:
                log.info("idempotent_replay", path=request.url.path, concurrent=True)
                return replayed.response()
            except IdempotencyKeyReusedError as reused:
                return JSONResponse(
                    status_code=reused.status_code, content={"detail": reused.detail()}
                )
            return JSONResponse(
                status_code=409,
                content={
                    "detail": [
                        {
                            "loc": KEY_LOC,
                            "msg": f"a request with this {KEY_HEADER} is being processed; "
                            "try again",
                            "type": "idempotency_key_in_use",
                        }
                    ]
                },
                headers={"Retry-After": "1"},
            )

    # --- the use case's side ----------------------------------------------------------------

    async def remember(
        self, session: AsyncSession, pending: IdempotentRequest, body: BaseModel
    ) -> None:
        answer = body.model_dump_json(by_alias=True)
        stored_fingerprint = pending.fingerprint
        if pending.sealed:
            answer = self._seal(answer)
            stored_fingerprint = self._seal(stored_fingerprint)
        now = datetime.now(UTC)
        row = {
            "caller": pending.caller,
            "request_key": pending.key,
            "fingerprint": stored_fingerprint,
            "status_code": pending.status_code,
            "response": answer,
            "sealed": pending.sealed,
            "created_at": now,
        }
        connection = await session.connection()
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(self.table).values(row)
        table = self.table
        # A row still present but expired (not purged yet) is replaced; a live one, which a
        # concurrent request committed (PostgreSQL waits for it), is left alone: no row back.
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.caller, table.c.request_key],
            set_={
                name: insert.excluded[name] for name in row if name not in {"caller", "request_key"}
            },
            where=table.c.created_at < now - self.keep,
        ).returning(table.c.caller)
        result = await connection.execute(statement)
        if result.first() is None:
            raise IdempotencyKeyTakenError(pending)

    # --- upkeep -------------------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete keys older than the keep period (an expired key is unknown already)."""
        async with transaction(self.sessions) as session:
            result: Any = await execute(
                session, delete(self.table).where(self.table.c.created_at < self.cutoff())
            )
        count = int(result.rowcount or 0)
        if count:
            log.info("idempotency_keys_purged", rows=count)
        return count

    async def reseal(self, session: AsyncSession) -> int:
        """Re-encrypt sealed rows with the sealer's newest key (informant key rotation)."""
        table = self.table
        rows = (
            await execute(
                session,
                select(
                    table.c.caller, table.c.request_key, table.c.fingerprint, table.c.response
                ).where(table.c.sealed.is_(True)),
            )
        ).all()
        sealer = self._sealer()
        for row in rows:
            await execute(
                session,
                update(table)
                .where(table.c.caller == row.caller, table.c.request_key == row.request_key)
                .values(
                    fingerprint=sealer.reseal_text(row.fingerprint),
                    response=sealer.reseal_text(row.response),
                ),
            )
        return len(rows)

    def _sealer(self) -> Sealer:
        if self.sealer is None:
            raise RuntimeError("sealed idempotency keys need the service's sealer")
        return self.sealer

    def _seal(self, value: str) -> str:
        return self._sealer().seal_text(value)

    def _open(self, token: str) -> str:
        return self._sealer().open_text(token)
