"""Reporting's catalogue rules on plain values: a category's group, a configured type."""

import re
from dataclasses import dataclass, field
from datetime import UTC

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.catalogue.rules import (
    CATALOGUE_NAME,
    Catalogue,
    activity_type_problem,
    category_group,
)
from shared.errors import UnknownReferenceError
from shared.events import AreaLevel


@dataclass(frozen=True)
class Kind:
    measures: dict[str, str] = field(default_factory=dict)
    free_items: bool = False
    outcomes: list[str] = field(default_factory=list)
    topic: bool = False
    incident_link: bool = False


def catalogue(groups: dict[str, str]) -> Catalogue:
    return Catalogue(groups, {}, [], [], [AreaLevel.WARD], UTC, "UTC")


# Catalogue names, kept short: long ones add nothing but time.
names = st.from_regex(r"^[a-z][a-z0-9_]{0,7}$", fullmatch=True)


@given(st.dictionaries(names, names, min_size=1, max_size=5), names)
def test_a_category_is_counted_in_its_configured_group(groups, other):
    accepted = catalogue(groups)
    for category, group in groups.items():
        assert category_group(accepted, category) == group
    if other not in groups:
        with pytest.raises(UnknownReferenceError) as unknown:
            category_group(accepted, other)
        assert unknown.value.loc == ["body", "category"]
        assert all(category in unknown.value.message for category in groups)


@given(names)
def test_a_catalogue_name_with_fixed_or_free_items_is_fine(kind):
    assert activity_type_problem(kind, Kind({"sessions": "count"})) is None
    assert activity_type_problem(kind, Kind(free_items=True)) is None
    assert activity_type_problem(kind, Kind({"a": "b"}, free_items=True)) is not None


@given(st.text(max_size=70))
def test_a_type_that_is_not_a_catalogue_name_is_refused(kind):
    problem = activity_type_problem(kind, Kind())
    assert (problem is None) == bool(re.fullmatch(CATALOGUE_NAME, kind))
