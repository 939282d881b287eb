"""Reporting tables and API schemas: read models of areas and teams, incidents with their
lifecycle history, tip-offs, activities, and the statistics tallies kept beside them."""

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    model_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import enum_column
from shared.events import AreaLevel, IncidentSource, IncidentStatus
from shared.idempotency import idempotency_table


def utcnow() -> datetime:
    return datetime.now(UTC)


class ReportingTable(SQLModel, registry=registry()):
    """Base of the reporting tables: their own metadata, apart from other services'."""


# Idempotency-Key answers of the create routes (shared/idempotency.py), kept beside the
# records they created.
idempotency_table(ReportingTable.metadata)


# Names of catalogue entries (categories, activity types, measured items, units).
CATALOGUE_NAME = r"^[a-z][a-z0-9_]{0,63}$"
CatalogueName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=CATALOGUE_NAME)
]


# --- read models built from registry events --------------------------------------------


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


class TeamStatus(StrEnum):
    ACTIVE = "active"
    DISSOLVED = "dissolved"


class KnownTeam(ReportingTable, table=True):
    id: UUID = Field(primary_key=True)
    area_id: UUID = Field(index=True)
    name: str
    kind: str
    status: str = TeamStatus.ACTIVE.value
    dissolved_on: date | None = None
    version: int


# --- incidents ------------------------------------------------------------------------


class IncidentSeverity(StrEnum):
    """How grave an incident is, in the Penal Code's four classes (Điều 9 BLHS 2015) for
    crimes, and ``minor`` for what is not a crime (administrative violations, disputes)."""

    MINOR = "minor"
    LESS_SERIOUS = "less_serious"  # ít nghiêm trọng
    SERIOUS = "serious"  # nghiêm trọng
    VERY_SERIOUS = "very_serious"  # rất nghiêm trọng
    ESPECIALLY_SERIOUS = "especially_serious"  # đặc biệt nghiêm trọng


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


def not_in_future(value: datetime) -> datetime:
    if value > utcnow():
        raise ValueError("cannot be in the future")
    return value


PastDatetime = Annotated[AwareDatetime, AfterValidator(not_in_future)]


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


# --- tip-offs (tố giác) -------------------------------------------------------------------


