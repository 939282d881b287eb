"""Suggested nominations: the table, what an officer sends to accept or dismiss one, and
what the API answers."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from services.awards.common import AwardsTable, utcnow
from services.awards.scores.rules import ScoreSubject
from shared.db import enum_column
from shared.events import AwardKind, RecipientKind


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
