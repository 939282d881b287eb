"""Emulation scoring's rules: the calendar scores count in (Vietnam's day; years, quarters,
months), the configured score rules (who an event's points go to and how many), and which
rule an incident's solution or a logged activity earns, and how much.

The rules are configuration, not code (``ANTT_SCORE_RULES``, ``ANTT_SCORE_PERIOD``)."""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from services.awards.awards.rules import CODE_PATTERN, AchievementKind, CatalogueEntry
from services.awards.replicas.rules import IncidentState
from shared.errors import RuleViolationError
from shared.events import IncidentStatus

# --- the calendar: dates as a ward counts them ------------------------------------------

VIETNAM = timezone(timedelta(hours=7), "ICT")
Granularity = Literal["year", "quarter", "month"]
PERIOD_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$"
)


def local_date(moment: datetime) -> date:
    """The calendar day in Vietnam of an instant (naive values are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).date()


def today() -> date:
    return datetime.now(VIETNAM).date()


def day_start(day: date) -> datetime:
    """The instant a Vietnamese calendar day begins."""
    return datetime.combine(day, time(), tzinfo=VIETNAM)


@dataclass(frozen=True)
class Period:
    code: str
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, code: str, loc: list[str | int]) -> "Period":
        """``2023`` (a year), ``2023-Q3`` (a quarter) or ``2023-08`` (a month)."""
        match = PERIOD_PATTERN.match(code)
        if match is None:
            raise RuleViolationError(
                "period is a year (2023), a quarter (2023-Q3) or a month (2023-08)", loc
            )
        year = int(match["year"])
        if match["quarter"]:
            first = (int(match["quarter"]) - 1) * 3 + 1
            return cls(code, date(year, first, 1), _month_end(year, first + 2))
        if match["month"]:
            month = int(match["month"])
            return cls(code, date(year, month, 1), _month_end(year, month))
        return cls(code, date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def containing(cls, day: date, granularity: Granularity) -> "Period":
        return _containing(day, granularity)

    def months(self) -> list[str]:
        """The months the period spans, as ``month_of`` names them."""
        return [
            f"{self.start.year}-{month:02d}"
            for month in range(self.start.month, self.end.month + 1)
        ]

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(str(year), date(year, 1, 1), date(year, 12, 31))


@functools.lru_cache(maxsize=4096)  # every scored event asks; parsing its code each time costs
def _containing(day: date, granularity: Granularity) -> Period:
    if granularity == "year":
        code = f"{day.year}"
    elif granularity == "quarter":
        code = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    else:
        code = f"{day.year}-{day.month:02d}"
    return Period.parse(code, [])


def month_of(day: date) -> str:
    """The month a day's points are totalled in (``ScoreMonth``)."""
    return f"{day.year}-{day.month:02d}"


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


# --- the score rules ----------------------------------------------------------------------


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


def incident_earns(
    rule: ScoreRule,
    to_status: IncidentStatus,
    source: str | None,
    category_group: str | None,
) -> bool:
    """Whether ``rule`` gives points for an incident reaching ``to_status``."""
    if rule.on != "incident_solved" or to_status not in rule.statuses:
        return False
    if rule.sources and source not in rule.sources:
        return False
    return not (rule.category_groups and category_group not in rule.category_groups)


