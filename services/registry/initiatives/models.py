"""Initiative tables and API schemas: initiatives, their runs and their recorded results."""

from datetime import date, datetime
from uuid import UUID, uuid4

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from services.registry.common import Name, PastDate, Reason, RegistryTable, utcnow
from services.registry.initiatives.rules import InitiativeStatus
from shared.db import enum_column


class InitiativeBase(SQLModel):
    name: Name
    description: str = Field(default="", max_length=4000)


class InitiativeCreate(InitiativeBase):
    area_id: UUID
    launched_on: PastDate


class Initiative(RegistryTable, InitiativeBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: InitiativeStatus = Field(
        default=InitiativeStatus.RUNNING, index=True, sa_type=enum_column(InitiativeStatus)
    )
    launched_on: date
    stopped_on: date | None = None
    stop_reason: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class InitiativePeriod(RegistryTable, table=True):
    """One run of an initiative, from a launch to a stop: relaunches add periods."""

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    initiative_id: UUID = Field(foreign_key="initiative.id", index=True)
    launched_on: date
    stopped_on: date | None = None
    stop_reason: str | None = None


class InitiativeResultIn(SQLModel):
    recorded_on: PastDate
    summary: str = Field(min_length=1, max_length=4000)


class InitiativeResult(RegistryTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    initiative_id: UUID = Field(foreign_key="initiative.id", index=True)
    recorded_on: date
    summary: str = Field(sa_column=Column(Text, nullable=False))


class InitiativeStop(SQLModel):
    stopped_on: PastDate
    reason: Reason


class InitiativeRelaunch(SQLModel):
    launched_on: PastDate


class InitiativePeriodPublic(SQLModel):
    launched_on: date
    stopped_on: date | None
    stop_reason: str | None


class InitiativeResultPublic(SQLModel):
    recorded_on: date
    summary: str


class InitiativePublic(InitiativeBase):
    id: UUID
    area_id: UUID
    status: InitiativeStatus
    launched_on: date
    stopped_on: date | None
    stop_reason: str | None
    version: int


class InitiativeProfile(InitiativePublic):
    periods: list[InitiativePeriodPublic]
    results: list[InitiativeResultPublic]
