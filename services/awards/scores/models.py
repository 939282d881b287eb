"""Emulation scores: the points each event earned, the member credits kept for rosters
that arrive later, and what the API answers."""

from datetime import date, datetime
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from services.awards.awards.rules import AchievementKind
from services.awards.common import AwardsTable, utcnow
from services.awards.scores.rules import ScoreSubject
from shared.db import enum_column


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


class ScoreMonth(AwardsTable, table=True):
    """A subject's points (not void) in one month, kept in step with its score entries, so
    that the suggestion thresholds read a period's total without summing its entries."""

    subject: ScoreSubject = Field(sa_type=enum_column(ScoreSubject), primary_key=True)
    subject_id: UUID = Field(primary_key=True)
    month: str = Field(max_length=7, primary_key=True, description="2025-08")
    points: int


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
