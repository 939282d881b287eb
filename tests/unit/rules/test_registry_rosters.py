"""Roster change rules as plain functions: leaves, role changes and joins applied to a
roster of plain entries, the order a roster is shown in, and a single change's error places."""

import itertools
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.rosters.rules import (
    add_joins,
    change_roles,
    check_member_reference,
    check_some_change,
    roster_order,
    single_change_loc,
    take_leaves,
)
from services.registry.teams.rules import RosterEntry
from shared.errors import RuleViolationError
from shared.events import TeamRole

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

DAY = date(2026, 3, 1)
roles = st.sampled_from(list(TeamRole))


def entry(name: str, role: TeamRole = TeamRole.MEMBER, joined: date = DAY) -> RosterEntry:
    return RosterEntry(name, role, None, joined)


@st.composite
def rosters(draw: st.DrawFn) -> dict[int, RosterEntry]:
    size = draw(st.integers(min_value=0, max_value=8))
    return {person: entry(f"p{person}", draw(roles)) for person in range(size)}


@QUICK
@given(rosters(), st.data())
def test_leaving_members_are_taken_off_in_order(roster, data):
    leaves = data.draw(
        st.lists(st.sampled_from(sorted(roster)), unique=True) if roster else st.just([])
    )
    before = dict(roster)
    assert take_leaves(roster, leaves, DAY) == leaves
    assert set(roster) == set(before) - set(leaves)
    assert all(roster[person] == before[person] for person in roster)


@QUICK
@given(rosters())
def test_a_member_leaves_once_and_only_a_member_leaves(roster):
    stranger = len(roster)
    with pytest.raises(RuleViolationError) as refused:
        take_leaves(roster, [stranger], DAY)
    assert refused.value.loc == ["body", "leaves", 0]
    if roster:
        person = next(iter(roster))
        with pytest.raises(RuleViolationError) as twice:
            take_leaves(roster, [person, person], DAY)
        assert twice.value.loc == ["body", "leaves", 1]


@QUICK
@given(st.integers(min_value=-30, max_value=30))
def test_nobody_leaves_before_joining(offset):
    joined = DAY
    roster = {1: entry("Lan", joined=joined)}
    leaving_on = joined + timedelta(days=offset)
    if offset < 0:
        with pytest.raises(RuleViolationError, match=r"effective_on is before Lan joined"):
            take_leaves(roster, [1], leaving_on)
    else:
        assert take_leaves(roster, [1], leaving_on) == [1]


@QUICK
@given(rosters(), st.data())
def test_a_role_change_gives_a_new_role_from_the_day(roster, data):
    if not roster:
        return
    person = data.draw(st.sampled_from(sorted(roster)))
    role = data.draw(roles)
    old = roster[person]
    if role is old.role:
        with pytest.raises(RuleViolationError, match=f"already the team's {role.value}"):
            change_roles(roster, [(person, role)], DAY)
        return
    later = DAY + timedelta(days=3)
    assert change_roles(roster, [(person, role)], later) == [(person, role)]
    assert roster[person] == RosterEntry(old.name, role, old.birth_date, later)


def test_a_role_change_is_for_a_current_member():
    with pytest.raises(RuleViolationError) as refused:
        change_roles({}, [(7, TeamRole.LEADER)], DAY)
    assert refused.value.loc == ["body", "role_changes", 0]


@QUICK
@given(rosters(), st.integers(min_value=0, max_value=4))
def test_joins_add_new_people_and_refuse_serving_ones(roster, new):
    joining = [
        (100 + n, RosterEntry(f"n{n}", TeamRole.MEMBER, None, DAY, ["joins", n]))
        for n in range(new)
    ]
    size = len(roster)
    add_joins(roster, joining)
    assert len(roster) == size + new
    if roster:
        person = next(iter(roster))
        with pytest.raises(RuleViolationError, match="rule one_membership") as refused:
            add_joins(
                roster, [(person, RosterEntry("again", TeamRole.MEMBER, None, DAY, ["joins", 0]))]
            )
        assert refused.value.loc == ["joins", 0]


@QUICK
@given(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2))
def test_a_roster_change_changes_something(leaves, role_changes, joins):
    if leaves or role_changes or joins:
        check_some_change(leaves, role_changes, joins)
    else:
        with pytest.raises(RuleViolationError, match="nothing to change"):
            check_some_change(leaves, role_changes, joins)


def test_a_member_is_an_existing_person_or_a_new_one():
    check_member_reference(True, None, None, ["members", 0])
    check_member_reference(False, "Lan", None, ["members", 0])
    with pytest.raises(RuleViolationError, match="give either person_id"):
        check_member_reference(True, "Lan", None, ["members", 0])
    with pytest.raises(RuleViolationError) as refused:
        check_member_reference(False, None, DAY, ["members", 0])
    assert refused.value.loc == ["members", 0, "full_name"]


@QUICK
@given(st.lists(st.tuples(roles, st.text(max_size=5), st.uuids()), max_size=10))
def test_rosters_show_the_leader_then_deputies_then_members(rows):
    shown = sorted(rows, key=lambda row: roster_order(*row))
    ranks = [
        [TeamRole.LEADER, TeamRole.DEPUTY, TeamRole.MEMBER].index(role) for role, _, _ in shown
    ]
    assert ranks == sorted(ranks)
    for (role_a, name_a, _), (role_b, name_b, _) in itertools.pairwise(shown):
        if role_a is role_b:
            assert name_a <= name_b


@QUICK
@given(
    st.lists(st.one_of(st.text(max_size=8), st.integers(0, 3)), max_size=5),
    st.sampled_from(["joined_on", "left_on"]),
)
def test_a_single_change_points_at_its_own_fields(loc, date_field):
    moved = single_change_loc(list(loc), date_field)
    if loc == ["body", "effective_on"]:
        assert moved == ["body", date_field]
    elif loc[:3] in (["body", "joins", 0], ["body", "leaves", 0]):
        assert moved == ["body", *loc[3:]]
    else:
        assert moved == loc


def test_single_change_examples():
    person: UUID = uuid4()
    assert single_change_loc(["body", "joins", 0, "birth_date"], "joined_on") == [
        "body",
        "birth_date",
    ]
    assert single_change_loc(["body", "leaves", 0], "left_on") == ["body"]
    assert single_change_loc(["body", "effective_on"], "left_on") == ["body", "left_on"]
    assert single_change_loc(["body", str(person)], "left_on") == ["body", str(person)]
