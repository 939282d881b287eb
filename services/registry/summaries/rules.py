"""Area summary rules: the counters' keys, how a person's presence moves the distinct-member
counters, what a subtree's move changes, and how kept counters differ from a recount."""

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from uuid import UUID

EVERY_KIND = "*"
CAMERAS = "cameras"
INITIATIVES = "initiatives"

Counts = dict[UUID, dict[str, int]]  # area → key → value
PresenceChange = tuple[UUID, str, UUID]  # area, key, person
Presence = dict[PresenceChange, int]


def teams_key(kind: str) -> str:
    return f"teams:{kind}"


def members_key(kind: str) -> str:
    return "members" if kind == EVERY_KIND else f"members:{kind}"


def uncatalogued_kinds(catalogue: Collection[str], counts: Iterable[str]) -> list[str]:
    """Kinds with team counters but no longer in the catalogue: their teams still show."""
    return [key[6:] for key in counts if key.startswith("teams:") and key[6:] not in catalogue]


def presence_deltas(
    chain: Sequence[UUID], kind: str, people: Sequence[UUID], delta: int
) -> Presence:
    """``people`` gain (``delta`` > 0) or lose a membership of a team of ``kind`` in each
    area of ``chain``, overall and for that kind."""
    return {
        (area, key, person): delta
        for person in people
        for area in chain
        for key in (EVERY_KIND, kind)
    }


def kind_change_deltas(
    chain: Sequence[UUID], old: str, new: str, people: Sequence[UUID]
) -> Presence:
    """A team's members move from kind ``old`` to ``new`` (overall presence stays)."""
    return {(area, old, person): -1 for person in people for area in chain} | {
        (area, new, person): 1 for person in people for area in chain
    }


def distinct_changes(
    rows: Iterable[tuple[UUID, str, UUID, int]], deltas: Mapping[PresenceChange, int]
) -> tuple[dict[tuple[UUID, str], int], set[UUID]]:
    """From each (area, key, person) presence after ``deltas`` were added: the changes to the
    distinct-member counters (a person's first membership in an area, 0 → n, adds one;
    their last, n → 0, takes one off) and the areas left with emptied presence rows."""
    distinct: dict[tuple[UUID, str], int] = defaultdict(int)
    emptied: set[UUID] = set()
    for area, key, person, now in rows:
        delta = deltas[(area, key, person)]
        if now < 0:
            raise RuntimeError(f"negative presence of {person} in {area}")
        if now == 0:
            distinct[(area, members_key(key))] -= 1
            emptied.add(area)
        elif now == delta and delta > 0:
            distinct[(area, members_key(key))] += 1
    return distinct, emptied


def without_common(
    leaving: Sequence[UUID], joining: Sequence[UUID]
) -> tuple[list[UUID], list[UUID]]:
    """A subtree moving from under ``leaving`` to under ``joining`` changes neither's
    common ancestors."""
    common = set(leaving) & set(joining)
    return [a for a in leaving if a not in common], [a for a in joining if a not in common]


def moved_counters(
    tallies: Iterable[tuple[str, int]], leaving: Sequence[UUID], joining: Sequence[UUID]
) -> dict[tuple[UUID, str], int]:
    """A moved subtree's totals, taken off the areas it left and added to those it joined."""
    moved: dict[tuple[UUID, str], int] = {}
    for key, value in tallies:
        if key.startswith("members"):
            continue  # distinct people follow from presence instead
        moved |= {(area, key): -value for area in leaving}
        moved |= {(area, key): value for area in joining}
    return moved


def line_of(parents: Mapping[UUID, UUID | None], area_id: UUID | None) -> list[UUID]:
    """``area_id`` and the areas above it, nearest first (a repeat ends the walk)."""
    found: list[UUID] = []
    while area_id is not None and area_id not in found:
        found.append(area_id)
        area_id = parents.get(area_id)
    return found


def differences(kept: Counts, recounted: Counts) -> list[tuple[UUID, str, int, int]]:
    """(area, key, kept, recounted) for each counter the two disagree on, sorted."""
    return sorted(
        (area, key, kept.get(area, {}).get(key, 0), recounted.get(area, {}).get(key, 0))
        for area in set(recounted) | set(kept)
        for key in set(recounted.get(area, {})) | set(kept.get(area, {}))
        if kept.get(area, {}).get(key, 0) != recounted.get(area, {}).get(key, 0)
    )
