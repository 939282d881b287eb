"""Reporting tables and API schemas: read models of areas and teams, incidents and their
lifecycle history."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import AwareDatetime, field_validator
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


class IncidentCreate(IncidentBase):
    occurred_at: AwareDatetime
    team_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="Teams that helped, to be credited"
    )

    @field_validator("occurred_at")
    @classmethod
    def not_in_future(cls, value: datetime) -> datetime:
        if value > utcnow():
            raise ValueError("occurred_at cannot be in the future")
        return value


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
