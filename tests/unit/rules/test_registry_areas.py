"""Area tree rules as plain functions: which level may hold which, what an update must
give, and where a move may go."""

from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.areas.rules import (
    LEVEL_RANK,
    check_area_changes,
    check_level,
    check_move,
    may_hold,
)
from shared.errors import ConflictError, RuleViolationError
from shared.events import AreaLevel

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

levels = st.sampled_from(list(AreaLevel))


@QUICK
@given(levels)
def test_no_level_holds_itself(level):
    assert not may_hold(level, level)


@QUICK
@given(levels, levels)
def test_holding_is_antisymmetric(parent, child):
    assert not (may_hold(parent, child) and may_hold(child, parent))


@QUICK
@given(levels, levels, levels)
def test_holding_is_transitive(top, middle, bottom):
    if may_hold(top, middle) and may_hold(middle, bottom):
        assert may_hold(top, bottom)


def test_the_tree_runs_province_district_ward_or_commune_group():
    assert may_hold(AreaLevel.PROVINCE, AreaLevel.DISTRICT)
    assert may_hold(AreaLevel.DISTRICT, AreaLevel.WARD)
    assert may_hold(AreaLevel.DISTRICT, AreaLevel.COMMUNE)
    assert may_hold(AreaLevel.COMMUNE, AreaLevel.RESIDENTIAL_GROUP)
    assert not may_hold(AreaLevel.WARD, AreaLevel.COMMUNE)  # the same rank
    assert set(LEVEL_RANK) == set(AreaLevel)


@QUICK
@given(levels, st.one_of(st.none(), levels))
def test_check_level_refuses_exactly_what_may_not_nest(child, parent):
    if parent is None or may_hold(parent, child):
        check_level(child, parent, ["body", "level"])
    else:
        with pytest.raises(RuleViolationError) as refused:
            check_level(child, parent, ["body", "level"])
        assert refused.value.loc == ["body", "level"]
        assert refused.value.message.startswith(
            f"rule level_order: a {child.value} cannot be placed under a {parent.value}"
        )


def test_an_update_gives_something_and_never_a_null_name():
    check_area_changes({"households": None})
    with pytest.raises(RuleViolationError, match="nothing to change"):
        check_area_changes({})
    with pytest.raises(RuleViolationError) as refused:
        check_area_changes({"name": None})
    assert refused.value.loc == ["body", "name"]


@QUICK
@given(st.sets(st.uuids(), min_size=1, max_size=5), st.one_of(st.none(), st.uuids()), st.data())
def test_an_area_never_moves_into_its_own_subtree(subtree, parent, data):
    target = data.draw(st.sampled_from(sorted(subtree, key=str)))
    with pytest.raises(RuleViolationError, match="rule no_cycle"):
        check_move("X", parent, target, subtree, ["body", "parent_id"])


@QUICK
@given(st.one_of(st.none(), st.uuids()))
def test_a_move_goes_somewhere_else(parent):
    subtree = {uuid4()}
    with pytest.raises(ConflictError, match="area 'X' is already there"):
        check_move("X", parent, parent, subtree, ["body", "parent_id"])


@QUICK
@given(st.one_of(st.none(), st.uuids()), st.one_of(st.none(), st.uuids()))
def test_a_move_elsewhere_outside_the_subtree_is_allowed(parent, new_parent):
    if parent != new_parent:
        check_move("X", parent, new_parent, {uuid4()}, ["body", "parent_id"])
