"""The rules awards' copies settle member events by, on plain values: whatever order the
joins come in, the same membership and the same person."""

import uuid
from dataclasses import dataclass
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.awards.replicas.rules import (
    IncidentState,
    membership_id,
    rejoined_since,
    settled_person,
)

days = st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))


@dataclass
class Membership:
    team_id: uuid.UUID
    active: bool
    joined_on: date | None
    area_id: uuid.UUID | None
    full_name: str | None


memberships = st.builds(
    Membership,
    team_id=st.uuids(),
    active=st.booleans(),
    joined_on=days,
    area_id=st.one_of(st.none(), st.uuids()),
    full_name=st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=8)),
)


@given(st.uuids(), st.uuids(), st.sampled_from(["member", "leader"]))
def test_one_membership_per_team_person_and_role(team, person, role):
    assert membership_id(team, person, role) == membership_id(team, person, role)
    other_role = "leader" if role == "member" else "member"
    assert membership_id(team, person, role) != membership_id(team, person, other_role)
    assert membership_id(team, person, role) != membership_id(person, team, role)


@given(days, days)
def test_a_rejoin_covers_the_first_days_whichever_join_comes_first(earlier, joined):
    assert rejoined_since(earlier, joined) == rejoined_since(joined, earlier)
    since = rejoined_since(earlier, joined)
    if earlier is None or joined is None:
        assert since is None  # since ever
    else:
        assert since == min(earlier, joined)


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(st.lists(memberships, max_size=6), st.randoms())
def test_a_person_settles_the_same_whatever_order_the_joins_came_in(held, random):
    shuffled = list(held)
    random.shuffle(shuffled)
    assert settled_person(shuffled) == settled_person(held)


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(st.lists(memberships, max_size=6))
def test_a_person_s_area_and_name_come_from_a_join_that_announced_them(held):
    settled = settled_person(held)
    announced = [(m.area_id, m.full_name) for m in held if m.area_id and m.full_name]
    if not announced:
        assert settled is None
    else:
        assert settled in announced


def test_a_team_still_on_wins_over_a_later_join_the_person_left():
    left = Membership(uuid.uuid4(), False, date(2025, 6, 1), uuid.uuid4(), "Later")
    on = Membership(uuid.uuid4(), True, date(2020, 1, 1), uuid.uuid4(), "Still on")
    assert settled_person([left, on]) == (on.area_id, "Still on")


def test_an_incident_s_state_is_a_copy_with_the_teams_as_ids():
    @dataclass
    class Row:
        id: uuid.UUID
        area_id: uuid.UUID
        source: str | None
        category_group: str | None
        duplicate_of: uuid.UUID | None
        credited_team_ids: list[str]

    team = uuid.uuid4()
    row = Row(uuid.uuid4(), uuid.uuid4(), "resident_tip", "theft", None, [str(team)])
    state = IncidentState.of(row)
    row.credited_team_ids.append(str(uuid.uuid4()))  # later events change the row, not it
    assert state.credited_team_ids == (team,)
    assert (state.id, state.area_id, state.source) == (row.id, row.area_id, "resident_tip")
