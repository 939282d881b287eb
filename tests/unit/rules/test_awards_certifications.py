"""Safe-area certification's rules, on plain figures: each criterion's verdict, when an
area is certified, and when a decision is stale."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.awards.certifications.rules import (
    DEFAULT_CRITERIA,
    Criterion,
    CriterionCheck,
    active_teams,
    certified,
    decimal_text,
    incidents_not_up,
    is_stale,
    no_incidents_in,
    pledge_share,
    pledged_households,
)
from shared.events import CriterionResult

CRITERIA = {criterion.check: criterion for criterion in DEFAULT_CRITERIA}
counts = st.integers(min_value=0, max_value=10_000)
results = st.lists(
    st.builds(
        CriterionResult,
        criterion=st.sampled_from(["a", "b", "c"]),
        met=st.booleans(),
        value=st.sampled_from(["0", "1", "unknown"]),
        rule=st.just("a rule"),
    ),
    max_size=4,
)


@given(counts, counts)
def test_incidents_must_not_go_up_from_the_year_before(now, before):
    result = incidents_not_up(CRITERIA[CriterionCheck.INCIDENTS_NOT_UP], 2025, now, before)
    assert result.met is (now <= before)
    assert result.value == str(now)
    assert result.rule == f"incidents in 2025 at most 2024's {before}"


@given(counts)
def test_no_incident_of_the_serious_categories(found):
    result = no_incidents_in(CRITERIA[CriterionCheck.NO_INCIDENTS_IN], 2025, found)
    assert result.met is (found == 0)
    assert "robbery, weapons, drugs, security" in result.rule


@given(counts, st.integers(min_value=0, max_value=5))
def test_enough_active_teams(teams, minimum):
    criterion = Criterion(code="teams", check=CriterionCheck.ACTIVE_TEAMS, minimum=Decimal(minimum))
    result = active_teams(criterion, 2025, teams)
    assert result.met is (teams >= minimum)
    assert result.rule == f"at least {minimum} active team(s) of any kind at the end of 2025"


@given(counts, st.one_of(st.none(), counts))
def test_the_pledge_share_reaches_the_minimum_of_a_known_household_count(pledged, households):
    criterion = CRITERIA[CriterionCheck.PLEDGE_SHARE]  # at least 0.8
    result = pledge_share(criterion, 2025, Decimal(pledged), households)
    if not households:
        assert (result.met, result.value) == (False, "unknown")
    else:
        assert result.met is (Decimal(pledged) / households >= Decimal("0.8"))
        assert Decimal(result.value) <= Decimal(pledged) / households  # rounded down


@given(counts, counts, st.integers(min_value=1, max_value=10_000))
def test_more_pledges_never_lose_the_criterion(less, more, households):
    less, more = sorted((less, more))
    criterion = CRITERIA[CriterionCheck.PLEDGE_SHARE]
    if pledge_share(criterion, 2025, Decimal(less), households).met:
        assert pledge_share(criterion, 2025, Decimal(more), households).met


def test_pledged_households_count_the_households_measure_only():
    measures = [
        [{"item": "households", "quantity": "12"}, {"item": "people", "quantity": "40"}],
        [{"item": "households", "quantity": "3.5"}],
        [],
    ]
    assert pledged_households(measures) == Decimal("15.5")


@given(results)
def test_certified_when_there_are_criteria_and_each_is_met(found):
    assert certified(found) is (bool(found) and all(result.met for result in found))


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(results, results)
def test_a_decision_is_stale_when_what_the_criteria_show_differs(decided, now):
    assert not is_stale(decided, decided)
    assert is_stale(decided, now) == is_stale(now, decided)
    assert is_stale(decided, now) is (
        [r.model_dump() for r in decided] != [r.model_dump() for r in now]
    )


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1000, max_value=1000)
)
def test_decimal_text_is_plain_and_reads_back(value):
    text = decimal_text(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value
    assert text == "0" or not (("." in text) and text.endswith("0"))
