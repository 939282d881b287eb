"""How awards' copies settle what registry's member events say, whatever order they come
in: one membership per team, person and role; the days it covers; whose name and area a
person has."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol
from uuid import UUID

MEMBERSHIP_NAMESPACE = uuid.UUID("0b7e3f0e-7a52-4d63-9d0c-6f1f0a3c2b11")


def membership_id(team_id: UUID, person_id: UUID, role: str) -> UUID:
    return uuid.uuid5(MEMBERSHIP_NAMESPACE, f"{team_id}:{person_id}:{role}")


def rejoined_since(earlier: date | None, joined: date | None) -> date | None:
    """Back on the team in the same role: the membership still covers the first days (None:
    since ever)."""
    return None if earlier is None or joined is None else min(earlier, joined)


class Membership(Protocol):
    @property
    def team_id(self) -> UUID: ...
    @property
    def active(self) -> bool: ...
    @property
    def joined_on(self) -> date | None: ...
    @property
    def area_id(self) -> UUID | None: ...
    @property
    def full_name(self) -> str | None: ...


def settled_person(memberships: Iterable[Membership]) -> tuple[UUID, str] | None:
    """A person's area and name: those of their latest join, preferring teams they are
    still on. Chosen from the memberships as they stand, not from the last event handled:
    teams travel on different partitions, so joins may come in any order."""
    announced = [
        (m.active, m.joined_on or date.min, str(m.team_id), m.area_id, m.full_name)
        for m in memberships
        if m.area_id is not None and m.full_name
    ]
    if not announced:
        return None
    *_, area_id, full_name = max(announced)
    return area_id, full_name


class Incident(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def area_id(self) -> UUID: ...
    @property
    def source(self) -> str | None: ...
    @property
    def category_group(self) -> str | None: ...
    @property
    def duplicate_of(self) -> UUID | None: ...
    @property
    def credited_team_ids(self) -> list[str]: ...


@dataclass(frozen=True)
class IncidentState:
    """An incident as one event left it (the read model's row changes with later events)."""

    id: UUID
    area_id: UUID
    source: str | None
    category_group: str | None
    duplicate_of: UUID | None
    credited_team_ids: tuple[UUID, ...]

    @classmethod
    def of(cls, incident: "Incident") -> "IncidentState":
        return cls(
            incident.id,
            incident.area_id,
            incident.source,
            incident.category_group,
            incident.duplicate_of,
            tuple(UUID(team) for team in incident.credited_team_ids),
        )
