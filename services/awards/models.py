"""Awards tables and API schemas: read models of registry and reporting, nominations and
awards, emulation scores and suggestions, safe-area certifications."""

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import model_validator
from sqlalchemy import JSON, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.awards.catalogue import ScoreSubject
from shared.db import enum_column
from shared.events import AwardKind, CriterionResult, IncidentStatus, RecipientKind, TeamRole
from shared.idempotency import idempotency_table


def utcnow() -> datetime:
    return datetime.now(UTC)


class AwardsTable(SQLModel, registry=registry()):
    """Base of the awards tables: their own metadata, apart from other services'."""


# Idempotency-Key answers of the create routes (shared/idempotency.py), kept beside the
# records they created.
idempotency_table(AwardsTable.metadata)


# --- read models from registry events: whom an award can go to, and where ---------------


class KnownArea(AwardsTable, table=True):
    """An area; ``version`` orders name and households (registered/updated), while
    ``parent_version`` orders the parent (registered/moved), so either may come first."""

    id: UUID = Field(primary_key=True)
    code: str = Field(index=True)
    name: str
    level: str | None = Field(default=None, max_length=32)
    parent_id: UUID | None = Field(default=None, index=True)
    households: int | None = None
    version: int
    parent_version: int = 0


class KnownTeam(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    kind: str = Field(default="", max_length=64)
    founded_on: date | None = None
    # Set by team_dissolved whatever the order of arrival: a dissolution is final.
    dissolved_on: date | None = None
    version: int


class KnownPerson(AwardsTable, table=True):
    """A team member; area and name are those of their latest join (by ``joined_on``, then
    team), preferring teams they are still on, whatever order the joins arrive in."""

    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    full_name: str


class KnownMembership(AwardsTable, table=True):
    """One person in one role on one team (kept after leaving, so an old join that comes
    late cannot bring it back)."""

    id: UUID = Field(primary_key=True)
    team_id: UUID = Field(index=True)
    person_id: UUID = Field(index=True)
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    active: bool = True
    version: int
    # The days it covers (None: since ever / still on): a member scores for the team's
    # achievements of those days, whichever arrives first, the roster or the credit.
    joined_on: date | None = None
    left_on: date | None = None
    # As the join announced them: the person's area and name follow their latest join.
    area_id: UUID | None = None
    full_name: str | None = Field(default=None, max_length=200)


# --- what happened, from reporting events ----------------------------------------------


class TrackedIncident(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    category: str
    status: IncidentStatus = Field(sa_type=enum_column(IncidentStatus))
    version: int
    category_group: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=32)
    occurred_at: datetime | None = Field(default=None, index=True)
    credited_team_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    duplicate_of: UUID | None = None


class TrackedActivity(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    activity_type: str = Field(max_length=64, index=True)
    occurred_on: date = Field(index=True)
    outcome: str | None = Field(default=None, max_length=64)
    measures: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    team_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    version: int


class TeamContribution(AwardsTable, table=True):
    team_id: UUID = Field(primary_key=True)
    resolved_incidents: int = 0


class TeamContributionPublic(SQLModel):
    team_id: UUID
    resolved_incidents: int


# --- nominations and awards ------------------------------------------------------------


class RecipientSource(StrEnum):
    """What ``recipient_id`` points at."""

    PERSON = "person"  # a registry person (individual)
    TEAM = "team"  # a registry team (collective)
    AREA = "area"  # a ward, commune or residential group (collective)
    NAMED = "named"  # no registry record: named in recipient_name, placed by area_id


class AchievementKind(StrEnum):
    INCIDENT = "incident"
    ACTIVITY = "activity"
    TEXT = "text"


class Achievement(SQLModel):
    """An achievement an award is for: an incident or activity reporting holds, or words."""

    kind: AchievementKind
    ref_id: UUID | None = Field(default=None, description="The incident's or activity's id")
    text: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_reference(self) -> "Achievement":
        if self.kind is AchievementKind.TEXT:
            if self.text is None or self.ref_id is not None:
                raise ValueError("a text achievement has text and no ref_id")
        elif self.ref_id is None:
            raise ValueError(f"an {self.kind} achievement names its ref_id")
        return self

    @property
    def key(self) -> str:
        """Two citations of the same achievement have the same key."""
        if self.kind is AchievementKind.TEXT:
            return "text:" + " ".join((self.text or "").casefold().split())
        return f"{self.kind}:{self.ref_id}"


class NominationStatus(StrEnum):
    NOMINATED = "nominated"
    APPROVED = "approved"
    REJECTED = "rejected"


class NominationCreate(SQLModel):
    recipient_kind: RecipientKind
    recipient_id: UUID | None = Field(
        default=None,
        description="individual: a registry person; collective: a registry team or area "
        "(ward, commune, residential group). Omit it for a recipient the registry does not "
        "hold (a person or collective named only in recipient_name, or a household).",
    )
    recipient_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Defaults to the registry's name; required without recipient_id",
    )
    area_id: UUID | None = Field(
        default=None,
        description="Where a recipient without recipient_id belongs (a household: its "
        "residential group). With recipient_id the area is the recipient's own.",
    )
    award_form: str = Field(min_length=1, max_length=64, description="e.g. giay_khen, bang_khen")
    authority: str = Field(min_length=1, max_length=64, description="The issuing authority")
    award_kind: AwardKind = AwardKind.REGULAR
    campaign: str | None = Field(
        default=None, max_length=64, description="For a campaign award, e.g. festival-19-8-2023"
    )
    reason: str = Field(min_length=1, max_length=4000)
    achievements: list[Achievement] = Field(default_factory=list, max_length=50)


class Nomination(AwardsTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    recipient_kind: RecipientKind = Field(sa_type=enum_column(RecipientKind))
    recipient_source: RecipientSource = Field(sa_type=enum_column(RecipientSource))
    recipient_id: UUID = Field(index=True)
    recipient_name: str = Field(max_length=200)
    area_id: UUID = Field(index=True)
    award_form: str = Field(max_length=64)
    authority: str = Field(max_length=64)
    award_kind: AwardKind = Field(sa_type=enum_column(AwardKind))
    campaign: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=4000)
    achievements: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    suggested: bool = False
    status: NominationStatus = Field(
        default=NominationStatus.NOMINATED, sa_type=enum_column(NominationStatus)
    )
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: datetime | None = None
    decision_reason: str | None = Field(default=None, max_length=4000)
    version: int = 1


class NominationPublic(SQLModel):
    id: UUID
    recipient_kind: RecipientKind
    recipient_source: RecipientSource
    recipient_id: UUID
    recipient_name: str
    area_id: UUID
    award_form: str
    authority: str
    award_kind: AwardKind
    campaign: str | None
    reason: str
    achievements: list[Achievement]
    suggested: bool
    status: NominationStatus
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


class ApprovalCreate(SQLModel):
    decision_number: str = Field(min_length=1, max_length=64, description="e.g. 123/QĐ-UBND")
    decided_on: date | None = Field(
        default=None, description="The decision's date (may be in the past); defaults to today"
    )


class RejectionCreate(SQLModel):
    reason: str = Field(min_length=1, max_length=4000)


class AwardRecord(NominationCreate, ApprovalCreate):
    """An award already decided (e.g. a past festival's), recorded in one step."""


class AwardStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Award(AwardsTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    nomination_id: UUID = Field(foreign_key="nomination.id", unique=True)
    recipient_kind: RecipientKind = Field(sa_type=enum_column(RecipientKind))
    recipient_source: RecipientSource = Field(sa_type=enum_column(RecipientSource))
    recipient_id: UUID = Field(index=True)
    recipient_name: str = Field(max_length=200)
    area_id: UUID = Field(index=True)
    award_form: str = Field(max_length=64)
    authority: str = Field(max_length=64)
    authority_level: str = Field(max_length=32, description="The authority's level when granted")
    award_kind: AwardKind = Field(sa_type=enum_column(AwardKind))
    campaign: str | None = Field(default=None, max_length=64, index=True)
    reason: str = Field(max_length=4000)
    achievements: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    decision_number: str
    granted_on: datetime = Field(index=True)
    status: AwardStatus = Field(default=AwardStatus.ACTIVE, sa_type=enum_column(AwardStatus))
    revoked_on: date | None = None
    revocation_reason: str | None = Field(default=None, max_length=4000)
    version: int = 1


class AwardPublic(SQLModel):
    id: UUID
    nomination_id: UUID
    recipient_kind: RecipientKind
    recipient_source: RecipientSource
    recipient_id: UUID
    recipient_name: str
    area_id: UUID
    award_form: str
    authority: str
    authority_level: str
    award_kind: AwardKind
    campaign: str | None
    reason: str
    achievements: list[Achievement]
    decision_number: str
    granted_on: datetime
    status: AwardStatus
    revoked_on: date | None
    revocation_reason: str | None


class RevocationCreate(SQLModel):
    reason: str = Field(min_length=1, max_length=4000, description="e.g. obtained by fraud")
    revoked_on: date | None = Field(default=None, description="Defaults to today")


class RewardedAchievement(AwardsTable, table=True):
    """An achievement a recipient holds an award for: the key makes a second award for it
    impossible, even for two approvals racing. Removed when the award is revoked."""

    recipient_id: UUID = Field(primary_key=True)
    achievement_key: str = Field(primary_key=True, max_length=600)
    award_id: UUID = Field(index=True)


# --- emulation scores and suggestions ---------------------------------------------------


class ScoreEntry(AwardsTable, table=True):
    """Points one event earned one subject under one rule."""

    __table_args__ = (
        UniqueConstraint("rule", "source_id", "subject", "subject_id", name="uq_score_once"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    subject: ScoreSubject = Field(sa_type=enum_column(ScoreSubject))
    subject_id: UUID = Field(index=True)
    area_id: UUID = Field(index=True)
    occurred_on: date = Field(index=True)
    points: int
    rule: str = Field(max_length=64)
    source_kind: AchievementKind = Field(sa_type=enum_column(AchievementKind))
    source_id: UUID = Field(index=True)
    event_id: str = Field(max_length=64)
    voided: bool = Field(default=False, description="The source proved a duplicate")
    created_at: datetime = Field(default_factory=utcnow)


class MemberCredit(AwardsTable, table=True):
    """A team's achievement that pays its members: kept so that members whose roster
    events arrive after it are paid too (and those who had left by its day are not)."""

    __table_args__ = (
        UniqueConstraint("rule", "source_id", "team_id", name="uq_member_credit_once"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    rule: str = Field(max_length=64)
    source_id: UUID = Field(index=True)
    source_kind: AchievementKind = Field(sa_type=enum_column(AchievementKind))
    team_id: UUID = Field(index=True)
    area_id: UUID = Field(description="The achievement's area")
    occurred_on: date
    points: int
    event_id: str = Field(max_length=64)
    voided: bool = False


class ScoreEntryPublic(SQLModel):
    rule: str
    points: int
    occurred_on: date
    source_kind: AchievementKind
    source_id: UUID


class ScorePublic(SQLModel):
    subject: ScoreSubject
    subject_id: UUID
    name: str
    area_id: UUID
    period: str
    points: int
    entries: list[ScoreEntryPublic]


class LeaderboardRow(SQLModel):
    rank: int
    subject: ScoreSubject
    subject_id: UUID
    name: str
    area_id: UUID
    points: int


class LeaderboardPublic(SQLModel):
    area_id: UUID
    period: str
    subject: ScoreSubject | None
    rows: list[LeaderboardRow]


class SuggestionStatus(StrEnum):
    SUGGESTED = "suggested"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class Suggestion(AwardsTable, table=True):
    """A nomination the scores suggest; an officer accepts or dismisses it."""

    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "period", "threshold", name="uq_suggest_once"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    subject: ScoreSubject = Field(sa_type=enum_column(ScoreSubject))
    subject_id: UUID
    recipient_kind: RecipientKind = Field(sa_type=enum_column(RecipientKind))
    recipient_name: str = Field(max_length=200)
    area_id: UUID = Field(index=True)
    period: str = Field(max_length=16)
    threshold: int
    points: int = Field(description="The points when the threshold was crossed")
    award_form: str = Field(max_length=64)
    authority: str = Field(max_length=64)
    status: SuggestionStatus = Field(
        default=SuggestionStatus.SUGGESTED, sa_type=enum_column(SuggestionStatus), index=True
    )
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: datetime | None = None
    dismissal_reason: str | None = Field(default=None, max_length=4000)
    nomination_id: UUID | None = None


class SuggestionPublic(SQLModel):
    id: UUID
    subject: ScoreSubject
    subject_id: UUID
    recipient_kind: RecipientKind
    recipient_name: str
    area_id: UUID
    period: str
    threshold: int
    points: int
    award_form: str
    authority: str
    status: SuggestionStatus
    created_at: datetime
    decided_at: datetime | None
    dismissal_reason: str | None
    nomination_id: UUID | None


class SuggestionAcceptance(SQLModel):
    """Accepting makes a nomination; the officer may change what the threshold proposed."""

    award_form: str | None = Field(default=None, min_length=1, max_length=64)
    authority: str | None = Field(default=None, min_length=1, max_length=64)
    award_kind: AwardKind = AwardKind.REGULAR
    campaign: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, min_length=1, max_length=4000)


class SuggestionDismissal(SQLModel):
    reason: str = Field(min_length=1, max_length=4000)


# --- safe-area certification ------------------------------------------------------------


class Certification(AwardsTable, table=True):
    """An area registered for the yearly safe-area certification."""

    __table_args__ = (UniqueConstraint("area_id", "year", name="uq_certification_year"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(index=True)
    year: int
    registered_at: datetime = Field(default_factory=utcnow)
    evaluations: int = 0


class CertificationEvaluation(AwardsTable, table=True):
    __table_args__ = (UniqueConstraint("certification_id", "evaluation", name="uq_evaluation"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    certification_id: UUID = Field(foreign_key="certification.id", index=True)
    evaluation: int
    certified: bool
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    decided_at: datetime = Field(default_factory=utcnow)
    reason: str | None = Field(default=None, max_length=4000)


class CertificationCreate(SQLModel):
    area_id: UUID
    year: int = Field(ge=2000, le=2100)


class EvaluationCreate(SQLModel):
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Required to re-evaluate: why the decision is taken again",
    )


class EvaluationPublic(SQLModel):
    evaluation: int
    certified: bool
    criteria: list[CriterionResult]
    decided_at: datetime
    reason: str | None


class CertificationPublic(SQLModel):
    id: UUID
    area_id: UUID
    year: int
    registered_at: datetime
    decision: EvaluationPublic | None = Field(description="The latest evaluation")
    stale: bool = Field(
        description="Events that arrived since the latest decision change its inputs: "
        "re-evaluate to take them into account"
    )
    current: list[CriterionResult] | None = Field(
        description="What the criteria show now, when that differs from the decision"
    )
    history: list[EvaluationPublic]


# --- campaign report -------------------------------------------------------------------


class ReportRow(SQLModel):
    authority: str
    authority_name: str
    authority_level: str
    individuals: int
    collectives: int
    households: int
    total: int


class AwardsReport(SQLModel):
    area_id: UUID
    campaign: str | None
    granted_from: date | None
    granted_to: date | None
    rows: list[ReportRow]
    individuals: int
    collectives: int
    households: int
    total: int


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros ("0.93", "4")."""
    text = format(value.normalize(), "f")
    return text
