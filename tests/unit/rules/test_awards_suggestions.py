"""The rules of suggested nominations, on plain values: which thresholds a period's total
reaches, and the subjects and periods an event's points touch."""

import uuid
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from services.awards.scores.rules import Period, ScoreSubject
from services.awards.suggestions.rules import (
    DEFAULT_THRESHOLDS,
    SuggestionThreshold,
    Touched,
    acceptance_reason,
    period_key,
    reached,
    unique_periods,
)

thresholds = st.lists(
    st.builds(
        SuggestionThreshold,
        points=st.integers(min_value=1, max_value=500),
        award_form=st.just("giay_khen"),
        authority=st.just("ward_committee"),
    ),
    max_size=5,
).map(lambda found: sorted(found, key=lambda threshold: threshold.points))
totals = st.integers(min_value=-10, max_value=600)


@given(totals, thresholds)
def test_a_total_reaches_exactly_the_thresholds_at_or_below_it(total, sorted_thresholds):
    assert list(reached(total, sorted_thresholds)) == [
        t for t in sorted_thresholds if t.points <= total
    ]


@given(totals, totals, thresholds)
def test_more_points_never_reach_fewer_thresholds(less, more, sorted_thresholds):
    less, more = sorted((less, more))
    assert len(list(reached(less, sorted_thresholds))) <= len(
        list(reached(more, sorted_thresholds))
    )


def test_the_default_thresholds_suggest_a_ward_then_a_province_award():
    assert [t.authority for t in reached(100, DEFAULT_THRESHOLDS)] == [
        "ward_committee",
        "provincial_police",
    ]
    assert list(reached(19, DEFAULT_THRESHOLDS)) == []


subjects = st.sampled_from(
    [(ScoreSubject.TEAM, uuid.UUID(int=1)), (ScoreSubject.AREA, uuid.UUID(int=2))]
)
touches = st.lists(
    st.builds(
        lambda subject, day: Touched(subject[0], subject[1], day),
        subjects,
        st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
    ),
    max_size=8,
)


@given(touches, st.sampled_from(["year", "quarter", "month"]))
def test_each_subject_and_period_touched_comes_once_in_first_touched_order(touched, granularity):
    found = list(unique_periods(touched, granularity))
    keys = [(kind, subject, period.code) for kind, subject, period in found]
    assert len(keys) == len(set(keys))
    assert keys == list(dict.fromkeys(period_key(t, granularity) for t in touched))
    for t in touched:
        period = Period.containing(t.day, granularity)
        assert (t.subject, t.subject_id, period) in found


def test_the_reason_of_an_accepted_suggestion_names_points_period_and_threshold():
    assert acceptance_reason(25, "2025", 20) == "Đạt 25 điểm thi đua kỳ 2025 (ngưỡng 20 điểm)"
