"""Roster tables and API schemas: memberships and the changes made to a team's roster."""

from datetime import date
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from services.registry.common import Name, PastDate, Reason, RegistryTable
from shared.db import enum_column
from shared.events import TeamRole


class MemberIn(SQLModel):
    """A member to add: an existing person by id, or a new person by name."""

    person_id: UUID | None = None
    full_name: Name | None = None
    birth_date: PastDate | None = None
    phone: str | None = Field(default=None, max_length=32)
    role: TeamRole = TeamRole.MEMBER
    joined_on: PastDate | None = Field(default=None, description="Default: today")


class Membership(RegistryTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    team_id: UUID = Field(foreign_key="team.id", index=True)
    person_id: UUID = Field(foreign_key="person.id", index=True)
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    joined_on: date = Field(default_factory=date.today)
    left_on: date | None = None
    left_reason: str | None = None


class MemberLeave(SQLModel):
    left_on: PastDate | None = Field(default=None, description="Default: today")
    reason: Reason


class RoleChange(SQLModel):
    person_id: UUID
    role: TeamRole


class RosterChange(SQLModel):
    """Several roster changes checked and applied as one: e.g. a new leader replacing the
    old one, which no single change could do without breaking the one-leader rule."""

    effective_on: PastDate | None = Field(default=None, description="Default: today")
    joins: list[MemberIn] = Field(default_factory=list, max_length=500)
    leaves: list[UUID] = Field(default_factory=list, max_length=500, description="Person ids")
    role_changes: list[RoleChange] = Field(default_factory=list, max_length=500)
    reason: str = Field(default="roster change", min_length=1, max_length=1000)


class MemberPublic(SQLModel):
    person_id: UUID
    full_name: str
    role: TeamRole
    joined_on: date
    left_on: date | None = None
    left_reason: str | None = None


class MembershipPublic(MemberPublic):
    team_id: UUID
    team_name: str
    team_kind: str
