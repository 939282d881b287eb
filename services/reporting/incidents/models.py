"""Incident tables and schemas: incidents, their credited teams, status history and
duplicate links, and the list filter."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from services.reporting.common import PastDatetime, ReportingTable, utcnow
from services.reporting.incidents.rules import IncidentSeverity
from shared.db import enum_column
from shared.events import IncidentSource, IncidentStatus


class IncidentBase(SQLModel):
    area_id: UUID = Field(description="The residential group or ward where it happened")
    category: str = Field(min_length=1, max_length=64, description="From `GET /catalogue`")
    source: IncidentSource = Field(sa_type=enum_column(IncidentSource))
    summary: str = Field(min_length=1, max_length=4000)
    severity: IncidentSeverity = Field(
        default=IncidentSeverity.MINOR, sa_type=enum_column(IncidentSeverity)
    )
    address: str | None = Field(default=None, min_length=1, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class IncidentCreate(IncidentBase):
    occurred_at: PastDatetime
    reported_at: PastDatetime | None = Field(
        default=None,
        description="When it was reported (for records entered later); now if left out",
    )
    team_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="Teams that helped, to be credited"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "IncidentCreate":
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together: give both or neither")
        if self.reported_at is not None and self.reported_at < self.occurred_at:
            raise ValueError("reported_at cannot be before occurred_at")
        return self


class Incident(ReportingTable, IncidentBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="knownarea.id", index=True)
    category_group: str = Field(max_length=64, description="The category's group when reported")
    status: IncidentStatus = Field(
        default=IncidentStatus.REPORTED, index=True, sa_type=enum_column(IncidentStatus)
    )
    occurred_at: datetime = Field(index=True)
    reported_at: datetime = Field(default_factory=utcnow)
    # Which incident this one repeats (the link's details, with its foreign keys, are in
    # IncidentLink; no key here, so SQLite need not rebuild the table to add the column).
    duplicate_of: UUID | None = Field(default=None, index=True)
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
    changed_by: str = Field(default="", max_length=200, description="The officer's subject")
    changed_at: datetime = Field(default_factory=utcnow)


class StatusChangeCreate(SQLModel):
    status: IncidentStatus
    reason: str = Field(min_length=1, max_length=2000)


class StatusChangePublic(SQLModel):
    from_status: IncidentStatus
    to_status: IncidentStatus
    reason: str
    changed_by: str
    changed_at: datetime


class IncidentLink(ReportingTable, table=True):
    """Who linked an incident as a duplicate of another, when and why."""

    incident_id: UUID = Field(foreign_key="incident.id", primary_key=True)
    duplicate_of: UUID = Field(foreign_key="incident.id", index=True)
    reason: str
    linked_by: str = Field(max_length=200)
    linked_at: datetime = Field(default_factory=utcnow)


class DuplicateLinkPublic(SQLModel):
    duplicate_of: UUID
    reason: str
    linked_by: str
    linked_at: datetime


class DuplicateLinkCreate(SQLModel):
    duplicate_of: UUID = Field(description="The incident this one repeats")
    reason: str = Field(min_length=1, max_length=2000)


class IncidentListItem(IncidentBase):
    id: UUID
    category_group: str
    status: IncidentStatus
    occurred_at: datetime
    reported_at: datetime
    duplicate_of: UUID | None
    version: int
    team_ids: list[UUID]


class IncidentPublic(IncidentListItem):
    history: list[StatusChangePublic]
    link: DuplicateLinkPublic | None = Field(description="Set when it repeats another")
    duplicates: list[UUID] = Field(description="Incidents linked as repeating this one")
    tip_number: str | None = Field(
        default=None,
        description="The number of the tip-off it came from, shown to tip handlers only "
        "(null for every other role, and for an incident that did not come from a tip)",
    )


@dataclass(frozen=True)
class IncidentFilter:
    area_id: UUID | None = None
    category: str | None = None
    category_group: str | None = None
    status: IncidentStatus | None = None
    source: IncidentSource | None = None
    severity: IncidentSeverity | None = None
    start: date | None = None
    end: date | None = None
    include_duplicates: bool = True