def activity_points(
    rule: ScoreRule, activity_type: str, outcome: str | None, measures: list[dict[str, str]]
) -> int:
    """The points ``rule`` gives for a logged activity (0: none): once, or per ``per``
    units of its measure, rounded down."""
    if rule.on != "activity" or rule.activity_type != activity_type:
        return 0
    if rule.outcome is not None and rule.outcome != outcome:
        return 0
    points = rule.points
    if rule.measure is not None:
        points = int(measured(measures, rule.measure) // rule.per) * rule.points
    return points


def measured(measures: list[dict[str, str]], item: str) -> Decimal:
    """The total quantity of one item among an activity's measures."""
    return sum((Decimal(m["quantity"]) for m in measures if m["item"] == item), Decimal(0))


# --- who is on a team on a given day ------------------------------------------------------


@dataclass(frozen=True)
class Stint:
    """One person's time on a team: from ``joined_on`` (None: since ever) to ``left_on``
    (None: still on, or left on a day not known); ``active`` while they are on it."""

    person_id: UUID
    joined_on: date | None
    left_on: date | None
    active: bool

    def on(self, day: date) -> bool:
        joined = self.joined_on is None or self.joined_on <= day
        return joined and (self.active or self.left_on is None or self.left_on >= day)


@dataclass(frozen=True)
class Subject:
    kind: ScoreSubject
    id: UUID
    name: str
    area_id: UUID
    active: bool = True  # a dissolved team keeps its points but gets no suggestion


# --- what an achievement earns, and whom it pays ----------------------------------------


@dataclass(frozen=True)
class SolvedIncident:
    """An incident as it stood right after the event that solved it."""

    id: UUID
    area_id: UUID
    source: str | None
    category_group: str | None
    duplicate_of: UUID | None
    teams: tuple[UUID, ...]
    to_status: IncidentStatus
    day: date
    event_id: str

    @classmethod
    def of(
        cls, incident: IncidentState, to_status: IncidentStatus, at: datetime, event_id: str
    ) -> "SolvedIncident":
        return cls(
            incident.id,
            incident.area_id,
            incident.source,
            incident.category_group,
            incident.duplicate_of,
            incident.credited_team_ids,
            to_status,
            local_date(at),
            event_id,
        )


@dataclass(frozen=True)
class Earned:
    """What one rule gives for one incident or activity, before it is shared out."""

    rule: ScoreRule
    points: int
    teams: tuple[UUID, ...]
    area_id: UUID
    day: date
    source_id: UUID
    event_id: str
    source_kind: AchievementKind

    def score_entry(self, subject: ScoreSubject, subject_id: UUID, area_id: UUID) -> dict[str, Any]:
        return {
            "id": uuid4(),
            "subject": subject,
            "subject_id": subject_id,
            "area_id": area_id,
            "occurred_on": self.day,
            "points": self.points,
            "rule": self.rule.code,
            "source_kind": self.source_kind,
            "source_id": self.source_id,
            "event_id": self.event_id,
            "voided": False,
            "created_at": datetime.now(UTC),
        }

    def member_credit(self, team_id: UUID) -> dict[str, Any]:
        return {
            "id": uuid4(),
            "rule": self.rule.code,
            "source_id": self.source_id,
            "source_kind": self.source_kind,
            "team_id": team_id,
            "area_id": self.area_id,
            "occurred_on": self.day,
            "points": self.points,
            "event_id": self.event_id,
            "voided": False,
        }


class Ledger:
    """Who a list of achievements pays, from what is known of the points and member credits
    their sources already have, team and person areas and team rosters: each subject once
    per rule and source (the unique key of score entries), whatever the list repeats."""

    def __init__(self) -> None:
        self.scored: set[tuple[str, UUID, ScoreSubject, UUID]] = set()
        self.member_credited: set[tuple[str, UUID, UUID]] = set()
        self.team_areas: dict[UUID, UUID] = {}
        self.person_areas: dict[UUID, UUID] = {}
        self.rosters: dict[UUID, list[Stint]] = {}

    def members_on(self, teams: tuple[UUID, ...], day: date) -> set[UUID]:
        return {s.person_id for team in teams for s in self.rosters.get(team, ()) if s.on(day)}

    def credited(self, item: Earned) -> list[tuple[ScoreSubject, UUID, UUID]]:
        """Who the rule's points go to, and the area each belongs to."""
        credited: list[tuple[ScoreSubject, UUID, UUID]] = []
        if Credit.TEAMS in item.rule.credit:
            for team_id in item.teams:
                area = self.team_areas.get(team_id, item.area_id)
                credited.append((ScoreSubject.TEAM, team_id, area))
        if Credit.MEMBERS in item.rule.credit and item.teams:
            for person_id in sorted(self.members_on(item.teams, item.day)):
                area = self.person_areas.get(person_id, item.area_id)
                credited.append((ScoreSubject.PERSON, person_id, area))
        if Credit.AREA in item.rule.credit:
            credited.append((ScoreSubject.AREA, item.area_id, item.area_id))
        return credited

    def first_score(self, item: Earned, subject: ScoreSubject, subject_id: UUID) -> bool:
        """True once per rule, source and subject (the unique key of score entries)."""
        key = (item.rule.code, item.source_id, subject, subject_id)
        if key in self.scored:
            return False
        self.scored.add(key)
        return True

    def first_member_credit(self, item: Earned, team_id: UUID) -> bool:
        key = (item.rule.code, item.source_id, team_id)
        if key in self.member_credited:
            return False
        self.member_credited.add(key)
        return True
