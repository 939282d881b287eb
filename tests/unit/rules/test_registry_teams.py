"""Team rules as plain functions: size bounds, members' age bounds, the one-leader rule,
which configured rule applies, and the checks on kinds, coverage and dissolution."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.teams.rules import (
    DEFAULT_TEAM_RULES,
    EffectiveRule,
    RosterEntry,
    TeamRule,
    TeamStatus,
    age_allowed,
    age_on,
    check_active,
    check_covers,
    check_dissolution,
    check_kind,
    check_listed_once,
    check_roster,
    check_team_changes,
    default_coverage,
    effective_rule,
    founding_decision,
    leaders_allowed,
    province_of,
    size_allowed,
)
from shared.errors import ConflictError, RuleViolationError, UnknownReferenceError
from shared.events import AreaLevel, TeamRole

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

DAY = date(2026, 3, 1)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
bounds = st.one_of(st.none(), st.integers(min_value=0, max_value=120))
roles = st.sampled_from(list(TeamRole))


def rules(
    min_age: int | None = None, max_age: int | None = None, one_leader: bool = False
) -> EffectiveRule:
    return EffectiveRule(
        province="*", kind="mediation", min_age=min_age, max_age=max_age, one_leader=one_leader
    )


def roster(members: list[tuple[date | None, TeamRole]], day: date = DAY) -> list[RosterEntry]:
    """A roster as (birth date, role) pairs joining on ``day``, each named by the change."""
    return [
        RosterEntry(f"member {index}", role, born, day, ["members", index])
        for index, (born, role) in enumerate(members)
    ]


# --- age ------------------------------------------------------------------------------


@QUICK
@given(days, days)
def test_age_on_counts_whole_years(born, day):
    age = age_on(born, day)
    if day >= born:
        assert age >= 0
        assert date(born.year + age, 1, 1) <= day  # the birthday of that age has a year <= day
    else:
        assert age < 0


@QUICK
@given(days, st.integers(min_value=0, max_value=90))
def test_age_on_a_birthday_is_exact(born, years):
    if born.month == 2 and born.day == 29:
        born = born - timedelta(days=1)
    if born.year + years > 9999:
        return
    assert age_on(born, born.replace(year=born.year + years)) == years
    if years:
        assert age_on(born, born.replace(year=born.year + years) - timedelta(days=1)) == years - 1


@QUICK
@given(days, days, days)
def test_age_never_falls_as_days_pass(born, first, second):
    early, late = sorted((first, second))
    assert age_on(born, early) <= age_on(born, late)


@QUICK
@given(bounds, bounds, st.integers(min_value=-5, max_value=130))
def test_age_is_allowed_exactly_within_the_bounds(low, high, age):
    expected = (low is None or age >= low) and (high is None or age <= high)
    assert age_allowed(rules(low, high), age) is expected


@QUICK
@given(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60))
def test_check_roster_refuses_a_member_outside_the_age_bounds(age, low):
    born = date(DAY.year - age, 1, 1)
    rule = rules(min_age=low)
    team = roster([(born, TeamRole.LEADER)])
    if age >= low:
        check_roster(rule, team, ["members"])
    else:
        with pytest.raises(RuleViolationError) as refused:
            check_roster(rule, team, ["members"])
        assert refused.value.message.startswith("rule member_age:")
        assert refused.value.loc == ["members", 0, "birth_date"]


def test_members_already_on_the_team_or_without_a_birth_date_are_not_rechecked():
    old = date(1900, 1, 1)
    rule = rules(max_age=70)
    check_roster(rule, [RosterEntry("kept", TeamRole.LEADER, old, DAY)], ["body"])
    check_roster(rule, roster([(None, TeamRole.LEADER)]), ["body"])


# --- size and leaders -------------------------------------------------------------------


@QUICK
@given(
    st.integers(min_value=0, max_value=10),
    st.one_of(st.none(), st.integers(1, 10)),
    st.integers(0, 20),
)
def test_size_is_allowed_exactly_within_the_bounds(low, high, size):
    rule = EffectiveRule(province="*", kind="mediation", min_members=low, max_members=high)
    assert size_allowed(rule, size) is (size >= low and (high is None or size <= high))


@QUICK
@given(st.lists(roles, max_size=12), st.booleans())
def test_one_leader_rule_counts_leaders_of_a_nonempty_team(team_roles, one_leader):
    rule = rules(one_leader=one_leader)
    leaders = team_roles.count(TeamRole.LEADER)
    assert leaders_allowed(rule, len(team_roles), leaders) is (
        not one_leader or not team_roles or leaders == 1
    )


@QUICK
@given(st.lists(roles, max_size=8), st.integers(0, 8), st.one_of(st.none(), st.integers(1, 8)))
def test_check_roster_refuses_exactly_what_the_predicates_refuse(team_roles, low, high):
    rule = EffectiveRule(
        province="*", kind="mediation", min_members=low, max_members=high, one_leader=True
    )
    team = roster([(None, role) for role in team_roles])
    allowed = size_allowed(rule, len(team)) and leaders_allowed(
        rule, len(team), team_roles.count(TeamRole.LEADER)
    )
    if allowed:
        check_roster(rule, team, ["body"])
    else:
        with pytest.raises(RuleViolationError) as refused:
            check_roster(rule, team, ["body"])
        assert refused.value.loc == ["body"]
        # Size is checked before leaders: the message names the first broken rule.
        first = "team_size" if not size_allowed(rule, len(team)) else "one_leader"
        assert refused.value.message.startswith(f"rule {first}:")


def test_an_empty_team_needs_no_leader():
    check_roster(rules(one_leader=True), [], ["body"])


# --- which rule applies -----------------------------------------------------------------


def test_the_most_specific_rule_line_wins_field_by_field():
    hn_security = effective_rule(DEFAULT_TEAM_RULES, "HN", "security_order")
    assert (hn_security.min_members, hn_security.max_members) == (3, 5)
    assert (hn_security.min_age, hn_security.max_age, hn_security.one_leader) == (18, 70, True)
    elsewhere = effective_rule(DEFAULT_TEAM_RULES, "TH", "security_order")
    assert (elsewhere.min_members, elsewhere.max_members, elsewhere.province) == (1, None, "TH")
    assert effective_rule(DEFAULT_TEAM_RULES, None, "neighbourhood_watch").min_members == 0


@QUICK
@given(
    st.permutations(DEFAULT_TEAM_RULES),
    st.sampled_from(["HN", "TH", None]),
    st.sampled_from(["security_order", "neighbourhood_watch", "mediation"]),
)
def test_the_order_of_rule_lines_does_not_matter(lines, province, kind):
    assert effective_rule(lines, province, kind) == effective_rule(
        DEFAULT_TEAM_RULES, province, kind
    )


@QUICK
@given(st.integers(0, 10), st.integers(0, 10))
def test_a_province_line_beats_a_kind_line(province_min, kind_min):
    lines = [
        TeamRule(kind="mediation", min_members=kind_min),
        TeamRule(province="HN", min_members=province_min),
    ]
    assert effective_rule(lines, "HN", "mediation").min_members == province_min
    assert effective_rule(lines, "TH", "mediation").min_members == kind_min


def test_the_province_is_the_first_province_up_the_line():
    line = [(AreaLevel.RESIDENTIAL_GROUP, "G"), (AreaLevel.WARD, "W"), (AreaLevel.PROVINCE, "HN")]
    assert province_of(line) == "HN"
    assert province_of(line[:2]) is None


def test_rule_messages_name_the_team_with_its_article():
    assert EffectiveRule(province="HN", kind="eid_guidance").where() == "an eid_guidance team in HN"
    assert EffectiveRule(province="*", kind="mediation").where() == "a mediation team"


# --- kinds, changes, coverage, lifecycle ------------------------------------------------


def test_unknown_kinds_are_refused_with_the_catalogue():
    check_kind("mediation", ["mediation"], ["kind"])
    with pytest.raises(UnknownReferenceError, match="unknown team kind 'x'; one of a, b"):
        check_kind("x", ["a", "b"], ["kind"])


def test_an_update_changes_something_and_nulls_no_name_or_kind():
    check_team_changes({"founded_on": None})
    for changes, loc in (
        ({}, ["body"]),
        ({"name": None}, ["body", "name"]),
        ({"kind": None}, ["body", "kind"]),
    ):
        with pytest.raises(RuleViolationError) as refused:
            check_team_changes(changes)
        assert refused.value.loc == loc


@QUICK
@given(st.lists(st.uuids(), max_size=6))
def test_coverage_lists_each_group_once(covered):
    if len(set(covered)) == len(covered):
        check_listed_once(covered, ["covered"])
    else:
        with pytest.raises(RuleViolationError):
            check_listed_once(covered, ["covered"])


@QUICK
@given(st.uuids(), st.sampled_from(list(AreaLevel)))
def test_teams_cover_residential_groups_only(area_id, level):
    group = level is AreaLevel.RESIDENTIAL_GROUP
    assert default_coverage(area_id, level) == ([area_id] if group else [])
    if group:
        check_covers("G", level, ["covered", 0])
    else:
        with pytest.raises(RuleViolationError, match="rule coverage"):
            check_covers("G", level, ["covered", 0])


def test_a_dissolved_team_takes_no_changes():
    check_active(TeamStatus.ACTIVE, "A", None)
    with pytest.raises(ConflictError, match="was dissolved on 2026-01-01"):
        check_active(TeamStatus.DISSOLVED, "A", date(2026, 1, 1))


@QUICK
@given(st.one_of(st.none(), days), days)
def test_a_team_is_not_dissolved_before_its_founding(founded, dissolved):
    if founded is not None and dissolved < founded:
        with pytest.raises(RuleViolationError):
            check_dissolution(founded, dissolved)
    else:
        check_dissolution(founded, dissolved)


def test_a_founding_decision_needs_its_number_and_date():
    assert founding_decision(None, DAY, "UBND") is None
    assert founding_decision("12/QĐ", None, "UBND") is None
    decision = founding_decision("12/QĐ", DAY, None)
    assert decision is not None and (decision.number, decision.issuer) == ("12/QĐ", "")
