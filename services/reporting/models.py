"""Reporting tables and API schemas: read models of areas and teams, incidents and their
lifecycle history."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import enum_column
from shared.events import AreaLevel, IncidentSource, IncidentStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class ReportingTable(SQLModel, registry=registry()):
    """Base of the reporting tables: their own metadata, apart from other services'."""


# --- read models built from registry events --------------------------------------------


class KnownArea(ReportingTable, table=True):
    id: UUID = Field(primary_key=True)
    code: str
    name: str
    level: AreaLevel = Field(sa_type=enum_column(AreaLevel))
    parent_id: UUID | None = None
    version: int


class KnownTeam(ReportingTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    kind: str
    status: str = "active"
    version: int


# --- incidents ------------------------------------------------------------------------


class IncidentBase(SQLModel):
    area_id: UUID
    category: str = Field(min_length=1, max_length=64)
    source: IncidentSource = Field(sa_type=enum_column(IncidentSource))
    summary: str = Field(min_length=1, max_length=4000)


def not_in_future(value: datetime) -> datetime:
    if value > utcnow():
        raise ValueError("cannot be in the future")
    return value


PastDatetime = Annotated[AwareDatetime, AfterValidator(not_in_future)]


class IncidentCreate(IncidentBase):
    occurred_at: PastDatetime
    team_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="Teams that helped, to be credited"
    )


class Incident(ReportingTable, IncidentBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="knownarea.id", index=True)
    status: IncidentStatus = Field(
        default=IncidentStatus.REPORTED, index=True, sa_type=enum_column(IncidentStatus)
    )
    occurred_at: datetime
    reported_at: datetime = Field(default_factory=utcnow)
    version: int = 1


class IncidentTeam(ReportingTable, table=True):
    incident_id: UUID = Field(foreign_key="incident.id", primary_key=True)
    team_id: UUID = Field(foreign_key="knownteam.id", primary_key=True)


class IncidentStatusChange(ReportingTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    incident_id: UUID = Field(foreign_key="incident.id", index=True)
    from_status: IncidentStatus = Field(sa_type=enum_column(IncidentStatus))
    to_status: IncidentStatus = Field(sa_type=enum_column(IncidentStatus))
    reason: str
    changed_at: datetime = Field(default_factory=utcnow)


class StatusChangeCreate(SQLModel):
    status: IncidentStatus
    reason: str = Field(min_length=1, max_length=2000)


class StatusChangePublic(SQLModel):
    from_status: IncidentStatus
    to_status: IncidentStatus
    reason: str
    changed_at: datetime


class IncidentPublic(IncidentBase):
    id: UUID
    status: IncidentStatus
    occurred_at: datetime
    reported_at: datetime
    version: int
    team_ids: list[UUID]
    history: list[StatusChangePublic]


# --- tip-offs (tố giác) -------------------------------------------------------------------


class InformantDetails(SQLModel):
    """Who sent a tip: encrypted at rest, shown only to tip handlers, never sent anywhere."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    contact: str | None = Field(default=None, min_length=1, max_length=200)


class TipCreate(SQLModel):
    area_id: UUID
    category: str = Field(min_length=1, max_length=64)
    summary: str = Field(min_length=1, max_length=4000)
    occurred_at: PastDatetime
    informant: InformantDetails | None = Field(
        default=None, description="Leave out to stay anonymous"
    )


class TipOff(ReportingTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    incident_id: UUID = Field(foreign_key="incident.id", unique=True)
    tip_number: str = Field(unique=True, index=True, max_length=32)
    secret_hash: str = Field(max_length=200)
    # Fernet tokens (encrypted with the newest informant key); empty for anonymous tips.
    informant_name: str | None = None
    informant_contact: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class TipReceipt(SQLModel):
    tip_number: str
    secret: str = Field(description="Shown once: with the tip number it lets you follow the tip")
    status: IncidentStatus


class TipStatusPublic(SQLModel):
    tip_number: str
    status: IncidentStatus
    received_at: datetime


class InformantPublic(SQLModel):
    incident_id: UUID
    tip_number: str
    anonymous: bool
    full_name: str | None
    contact: str | None
