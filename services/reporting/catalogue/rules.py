"""The catalogue as a plain value and its checks: a category's group, a configured
activity type's consistency."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Protocol

from shared.errors import UnknownReferenceError
from shared.events import AreaLevel

# Names of catalogue entries (categories, activity types, measured items, units).
CATALOGUE_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class ActivityKind(Protocol):
    """What the rules read of one activity type (``ActivityTypeSpec`` in the settings)."""

    @property
    def measures(self) -> Mapping[str, str]: ...
    @property
    def free_items(self) -> bool: ...
    @property
    def outcomes(self) -> Sequence[str]: ...
    @property
    def topic(self) -> bool: ...
    @property
    def incident_link(self) -> bool: ...


@dataclass(frozen=True)
class Catalogue:
    """What reporting accepts, from the settings (ops may add entries)."""

    category_groups: Mapping[str, str]
    activity_types: Mapping[str, ActivityKind]
    units: Sequence[str]
    whole_units: Sequence[str]
    area_levels: Sequence[AreaLevel]
    zone: tzinfo
    zone_name: str

    @property
    def categories(self) -> list[str]:
        return list(self.category_groups)

    def today(self) -> date:
        return datetime.now(self.zone).date()


def category_group(catalogue: Catalogue, category: str) -> str:
    """The group a category is counted in; an unknown category is 422 naming the known."""
    group = catalogue.category_groups.get(category)
    if group is None:
        raise UnknownReferenceError(
            f"unknown category {category!r}; one of {', '.join(catalogue.categories)}",
            ["body", "category"],
        )
    return group


def activity_type_problem(kind: str, spec: ActivityKind) -> str | None:
    """What is wrong with a configured activity type, or None: its name must be a
    catalogue name, and its items either fixed or free, not both."""
    if not re.fullmatch(CATALOGUE_NAME, kind):
        return f"activity type {kind!r} must match {CATALOGUE_NAME}"
    if spec.free_items and spec.measures:
        return f"activity type {kind!r}: free items or fixed measures"
    return None
