"""Emulation scoring's rules, on plain values: the calendar and its periods, which rule an
incident or activity earns and how much, who is on a team on a day, and whom points go to."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.awards.awards.rules import AchievementKind
from services.awards.scores.rules import (
    DEFAULT_SCORE_RULES,
    VIETNAM,
    Credit,
    Earned,
    Ledger,
    Period,
    ScoreRule,
    ScoreSubject,
    Stint,
    activity_points,
    day_start,
    incident_earns,
    local_date,
    measured,
)
from shared.errors import RuleViolationError
from shared.events import IncidentStatus

days = st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 31))
granularities = st.sampled_from(["year", "quarter", "month"])
RULES = {rule.code: rule for rule in DEFAULT_SCORE_RULES}


# --- the calendar -----------------------------------------------------------------------


@given(days, granularities)
def test_a_period_contains_the_day_it_was_made_from(day, granularity):
    period = Period.containing(day, granularity)
    assert period.start <= day <= period.end
    assert Period.parse(period.code, []) == period  # its code names it again


@given(days, granularities)
def test_periods_tile_the_calendar(day, granularity):
    period = Period.containing(day, granularity)
    after = Period.containing(period.end + timedelta(days=1), granularity)
    assert after.start == period.end + timedelta(days=1)
    assert period.start.day == 1


@given(days)
def test_a_month_lies_in_its_quarter_and_a_quarter_in_its_year(day):
    month, quarter, year = (Period.containing(day, g) for g in ("month", "quarter", "year"))
    assert year.start <= quarter.start <= month.start <= month.end <= quarter.end <= year.end
    assert Period.year(day.year) == year


@pytest.mark.parametrize("code", ["23", "2023-Q5", "2023-13", "2023-00", "2023-q1", "2023-1"])
def test_a_period_code_is_a_year_a_quarter_or_a_month(code):
    with pytest.raises(RuleViolationError, match="period is a year") as refused:
        Period.parse(code, ["query", "period"])
    assert refused.value.loc == ["query", "period"]


def test_periods_end_on_their_last_day():
    assert Period.parse("2024-02", []).end == date(2024, 2, 29)
    assert Period.parse("2023-Q4", []) == Period("2023-Q4", date(2023, 10, 1), date(2023, 12, 31))


@given(days.filter(lambda d: date(1901, 1, 1) <= d))
def test_a_day_starts_at_vietnam_s_midnight(day):
    assert local_date(day_start(day)) == day
    assert local_date(day_start(day) - timedelta(microseconds=1)) == day - timedelta(days=1)


@given(st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(9998, 1, 1)))
def test_a_naive_instant_is_utc(moment):
    assert local_date(moment) == local_date(moment.replace(tzinfo=UTC))
    assert local_date(moment) == moment.replace(tzinfo=UTC).astimezone(VIETNAM).date()


# --- what a rule gives ------------------------------------------------------------------


@given(st.sampled_from(IncidentStatus), st.sampled_from([None, "resident_tip", "patrol"]))
def test_an_incident_earns_under_a_rule_when_it_reaches_a_solved_status(status, source):
    solved = status in {IncidentStatus.RESOLVED, IncidentStatus.MEDIATED, IncidentStatus.REFERRED}
    assert incident_earns(RULES["incident_solved"], status, source, None) is solved
    tip = incident_earns(RULES["tip_led_to_solution"], status, source, "theft")
    assert tip is (solved and source == "resident_tip")
    assert not incident_earns(RULES["patrol"], status, source, None)


def test_a_rule_may_name_the_groups_of_the_incidents_it_pays():
    rule = ScoreRule(
        code="drugs", on="incident_solved", points=3, credit=[Credit.AREA], category_groups=["d"]
    )
    assert incident_earns(rule, IncidentStatus.RESOLVED, None, "d")
    assert not incident_earns(rule, IncidentStatus.RESOLVED, None, "e")
    assert not incident_earns(rule, IncidentStatus.RESOLVED, None, None)


def measures(people: int) -> list[dict[str, str]]:
    return [{"item": "people_reached", "quantity": str(people)}, {"item": "other", "quantity": "7"}]


@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=100_000))
def test_points_per_measure_round_down_and_never_fall_as_the_measure_grows(less, more):
    less, more = sorted((less, more))
    rule = RULES["outreach_reach"]  # 1 point per 100 people reached
    assert activity_points(rule, "outreach", None, measures(less)) == less // 100
    assert activity_points(rule, "outreach", None, measures(less)) <= activity_points(
        rule, "outreach", None, measures(more)
    )


@given(st.lists(st.integers(min_value=0, max_value=1000), max_size=5))
def test_a_measure_sums_its_item_only(quantities):
    given_measures = [{"item": "patrols", "quantity": str(q)} for q in quantities]
    given_measures.append({"item": "households", "quantity": "99"})
    assert measured(given_measures, "patrols") == Decimal(sum(quantities))


def test_an_activity_rule_pays_its_type_and_outcome_only():
    mediation = RULES["mediation_successful"]
    assert activity_points(mediation, "mediation", "successful", []) == 10
    assert activity_points(mediation, "mediation", "failed", []) == 0
    assert activity_points(mediation, "outreach", "successful", []) == 0
    assert activity_points(RULES["incident_solved"], "mediation", "successful", []) == 0


# --- who is on a team, and whom points go to --------------------------------------------


optional_days = st.one_of(st.none(), days)


@given(optional_days, optional_days, st.booleans(), days)
def test_a_member_is_on_the_team_from_the_join_to_the_departure(joined, left, active, day):
    on = Stint(uuid.uuid4(), joined, left, active).on(day)
    if joined is not None and day < joined:
        assert not on
    elif active or left is None:
        assert on
    else:
        assert on is (day <= left)


def earned(rule: ScoreRule, teams: tuple[uuid.UUID, ...], day: date) -> Earned:
    return Earned(
        rule, rule.points, teams, uuid.uuid4(), day, uuid.uuid4(), "e1", AchievementKind.INCIDENT
    )


def test_points_go_to_the_teams_their_members_of_the_day_and_the_area():
    team, member, former = (uuid.uuid4() for _ in range(3))
    team_area, member_area = uuid.uuid4(), uuid.uuid4()
    ledger = Ledger()
    ledger.team_areas = {team: team_area}
    ledger.person_areas = {member: member_area}
    ledger.rosters = {
        team: [
            Stint(member, date(2024, 1, 1), None, True),
            Stint(former, None, date(2024, 2, 1), False),
        ]
    }
    rule = ScoreRule(
        code="all",
        on="incident_solved",
        points=1,
        credit=[Credit.TEAMS, Credit.MEMBERS, Credit.AREA],
    )
    item = earned(rule, (team,), date(2024, 3, 1))
    assert ledger.credited(item) == [
        (ScoreSubject.TEAM, team, team_area),
        (ScoreSubject.PERSON, member, member_area),
        (ScoreSubject.AREA, item.area_id, item.area_id),
    ]
    # an unknown team scores in the achievement's area; no teams, no members
    other = uuid.uuid4()
    assert ledger.credited(earned(rule, (other,), date(2024, 3, 1)))[0][2] != team_area
    assert [s for s, _, _ in ledger.credited(earned(rule, (), date(2024, 3, 1)))] == [
        ScoreSubject.AREA
    ]


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=6))
def test_a_source_scores_each_subject_once_per_rule(rule_codes):
    ledger = Ledger()
    subject = uuid.uuid4()
    source = uuid.uuid4()
    firsts = []
    for code in rule_codes:
        rule = ScoreRule(code=code, on="incident_solved", points=1, credit=[Credit.AREA])
        item = Earned(rule, 1, (), subject, date(2024, 1, 1), source, "e", AchievementKind.INCIDENT)
        firsts.append(ledger.first_score(item, ScoreSubject.AREA, subject))
        assert not ledger.first_score(item, ScoreSubject.AREA, subject)
        ledger.first_member_credit(item, subject)
        assert not ledger.first_member_credit(item, subject)
    assert sum(firsts) == len(set(rule_codes))
