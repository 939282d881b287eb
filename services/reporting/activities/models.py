"""Activity tables and schemas: activities, their measured quantities and credited
teams, and the list filter."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from services.reporting.activities.rules import MAX_QUANTITY_INT, QUANTITY_PLACES
from services.reporting.catalogue.models import CatalogueName
from services.reporting.common import ReportingTable, utcnow


class MeasureCreate(SQLModel):
    item: CatalogueName = Field(description="What is counted: `sessions`, `explosives`, …")
    unit: CatalogueName | None = Field(
        default=None, description="Optional for the catalogue's fixed items (their unit)"
    )
    quantity: Decimal = Field(
        gt=0, le=MAX_QUANTITY_INT, decimal_places=QUANTITY_PLACES, description='e.g. 120 or "1.5"'
    )


class MeasurePublic(SQLModel):
    item: str
    unit: str
    quantity: Decimal


class ActivityBase(SQLModel):
    area_id: UUID = Field(description="The residential group or ward where it took place")
    activity_type: str = Field(min_length=1, max_length=64, description="From `GET /catalogue`")
    occurred_on: date
    topic: str | None = Field(
        default=None, min_length=1, max_length=500, description="e.g. a training's subject"
    )
    outcome: str | None = Field(
        default=None, min_length=1, max_length=64, description="A mediation's result"
    )
    incident_id: UUID | None = Field(
        default=None, description="The incident a footage extraction served"
    )
    notes: str | None = Field(default=None, min_length=1, max_length=4000)


class ActivityCreate(ActivityBase):
    measures: list[MeasureCreate] = Field(min_length=1, max_length=50)
    team_ids: list[UUID] = Field(default_factory=list, max_length=50)


class Activity(ReportingTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="knownarea.id", index=True)
    activity_type: str = Field(max_length=64, index=True)
    occurred_on: date = Field(index=True)
    topic: str | None = Field(default=None, max_length=500)
    outcome: str | None = Field(default=None, max_length=64)
    incident_id: UUID | None = Field(default=None, foreign_key="incident.id")
    notes: str | None = Field(default=None, sa_type=Text)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str = Field(max_length=200)
    version: int = 1


class ActivityMeasureRow(ReportingTable, table=True):
    __tablename__ = "activitymeasure"

    activity_id: UUID = Field(foreign_key="activity.id", primary_key=True)
    item: str = Field(primary_key=True, max_length=64)
    unit: str = Field(primary_key=True, max_length=64)
    quantity_milli: int = Field(sa_column=Column(BigInteger, nullable=False))


class ActivityTeam(ReportingTable, table=True):
    activity_id: UUID = Field(foreign_key="activity.id", primary_key=True)
    team_id: UUID = Field(foreign_key="knownteam.id", primary_key=True)


class ActivityPublic(ActivityBase):
    id: UUID
    measures: list[MeasurePublic]
    team_ids: list[UUID]
    recorded_at: datetime
    recorded_by: str
    version: int


@dataclass(frozen=True)
class ActivityFilter:
    area_id: UUID | None = None
    activity_type: str | None = None
    team_id: UUID | None = None
    start: date | None = None
    end: date | None = None
