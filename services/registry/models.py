"""Registry tables and API schemas: the area tree, people, teams and their memberships,
initiatives, community cameras, the area summary counters and honours."""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import enum_column
from shared.events import AreaLevel, TeamRole


def utcnow() -> datetime:
    return datetime.now(UTC)


def not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("cannot be in the future")
    return value


PastDate = Annotated[date, AfterValidator(not_in_future)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


class RegistryTable(SQLModel, registry=registry()):
    """Base of the registry's tables: their own metadata, apart from other services'."""


# --- areas ---------------------------------------------------------------------------

# Higher levels enclose lower ones: a child's level must rank below its parent's.
LEVEL_RANK = {
    AreaLevel.PROVINCE: 0,
    AreaLevel.DISTRICT: 1,
    AreaLevel.WARD: 2,
    AreaLevel.COMMUNE: 2,
    AreaLevel.RESIDENTIAL_GROUP: 3,
}


class AreaBase(SQLModel):
    code: str = Field(min_length=1, max_length=64, description="Unique administrative code")
    name: Name
    level: AreaLevel = Field(sa_type=enum_column(AreaLevel))
    households: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Households, when known"
    )


class AreaCreate(AreaBase):
    parent_id: UUID | None = Field(default=None, description="The enclosing area, if any")


class AreaUpdate(SQLModel):
    """Rename an area or record its households; code, level and parent stay."""

    name: Name | None = None
    households: int | None = Field(default=None, ge=0, le=10_000_000)


class AreaMove(SQLModel):
    parent_id: UUID | None = Field(description="The new enclosing area (null: top level)")


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


class AreaTally(RegistryTable, table=True):
    """A counter of an area's subtree (the area and everything below it), kept up to date
    by every change so the summary never scans: ``teams:<kind>``, ``members``,
    ``members:<kind>``, ``cameras``, ``initiatives``."""

    area_id: UUID = Field(foreign_key="area.id", primary_key=True)
    key: str = Field(primary_key=True, max_length=80)
    value: int = 0


class AreaPresence(RegistryTable, table=True):
    """How many active memberships a person holds in an area's subtree, overall (key ``*``)
    and per team kind: a person counts once in ``members`` however many teams they serve."""

    area_id: UUID = Field(foreign_key="area.id", primary_key=True)
    key: str = Field(primary_key=True, max_length=80)
    person_id: UUID = Field(foreign_key="person.id", primary_key=True)
    memberships: int = 0


class KindSummary(SQLModel):
    kind: str
    name_vi: str
    name_en: str
    teams: int
    members: int = Field(description="Distinct people serving on active teams of this kind")


class AreaSummary(SQLModel):
    area: AreaPublic
    teams: int = Field(description="Active teams in the area and below")
    members: int = Field(description="Distinct people serving on any active team")
    cameras: int = Field(description="Community cameras installed and not removed")
    initiatives: int = Field(description="Initiatives running")
    by_kind: list[KindSummary]


# --- people --------------------------------------------------------------------------


class PersonBase(SQLModel):
    full_name: Name
    birth_date: PastDate | None = None
    phone: str | None = Field(default=None, max_length=32, description="Never in events")


class PersonCreate(PersonBase):
    area_id: UUID = Field(description="The area the person lives or serves in")


class Person(RegistryTable, PersonBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    birth_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PersonPublic(PersonBase):
    id: UUID
    area_id: UUID


# --- teams ---------------------------------------------------------------------------


class TeamStatus(StrEnum):
    ACTIVE = "active"
    DISSOLVED = "dissolved"


class FoundingDecisionIn(SQLModel):
    number: str = Field(min_length=1, max_length=64, description="Số quyết định")
    issued_on: PastDate
    issuer: Name


class MemberIn(SQLModel):
    """A member to add: an existing person by id, or a new person by name."""

    person_id: UUID | None = None
    full_name: Name | None = None
    birth_date: PastDate | None = None
    phone: str | None = Field(default=None, max_length=32)
    role: TeamRole = TeamRole.MEMBER
    joined_on: PastDate | None = Field(default=None, description="Default: today")


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


class HonourPublic(SQLModel):
    award_id: UUID
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime
    revoked: bool = False
    revoked_on: date | None = None
    revocation_reason: str | None = None


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


class MembershipPublic(MemberPublic):
    team_id: UUID
    team_name: str
    team_kind: str


class PersonProfile(PersonPublic):
    memberships: list[MembershipPublic] = Field(description="Current and past, newest first")
    honours: list[HonourPublic]


class TeamKindPublic(SQLModel):
    code: str
    name_vi: str
    name_en: str


# --- initiatives ---------------------------------------------------------------------


class InitiativeStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


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


# --- cameras -------------------------------------------------------------------------


class CameraStatus(StrEnum):
    INSTALLED = "installed"
    REMOVED = "removed"


class CameraBase(SQLModel):
    location: str = Field(min_length=1, max_length=300, description="Street, crossing, gate …")
    funding: str = Field(min_length=1, max_length=64, description="From the funding catalogue")
    funded_by: str | None = Field(default=None, max_length=200, description="Who paid")


class CameraCreate(CameraBase):
    area_id: UUID
    installed_on: PastDate


class Camera(RegistryTable, CameraBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    status: CameraStatus = Field(
        default=CameraStatus.INSTALLED, index=True, sa_type=enum_column(CameraStatus)
    )
    installed_on: date
    removed_on: date | None = None
    removal_reason: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class CameraRemove(SQLModel):
    removed_on: PastDate
    reason: Reason


class CameraPublic(CameraBase):
    id: UUID
    area_id: UUID
    status: CameraStatus
    installed_on: date
    removed_on: date | None
    removal_reason: str | None
    version: int


# --- honours (from the awards service) -------------------------------------------------


class Honour(RegistryTable, table=True):
    """An award granted by the awards service, shown on the recipient's profile."""

    award_id: UUID = Field(primary_key=True)
    recipient_id: UUID = Field(index=True)
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime
    revoked_on: date | None = None
    revocation_reason: str | None = None


class RevokedAward(RegistryTable, table=True):
    """A revocation seen before its grant (topics are not ordered with each other): the
    grant, when it comes, is shown revoked."""

    award_id: UUID = Field(primary_key=True)
    revoked_on: date
    reason: str


# --- bulk import ---------------------------------------------------------------------


class ImportRowError(SQLModel):
    row: int = Field(description="1-based line number in the file (the header is line 1)")
    field: str
    message: str


class ImportReport(SQLModel):
    rows: int
    teams: int = Field(description="Teams imported")
    members: int = Field(description="Memberships imported")
    skipped_rows: int
    errors: list[ImportRowError]
