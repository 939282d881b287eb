"""Roster change rules over plain values: who may leave, change role or join, the order a
roster is shown in, and where a single join's or leave's errors point."""

from collections.abc import Hashable, Sequence
from datetime import date
from typing import TypeVar
from uuid import UUID

from services.registry.teams.rules import RosterEntry
from shared.errors import RuleViolationError
from shared.events import TeamRole

ROLE_ORDER = {TeamRole.LEADER: 0, TeamRole.DEPUTY: 1, TeamRole.MEMBER: 2}

Key = TypeVar("Key", bound=Hashable)  # a person, however the caller names them


def roster_order(role: TeamRole, name: str, person_id: UUID) -> tuple[int, str, UUID]:
    """Leader first, then deputies, then members; by name within a role."""
    return ROLE_ORDER[role], name, person_id


def check_member_reference(
    has_person_id: bool, full_name: str | None, birth_date: date | None, loc: Sequence[str | int]
) -> None:
    """A member to add is an existing person (by id) or a new one (by name), not both."""
    if has_person_id:
        if full_name is not None or birth_date is not None:
            raise RuleViolationError(
                "give either person_id (an existing person) or full_name (a new one)", loc
            )
    elif full_name is None:
        raise RuleViolationError(
            "full_name is required for a new person (or give person_id)", [*loc, "full_name"]
        )


def take_leaves(
    roster: dict[Key, RosterEntry], leaves: Sequence[Key], effective_on: date
) -> list[Key]:
    """Take the leaving members off ``roster`` (in place), in the order given; each must be
    a current member, listed once, who joined on or before ``effective_on``."""
    leaving: list[Key] = []
    for index, person in enumerate(leaves):
        entry = roster.get(person)
        if entry is None:
            raise RuleViolationError(
                f"person {person} is not a current member", ["body", "leaves", index]
            )
        if effective_on < entry.joined_on:
            raise RuleViolationError(
                f"effective_on is before {entry.name} joined ({entry.joined_on})",
                ["body", "effective_on"],
            )
        leaving.append(person)
        del roster[person]
    return leaving


def change_roles(
    roster: dict[Key, RosterEntry], changes: Sequence[tuple[Key, TeamRole]], effective_on: date
) -> list[tuple[Key, TeamRole]]:
    """Give members of ``roster`` (in place) their new roles from ``effective_on``; each must
    still serve and not hold that role already."""
    changed: list[tuple[Key, TeamRole]] = []
    for index, (person, role) in enumerate(changes):
        where: list[str | int] = ["body", "role_changes", index]
        entry = roster.get(person)
        if entry is None:
            raise RuleViolationError(f"person {person} is not a current member", where)
        if role is entry.role:
            raise RuleViolationError(f"already the team's {role.value}", where)
        roster[person] = RosterEntry(entry.name, role, entry.birth_date, effective_on)
        changed.append((person, role))
    return changed


def add_joins(roster: dict[Key, RosterEntry], joins: Sequence[tuple[Key, RosterEntry]]) -> None:
    """Add the joining members to ``roster`` (in place): none may serve already."""
    for person, entry in joins:
        if person in roster:
            raise RuleViolationError(
                f"rule one_membership: {entry.name} is already on the team", entry.loc or []
            )
        roster[person] = entry


def check_some_change(leaves: int, role_changes: int, joins: int) -> None:
    if not (leaves or role_changes or joins):
        raise RuleViolationError("nothing to change", ["body"])


def single_change_loc(loc: list[str | int], date_field: str) -> list[str | int]:
    """Where an error of a one-join or one-leave roster change points in that request,
    which names its date ``date_field`` and has no list of joins or leaves."""
    if loc == ["body", "effective_on"]:
        return ["body", date_field]
    if loc[:3] in (["body", "joins", 0], ["body", "leaves", 0]):
        return ["body", *loc[3:]]
    return loc
