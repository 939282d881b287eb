"""Abuse limits: the body-size and NUL checks the service middleware applies
(shared/middleware.py) and an in-memory token-bucket rate limiter. Refusals use the same
``detail`` shape as FastAPI's own validation errors, so clients handle them like any
other 4xx."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Scope

# Above this many client buckets, check() drops the ones that are full again.
PRUNE_THRESHOLD = 10_000


def _error(status_code: int, loc: list[str], msg: str, error_type: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": msg, "type": error_type}]}, status_code=status_code
    )


def parse_content_length(values: list[bytes], max_bytes: int) -> int | None:
    """The declared length, or None when any value is malformed or they disagree (a
    length too long to parse counts as ``max_bytes + 1``)."""
    parsed: set[bytes] = set()
    for value in values:
        for part in value.split(b","):
            digits = part.strip()
            # bytes.isdigit() is ASCII-only and rejects signs, unlike int().
            if not digits.isdigit():
                return None
            parsed.add(digits.lstrip(b"0") or b"0")
    if len(parsed) != 1:
        return None
    digits = parsed.pop()
    # int() refuses very long digit strings; any that long is over the limit anyway.
    if len(digits) > len(str(max_bytes)):
        return max_bytes + 1
    return int(digits)


def invalid_content_length() -> JSONResponse:
    return _error(
        400,
        ["header", "content-length"],
        "content-length header is not a valid byte count",
        "invalid_content_length",
    )


def body_too_large(max_bytes: int) -> JSONResponse:
    return _error(413, ["body"], f"request body larger than {max_bytes} bytes", "body_too_large")


def nul_in_target(scope: Scope) -> bool:
    """A NUL in the path or query string (percent-encoded or not)."""
    return b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", "")


def nul_in_body(body: bytes) -> bool:
    """A NUL in a body, raw or as a JSON escape."""
    return b"\x00" in body or b"\\u0000" in body


def nul_refused(loc: str) -> JSONResponse:
    """Text with NUL characters gets 422 from every database alike (PostgreSQL cannot
    store them; SQLite would)."""
    return _error(422, [loc], "text must not contain NUL characters", "invalid_characters")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per client key and one for everyone, refilled continuously.

    Each bucket holds at most its per-minute figure and gains figure/60 tokens a second.
    A request is allowed only when both its client's bucket and the overall bucket have a
    token. Not shared between processes: each replica limits on its own.
    """

    def __init__(
        self,
        per_client_per_minute: int,
        overall_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_client_per_minute < 1 or overall_per_minute < 1:
            raise ValueError("rate limits must be at least 1 per minute")
        self.per_client_per_minute = per_client_per_minute
        self.overall_per_minute = overall_per_minute
        self._clock = clock
        self._client_rate = per_client_per_minute / 60.0
        self._overall_rate = overall_per_minute / 60.0
        now = clock()
        self._overall = _Bucket(float(overall_per_minute), now)
        self._clients: dict[str, _Bucket] = {}
        self._prune_at = PRUNE_THRESHOLD
        self._pruned_at = now

    def check(self, client_key: str) -> float | None:
        """None if allowed (one token taken from both buckets), else seconds to wait."""
        # No await in here, so under asyncio each check is atomic.
        now = self._clock()
        overall = self._refilled(self._overall, now, self.overall_per_minute, self._overall_rate)
        self._overall = overall
        known = self._clients.get(client_key)
        client = (
            self._refilled(known, now, self.per_client_per_minute, self._client_rate)
            if known is not None
            else _Bucket(float(self.per_client_per_minute), now)
        )
        if client.tokens >= 1 and overall.tokens >= 1:
            client.tokens -= 1
            overall.tokens -= 1
            # Only clients that took a token are stored, so refused strangers cost no memory.
            self._clients[client_key] = client
            size = len(self._clients)
            # Any bucket refills within 60 s, so a prune a minute clears every idle client.
            if size > self._prune_at or (size > PRUNE_THRESHOLD and now - self._pruned_at >= 60.0):
                self._prune(now)
            return None
        if known is not None:
            self._clients[client_key] = client
        wait = 0.0
        if client.tokens < 1:
            wait = max(wait, (1 - client.tokens) / self._client_rate)
        if overall.tokens < 1:
            wait = max(wait, (1 - overall.tokens) / self._overall_rate)
        # Rounding could leave a vanishing wait; callers rely on a positive number.
        return max(wait, 1e-6)

    @staticmethod
    def _refilled(bucket: _Bucket, now: float, capacity: int, rate: float) -> _Bucket:
        # max(0, ...) so a clock that steps back never drains a bucket.
        elapsed = max(0.0, now - bucket.updated)
        return _Bucket(
            min(float(capacity), bucket.tokens + elapsed * rate), max(now, bucket.updated)
        )

    def _prune(self, now: float) -> None:
        """Forgets buckets that have refilled; a new bucket would be full all the same."""
        capacity = float(self.per_client_per_minute)
        self._clients = {
            key: bucket
            for key, bucket in self._clients.items()
            if bucket.tokens + max(0.0, now - bucket.updated) * self._client_rate < capacity
        }
        # Doubling the next threshold keeps pruning amortised O(1) under many active clients.
        self._prune_at = max(PRUNE_THRESHOLD, 2 * len(self._clients))
        self._pruned_at = now


class RateLimitExceededError(Exception):
    """Raised by a route or dependency when RateLimiter.check refused the request."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f} s")
        self.retry_after = retry_after


def rate_limit_response(exc: RateLimitExceededError) -> JSONResponse:
    """429 with Retry-After in whole seconds, rounded up and at least 1."""
    seconds = max(1, math.ceil(exc.retry_after))
    response = _error(429, [], f"too many requests; retry after {seconds} s", "rate_limited")
    response.headers["Retry-After"] = str(seconds)
    return response


def client_key(request: Request) -> str:
    """The rate-limit key for a request: the peer's IP address.

    Behind the console or a proxy, ``ANTT_FORWARDED_ALLOW_IPS`` names them: uvicorn then
    takes ``request.client`` from their X-Forwarded-For, and from nobody else's.
    """
    # X-Forwarded-For is written by the client itself, so trusting it lets anyone pick a bucket.
    return request.client.host if request.client is not None else "unknown"
