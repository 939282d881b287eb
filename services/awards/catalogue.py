"""The awards catalogue, scoring rules and certification criteria: configuration, not code.

Every part is read from ``ANTT_…`` environment variables as JSON (see ``app.Settings``);
the defaults below follow the Law on Emulation and Commendation 2022 and Circular
124/2021/TT-BCA as the seeds describe them. Ops add forms, authorities, campaigns, rules
and criteria without a release."""

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import RuleViolationError, UnknownReferenceError, UnknownValueError
from shared.events import AwardKind, IncidentStatus

CODE_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
# The movement's festival day, 19 August (Quyết định 521/QĐ-TTg, 2005), is a campaign
# every year: festival-19-8-<year> needs no configuration.
FESTIVAL_CAMPAIGN = re.compile(r"^festival-19-8-(?P<year>\d{4})$")


class CatalogueEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwardForm(CatalogueEntry):
    """A form of award (hình thức khen thưởng)."""

    name_vi: str
    name_en: str


class Authority(CatalogueEntry):
    """An issuing authority, its level and the forms it may give."""

    name: str
    level: str = Field(description="ward, district, province, national, …")
    forms: list[str] = Field(min_length=1)


class Campaign(CatalogueEntry):
    """A campaign or thematic drive awards can be given in."""

    name: str
    starts_on: date | None = None
    ends_on: date | None = None


DEFAULT_AWARD_FORMS = {
    "giay_khen": AwardForm(name_vi="Giấy khen", name_en="Certificate of merit"),
    "bang_khen": AwardForm(name_vi="Bằng khen", name_en="Certificate of commendation"),
}

# Ordered from the highest level down: reports list authorities in this order. The
# district level ended in mid-2025; district_committee stays for the records before it.
DEFAULT_AUTHORITIES = {
    "ministry_of_public_security": Authority(
        name="Bộ trưởng Bộ Công an", level="national", forms=["bang_khen"]
    ),
    "provincial_committee": Authority(
        name="Chủ tịch UBND tỉnh, thành phố", level="province", forms=["bang_khen"]
    ),
    "city_police": Authority(
        name="Giám đốc Công an thành phố", level="province", forms=["giay_khen"]
    ),
    "provincial_police": Authority(
        name="Giám đốc Công an tỉnh", level="province", forms=["giay_khen"]
    ),
    "district_committee": Authority(
        name="Chủ tịch UBND quận, huyện (đến 6/2025)", level="district", forms=["giay_khen"]
    ),
    "ward_committee": Authority(name="Chủ tịch UBND phường", level="ward", forms=["giay_khen"]),
    "commune_committee": Authority(name="Chủ tịch UBND xã", level="ward", forms=["giay_khen"]),
}


class Credit(StrEnum):
    """Who an event's points go to."""

    TEAMS = "teams"  # the teams the incident or activity credits
    MEMBERS = "members"  # every current member of those teams
    AREA = "area"  # the area where it happened


class ScoreSubject(StrEnum):
    PERSON = "person"
    TEAM = "team"
    AREA = "area"


SOLVED = [IncidentStatus.RESOLVED, IncidentStatus.MEDIATED, IncidentStatus.REFERRED]


class ScoreRule(CatalogueEntry):
    """Points for an event: an incident reaching a solved status, or a logged activity.

    ``points`` are given once per incident or activity; with ``measure`` they are given
    for every ``per`` units of that measure (rounded down)."""

    code: str = Field(pattern=CODE_PATTERN)
    on: Literal["incident_solved", "activity"]
    points: int = Field(ge=1, le=10_000)
    credit: list[Credit] = Field(min_length=1)
    statuses: list[IncidentStatus] = Field(default_factory=lambda: list(SOLVED))
    sources: list[str] = Field(default_factory=list, description="Incident sources; empty: any")
    category_groups: list[str] = Field(default_factory=list, description="Empty: any")
    activity_type: str | None = None
    outcome: str | None = None
    measure: str | None = None
    per: Decimal = Field(default=Decimal(1), gt=0)

    @model_validator(mode="after")
    def _activity_rules_name_their_type(self) -> "ScoreRule":
        if self.on == "activity" and not self.activity_type:
            raise ValueError(f"score rule {self.code}: an activity rule needs activity_type")
        return self


DEFAULT_SCORE_RULES = [
    ScoreRule(code="incident_solved", on="incident_solved", points=10, credit=[Credit.TEAMS]),
    ScoreRule(
        code="incident_solved_member", on="incident_solved", points=2, credit=[Credit.MEMBERS]
    ),
    ScoreRule(
        code="tip_led_to_solution",
        on="incident_solved",
        points=5,
        credit=[Credit.AREA],
        sources=["resident_tip"],
    ),
    ScoreRule(
        code="mediation_successful",
        on="activity",
        activity_type="mediation",
        outcome="successful",
        points=10,
        credit=[Credit.TEAMS],
    ),
    ScoreRule(
        code="outreach_reach",
        on="activity",
        activity_type="outreach",
        measure="people_reached",
        per=Decimal(100),
        points=1,
        credit=[Credit.TEAMS, Credit.AREA],
    ),
    ScoreRule(
        code="patrol",
        on="activity",
        activity_type="patrol",
        measure="patrols",
        points=1,
        credit=[Credit.TEAMS],
    ),
    ScoreRule(
        code="household_pledges",
        on="activity",
        activity_type="household_pledge",
        measure="households",
        per=Decimal(50),
        points=1,
        credit=[Credit.AREA],
    ),
]


