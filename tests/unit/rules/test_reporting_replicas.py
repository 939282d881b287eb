"""Reporting's rules on the areas and teams a record names, on plain values."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.replicas.rules import (
    TeamStatus,
    check_creditable,
    check_record_level,
    first_of_each,
)
from shared.errors import RuleViolationError, UnknownReferenceError
from shared.events import AreaLevel

levels = st.sampled_from(list(AreaLevel))


@given(level=levels, kept=st.lists(levels, min_size=1, unique=True))
def test_records_are_kept_only_at_the_configured_levels(level, kept):
    if level in kept:
        check_record_level(level, kept)
    else:
        with pytest.raises(RuleViolationError) as refused:
            check_record_level(level, kept)
        assert refused.value.loc == ["body", "area_id"]
        assert refused.value.message.endswith(f"this area is a {level}")


def test_an_area_of_unknown_level_is_refused():
    with pytest.raises(RuleViolationError):
        check_record_level(None, [AreaLevel.WARD])


def test_only_an_active_team_is_credited():
    team = uuid.uuid4()
    check_creditable(TeamStatus.ACTIVE.value, team, 0)
    with pytest.raises(UnknownReferenceError) as refused:
        check_creditable(TeamStatus.DISSOLVED.value, team, 3)
    assert refused.value.loc == ["body", "team_ids", 3]
    assert refused.value.message.startswith(f"dissolved team {team}")


@given(st.lists(st.integers(min_value=0, max_value=9)))
def test_each_team_is_credited_once_in_the_order_first_named(values):
    once = first_of_each(values)
    assert len(once) == len(set(once)) and set(once) == set(values)
    assert once == sorted(once, key=values.index)
    assert first_of_each(once) == once
