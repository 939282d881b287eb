"""Nominations: the table, what a request gives and what the API answers."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import model_validator
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from services.awards.awards.rules import AchievementKind, achievement_key
from services.awards.common import AwardsTable, utcnow
from services.awards.nominations.rules import RecipientSource
from shared.db import enum_column
from shared.events import AwardKind, RecipientKind

__all__ = ["AchievementKind", "RecipientSource"]  # re-exported: the enums of these tables


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
        return achievement_key(self.kind, self.ref_id, self.text)


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


class RejectionCreate(SQLModel):
    reason: str = Field(min_length=1, max_length=4000)
