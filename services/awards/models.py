"""Awards tables and API schemas: contribution read models, nominations and awards."""

from datetime import UTC, date, datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import enum_column
from shared.events import IncidentStatus, RecipientKind


def utcnow() -> datetime:
    return datetime.now(UTC)


class AwardsTable(SQLModel, registry=registry()):
    """Base of the awards tables: their own metadata, apart from other services'."""


# --- read models from registry events: whom an award can go to, and where ---------------


class KnownArea(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    code: str = Field(index=True)
    name: str
    parent_id: UUID | None = Field(default=None, index=True)
    version: int


class KnownTeam(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    version: int


class KnownPerson(AwardsTable, table=True):
    """A team member; the person's area is that of the team they joined most recently."""

    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    full_name: str


# --- contributions, from reporting events ----------------------------------------------


class TrackedIncident(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    category: str
    status: IncidentStatus = Field(sa_type=enum_column(IncidentStatus))
    version: int


class TeamContribution(AwardsTable, table=True):
    team_id: UUID = Field(primary_key=True)
    resolved_incidents: int = 0


class TeamContributionPublic(SQLModel):
    team_id: UUID
    resolved_incidents: int


# --- nominations and awards ------------------------------------------------------------


class NominationStatus(StrEnum):
    NOMINATED = "nominated"
    APPROVED = "approved"
    REJECTED = "rejected"


class NominationBase(SQLModel):
    recipient_kind: RecipientKind = Field(sa_type=enum_column(RecipientKind))
    recipient_id: UUID = Field(description="A registry person (individual) or team (collective)")
    recipient_name: str = Field(min_length=1, max_length=200)
    award_form: str = Field(min_length=1, max_length=64, description="e.g. giay_khen, bang_khen")
    authority: str = Field(min_length=1, max_length=64, description="The issuing authority")
    reason: str = Field(min_length=1, max_length=4000)


class NominationCreate(NominationBase):
    area_id: UUID | None = Field(
        default=None,
        description="Only for a household: the residential group where it lives. Otherwise "
        "the area comes from the recipient (a person's or a team's area).",
    )


class Nomination(AwardsTable, NominationBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(index=True)
    status: NominationStatus = Field(
        default=NominationStatus.NOMINATED, sa_type=enum_column(NominationStatus)
    )
    created_at: datetime = Field(default_factory=utcnow)


class NominationPublic(NominationBase):
    id: UUID
    area_id: UUID
    status: NominationStatus
    created_at: datetime


class ApprovalCreate(SQLModel):
    decision_number: str = Field(min_length=1, max_length=64, description="e.g. 123/QĐ-UBND")
    decided_on: date | None = Field(default=None, description="Defaults to today")


class AwardBase(NominationBase):
    decision_number: str
    granted_on: datetime


class Award(AwardsTable, AwardBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    nomination_id: UUID = Field(foreign_key="nomination.id", unique=True)
    area_id: UUID = Field(index=True)
    version: int = 1


class AwardPublic(AwardBase):
    id: UUID
    nomination_id: UUID
    area_id: UUID
