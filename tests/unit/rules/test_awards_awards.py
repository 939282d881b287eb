"""The awards aggregate's rules, on plain values: the catalogue, one achievement one award,
the dates of decisions and revocations."""

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.awards.awards.rules import (
    DEFAULT_AUTHORITIES,
    DEFAULT_AWARD_FORMS,
    AchievementKind,
    Campaign,
    Catalogue,
    achievement_key,
    check_revoked_after_grant,
    decision_date,
    festival_campaign,
    first_repeat,
    revocation_date,
)
from shared.errors import RuleViolationError, UnknownReferenceError, UnknownValueError
from shared.events import AwardKind

TODAY = date(2026, 11, 22)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
words = st.text(alphabet=st.sampled_from("abcXYZ đĐ \t\n"), min_size=1, max_size=20)


def catalogue() -> Catalogue:
    campaigns = {"drive-2024": Campaign(name="A drive")}
    return Catalogue(dict(DEFAULT_AWARD_FORMS), dict(DEFAULT_AUTHORITIES), campaigns)


# --- one achievement, one award ---------------------------------------------------------


@given(words)
def test_a_text_achievement_is_the_same_whatever_its_case_and_spacing(text):
    spaced = "  " + text.upper().replace(" ", "   ") + "\n"
    assert achievement_key(AchievementKind.TEXT, None, spaced) == achievement_key(
        AchievementKind.TEXT, None, text
    )


@given(
    st.uuids(), st.uuids(), st.sampled_from([AchievementKind.INCIDENT, AchievementKind.ACTIVITY])
)
def test_an_incident_or_activity_is_known_by_its_id(first, second, kind):
    assert (achievement_key(kind, first, None) == achievement_key(kind, second, None)) == (
        first == second
    )
    assert achievement_key(kind, first, None) == f"{kind}:{first}"


def test_an_incident_and_an_activity_of_one_id_are_two_achievements():
    ref = uuid.uuid4()
    incident = achievement_key(AchievementKind.INCIDENT, ref, None)
    assert incident != achievement_key(AchievementKind.ACTIVITY, ref, None)


@given(st.lists(st.sampled_from("abcdef"), max_size=10))
def test_first_repeat_is_the_first_key_cited_before(keys):
    repeat = first_repeat(keys)
    if repeat is None:
        assert len(set(keys)) == len(keys)
    else:
        assert keys[repeat] in keys[:repeat]
        assert len(set(keys[:repeat])) == repeat  # none before it repeats


# --- dates ------------------------------------------------------------------------------


@given(days)
def test_a_decision_is_dated_today_or_before(day):
    if day > TODAY:
        with pytest.raises(RuleViolationError, match="decided_on"):
            decision_date(day, TODAY)
    else:
        assert decision_date(day, TODAY) == day


def test_a_decision_without_a_date_is_today_s():
    assert decision_date(None, TODAY) == TODAY


@given(st.one_of(st.none(), days))
def test_a_revocation_is_never_in_the_future(day):
    if day is not None and day > TODAY:
        with pytest.raises(RuleViolationError, match="revoked_on"):
            revocation_date(day, TODAY)
    else:
        assert revocation_date(day, TODAY) == (day or TODAY) <= TODAY


@given(days, days)
def test_a_revocation_comes_on_or_after_the_grant(revoked, granted):
    if revoked < granted:
        with pytest.raises(RuleViolationError, match="before the award was granted"):
            check_revoked_after_grant(revoked, granted)
    else:
        check_revoked_after_grant(revoked, granted)


# --- the catalogue ----------------------------------------------------------------------


@given(st.integers(min_value=1000, max_value=9999))
def test_every_year_has_its_festival_campaign(year):
    campaign = festival_campaign(f"festival-19-8-{year}")
    assert campaign is not None
    assert (campaign.starts_on, campaign.ends_on) == (date(year, 1, 1), date(year, 12, 31))
    assert str(year) in campaign.name


def test_only_the_festival_s_own_codes_are_festival_campaigns():
    assert festival_campaign("festival-19-8-23") is None
    assert festival_campaign("festival-20-8-2023") is None


def test_the_catalogue_allows_what_an_authority_gives():
    catalogue().check("bang_khen", "provincial_committee", AwardKind.REGULAR, None)
    catalogue().check("giay_khen", "ward_committee", AwardKind.CAMPAIGN, "festival-19-8-2023")
    catalogue().check("giay_khen", "ward_committee", AwardKind.CAMPAIGN, "drive-2024")


@pytest.mark.parametrize(
    ("form", "authority", "kind", "campaign", "error", "field"),
    [
        ("medal", "ward_committee", AwardKind.REGULAR, None, UnknownReferenceError, "award_form"),
        ("giay_khen", "mayor", AwardKind.REGULAR, None, UnknownReferenceError, "authority"),
        ("bang_khen", "ward_committee", AwardKind.REGULAR, None, RuleViolationError, "award_form"),
        ("giay_khen", "ward_committee", AwardKind.CAMPAIGN, None, RuleViolationError, "campaign"),
        ("giay_khen", "ward_committee", AwardKind.CAMPAIGN, "x", UnknownReferenceError, "campaign"),
        (
            "giay_khen",
            "ward_committee",
            AwardKind.REGULAR,
            "drive-2024",
            RuleViolationError,
            "campaign",
        ),
    ],
)
def test_the_catalogue_refuses_naming_the_field(form, authority, kind, campaign, error, field):
    with pytest.raises(error) as refused:
        catalogue().check(form, authority, kind, campaign)
    assert refused.value.loc == ["body", field]


def test_a_campaign_filter_names_a_campaign():
    catalogue().check_campaign_query(None)
    catalogue().check_campaign_query("festival-19-8-2001")
    with pytest.raises(UnknownValueError):
        catalogue().check_campaign_query("festival-2001")


def test_an_unknown_authority_has_an_unknown_level_and_its_code_for_a_name():
    assert catalogue().level("ward_committee") == "ward"
    assert catalogue().level("nobody") == "unknown"
    assert catalogue().authority_name("nobody") == "nobody"
    assert (
        catalogue().authority_name("ward_committee") == DEFAULT_AUTHORITIES["ward_committee"].name
    )
