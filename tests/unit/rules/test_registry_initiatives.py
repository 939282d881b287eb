"""Initiative rules as plain functions: when it ran, and the dates results, stops and
relaunches may have."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.initiatives.rules import (
    InitiativeStatus,
    check_relaunch,
    check_result_date,
    check_stop,
    ran_on,
)
from shared.errors import ConflictError, RuleViolationError

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def runs(draw: st.DrawFn) -> list[tuple[date, date | None]]:
    """Consecutive runs: each stopped before the next launch; the last may still run."""
    start = draw(days)
    periods: list[tuple[date, date | None]] = []
    for _ in range(draw(st.integers(0, 4))):
        stop = start + timedelta(days=draw(st.integers(0, 60)))
        periods.append((start, stop))
        start = stop + timedelta(days=draw(st.integers(0, 60)))
    if draw(st.booleans()):
        periods.append((start, None))
    return periods


@QUICK
@given(runs(), days)
def test_a_day_is_in_a_run_when_between_its_launch_and_stop(periods, day):
    inside = any(
        launched <= day and (stopped is None or day <= stopped) for launched, stopped in periods
    )
    assert ran_on(periods, day) is inside


@QUICK
@given(runs())
def test_every_launch_and_stop_day_is_a_day_it_ran(periods):
    for launched, stopped in periods:
        assert ran_on(periods, launched)
        if stopped is not None:
            assert ran_on(periods, stopped)


@QUICK
@given(runs(), days, days)
def test_results_are_recorded_on_days_it_ran_or_since_the_launch(periods, launched, recorded):
    if recorded >= launched or ran_on(periods, recorded):
        check_result_date(recorded, launched, periods)
    else:
        with pytest.raises(RuleViolationError):
            check_result_date(recorded, launched, periods)


@QUICK
@given(days, days)
def test_a_running_initiative_stops_on_or_after_its_launch(launched, stopping):
    if stopping < launched:
        with pytest.raises(RuleViolationError):
            check_stop(InitiativeStatus.RUNNING, None, launched, stopping)
    else:
        check_stop(InitiativeStatus.RUNNING, None, launched, stopping)


def test_a_stopped_initiative_neither_stops_again_nor_runs_twice():
    day = date(2026, 3, 1)
    with pytest.raises(ConflictError, match="already stopped on 2026-03-01"):
        check_stop(InitiativeStatus.STOPPED, day, day, day)
    with pytest.raises(ConflictError, match="initiative is running"):
        check_relaunch(InitiativeStatus.RUNNING, None, day)


@QUICK
@given(days, days)
def test_a_relaunch_comes_on_or_after_the_last_stop(stopped, launching):
    if launching < stopped:
        with pytest.raises(RuleViolationError):
            check_relaunch(InitiativeStatus.STOPPED, stopped, launching)
    else:
        check_relaunch(InitiativeStatus.STOPPED, stopped, launching)
