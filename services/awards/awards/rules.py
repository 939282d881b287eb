"""The awards catalogue and the rules an award meets: the forms, authorities and campaigns
configured, one achievement earning one award, and the dates of decisions and revocations.

The catalogue is configuration, not code: every part is read from ``ANTT_…`` environment
variables as JSON (see ``app.Settings``); the defaults below follow the Law on Emulation and
Commendation 2022 as the seeds describe them. Ops add forms, authorities and campaigns (and,
in the other aggregates' rules, score rules and certification criteria) without a release."""

import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import RuleViolationError, UnknownReferenceError, UnknownValueError
from shared.events import AwardKind

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


# --- one achievement, one award ---------------------------------------------------------


class AchievementKind(StrEnum):
    INCIDENT = "incident"
    ACTIVITY = "activity"
    TEXT = "text"


def achievement_key(kind: AchievementKind, ref_id: UUID | None, text: str | None) -> str:
    """Two citations of the same achievement have the same key: an incident or activity by
    its id, words whatever their case and spacing."""
    if kind is AchievementKind.TEXT:
        return "text:" + " ".join((text or "").casefold().split())
    return f"{kind}:{ref_id}"


def first_repeat(keys: Iterable[str]) -> int | None:
    """The position of the first key cited before, if any: an achievement is cited once."""
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            return index
        seen.add(key)
    return None


# --- dates of decisions -----------------------------------------------------------------


def decision_date(decided_on: date | None, today: date) -> date:
    """A decision's date may be in the past (historic records), not in the future."""
    if decided_on is None:
        return today
    if decided_on > today:
        raise RuleViolationError("decided_on must not be in the future", ["body", "decided_on"])
    return decided_on


def revocation_date(revoked_on: date | None, today: date) -> date:
    """A revocation takes effect today or on a past day, never a future one."""
    revoked_on = revoked_on or today
    if revoked_on > today:
        raise RuleViolationError("revoked_on must not be in the future", ["body", "revoked_on"])
    return revoked_on


def check_revoked_after_grant(revoked_on: date, granted_on: date) -> None:
    if revoked_on < granted_on:
        raise RuleViolationError(
            "revoked_on must not be before the award was granted", ["body", "revoked_on"]
        )
