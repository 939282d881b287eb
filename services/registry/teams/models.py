"""Team tables and API schemas: teams, the areas they cover, and a team as answers show it."""

from datetime import date, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from services.registry.common import Name, PastDate, Reason, RegistryTable, utcnow
from services.registry.honours.models import HonourPublic
from services.registry.rosters.models import MemberIn, MemberPublic
from services.registry.teams.rules import TeamStatus
from shared.db import enum_column


class FoundingDecisionIn(SQLModel):
    number: str = Field(min_length=1, max_length=64, description="Số quyết định")
    issued_on: PastDate
    issuer: Name


class TeamBase(SQLModel):
    name: Name
    kind: str = Field(min_length=1, max_length=64, description="A team kind from the catalogue")
    founded_on: PastDate | None = None


class TeamCreate(TeamBase):
    area_id: UUID = Field(description="The ward/commune or residential group it belongs to")
    covered_area_ids: list[UUID] = Field(
        default_factory=list,
        max_length=200,
        description="Residential groups it covers, within its area (default: its area)",
    )
    founding_decision: FoundingDecisionIn | None = None
    members: list[MemberIn] = Field(default_factory=list, max_length=500)


class TeamUpdate(SQLModel):
    name: Name | None = None
    kind: str | None = Field(default=None, min_length=1, max_length=64)
    founded_on: PastDate | None = None
    covered_area_ids: list[UUID] | None = Field(default=None, max_length=200)
    founding_decision: FoundingDecisionIn | None = None


class TeamDissolve(SQLModel):
    dissolved_on: PastDate
    reason: Reason


class Team(RegistryTable, TeamBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    kind: str = Field(index=True, max_length=64)
    founded_on: date | None = None
    decision_number: str | None = None
    decision_issued_on: date | None = None
    decision_issuer: str | None = None
    status: TeamStatus = Field(
        default=TeamStatus.ACTIVE, index=True, sa_type=enum_column(TeamStatus)
    )
    dissolved_on: date | None = None
    dissolution_reason: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class TeamCoverage(RegistryTable, table=True):
    team_id: UUID = Field(foreign_key="team.id", primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", primary_key=True)


class FoundingDecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    issued_on: date
    issuer: str


class TeamPublic(TeamBase):
    id: UUID
    area_id: UUID
    covered_area_ids: list[UUID]
    founding_decision: FoundingDecisionPublic | None
    status: TeamStatus
    dissolved_on: date | None
    dissolution_reason: str | None
    version: int
    members: list[MemberPublic] = Field(description="Current members: leader, deputies, members")
    honours: list[HonourPublic]


class TeamListItem(TeamBase):
    id: UUID
    area_id: UUID
    status: TeamStatus
    dissolved_on: date | None
    members: int = Field(description="Current members")
    version: int


class TeamKindPublic(SQLModel):
    code: str
    name_vi: str
    name_en: str
