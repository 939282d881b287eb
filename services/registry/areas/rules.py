"""Area tree rules: which level may hold which, what an update must give, where a move may go."""

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from shared.errors import ConflictError, RuleViolationError
from shared.events import AreaLevel

# Higher levels enclose lower ones: a child's level must rank below its parent's.
LEVEL_RANK = {
    AreaLevel.PROVINCE: 0,
    AreaLevel.DISTRICT: 1,
    AreaLevel.WARD: 2,
    AreaLevel.COMMUNE: 2,
    AreaLevel.RESIDENTIAL_GROUP: 3,
}


def may_hold(parent: AreaLevel, child: AreaLevel) -> bool:
    """Whether an area of level ``parent`` may have a child of level ``child``."""
    return LEVEL_RANK[parent] < LEVEL_RANK[child]


def check_level(child: AreaLevel, parent: AreaLevel | None, loc: Sequence[str | int]) -> None:
    """Refuse a ``child`` placed under an area of level ``parent`` (None: top level)."""
    if parent is not None and not may_hold(parent, child):
        raise RuleViolationError(
            f"rule level_order: a {child.value} cannot be placed under a "
            f"{parent.value}; the tree runs province → district → ward/commune → "
            "residential group",
            loc,
        )


def check_area_changes(changes: dict[str, Any]) -> None:
    """An update gives something to change, and never a null name."""
    if not changes:
        raise RuleViolationError("nothing to change: give name or households", ["body"])
    if "name" in changes and changes["name"] is None:
        raise RuleViolationError("name cannot be null", ["body", "name"])


def check_move(
    code: str,
    parent: UUID | None,
    new_parent: UUID | None,
    subtree: Collection[UUID],
    loc: Sequence[str | int],
) -> None:
    """Refuse moving the area ``code`` (whose subtree, itself included, is ``subtree``)
    from ``parent`` under itself or a descendant, or to where it already is."""
    if new_parent is not None and new_parent in subtree:
        raise RuleViolationError(
            "rule no_cycle: an area cannot move under itself or its descendants", loc
        )
    if new_parent == parent:
        raise ConflictError(f"area {code!r} is already there", loc)
