"""Awards' copies of registry's and reporting's aggregates (kept from their events), and
the teams' counts of resolved incidents."""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from services.awards.common import AwardsTable
from shared.db import enum_column
from shared.events import IncidentStatus, TeamRole

# --- read models from registry events: whom an award can go to, and where ---------------


class KnownArea(AwardsTable, table=True):
    """An area; ``version`` orders name and households (registered/updated), while
    ``parent_version`` orders the parent (registered/moved), so either may come first."""

    id: UUID = Field(primary_key=True)
    code: str = Field(index=True)
    name: str
    level: str | None = Field(default=None, max_length=32)
    parent_id: UUID | None = Field(default=None, index=True)
    households: int | None = None
    version: int
    parent_version: int = 0


class KnownTeam(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    kind: str = Field(default="", max_length=64)
    founded_on: date | None = None
    # Set by team_dissolved whatever the order of arrival: a dissolution is final.
    dissolved_on: date | None = None
    version: int


class KnownPerson(AwardsTable, table=True):
    """A team member; area and name are those of their latest join (by ``joined_on``, then
    team), preferring teams they are still on, whatever order the joins arrive in."""

    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    full_name: str


class KnownMembership(AwardsTable, table=True):
    """One person in one role on one team (kept after leaving, so an old join that comes
    late cannot bring it back)."""

    id: UUID = Field(primary_key=True)
    team_id: UUID = Field(index=True)
    person_id: UUID = Field(index=True)
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    active: bool = True
    version: int
    # The days it covers (None: since ever / still on): a member scores for the team's
    # achievements of those days, whichever arrives first, the roster or the credit.
    joined_on: date | None = None
    left_on: date | None = None
    # As the join announced them: the person's area and name follow their latest join.
    area_id: UUID | None = None
    full_name: str | None = Field(default=None, max_length=200)


# --- what happened, from reporting events ----------------------------------------------


class TrackedIncident(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    category: str
    status: IncidentStatus = Field(sa_type=enum_column(IncidentStatus))
    version: int
    category_group: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=32)
    occurred_at: datetime | None = Field(default=None, index=True)
    credited_team_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    duplicate_of: UUID | None = None


class TrackedActivity(AwardsTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    activity_type: str = Field(max_length=64, index=True)
    occurred_on: date = Field(index=True)
    outcome: str | None = Field(default=None, max_length=64)
    measures: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    team_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    version: int


class TeamContribution(AwardsTable, table=True):
    team_id: UUID = Field(primary_key=True)
    resolved_incidents: int = 0


class TeamContributionPublic(SQLModel):
    team_id: UUID
    resolved_incidents: int
