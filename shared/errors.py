"""Domain errors the service layer raises and the HTTP layer maps to status codes.

Each carries the field it concerns, so a 4xx answer names the field and the rule in the
same shape as FastAPI's own validation errors."""

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    status_code = 400
    error_type = "domain_error"

    def __init__(self, message: str, loc: Sequence[str | int] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = list(loc)

    def detail(self) -> list[dict[str, object]]:
        return [{"loc": self.loc, "msg": self.message, "type": self.error_type}]


class NotFoundError(DomainError):
    status_code = 404
    error_type = "not_found"


class UnknownReferenceError(DomainError):
    """A request names something this service does not know (an area, a team, ...)."""

    status_code = 422
    error_type = "unknown_reference"


class RuleViolationError(DomainError):
    status_code = 422
    error_type = "rule_violation"


class ForbiddenError(DomainError):
    status_code = 403
    error_type = "forbidden"


class ConflictError(DomainError):
    status_code = 409
    error_type = "conflict"


ERROR_DESCRIPTIONS = {
    403: "The caller's role or areas do not allow this",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with the current state",
    422: "Invalid input or unknown reference; `detail` names the field and the rule",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the domain errors a route can answer with."""
    return {code: {"description": ERROR_DESCRIPTIONS[code]} for code in codes}
