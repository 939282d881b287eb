"""Awards: the table, the achievements they reward, what a request gives and what the
API answers."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from services.awards.common import AwardsTable
from services.awards.nominations.models import Achievement, NominationCreate, RecipientSource
from shared.db import enum_column
from shared.events import AwardKind, RecipientKind


class ApprovalCreate(SQLModel):
    decision_number: str = Field(min_length=1, max_length=64, description="e.g. 123/QĐ-UBND")
    decided_on: date | None = Field(
        default=None, description="The decision's date (may be in the past); defaults to today"
    )


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
