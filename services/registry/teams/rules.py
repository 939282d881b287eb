"""Team rules from configuration: per province and team kind, the size bounds, the members'
age bounds and the one-leader rule; and the checks on a team, over plain values. A change
that would break one is refused whole."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.errors import ConflictError, RuleViolationError, UnknownReferenceError
from shared.events import AreaLevel, FoundingDecision, TeamRole

ANY = "*"


class TeamStatus(StrEnum):
    ACTIVE = "active"
    DISSOLVED = "dissolved"


class TeamKind(BaseModel):
    name_vi: str
    name_en: str


class TeamRule(BaseModel):
    """One rule line; unset fields inherit from less specific lines. Specificity: a
    province and a kind beat a province alone, which beats a kind alone, which beats ``*``."""

    province: str = Field(default=ANY, description="The province's area code, or *")
    kind: str = Field(default=ANY, description="A team kind, or *")
    min_members: int | None = Field(default=None, ge=0)
    max_members: int | None = Field(default=None, ge=1)
    min_age: int | None = Field(default=None, ge=0)
    max_age: int | None = Field(default=None, ge=1)
    one_leader: bool | None = Field(
        default=None, description="A team with members has exactly one leader"
    )


DEFAULT_TEAM_KINDS = {
    "security_order": TeamKind(
        name_vi="Tổ bảo vệ an ninh, trật tự", name_en="Security and order team"
    ),
    "civil_defence": TeamKind(name_vi="Tổ bảo vệ dân phố", name_en="Civil defence team"),
    "social_security": TeamKind(name_vi="Tổ an ninh xã hội", name_en="Social security team"),
    "neighbourhood_watch": TeamKind(
        name_vi="Tổ liên gia an toàn / nhóm liên gia tự quản", name_en="Neighbourhood watch group"
    ),
    "mediation": TeamKind(name_vi="Tổ hòa giải", name_en="Mediation team"),
    "self_management": TeamKind(name_vi="Tổ tự quản", name_en="Self-management team"),
    "rapid_response": TeamKind(name_vi="Tổ xung kích", name_en="Rapid response team"),
    "eid_guidance": TeamKind(
        name_vi="Tổ hướng dẫn định danh điện tử", name_en="Electronic ID guidance team"
    ),
}

DEFAULT_TEAM_RULES = [
    TeamRule(min_members=1, min_age=18, max_age=70, one_leader=True),
    # Neighbourhood watch groups are registered by the hundred without a roster.
    TeamRule(kind="neighbourhood_watch", min_members=0),
    # Hà Nội sets its security teams at 3 to 5 members (the law leaves it to provinces).
    TeamRule(province="HN", kind="security_order", min_members=3, max_members=5),
]


@dataclass(frozen=True)
class EffectiveRule:
    province: str
    kind: str
    min_members: int = 0
    max_members: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    one_leader: bool = False

    def where(self) -> str:
        province = "" if self.province == ANY else f" in {self.province}"
        article = "an" if self.kind[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"{article} {self.kind} team{province}"


def effective_rule(rules: Sequence[TeamRule], province: str | None, kind: str) -> EffectiveRule:
    def specificity(rule: TeamRule) -> int:
        return (2 if rule.province != ANY else 0) + (1 if rule.kind != ANY else 0)

    values: dict[str, Any] = {}
    matching = [
        rule
        for rule in rules
        if rule.kind in (ANY, kind) and rule.province in (ANY, province or ANY)
    ]
    for rule in sorted(matching, key=specificity):
        values |= rule.model_dump(exclude={"province", "kind"}, exclude_none=True)
    return EffectiveRule(province=province or ANY, kind=kind, **values)


def province_of(line: Iterable[tuple[AreaLevel, str]]) -> str | None:
    """The province's code in an area's line (levels and codes, the area first, then up)."""
    return next((code for level, code in line if level == AreaLevel.PROVINCE), None)


@dataclass(frozen=True)
class RosterEntry:
    """A member after the change, with where the change named them (for error ``loc``)."""

    name: str
    role: TeamRole
    birth_date: date | None
    joined_on: date
    loc: list[str | int] | None = None  # None: already on the team, not rechecked


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def age_allowed(rule: EffectiveRule, age: int) -> bool:
    return (rule.min_age is None or age >= rule.min_age) and (
        rule.max_age is None or age <= rule.max_age
    )


def size_allowed(rule: EffectiveRule, size: int) -> bool:
    return size >= rule.min_members and (rule.max_members is None or size <= rule.max_members)


def leaders_allowed(rule: EffectiveRule, size: int, leaders: int) -> bool:
    """One leader when the rule asks for one; an empty team needs none."""
    return not (rule.one_leader and size and leaders != 1)


def check_member_ages(rule: EffectiveRule, roster: Sequence[RosterEntry]) -> None:
    """Refuse the first member the change names whose age on joining is out of bounds."""
    for entry in roster:
        if entry.loc is None or entry.birth_date is None:
            continue
        age = age_on(entry.birth_date, entry.joined_on)
        low, high = rule.min_age, rule.max_age
        if not age_allowed(rule, age):
            ages = (
                f"{low} to {high}"
                if low is not None and high is not None
                else f"at least {low}"
                if low is not None
                else f"at most {high}"
            )
            raise RuleViolationError(
                f"rule member_age: members of {rule.where()} are {ages} years old; "
                f"{entry.name} is {age} on {entry.joined_on.isoformat()}",
                [*entry.loc, "birth_date"],
            )


def check_team_size(rule: EffectiveRule, size: int, loc: Sequence[str | int]) -> None:
    if not size_allowed(rule, size):
        bounds = (
            f"at least {rule.min_members}"
            if rule.max_members is None
            else f"{rule.min_members} to {rule.max_members}"
        )
        raise RuleViolationError(
            f"rule team_size: {rule.where()} has {bounds} members; this leaves {size}", loc
        )


def check_one_leader(
    rule: EffectiveRule, roles: Sequence[TeamRole], loc: Sequence[str | int]
) -> None:
    leaders = sum(1 for role in roles if role is TeamRole.LEADER)
    if not leaders_allowed(rule, len(roles), leaders):
        raise RuleViolationError(
            f"rule one_leader: {rule.where()} has exactly one leader; this leaves {leaders}", loc
        )


def check_roster(
    rule: EffectiveRule, roster: Sequence[RosterEntry], loc: Sequence[str | int]
) -> None:
    """Raise the first broken rule, naming it and the numbers."""
    check_member_ages(rule, roster)
    check_team_size(rule, len(roster), loc)
    check_one_leader(rule, [entry.role for entry in roster], loc)


def check_kind(kind: str, kinds: Collection[str], loc: Sequence[str | int]) -> None:
    if kind not in kinds:
        raise UnknownReferenceError(f"unknown team kind {kind!r}; one of {', '.join(kinds)}", loc)


def check_team_changes(changes: dict[str, Any]) -> None:
    """An update gives something to change, and never a null name or kind."""
    if not changes:
        raise RuleViolationError("nothing to change", ["body"])
    for field in ("name", "kind"):
        if field in changes and changes[field] is None:
            raise RuleViolationError(f"{field} cannot be null", ["body", field])


def check_active(status: TeamStatus, name: str, dissolved_on: date | None) -> None:
    if status is TeamStatus.DISSOLVED:
        raise ConflictError(
            f"team {name!r} was dissolved on {dissolved_on}; it takes no changes",
            ["path", "team_id"],
        )


def check_dissolution(founded_on: date | None, dissolved_on: date) -> None:
    if founded_on is not None and dissolved_on < founded_on:
        raise RuleViolationError(
            f"dissolved_on is before the team was founded ({founded_on})",
            ["body", "dissolved_on"],
        )


def default_coverage(area_id: UUID, level: AreaLevel) -> list[UUID]:
    """A team that names no groups covers its own area when that is a residential group."""
    return [area_id] if level is AreaLevel.RESIDENTIAL_GROUP else []


def check_listed_once(covered: Sequence[UUID], loc: Sequence[str | int]) -> None:
    if len(set(covered)) != len(covered):
        raise RuleViolationError("covered_area_ids lists an area twice", loc)


def check_covers(code: str, level: AreaLevel, loc: Sequence[str | int]) -> None:
    """A team covers residential groups only."""
    if level is not AreaLevel.RESIDENTIAL_GROUP:
        raise RuleViolationError(
            f"rule coverage: a team covers residential groups; {code!r} is a {level.value}", loc
        )


def founding_decision(
    number: str | None, issued_on: date | None, issuer: str | None
) -> FoundingDecision | None:
    """The founding decision a team's columns describe, if it has one."""
    if number is None or issued_on is None:
        return None
    return FoundingDecision(number=number, issued_on=issued_on, issuer=issuer or "")
