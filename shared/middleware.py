"""The one middleware every service mounts in front of its routes, as plain ASGI (no
``BaseHTTPMiddleware``: that costs a task, a memory stream and a copy of every response).

For each HTTP request, in this order:

- the correlation id: taken from ``X-Correlation-ID`` (or made up), bound for the
  request's log lines, audit rows and outbox rows, and sent back on every response;
- the body size cap: a Content-Length above ``max_bytes`` (or a malformed one) is refused
  before the app runs; a body without one is read up to the cap, then 413;
- NUL characters: refused with 422 in the path, the query string or the body (raw or as
  a JSON escape), which is read whole here and handed to the app as one message; a
  multipart upload is exempt (a spreadsheet is binary), its text reaching the services as
  JSON checked there;
- HTTP metrics by route template once the app has answered (``unmatched`` for requests
  no route took, refusals above included; 5xx for an exception the app let through).
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.limits import (
    body_too_large,
    invalid_content_length,
    nul_in_body,
    nul_in_target,
    nul_refused,
    parse_content_length,
)
from shared.logging import CORRELATION_HEADER, bind_correlation_id
from shared.metrics import HttpMetrics

CORRELATION_KEY = CORRELATION_HEADER.lower().encode("latin-1")


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, metrics: HttpMetrics) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: list[bytes] = []
        incoming: str | None = None
        binary_upload = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared.append(value)
            elif name == CORRELATION_KEY and incoming is None:
                incoming = value.decode("latin-1")
            elif name == b"content-type":
                binary_upload = value.lower().startswith(b"multipart/form-data")
        correlation = (CORRELATION_KEY, bind_correlation_id(incoming).encode("latin-1"))
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    header
                    for header in message.get("headers", ())
                    if header[0].lower() != CORRELATION_KEY
                ]
                headers.append(correlation)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._checked(scope, receive, send_with_id, declared, binary_upload)
        except Exception:
            self._observe(scope, status if status is not None else 500, started)
            raise
        if status is not None:  # else the client left before its body was in
            self._observe(scope, status, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")  # set by the router on this same scope
        self.metrics.observe(
            getattr(route, "path", "unmatched"),
            scope["method"],
            status,
            time.perf_counter() - started,
        )

    async def _checked(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        declared: list[bytes],
        binary_upload: bool = False,
    ) -> None:
        if declared:
            length = parse_content_length(declared, self.max_bytes)
            if length is None:
                await invalid_content_length()(scope, receive, send)
                return
            if length > self.max_bytes:
                await body_too_large(self.max_bytes)(scope, receive, send)
                return
        if nul_in_target(scope):
            await nul_refused("query")(scope, receive, send)
            return
        # Whole before the app runs, and never more than the cap (chunked, or a
        # Content-Length beside Transfer-Encoding), so the app never sees part of a body
        # and never starts a response that would have to be taken back.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: there is nobody to answer
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await body_too_large(self.max_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not binary_upload and nul_in_body(body):
            await nul_refused("body")(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                # Later calls (waiting for a disconnect) go to the real channel.
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
