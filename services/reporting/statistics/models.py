"""Statistics tables and answers: the tallies kept beside every change, and the figures
of an area and a period beside the same dates a year earlier."""

from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from services.reporting.activities.rules import from_milli
from services.reporting.common import ReportingTable
from services.reporting.statistics.rules import (
    DUPLICATE,
    ActivityCounts,
    IncidentCounts,
    percent_change,
    share_percent,
)

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

    @classmethod
    def of(cls, key: str, current: int, previous: int, group: str | None = None) -> "Figure":
        return cls(
            key=key,
            group=group,
            count=current,
            previous=previous,
            change=current - previous,
            change_percent=percent_change(current, previous),
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

    @classmethod
    def of(cls, item: str, unit: str, current: int, previous: int) -> "QuantityFigure":
        """From sums in thousandths."""
        return cls(
            item=item,
            unit=unit,
            quantity=from_milli(current),
            previous=from_milli(previous),
            change=from_milli(current - previous),
            change_percent=percent_change(current, previous),
        )


class ActivityFigure(SQLModel):
    activity_type: str
    activities: int
    previous: int
    change: int
    change_percent: int | None
    outcomes: list[Figure]
    measures: list[QuantityFigure]

    @classmethod
    def of(cls, counts: ActivityCounts) -> "ActivityFigure":
        current, previous = counts.activities
        return cls(
            activity_type=counts.activity_type,
            activities=current,
            previous=previous,
            change=current - previous,
            change_percent=percent_change(current, previous),
            outcomes=[Figure.of(outcome, v[0], v[1]) for outcome, v in counts.outcomes.items()],
            measures=[
                QuantityFigure.of(item, unit, v[0], v[1])
                for (item, unit), v in counts.measures.items()
            ],
        )


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

    @classmethod
    def of(cls, counts: IncidentCounts) -> "IncidentFigures":
        total, solved, duplicates = counts.total, counts.solved, counts.duplicates
        return cls(
            total=Figure.of("incidents", total[0], total[1]),
            share_solved=ShareSolved(
                solved=solved[0],
                total=total[0],
                percent=share_percent(solved[0], total[0]),
                previous_solved=solved[1],
                previous_total=total[1],
                previous_percent=share_percent(solved[1], total[1]),
            ),
            by_group=[Figure.of(key, v[0], v[1]) for key, v in counts.by_group.items()],
            by_category=[
                Figure.of(key, v[0], v[1], group=group)
                for key, (group, v) in counts.by_category.items()
            ],
            by_status=[Figure.of(key, v[0], v[1]) for key, v in counts.by_status.items()],
            duplicates=Figure.of(DUPLICATE, duplicates[0], duplicates[1]),
        )


class Statistics(SQLModel):
    area_id: UUID
    area_code: str
    area_name: str
    period: Period
    compared_with: Period
    timezone: str
    incidents: IncidentFigures
    activities: list[ActivityFigure]
