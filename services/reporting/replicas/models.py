"""Read models of registry's areas and teams, built from its events."""

from datetime import date
from uuid import UUID

from sqlmodel import Field

from services.reporting.common import ReportingTable
from services.reporting.replicas.rules import TeamStatus
from shared.db import enum_column
from shared.events import AreaLevel


class KnownArea(ReportingTable, table=True):
    """An area as registry announced it. ``area_moved`` changes only its parent, which
    keeps the version it was set from. A row with version 0 is a placeholder for an area
    named before its registration arrived; its level is filled in then."""

    id: UUID = Field(primary_key=True)
    code: str = Field(index=True)
    name: str
    level: AreaLevel | None = Field(default=None, sa_type=enum_column(AreaLevel))
    parent_id: UUID | None = Field(default=None, index=True)
    version: int
    name_version: int = 0
    parent_version: int = 0


class KnownTeam(ReportingTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    kind: str
    status: str = TeamStatus.ACTIVE.value
    dissolved_on: date | None = None
    version: int
