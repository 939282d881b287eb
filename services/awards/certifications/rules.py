"""Safe-area certification's rules (Circular 124/2021/TT-BCA): the configured criteria
(``ANTT_CERTIFICATION_CRITERIA``), each criterion's verdict on the figures found for an
area and a year, and when a decision no longer shows what the criteria show."""

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from pydantic import Field

from services.awards.awards.rules import CODE_PATTERN, CatalogueEntry
from shared.events import CriterionResult


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


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros ("0.93", "4")."""
    text = format(value.normalize(), "f")
    return text


def incidents_not_up(criterion: Criterion, year: int, now: int, before: int) -> CriterionResult:
    """No more incidents in the year than in the year before."""
    return CriterionResult(
        criterion=criterion.code,
        met=now <= before,
        value=str(now),
        rule=f"incidents in {year} at most {year - 1}'s {before}",
    )


def no_incidents_in(criterion: Criterion, year: int, found: int) -> CriterionResult:
    """No incident of the criterion's categories in the year."""
    return CriterionResult(
        criterion=criterion.code,
        met=found == 0,
        value=str(found),
        rule=f"no incident of {', '.join(criterion.categories)} in {year}",
    )


def active_teams(criterion: Criterion, year: int, teams: int) -> CriterionResult:
    """At least ``minimum`` teams of the criterion's kinds active at the end of the year."""
    kinds = " or ".join(criterion.team_kinds) or "any kind"
    return CriterionResult(
        criterion=criterion.code,
        met=teams >= criterion.minimum,
        value=str(teams),
        rule=f"at least {decimal_text(criterion.minimum)} active team(s) of "
        f"{kinds} at the end of {year}",
    )


def pledged_households(measures: Iterable[list[dict[str, str]]]) -> Decimal:
    """The households the activities' measures count as having pledged."""
    return sum(
        (
            Decimal(measure["quantity"])
            for activity_measures in measures
            for measure in activity_measures
            if measure["item"] == "households"
        ),
        Decimal(0),
    )


def pledge_share(
    criterion: Criterion, year: int, pledged: Decimal, households: int | None
) -> CriterionResult:
    """Households that pledged over the households living there, at least ``minimum``;
    not met when the household count is unknown (or 0)."""
    minimum = decimal_text(criterion.minimum)
    if not households:
        return CriterionResult(
            criterion=criterion.code,
            met=False,
            value="unknown",
            rule=f"pledged households at least {minimum} of the households "
            f"(the registry gives no household count; {decimal_text(pledged)} pledged)",
        )
    share = pledged / households
    return CriterionResult(
        criterion=criterion.code,
        met=share >= criterion.minimum,
        value=decimal_text(share.quantize(Decimal("0.01"), rounding=ROUND_DOWN)),
        rule=f"pledged households at least {minimum} of the {households} households "
        f"({decimal_text(pledged)} pledged in {year})",
    )


def certified(results: list[CriterionResult]) -> bool:
    """An area is certified when there are criteria and it meets every one."""
    return bool(results) and all(result.met for result in results)


def shown(results: list[CriterionResult]) -> list[tuple[str, bool, str, str]]:
    """What a decision shows of its criteria: equal when nothing they show changed."""
    return [(result.criterion, result.met, result.value, result.rule) for result in results]


def is_stale(decided: list[CriterionResult], now: list[CriterionResult]) -> bool:
    """A decision is stale when what the criteria show now differs from what it showed."""
    return shown(now) != shown(decided)
