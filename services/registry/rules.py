"""Team rules from configuration: per province and team kind, the size bounds, the members'
age bounds and the one-leader rule. A change that would break one is refused whole."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import RuleViolationError
from shared.events import TeamRole

ANY = "*"


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


def check_roster(
    rule: EffectiveRule, roster: Sequence[RosterEntry], loc: Sequence[str | int]
) -> None:
    """Raise the first broken rule, naming it and the numbers."""
    for entry in roster:
        if entry.loc is None or entry.birth_date is None:
            continue
        age = age_on(entry.birth_date, entry.joined_on)
        low, high = rule.min_age, rule.max_age
        if (low is not None and age < low) or (high is not None and age > high):
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
    size = len(roster)
    if size < rule.min_members or (rule.max_members is not None and size > rule.max_members):
        bounds = (
            f"at least {rule.min_members}"
            if rule.max_members is None
            else f"{rule.min_members} to {rule.max_members}"
        )
        raise RuleViolationError(
            f"rule team_size: {rule.where()} has {bounds} members; this leaves {size}", loc
        )
    leaders = sum(1 for entry in roster if entry.role is TeamRole.LEADER)
    if rule.one_leader and size and leaders != 1:
        raise RuleViolationError(
            f"rule one_leader: {rule.where()} has exactly one leader; this leaves {leaders}", loc
        )