class InformantDetails(SQLModel):
    """Who sent a tip: encrypted at rest, shown only to tip handlers, never sent anywhere."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    contact: str | None = Field(default=None, min_length=1, max_length=200)


class TipCreate(SQLModel):
    area_id: UUID
    category: str = Field(min_length=1, max_length=64)
    summary: str = Field(min_length=1, max_length=4000)
    occurred_at: PastDatetime
    informant: InformantDetails | None = Field(
        default=None, description="Leave out to stay anonymous"
    )


class TipOff(ReportingTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    incident_id: UUID = Field(foreign_key="incident.id", unique=True)
    tip_number: str = Field(unique=True, index=True, max_length=32)
    secret_hash: str = Field(max_length=200)
    # Fernet tokens (encrypted with the newest informant key); empty for anonymous tips.
    informant_name: str | None = None
    informant_contact: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class TipReceipt(SQLModel):
    tip_number: str
    secret: str = Field(
        description="Shown once (and to a retry with the same Idempotency-Key): with the "
        "tip number it lets you follow the tip"
    )
    status: IncidentStatus


class TipStatusPublic(SQLModel):
    tip_number: str
    status: IncidentStatus
    received_at: datetime


class InformantPublic(SQLModel):
    incident_id: UUID
    tip_number: str
    anonymous: bool
    full_name: str | None
    contact: str | None


# --- activities ---------------------------------------------------------------------------

# Quantities are exact decimals with at most this many places; the database keeps them as
# whole thousandths (an integer), so sums are exact on SQLite and PostgreSQL alike.
QUANTITY_PLACES = 3
QUANTITY_SCALE = 10**QUANTITY_PLACES
MAX_QUANTITY_INT = 1_000_000_000


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


# --- statistics tallies -----------------------------------------------------------------
# Kept in the same transaction as each change, so a statistics query sums a bounded number
# of rows (areas × months and edge days × categories × statuses), never the incidents.
# ``span`` is "month" (bucket = the month's first day) or "day"; every record is counted
# in both, so a period of whole months reads month rows and only its edges read day rows.


class IncidentTally(ReportingTable, table=True):
    area_id: UUID = Field(primary_key=True)
    span: str = Field(primary_key=True, max_length=8)
    bucket: date = Field(primary_key=True)
    category_group: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    status: str = Field(primary_key=True, max_length=32)
    incidents: int = 0


class ActivityTally(ReportingTable, table=True):
    """Activity records per type and outcome (outcome "" when the type has none)."""

    area_id: UUID = Field(primary_key=True)
    span: str = Field(primary_key=True, max_length=8)
    bucket: date = Field(primary_key=True)
    activity_type: str = Field(primary_key=True, max_length=64)
    outcome: str = Field(primary_key=True, max_length=64)
    activities: int = 0


class MeasureTally(ReportingTable, table=True):
    """Summed quantities per activity type, item and unit, in thousandths."""

    area_id: UUID = Field(primary_key=True)
    span: str = Field(primary_key=True, max_length=8)
    bucket: date = Field(primary_key=True)
    activity_type: str = Field(primary_key=True, max_length=64)
    item: str = Field(primary_key=True, max_length=64)
    unit: str = Field(primary_key=True, max_length=64)
    quantity_milli: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


# --- statistics answers -------------------------------------------------------------------


class Figure(SQLModel):
    """A count in the period, the same dates a year earlier, and the change."""

    key: str
    group: str | None = None
    count: int
    previous: int
    change: int
    change_percent: int | None = Field(
        description="Rounded half away from zero; null when the earlier count is 0"
    )


class ShareSolved(SQLModel):
    solved: int
    total: int
    percent: Decimal | None = Field(description="solved / total × 100, one decimal; null if 0")
    previous_solved: int
    previous_total: int
    previous_percent: Decimal | None


class QuantityFigure(SQLModel):
    item: str
    unit: str
    quantity: Decimal
    previous: Decimal
    change: Decimal
    change_percent: int | None


class ActivityFigure(SQLModel):
    activity_type: str
    activities: int
    previous: int
    change: int
    change_percent: int | None
    outcomes: list[Figure]
    measures: list[QuantityFigure]


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = PydanticField(alias="from")
    end: date = PydanticField(alias="to")


class IncidentFigures(SQLModel):
    total: Figure
    share_solved: ShareSolved
    by_group: list[Figure]
    by_category: list[Figure]
    by_status: list[Figure]
    duplicates: Figure


class Statistics(SQLModel):
    area_id: UUID
    area_code: str
    area_name: str
    period: Period
    compared_with: Period
    timezone: str
    incidents: IncidentFigures
    activities: list[ActivityFigure]


# --- catalogue ----------------------------------------------------------------------------


class ActivityTypeSpec(BaseModel):
    """One activity type of the configurable catalogue (``ANTT_ACTIVITY_TYPES``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measures: dict[str, str] = PydanticField(
        default_factory=dict, description="Fixed items and their units"
    )
    free_items: bool = PydanticField(
        default=False, description="Any item name, with a unit from ANTT_ACTIVITY_UNITS"
    )
    outcomes: list[str] = PydanticField(
        default_factory=list, description="If any, every record names one of them"
    )
    topic: bool = PydanticField(default=False, description="Takes a free-text topic")
    incident_link: bool = PydanticField(default=False, description="May name an incident")


class CatalogueActivityType(SQLModel):
    activity_type: str
    measures: dict[str, str] = Field(description="Fixed items and their units")
    free_items: bool
    outcomes: list[str]
    topic: bool
    incident_link: bool


class CataloguePublic(SQLModel):
    category_groups: dict[str, list[str]]
    severities: list[str]
    sources: list[str]
    activity_types: list[CatalogueActivityType]
    units: list[str]
    whole_units: list[str]
