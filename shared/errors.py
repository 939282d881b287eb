"""Domain errors the service layer raises and the HTTP layer maps to status codes.

Each carries the field it concerns, so a 4xx answer names the field and the rule in the
same shape as FastAPI's own validation errors."""

from collections.abc import Collection, Iterable, Sequence
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

    def headers(self) -> dict[str, str] | None:
        """Response headers the answer carries besides its body (none by default)."""
        return None


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


class NotYetKnownError(DomainError):
    """A request names something this service has not seen while the events that would
    bring it may still be on their way (its consumer is behind): ask again shortly."""

    status_code = 409
    error_type = "not_yet_known"

    def __init__(self, message: str, loc: Sequence[str | int] = (), retry_after: int = 2) -> None:
        super().__init__(message, loc)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


def one_of(values: Iterable[str]) -> str:
    """Legal values listed as pydantic lists an enum's: ``'a', 'b' or 'c'``."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) < 2:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class UnknownValueError(DomainError):
    """A value outside an enumerated list that is configured rather than fixed in code
    (categories, activity types, team kinds, campaigns, …): the same 422 as pydantic's
    for an enum (type ``enum``, "Input should be 'a', 'b' or 'c'"), so a list filter
    answers alike whether its values come from the code or from the catalogue. The value
    sent is not repeated."""

    status_code = 422
    error_type = "enum"

    def __init__(
        self, loc: Sequence[str | int], legal: Iterable[str], message: str | None = None
    ) -> None:
        super().__init__(message or f"Input should be {one_of(legal)}", loc)


def check_query_value(name: str, value: str | None, legal: Collection[str]) -> None:
    """Refuse a query filter's value that is not one of ``legal`` (422 naming the legal ones)."""
    if value is not None and value not in legal:
        raise UnknownValueError(["query", name], legal)


ERROR_DESCRIPTIONS = {
    403: "The caller's role or areas do not allow this",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with the current state",
    422: "Invalid input or unknown reference; `detail` names the field and the rule",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the domain errors a route can answer with."""
    return {code: {"description": ERROR_DESCRIPTIONS[code]} for code in codes}
