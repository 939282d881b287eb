"""Request bodies: of the media type the route reads, and readable.

- **415** for a body whose ``Content-Type`` the route does not read (or a body without
  one), naming the type it does: ``application/json`` for a route with a JSON body
  (``; charset=utf-8`` and ``+json`` types are JSON too), or the types a route that reads
  the raw body declares in its OpenAPI ``requestBody`` (``text/csv`` for an import). A
  form-encoded or ``text/plain`` body (what a bare ``curl -d`` sends) would otherwise be
  validated as a string and answered "Input should be a valid dictionary".
- **400** for a JSON body that is not valid UTF-8 (FastAPI raises a bare-string
  ``HTTPException`` for it, as for any body its decoder fails on), in the
  ``[{loc, msg, type}]`` shape of every other error (``unreadable_body``).

The check runs in the route (``BodyTypeRoute``, the route class of every service router)
before FastAPI reads the body: one header lookup for the routes that take a body, nothing
for the others.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.params import Form
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

JSON = "application/json"
CONTENT_TYPE_LOC = ["header", "content-type"]


def media_type(content_type: str) -> str:
    """``type/subtype`` of a Content-Type value, without its parameters, lower case."""
    return content_type.partition(";")[0].strip().lower()


def is_accepted(content_type: str, accepted: tuple[str, ...]) -> bool:
    kind = media_type(content_type)
    if kind in accepted:
        return True
    # JSON under its own name: application/vnd.example+json, application/merge-patch+json.
    return JSON in accepted and kind.startswith("application/") and kind.endswith("+json")


def accepted_types(route: APIRoute) -> tuple[str, ...]:
    """The media types ``route`` reads its body as: JSON for a (non-form) body parameter,
    else those its OpenAPI ``requestBody`` declares; empty for a route without a body."""
    if route.body_field is not None:
        return () if isinstance(route.body_field.field_info, Form) else (JSON,)
    declared = ((route.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
    return tuple(media_type(kind) for kind in declared)


def unsupported_media_type(accepted: tuple[str, ...]) -> JSONResponse:
    names = " or ".join(accepted)
    return JSONResponse(
        status_code=415,
        content={
            "detail": [
                {
                    "loc": CONTENT_TYPE_LOC,
                    "msg": f"the body must be sent as {names} (Content-Type: {accepted[0]})",
                    "type": "unsupported_media_type",
                }
            ]
        },
    )


class BodyTypeRoute(APIRoute):
    """A route that answers 415 to a body it cannot read (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        accepted = accepted_types(self)
        if not accepted:
            return handler

        async def checked(request: Request) -> Response:
            declared = request.headers.get("content-type")
            if declared is None:
                # No body and no type: FastAPI answers 422 for the missing body, as before.
                if await request.body():  # already in memory (ServiceMiddleware read it)
                    return unsupported_media_type(accepted)
            elif not is_accepted(declared, accepted):
                return unsupported_media_type(accepted)
            return await handler(request)

        return checked


def unreadable_body(exc: HTTPException) -> JSONResponse | None:
    """The 400 FastAPI raises (a bare string, from the decoder's exception) for a body it
    cannot decode, in the shape of every other error; None for any other HTTPException."""
    if exc.status_code != 400 or exc.__cause__ is None:
        return None
    if isinstance(exc.__cause__, UnicodeDecodeError):
        msg, kind = (
            "the body is not valid UTF-8 JSON: send JSON encoded in UTF-8",
            "invalid_encoding",
        )
    else:  # JSON nested too deep to parse, say
        msg, kind = "the body could not be parsed as JSON", "json_invalid"
    return JSONResponse(
        status_code=400, content={"detail": [{"loc": ["body"], "msg": msg, "type": kind}]}
    )
