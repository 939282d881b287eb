"""Registry tables and API schemas: areas, people, teams, memberships, honours."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from pydantic import field_validator, model_validator
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import enum_column
from shared.events import AreaLevel, TeamRole


def utcnow() -> datetime:
    return datetime.now(UTC)


class RegistryTable(SQLModel, registry=registry()):
    """Base of the registry's tables: their own metadata, apart from other services'."""


# --- areas ---------------------------------------------------------------------------


class AreaBase(SQLModel):
    code: str = Field(min_length=1, max_length=64, description="Unique administrative code")
    name: str = Field(min_length=1, max_length=200)
    level: AreaLevel = Field(sa_type=enum_column(AreaLevel))


class AreaCreate(AreaBase):
    parent_id: UUID | None = Field(default=None, description="The enclosing area, if any")


class Area(RegistryTable, AreaBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    parent_id: UUID | None = Field(default=None, foreign_key="area.id", index=True)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class AreaPublic(AreaBase):
    id: UUID
    parent_id: UUID | None
    version: int


# --- people and teams ----------------------------------------------------------------


class Person(RegistryTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    full_name: str = Field(max_length=200)
    birth_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class MemberCreate(SQLModel):
    full_name: str = Field(min_length=1, max_length=200)
    birth_date: date | None = None
    role: TeamRole = TeamRole.MEMBER


class TeamBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64, description="A team kind from the catalogue")
    founded_on: date | None = None


class TeamCreate(TeamBase):
    area_id: UUID
    members: list[MemberCreate] = Field(default_factory=list, max_length=500)

    @field_validator("members")
    @classmethod
    def one_leader(cls, members: list[MemberCreate]) -> list[MemberCreate]:
        leaders = sum(1 for member in members if member.role is TeamRole.LEADER)
        if members and leaders != 1:
            raise ValueError(f"a team has exactly one leader; got {leaders}")
        return members

    @model_validator(mode="after")
    def not_founded_in_future(self) -> "TeamCreate":
        if self.founded_on and self.founded_on > date.today():
            raise ValueError("founded_on cannot be in the future")
        return self


class Team(RegistryTable, TeamBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    status: str = "active"
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class Membership(RegistryTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    team_id: UUID = Field(foreign_key="team.id", index=True)
    person_id: UUID = Field(foreign_key="person.id", index=True)
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    joined_on: date = Field(default_factory=date.today)
    left_on: date | None = None


class Honour(RegistryTable, table=True):
    """An award granted by the awards service, shown on the recipient's profile."""

    award_id: UUID = Field(primary_key=True)
    recipient_id: UUID = Field(index=True)
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime


class MemberPublic(SQLModel):
    person_id: UUID
    full_name: str
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    joined_on: date


class HonourPublic(SQLModel):
    award_id: UUID
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime


class TeamPublic(TeamBase):
    id: UUID
    area_id: UUID
    status: str
    version: int
    members: list[MemberPublic]
    honours: list[HonourPublic]
