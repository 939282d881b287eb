from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry
from starlette.requests import Request as StarletteRequest

from shared.limits import (
    RateLimiter,
    RateLimitExceededError,
    client_key,
    rate_limit_response,
)
from shared.metrics import HttpMetrics
from shared.middleware import ServiceMiddleware

LIMIT = 100


def make_app(limit: int = LIMIT) -> tuple[FastAPI, list[int]]:
    """An echo app behind the middleware, and the body lengths its route actually saw."""
    app = FastAPI()
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"length": len(body)}

    app.add_middleware(ServiceMiddleware, max_bytes=limit, metrics=HttpMetrics(CollectorRegistry()))
    return app, seen


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def chunks(sizes: list[int]) -> AsyncIterator[bytes]:
    for size in sizes:
        yield b"x" * size


TOO_LARGE = {
    "detail": [
        {
            "loc": ["body"],
            "msg": f"request body larger than {LIMIT} bytes",
            "type": "body_too_large",
        }
    ]
}


async def test_body_at_the_limit_reaches_the_app() -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"length": LIMIT}
    assert seen == [LIMIT]


async def test_nul_in_a_json_body_gets_422_but_a_multipart_upload_passes() -> None:
    app, seen = make_app(limit=2000)
    spreadsheet = b"PK\x03\x04\x00\x00binary"
    async with client_for(app) as client:
        refused = await client.post(
            "/echo", content=b'{"a": "x\x00"}', headers={"content-type": "application/json"}
        )
        uploaded = await client.post("/echo", files={"file": ("t.xlsx", spreadsheet)})
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == (
        "invalid_characters"
    )
    assert uploaded.status_code == 200 and seen == [int(uploaded.json()["length"])]


async def test_oversized_body_with_content_length_gets_413() -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert seen == []


async def test_absurdly_large_content_length_gets_413() -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"x", headers={"content-length": "9" * 5000})
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert seen == []


async def test_streamed_body_under_the_limit_reaches_the_app_whole() -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        response = await client.post("/echo", content=chunks([30, 30, 40]))
    assert response.status_code == 200
    assert response.json() == {"length": LIMIT}
    assert seen == [LIMIT]


async def test_streamed_body_over_the_limit_gets_413_and_never_reaches_the_app() -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        request = client.build_request("POST", "/echo", content=chunks([40, 40, 40, 40]))
        assert "content-length" not in request.headers
        response = await client.send(request)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert seen == []


@pytest.mark.parametrize("value", ["abc", "-1", "+5", "1e3", "5, 6", ""])
async def test_malformed_content_length_gets_400(value: str) -> None:
    app, seen = make_app()
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"hello", headers={"content-length": value})
    assert response.status_code == 400
    [error] = response.json()["detail"]
    assert error["type"] == "invalid_content_length"
    assert error["loc"] == ["header", "content-length"]
    assert isinstance(error["msg"], str) and error["msg"]
    assert seen == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_client_limit_blocks_only_that_client() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=3, overall_per_minute=100, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [None, None, None]
    retry_after = limiter.check("a")
    assert retry_after is not None and retry_after > 0
    # 3 a minute refills one token every 20 s.
    assert retry_after == pytest.approx(20.0)
    assert limiter.check("b") is None


def test_overall_limit_blocks_every_client() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=10, overall_per_minute=3, clock=clock)
    assert [limiter.check(key) for key in ("a", "b", "c")] == [None, None, None]
    for key in ("a", "d"):
        retry_after = limiter.check(key)
        assert retry_after is not None and retry_after == pytest.approx(20.0)


def test_tokens_come_back_as_time_passes_up_to_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=3, overall_per_minute=100, clock=clock)
    for _ in range(3):
        assert limiter.check("a") is None
    clock.now += 19.9
    assert limiter.check("a") is not None
    clock.now += 0.1
    assert limiter.check("a") is None
    assert limiter.check("a") is not None
    # A long idle spell refills to capacity and no further.
    clock.now += 3600
    assert [limiter.check("a") for _ in range(4)][:3] == [None, None, None]
    assert limiter.check("a") is not None


def test_refused_requests_consume_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=2, overall_per_minute=3, clock=clock)
    assert limiter.check("a") is None
    assert limiter.check("a") is None
    for _ in range(5):
        assert limiter.check("a") is not None
    # The overall bucket still holds the one token the refusals did not take.
    assert limiter.check("b") is None
    assert limiter.check("c") is not None
    # And a's own bucket was not driven below zero: one refill period gives it a token again.
    clock.now += 30.0
    assert limiter.check("a") is None


def test_idle_client_buckets_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=5, overall_per_minute=1_000_000, clock=clock)
    for n in range(10_001):
        assert limiter.check(f"10.0.{n // 256}.{n % 256}") is None
    clock.now += 60.0
    assert limiter.check("fresh-1") is None
    assert limiter.check("fresh-2") is None
    assert len(limiter._clients) <= 2


def test_refused_strangers_are_not_remembered() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_client_per_minute=5, overall_per_minute=1, clock=clock)
    assert limiter.check("a") is None
    for n in range(50):
        assert limiter.check(f"stranger-{n}") is not None
    assert set(limiter._clients) == {"a"}


@pytest.mark.parametrize(("retry_after", "header"), [(0.01, "1"), (5.0, "5"), (20.01, "21")])
def test_rate_limit_response(retry_after: float, header: str) -> None:
    response = rate_limit_response(RateLimitExceededError(retry_after))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == header
    assert int(response.headers["Retry-After"]) >= 1
    assert response.body == (
        b'{"detail":[{"loc":[],"msg":"too many requests; retry after '
        + header.encode()
        + b' s","type":"rate_limited"}]}'
    )


def test_client_key_uses_the_peer_address_and_ignores_forwarded_for() -> None:
    scope = {
        "type": "http",
        "headers": [(b"x-forwarded-for", b"203.0.113.9")],
        "client": ("192.0.2.1", 54321),
    }
    assert client_key(StarletteRequest(scope)) == "192.0.2.1"
    assert client_key(StarletteRequest({"type": "http", "headers": [], "client": None})) == (
        "unknown"
    )