class SuggestionThreshold(CatalogueEntry):
    """When a recipient's points in one period reach ``points``, suggest this award."""

    points: int = Field(ge=1)
    award_form: str
    authority: str


DEFAULT_THRESHOLDS = [
    SuggestionThreshold(points=20, award_form="giay_khen", authority="ward_committee"),
    SuggestionThreshold(points=100, award_form="giay_khen", authority="provincial_police"),
]


class CriterionCheck(StrEnum):
    INCIDENTS_NOT_UP = "incidents_not_up"  # incidents in the year ≤ the year before
    NO_INCIDENTS_IN = "no_incidents_in"  # none of the listed categories
    ACTIVE_TEAMS = "active_teams"  # at least `minimum` active teams of the listed kinds
    PLEDGE_SHARE = "pledge_share"  # pledged households / households ≥ `minimum`


class Criterion(CatalogueEntry):
    """One safe-area criterion; an area is certified when every criterion is met."""

    code: str = Field(pattern=CODE_PATTERN)
    check: CriterionCheck
    categories: list[str] = Field(default_factory=list)
    team_kinds: list[str] = Field(default_factory=list)
    minimum: Decimal = Field(default=Decimal(1), ge=0)


DEFAULT_CRITERIA = [
    Criterion(code="incidents_not_up", check=CriterionCheck.INCIDENTS_NOT_UP),
    Criterion(
        code="no_serious_incidents",
        check=CriterionCheck.NO_INCIDENTS_IN,
        categories=["robbery", "weapons", "drugs", "security"],
    ),
    Criterion(
        code="active_security_team",
        check=CriterionCheck.ACTIVE_TEAMS,
        team_kinds=["security_order"],
        minimum=Decimal(1),
    ),
    Criterion(code="household_pledges", check=CriterionCheck.PLEDGE_SHARE, minimum=Decimal("0.8")),
]


def festival_campaign(code: str) -> Campaign | None:
    match = FESTIVAL_CAMPAIGN.match(code)
    if match is None:
        return None
    year = int(match["year"])
    return Campaign(
        name=f"Ngày hội toàn dân bảo vệ an ninh Tổ quốc 19/8/{year}",
        starts_on=date(year, 1, 1),
        ends_on=date(year, 12, 31),
    )


class Catalogue:
    """The configured forms, authorities and campaigns, and the rules a nomination meets."""

    def __init__(
        self,
        forms: dict[str, AwardForm],
        authorities: dict[str, Authority],
        campaigns: dict[str, Campaign],
    ) -> None:
        self.forms = forms
        self.authorities = authorities
        self.campaigns = campaigns

    def level(self, authority: str) -> str:
        entry = self.authorities.get(authority)
        return entry.level if entry else "unknown"

    def authority_name(self, authority: str) -> str:
        entry = self.authorities.get(authority)
        return entry.name if entry else authority

    def campaign(self, code: str) -> Campaign | None:
        return self.campaigns.get(code) or festival_campaign(code)

    def check_campaign_query(self, campaign: str | None) -> None:
        """A ``campaign`` filter names a campaign of the catalogue (else 422 listing
        them): a misspelt campaign is refused, not answered with an empty list."""
        if campaign is not None and self.campaign(campaign) is None:
            raise UnknownValueError(
                ["query", "campaign"], ["festival-19-8-<year>", *self.campaigns]
            )

    def check(
        self,
        award_form: str,
        authority: str,
        award_kind: AwardKind,
        campaign: str | None,
        loc: tuple[str, ...] = ("body",),
    ) -> None:
        """Raise a 422 naming the field and the rule unless the catalogue allows this."""
        if award_form not in self.forms:
            raise UnknownReferenceError(
                f"unknown award form {award_form!r}; one of {', '.join(self.forms)}",
                [*loc, "award_form"],
            )
        entry = self.authorities.get(authority)
        if entry is None:
            raise UnknownReferenceError(
                f"unknown authority {authority!r}; one of {', '.join(self.authorities)}",
                [*loc, "authority"],
            )
        if award_form not in entry.forms:
            raise RuleViolationError(
                f"authority {authority} may not give {award_form}; it gives "
                f"{', '.join(entry.forms)}",
                [*loc, "award_form"],
            )
        if award_kind is AwardKind.CAMPAIGN:
            if campaign is None:
                raise RuleViolationError("a campaign award names its campaign", [*loc, "campaign"])
            if self.campaign(campaign) is None:
                raise UnknownReferenceError(
                    f"unknown campaign {campaign!r}; festival-19-8-<year> or one of "
                    f"{', '.join(self.campaigns) or 'none configured'}",
                    [*loc, "campaign"],
                )
        elif campaign is not None:
            raise RuleViolationError(
                f"only a campaign award names a campaign (award_kind is {award_kind})",
                [*loc, "campaign"],
            )
