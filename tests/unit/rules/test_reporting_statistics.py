"""Reporting's statistics rules on plain values: calendar, periods, the press's arithmetic
and which tallied incidents count where."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.statistics.rules import (
    DAY,
    DUPLICATE,
    MAX_PERIOD_DAYS,
    MONTH,
    Periods,
    buckets,
    check_period,
    count_activities,
    count_incidents,
    local_day,
    moved_counts,
    percent_change,
    period_parts,
    roll_up,
    share_percent,
    tallied_status,
    year_earlier,
)
from shared.errors import RuleViolationError
from shared.events import IncidentStatus

VIETNAM = timezone(timedelta(hours=7))
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31))
counts = st.integers(min_value=0, max_value=10**6)


def test_a_day_is_the_statistics_calendar_day():
    late = datetime(2024, 3, 31, 17, 30, tzinfo=UTC)
    assert local_day(late, VIETNAM) == date(2024, 4, 1)
    assert local_day(late, UTC) == date(2024, 3, 31)


@given(days)
def test_every_record_is_counted_in_its_day_and_its_month(day):
    assert buckets(day) == [(DAY, day), (MONTH, day.replace(day=1))]


@given(days)
def test_a_year_earlier_is_the_same_date_or_28_february(day):
    earlier = year_earlier(day)
    assert earlier.year == day.year - 1 and earlier.month == day.month
    assert earlier.day == day.day or (day.month, day.day, earlier.day) == (2, 29, 28)
    assert year_earlier(date(2024, 2, 29)) == date(2023, 2, 28)


@given(days, st.integers(min_value=0, max_value=800))
def test_period_parts_cover_the_period_exactly_once(start, length):
    end = start + timedelta(days=length)
    covered: list[date] = []
    for span, first, last in period_parts(start, end):
        if span == DAY:
            covered += [first + timedelta(days=i) for i in range((last - first).days + 1)]
        else:
            assert first.day == 1 and last.day == 1  # month rows: first days of months
            month = first
            while month <= last:
                following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
                covered += [month + timedelta(days=i) for i in range((following - month).days)]
                month = following
    assert sorted(covered) == [start + timedelta(days=i) for i in range(length + 1)]
    assert len(period_parts(start, end)) <= 3


def test_the_previous_period_is_the_same_dates_a_year_earlier():
    assert Periods(date(2024, 1, 1), date(2024, 2, 29)).previous == Periods(
        date(2023, 1, 1), date(2023, 2, 28)
    )


def test_a_period_ends_after_it_starts_and_spans_at_most_20_years():
    check_period(None, date(2024, 1, 1))
    check_period(date(2024, 1, 1), date(2024, 1, 1))
    with pytest.raises(RuleViolationError) as backwards:
        check_period(date(2024, 1, 2), date(2024, 1, 1))
    assert backwards.value.loc == ["query", "to"]
    with pytest.raises(RuleViolationError):
        check_period(date(2000, 1, 1), date(2000, 1, 1) + timedelta(days=MAX_PERIOD_DAYS + 1))


def test_percent_change_rounds_half_away_from_zero():
    assert percent_change(5, 18) == -72
    assert percent_change(9, 8) == 13  # +12.5 %
    assert percent_change(7, 8) == -13  # −12.5 %
    assert percent_change(3, 0) is None
    assert percent_change(Decimal("1.5"), Decimal("1")) == 50


@given(counts, st.integers(min_value=1, max_value=10**6))
def test_percent_change_has_the_sign_of_the_change_and_never_falls_below_minus_100(
    current, previous
):
    change = percent_change(current, previous)
    assert change is not None and change >= -100
    assert (change > 0) <= (current > previous) and (change < 0) <= (current < previous)
    assert abs(change - (current - previous) * 100 / previous) <= 0.5


@given(counts, counts)
def test_percent_change_is_monotonic_in_the_current_count(a, b):
    previous = 37
    low, high = sorted((a, b))
    assert percent_change(low, previous) <= percent_change(high, previous)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_share_solved_is_a_percent_with_one_decimal(part, extra):
    whole = part + extra
    share = share_percent(part, whole)
    if whole == 0:
        assert share is None
    else:
        assert share is not None and Decimal(0) <= share <= Decimal(100)
        assert share == share.quantize(Decimal("0.1"))
        assert abs(share - Decimal(part) * 100 / Decimal(whole)) <= Decimal("0.05")
    assert share_percent(1, 3) == Decimal("33.3") and share_percent(2, 3) == Decimal("66.7")


GROUPS = {"theft": "crime", "fraud": "crime", "dispute": "public_order"}
tally_statuses = st.sampled_from([*(s.value for s in IncidentStatus), DUPLICATE])
tallied = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        # (group, category), and one no longer configured
        st.sampled_from([*((g, c) for c, g in GROUPS.items()), ("old_group", "old_category")]),
        tally_statuses,
        st.integers(min_value=0, max_value=1000),
    ).map(lambda row: (row[0], (*row[1], row[2]), row[3]))
)


@given(tallied)
def test_incident_figures_add_up_and_leave_out_dismissed_and_duplicates(found):
    counts = count_incidents(found, GROUPS)
    for period in (0, 1):
        listed = sum(count for p, _, count in found if p == period)
        counted = sum(
            count
            for p, (_, _, status), count in found
            if p == period and status not in (IncidentStatus.DISMISSED.value, DUPLICATE)
        )
        assert sum(v[period] for v in counts.by_status.values()) + counts.duplicates[period] == (
            listed
        )
        assert counts.total[period] == counted
        assert sum(v[period] for v in counts.by_group.values()) == counted
        assert sum(v[period] for _, v in counts.by_category.values()) == counted
        assert 0 <= counts.solved[period] <= counts.total[period]
    assert set(GROUPS) <= set(counts.by_category) and DUPLICATE not in counts.by_status
    assert {s.value for s in IncidentStatus} <= set(counts.by_status)


def test_solved_are_resolved_mediated_or_referred():
    found = [
        (0, ("crime", "theft", "resolved"), 3),
        (0, ("crime", "theft", "mediated"), 1),
        (0, ("crime", "fraud", "referred"), 1),
        (0, ("crime", "fraud", "verified"), 5),
        (1, ("crime", "theft", "dismissed"), 4),
    ]
    counts = count_incidents(found, GROUPS)
    assert counts.solved == [5, 0] and counts.total == [10, 0]
    assert counts.by_category["theft"] == ("crime", [4, 0])
    assert counts.by_status["dismissed"] == [0, 4]


class Kind:
    def __init__(self, measures: dict[str, str], outcomes: list[str]) -> None:
        self.measures, self.outcomes = measures, outcomes
        self.free_items = self.topic = self.incident_link = False


def test_activity_counts_show_every_configured_type_in_catalogue_order():
    types = {
        "patrol": Kind({"patrols": "count"}, []),
        "mediation": Kind({"cases": "count"}, ["successful", "unsuccessful"]),
    }
    records = [
        (0, ("mediation", "successful"), 2),
        (1, ("mediation", "unsuccessful"), 1),
        (0, ("retired_type", ""), 4),
    ]
    quantities = [(0, ("mediation", "cases", "count"), 3000)]
    counts = count_activities(records, quantities, types)
    assert [c.activity_type for c in counts] == ["patrol", "mediation", "retired_type"]
    patrol, mediation, retired = counts
    assert patrol.activities == [0, 0] and patrol.measures == {("patrols", "count"): [0, 0]}
    assert mediation.activities == [2, 1]
    assert mediation.outcomes == {"successful": [2, 0], "unsuccessful": [0, 1]}
    assert mediation.measures == {("cases", "count"): [3000, 0]}
    assert retired.activities == [4, 0] and retired.outcomes == {}


areas = st.integers(min_value=0, max_value=12)
chains_of = st.lists(areas, max_size=5, unique=True)


@given(area=areas, old_chain=chains_of, new_chain=chains_of)
def test_a_moved_area_leaves_its_old_ancestors_and_joins_its_new_ones(area, old_chain, new_chain):
    moves = moved_counts(area, old_chain, new_chain)
    if area in old_chain or area in new_chain:
        assert moves == []  # a cycle from a faulty feed moves nothing
        return
    holding = {target: 1 for target in old_chain}
    for target, sign in moves:
        holding[target] = holding.get(target, 0) + sign
    assert {target for target, held in holding.items() if held} == set(new_chain)
    assert all(held in (0, 1) for held in holding.values())
    back = moved_counts(area, new_chain, old_chain)
    assert sorted(back) == sorted((target, -sign) for target, sign in moves)


@given(
    st.dictionaries(
        st.tuples(areas, days, st.sampled_from(["theft", "fraud"])),
        st.integers(min_value=1, max_value=50),
        max_size=8,
    ),
    st.dictionaries(areas, chains_of, min_size=13, max_size=13),
)
def test_rolling_up_counts_each_record_in_every_ancestor_day_and_month(counts, chains):
    rolled = roll_up(counts, chains)
    for area_id, day, category in counts:
        for ancestor in chains[area_id]:
            assert rolled[(ancestor, DAY, day, category)] >= counts[(area_id, day, category)]
    expected = sum(count * len(chains[key[0]]) * 2 for key, count in counts.items())
    assert sum(rolled.values()) == expected


def test_a_duplicate_is_tallied_apart_whatever_its_status():
    assert tallied_status("resolved", None) == "resolved"
    assert tallied_status("resolved", "someone") == DUPLICATE
