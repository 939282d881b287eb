"""Area summary rules as plain functions: counter keys, how presence moves the distinct-
member counters, what a subtree's move changes, and the comparison with a recount."""

import itertools
from collections import Counter
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.summaries.rules import (
    EVERY_KIND,
    differences,
    distinct_changes,
    kind_change_deltas,
    line_of,
    members_key,
    moved_counters,
    presence_deltas,
    teams_key,
    uncatalogued_kinds,
    without_common,
)

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

ids = st.uuids()
kinds = st.sampled_from(["civil_defence", "mediation", "security_order"])


def test_counter_keys():
    assert teams_key("mediation") == "teams:mediation"
    assert members_key(EVERY_KIND) == "members"
    assert members_key("mediation") == "members:mediation"


def test_kinds_no_longer_catalogued_still_show():
    counts = ["teams:mediation", "teams:river_watch", "members", "cameras"]
    assert uncatalogued_kinds({"mediation"}, counts) == ["river_watch"]


@QUICK
@given(
    st.lists(ids, max_size=4, unique=True),
    kinds,
    st.lists(ids, max_size=4, unique=True),
    st.sampled_from([-1, 1]),
)
def test_presence_counts_each_person_in_each_area_overall_and_by_kind(chain, kind, people, delta):
    deltas = presence_deltas(chain, kind, people, delta)
    assert len(deltas) == len(chain) * len(people) * 2
    assert set(deltas.values()) <= {delta}
    assert {key for _, key, _ in deltas} <= {EVERY_KIND, kind}


@QUICK
@given(st.lists(ids, max_size=4, unique=True), st.lists(ids, max_size=4, unique=True))
def test_a_kind_change_keeps_overall_presence(chain, people):
    deltas = kind_change_deltas(chain, "mediation", "civil_defence", people)
    assert sum(deltas.values()) == 0
    assert all(key != EVERY_KIND for _, key, _ in deltas)


@st.composite
def presence_changes(
    draw: st.DrawFn,
) -> tuple[dict[tuple[UUID, str, UUID], int], list[tuple[UUID, str, UUID, int]], dict]:
    """Presence before, the deltas applied, and the rows after, as the upsert returns them."""
    areas = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    people = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    before: dict[tuple[UUID, str, UUID], int] = {}
    deltas: dict[tuple[UUID, str, UUID], int] = {}
    for area in areas:
        for person in people:
            for key in (EVERY_KIND, "mediation"):
                had = draw(st.integers(0, 3))
                change = draw(st.integers(-had, 3))
                if had:
                    before[(area, key, person)] = had
                if change:
                    deltas[(area, key, person)] = change
    rows = [
        (area, key, person, before.get((area, key, person), 0) + change)
        for (area, key, person), change in deltas.items()
    ]
    return before, rows, deltas


@QUICK
@given(presence_changes())
def test_distinct_members_move_by_people_arriving_and_leaving(change):
    before, rows, deltas = change
    distinct, emptied = distinct_changes(rows, deltas)
    expected: Counter[tuple[UUID, str]] = Counter()
    for area, key, person, now in rows:
        had = before.get((area, key, person), 0)
        expected[(area, members_key(key))] += (now > 0) - (had > 0)
    assert {k: v for k, v in distinct.items() if v} == {k: v for k, v in expected.items() if v}
    assert emptied == {area for area, _, _, now in rows if now == 0}


def test_negative_presence_is_a_bug():
    area, person = uuid4(), uuid4()
    with pytest.raises(RuntimeError, match="negative presence"):
        distinct_changes([(area, EVERY_KIND, person, -1)], {(area, EVERY_KIND, person): -2})


@QUICK
@given(
    st.lists(ids, max_size=5, unique=True),
    st.lists(ids, max_size=5, unique=True),
    st.lists(ids, max_size=3, unique=True),
)
def test_a_move_leaves_common_ancestors_alone(leaving, joining, common):
    left, joined = without_common(leaving + common, joining + common)
    assert not set(left) & set(joined)
    assert set(left) == set(leaving) - set(joining) - set(common)
    assert set(joined) == set(joining) - set(leaving) - set(common)


@QUICK
@given(
    st.dictionaries(
        st.sampled_from(
            ["teams:mediation", "cameras", "initiatives", "members", "members:mediation"]
        ),
        st.integers(1, 9),
    ),
    st.lists(ids, max_size=3, unique=True),
    st.lists(ids, max_size=3, unique=True),
)
def test_a_moved_subtree_takes_its_totals_but_not_its_distinct_members(tallies, leaving, joining):
    leaving, joining = without_common(leaving, joining)
    moved = moved_counters(tallies.items(), leaving, joining)
    assert all(not key.startswith("members") for _, key in moved)
    assert sum(moved.values()) == sum(
        value for key, value in tallies.items() if not key.startswith("members")
    ) * (len(joining) - len(leaving))


@QUICK
@given(st.lists(ids, min_size=1, max_size=6, unique=True))
def test_the_line_walks_up_to_the_top_and_stops_at_a_repeat(areas):
    parents = {child: parent for child, parent in itertools.pairwise(areas)}
    assert line_of(parents, areas[0]) == areas
    parents[areas[-1]] = areas[0]  # a cycle from a faulty feed
    assert line_of(parents, areas[0]) == areas
    assert line_of(parents, None) == []


counts = st.dictionaries(
    ids,
    st.dictionaries(
        st.sampled_from(["teams:a", "members", "cameras"]), st.integers(1, 5), max_size=3
    ),
    max_size=3,
)


@QUICK
@given(counts)
def test_counters_that_match_a_recount_have_no_differences(kept):
    assert differences(kept, kept) == []


@QUICK
@given(counts, counts)
def test_differences_are_symmetric_and_name_both_values(kept, recounted):
    found = differences(kept, recounted)
    assert [(a, k, r, h) for a, k, h, r in found] == differences(recounted, kept)
    for area, key, have, want in found:
        assert have != want
        assert kept.get(area, {}).get(key, 0) == have
        assert recounted.get(area, {}).get(key, 0) == want
