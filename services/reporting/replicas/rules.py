"""Rules on the areas and teams a new record names: the levels records are kept at, and
which teams may be credited."""

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from shared.errors import RuleViolationError, UnknownReferenceError
from shared.events import AreaLevel

Value = TypeVar("Value")


class TeamStatus(StrEnum):
    ACTIVE = "active"
    DISSOLVED = "dissolved"


def check_record_level(level: AreaLevel | None, levels: Sequence[AreaLevel]) -> None:
    """Records are kept at the configured levels (a ward, commune or residential group by
    default), not at a province or district."""
    if level not in levels:
        raise RuleViolationError(
            f"records are kept at {' or '.join(levels)} level; this area is a {level}",
            ["body", "area_id"],
        )


def check_creditable(status: str, team_id: UUID, index: int) -> None:
    """Only an active team may be credited with new work."""
    if status != TeamStatus.ACTIVE:
        raise UnknownReferenceError(
            f"{status} team {team_id}: a dissolved team cannot be credited",
            ["body", "team_ids", index],
        )


def first_of_each(values: Iterable[Value]) -> list[Value]:
    """Each value once, in the order first given (a team named twice is credited once)."""
    return list(dict.fromkeys(values))
