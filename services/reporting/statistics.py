"""Statistics from tallies: the counts the service keeps in the same transaction as each
incident or activity change, and the query that sums them for an area and a period,
beside the same dates a year earlier.

Each record is counted in its own area and in every area above it (rolled up), by day
and by month, so the figures of a ward or a province are the rows of that one area: a
query reads whole-month rows for the months inside the period and day rows only for its
ragged edges, at most (months + edge days) × categories × statuses rows, whatever the
number of incidents or the size of the area tree. When an area moves (or its parent is
registered after it), its rows move from the old ancestors to the new ones, set-based.

Only ``service.py`` calls the functions that change tallies (``add_incident``,
``add_activity``, ``reparent``, and ``recount``, which counts everything again from the
records for ``antt rebuild reporting``); the query functions only read.
"""

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import (
    QUANTITY_SCALE,
    Activity,
    ActivityFigure,
    ActivityMeasureRow,
    ActivityTally,
    ActivityTypeSpec,
    Figure,
    Incident,
    IncidentFigures,
    IncidentTally,
    KnownArea,
    MeasureTally,
    QuantityFigure,
    ShareSolved,
)
from shared.db import execute
from shared.events import IncidentStatus
from shared.scope import area_lines

DAY, MONTH = "day", "month"
# Tally status of an incident linked as a duplicate: counted apart, in no other figure.
DUPLICATE = "duplicate"
SOLVED = (IncidentStatus.RESOLVED, IncidentStatus.MEDIATED, IncidentStatus.REFERRED)
# Dismissed reports proved false or not an incident: listed by status, counted nowhere else.
NOT_COUNTED = (IncidentStatus.DISMISSED.value, DUPLICATE)


# --- buckets and periods ----------------------------------------------------------------


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def buckets(day: date) -> list[tuple[str, date]]:
    """Every record is counted in its day and in its month."""
    return [(DAY, day), (MONTH, day.replace(day=1))]


def year_earlier(day: date) -> date:
    """The same date a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_parts(start: date, end: date) -> list[tuple[str, date, date]]:
    """Tally ranges that make up [start, end] exactly: month rows for the whole months
    inside, day rows for the days before the first and after the last whole month."""
    first_full = start if start.day == 1 else month_end(start) + timedelta(days=1)
    last_full_end = end if end == month_end(end) else end.replace(day=1) - timedelta(days=1)
    if first_full > last_full_end:
        return [(DAY, start, end)]
    parts = [(MONTH, first_full, last_full_end.replace(day=1))]
    if start < first_full:
        parts.append((DAY, start, first_full - timedelta(days=1)))
    if last_full_end < end:
        parts.append((DAY, last_full_end + timedelta(days=1), end))
    return parts


# --- arithmetic as the press does it ------------------------------------------------------


def percent_change(current: int | Decimal, previous: int | Decimal) -> int | None:
    """(current − previous) / previous, as a whole percent rounded half away from zero
    (18 → 5 is −72); None when there is nothing earlier to compare with."""
    if previous == 0:
        return None
    ratio = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    return int(ratio.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share_percent(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def from_milli(milli: int) -> Decimal:
    """Thousandths back to an exact decimal, without exponent or trailing zeros."""
    value = Decimal(milli) / QUANTITY_SCALE
    integral = value.to_integral_value()
    return integral if value == integral else value.normalize()


def to_milli(quantity: Decimal) -> int:
    return int(quantity * QUANTITY_SCALE)


# --- keeping tallies ----------------------------------------------------------------------


async def _add(
    session: AsyncSession, table: Table, names: Sequence[str], column: str, rows: list[tuple]
) -> None:
    """Add each row's last value to the ``column`` of the tally row keyed by its others
    (``names``), creating rows that are missing: one batched upsert, atomic on either
    database. Rows with the same key are summed first (one statement may not touch a row
    twice on PostgreSQL)."""
    deltas: dict[tuple, int] = {}
    for *keys, delta in rows:
        deltas[tuple(keys)] = deltas.get(tuple(keys), 0) + delta
    if not deltas:
        return
    connection = await session.connection()
    key = (connection.dialect.name, table.name, tuple(names), column)
    statement = _UPSERTS.get(key)
    if statement is None:
        insert: Any = postgresql_insert if key[0] == "postgresql" else sqlite_insert
        statement = insert(table)
        statement = _UPSERTS[key] = statement.on_conflict_do_update(
            index_elements=list(names),
            set_={column: table.c[column] + statement.excluded[column]},
        )
    await execute(
        session,
        statement,
        [{**dict(zip(names, keys, strict=True)), column: delta} for keys, delta in deltas.items()],
    )


# Built once per database, table and key: building costs more than running them.
_UPSERTS: dict[tuple[str, str, tuple[str, ...], str], Any] = {}


MAX_DEPTH = 12  # province → … → residential group is 4 deep; a faulty feed stops here


async def ancestors(session: AsyncSession, area_id: UUID | None) -> list[UUID]:
    """The area and the areas above it, nearest first, as far as the read model knows
    (one query)."""
    if area_id is None:
        return []
    return (await area_lines(session, KnownArea, [area_id])).chain(area_id, MAX_DEPTH)


TALLIES: tuple[tuple[Any, str], ...] = (
    (IncidentTally.__table__, "incidents"),  # type: ignore[attr-defined]
    (ActivityTally.__table__, "activities"),  # type: ignore[attr-defined]
    (MeasureTally.__table__, "quantity_milli"),  # type: ignore[attr-defined]
)


async def add_incident(
    session: AsyncSession,
    *,
    areas: Sequence[UUID],
    day: date,
    category_group: str,
    category: str,
    status: str,
    delta: int,
) -> None:
    """Count an incident (``delta`` +1 or −1) in each of ``areas`` (its area and those
    above it), in its day and its month."""
    table: Table = IncidentTally.__table__  # type: ignore[attr-defined]
    names = ("area_id", "span", "bucket", "category_group", "category", "status")
    rows = [
        (area_id, span, bucket, category_group, category, status, delta)
        for area_id in areas
        for span, bucket in buckets(day)
    ]
    await _add(session, table, names, "incidents", rows)


async def add_activity(
    session: AsyncSession,
    *,
    areas: Sequence[UUID],
    day: date,
    activity_type: str,
    outcome: str | None,
    measures: Iterable[tuple[str, str, int]],
) -> None:
    activities: Table = ActivityTally.__table__  # type: ignore[attr-defined]
    quantities: Table = MeasureTally.__table__  # type: ignore[attr-defined]
    measures = list(measures)
    places = [(area_id, span, bucket) for area_id in areas for span, bucket in buckets(day)]
    await _add(
        session,
        activities,
        ("area_id", "span", "bucket", "activity_type", "outcome"),
        "activities",
        [(*place, activity_type, outcome or "", 1) for place in places],
    )
    await _add(
        session,
        quantities,
        ("area_id", "span", "bucket", "activity_type", "item", "unit"),
        "quantity_milli",
        [
            (*place, activity_type, item, unit, milli)
            for place in places
            for item, unit, milli in measures
        ],
    )


async def _shift(session: AsyncSession, source: UUID, target: UUID, sign: int) -> None:
    """Add (or with ``sign`` −1 take away) every tally row of ``source`` to ``target``."""
    connection = await session.connection()
    insert: Any = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    for table, value in TALLIES:
        names = [column.name for column in table.columns]
        columns = [
            literal(target, table.c.area_id.type).label("area_id")
            if name == "area_id"
            else (table.c[value] * sign).label(value)
            if name == value
            else table.c[name]
            for name in names
        ]
        statement = insert(table).from_select(
            names, select(*columns).where(table.c.area_id == source)
        )
        statement = statement.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={value: table.c[value] + statement.excluded[value]},
        )
        await execute(session, statement)


async def reparent(
    session: AsyncSession, area_id: UUID, old_parent: UUID | None, new_parent: UUID | None
) -> None:
    """An area moved from ``old_parent`` to ``new_parent``: its rolled-up rows leave the
    old ancestors and join the new ones (common ancestors keep them). Call before the
    read model's parent changes or after: only the parents' chains are read."""
    old_chain = await ancestors(session, old_parent)
    new_chain = await ancestors(session, new_parent)
    if area_id in old_chain or area_id in new_chain:
        return  # a cycle from a faulty feed: leave the counts where they are
    for target in old_chain:
        if target not in new_chain:
            await _shift(session, area_id, target, -1)
    for target in new_chain:
        if target not in old_chain:
            await _shift(session, area_id, target, +1)


async def recount(session: AsyncSession, zone: tzinfo) -> None:
    """Replace every tally by a count of the incidents and activities themselves, each in
    its area and every area above it as the read model holds the tree now: the same rows
    ``add_incident``, ``add_activity`` and ``reparent`` keep one change at a time (rows those
    left at zero are not made again)."""
    for table, _ in TALLIES:
        await execute(session, table.delete())
    chains: dict[UUID, list[UUID]] = {}

    async def chain(area_id: UUID) -> list[UUID]:
        if area_id not in chains:
            chains[area_id] = await ancestors(session, area_id)
        return chains[area_id]

    connection = await session.connection()
    incident: Table = Incident.__table__  # type: ignore[attr-defined]
    incidents: Counter[tuple[Any, ...]] = Counter()
    rows = await connection.stream(
        select(
            incident.c.area_id,
            incident.c.occurred_at,
            incident.c.category_group,
            incident.c.category,
            incident.c.status,
            incident.c.duplicate_of,
        )
    )
    async for area_id, occurred_at, group, category, status, duplicate_of in rows:
        counted = DUPLICATE if duplicate_of is not None else getattr(status, "value", status)
        incidents[(area_id, local_day(occurred_at, zone), group, category, counted)] += 1

    activity: Table = Activity.__table__  # type: ignore[attr-defined]
    measure: Table = ActivityMeasureRow.__table__  # type: ignore[attr-defined]
    activities: Counter[tuple[Any, ...]] = Counter()
    records = await connection.stream(
        select(
            activity.c.area_id, activity.c.occurred_on, activity.c.activity_type, activity.c.outcome
        )
    )
    async for area_id, day, kind, outcome in records:
        activities[(area_id, day, kind, outcome or "")] += 1
    quantities: Counter[tuple[Any, ...]] = Counter()
    measured = await connection.stream(
        select(
            activity.c.area_id,
            activity.c.occurred_on,
            activity.c.activity_type,
            measure.c.item,
            measure.c.unit,
            measure.c.quantity_milli,
        ).join(measure, measure.c.activity_id == activity.c.id)
    )
    async for area_id, day, kind, item, unit, milli in measured:
        quantities[(area_id, day, kind, item, unit)] += milli

    incident_tally, activity_tally, measure_tally = (table for table, _ in TALLIES)
    for target, value, counts, names in (
        (incident_tally, "incidents", incidents, ("category_group", "category", "status")),
        (activity_tally, "activities", activities, ("activity_type", "outcome")),
        (measure_tally, "quantity_milli", quantities, ("activity_type", "item", "unit")),
    ):
        rolled: Counter[tuple[Any, ...]] = Counter()
        for (area_id, day, *keys), count in counts.items():
            for area in await chain(area_id):
                for span, bucket in buckets(day):
                    rolled[(area, span, bucket, *keys)] += count
        rows_out = [
            {
                "area_id": key[0],
                "span": key[1],
                "bucket": key[2],
                **dict(zip(names, key[3:], strict=True)),
                value: count,
            }
            for key, count in rolled.items()
        ]
        for start in range(0, len(rows_out), RECOUNT_BATCH):
            await execute(session, target.insert(), rows_out[start : start + RECOUNT_BATCH])


RECOUNT_BATCH = 5000


# --- the query ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    start: date
    end: date

    @property
    def previous(self) -> "Periods":
        return Periods(year_earlier(self.start), year_earlier(self.end))


async def sums(
    session: AsyncSession,
    table: Any,
    root: UUID,
    periods: Periods,
    keys: Sequence[str],
    value: str,
) -> list[tuple[int, tuple[Any, ...], int]]:
    """(0 for the period or 1 for a year earlier, key values, sum) for one area: one exact
    index range (area, span, bucket from … to) per part of each period."""
    selects = [
        select(
            literal(label).label("period"),
            *(table.c[key] for key in keys),
            func.sum(table.c[value]).label("total"),
        )
        .where(table.c.area_id == root, table.c.span == span, table.c.bucket.between(first, last))
        .group_by(*(table.c[key] for key in keys))
        for label, period in enumerate((periods, periods.previous))
        for span, first, last in period_parts(period.start, period.end)
    ]
    rows = await execute(session, union_all(*selects))
    return [(int(row[0]), tuple(row[1:-1]), int(row[-1] or 0)) for row in rows.all()]


def figure(key: str, current: int, previous: int, group: str | None = None) -> Figure:
    return Figure(
        key=key,
        group=group,
        count=current,
        previous=previous,
        change=current - previous,
        change_percent=percent_change(current, previous),
    )


async def incident_figures(
    session: AsyncSession, root: UUID, periods: Periods, category_groups: dict[str, str]
) -> IncidentFigures:
    found = await sums(
        session,
        IncidentTally.__table__,  # type: ignore[attr-defined]
        root,
        periods,
        ("category_group", "category", "status"),
        "incidents",
    )
    groups: dict[str, list[int]] = {group: [0, 0] for group in category_groups.values()}
    categories: dict[str, list[Any]] = {
        category: [group, 0, 0] for category, group in category_groups.items()
    }
    statuses: dict[str, list[int]] = {status.value: [0, 0] for status in IncidentStatus}
    statuses[DUPLICATE] = [0, 0]
    for period, (group, category, status), count in found:
        statuses.setdefault(status, [0, 0])[period] += count
        if status in NOT_COUNTED:
            continue
        groups.setdefault(group, [0, 0])[period] += count
        categories.setdefault(category, [group, 0, 0])[period + 1] += count
    total = [sum(v[0] for v in groups.values()), sum(v[1] for v in groups.values())]
    solved = [sum(statuses[s.value][i] for s in SOLVED) for i in (0, 1)]
    duplicates = statuses.pop(DUPLICATE)
    return IncidentFigures(
        total=figure("incidents", total[0], total[1]),
        share_solved=ShareSolved(
            solved=solved[0],
            total=total[0],
            percent=share_percent(solved[0], total[0]),
            previous_solved=solved[1],
            previous_total=total[1],
            previous_percent=share_percent(solved[1], total[1]),
        ),
        by_group=[figure(key, v[0], v[1]) for key, v in groups.items()],
        by_category=[figure(key, v[1], v[2], group=v[0]) for key, v in categories.items()],
        by_status=[figure(key, v[0], v[1]) for key, v in statuses.items()],
        duplicates=figure(DUPLICATE, duplicates[0], duplicates[1]),
    )


async def activity_figures(
    session: AsyncSession,
    root: UUID,
    periods: Periods,
    activity_types: dict[str, ActivityTypeSpec],
) -> list[ActivityFigure]:
    records: dict[str, dict[str, list[int]]] = {kind: {} for kind in activity_types}
    quantities: dict[str, dict[tuple[str, str], list[int]]] = {kind: {} for kind in activity_types}
    for kind, spec in activity_types.items():
        for outcome in spec.outcomes:
            records[kind][outcome] = [0, 0]
        for item, unit in spec.measures.items():
            quantities[kind][(item, unit)] = [0, 0]
    activity_table: Any = ActivityTally.__table__  # type: ignore[attr-defined]
    for period, (kind, outcome), total in await sums(
        session, activity_table, root, periods, ("activity_type", "outcome"), "activities"
    ):
        records.setdefault(kind, {}).setdefault(outcome, [0, 0])[period] += total
    measure_table: Any = MeasureTally.__table__  # type: ignore[attr-defined]
    for period, (kind, item, unit), total in await sums(
        session, measure_table, root, periods, ("activity_type", "item", "unit"), "quantity_milli"
    ):
        quantities.setdefault(kind, {}).setdefault((item, unit), [0, 0])[period] += total
    figures = []
    for kind in records.keys() | quantities.keys():
        outcomes = records.get(kind, {})
        current = sum(v[0] for v in outcomes.values())
        previous = sum(v[1] for v in outcomes.values())
        figures.append(
            ActivityFigure(
                activity_type=kind,
                activities=current,
                previous=previous,
                change=current - previous,
                change_percent=percent_change(current, previous),
                outcomes=[
                    figure(outcome, v[0], v[1]) for outcome, v in outcomes.items() if outcome
                ],
                measures=[
                    quantity_figure(item, unit, v[0], v[1])
                    for (item, unit), v in quantities.get(kind, {}).items()
                ],
            )
        )
    order = {kind: index for index, kind in enumerate(activity_types)}
    figures.sort(key=lambda f: (order.get(f.activity_type, len(order)), f.activity_type))
    return figures


def quantity_figure(item: str, unit: str, current: int, previous: int) -> QuantityFigure:
    return QuantityFigure(
        item=item,
        unit=unit,
        quantity=from_milli(current),
        previous=from_milli(previous),
        change=from_milli(current - previous),
        change_percent=percent_change(current, previous),
    )


def statistics_rows(
    figures: IncidentFigures, activities: Sequence[ActivityFigure]
) -> list[list[Any]]:
    """The statistics as flat rows for CSV: section, key, group or unit, figures."""
    rows: list[list[Any]] = []
    total = figures.total
    rows.append(
        ["incidents", "total", "", total.count, total.previous, total.change, total.change_percent]
    )
    share = figures.share_solved
    rows.append(
        ["incidents", "share_solved_percent", "", share.percent, share.previous_percent, "", ""]
    )
    for section, items in (
        ("incidents_by_group", figures.by_group),
        ("incidents_by_category", figures.by_category),
        ("incidents_by_status", figures.by_status),
        ("incidents_duplicates", [figures.duplicates]),
    ):
        for f in items:
            rows.append(
                [section, f.key, f.group or "", f.count, f.previous, f.change, f.change_percent]
            )
    for activity in activities:
        rows.append(
            [
                "activities",
                activity.activity_type,
                "records",
                activity.activities,
                activity.previous,
                activity.change,
                activity.change_percent,
            ]
        )
        for outcome in activity.outcomes:
            rows.append(
                [
                    f"activity_outcomes:{activity.activity_type}",
                    outcome.key,
                    "",
                    outcome.count,
                    outcome.previous,
                    outcome.change,
                    outcome.change_percent,
                ]
            )
        for q in activity.measures:
            rows.append(
                [
                    f"activity_measures:{activity.activity_type}",
                    q.item,
                    q.unit,
                    q.quantity,
                    q.previous,
                    q.change,
                    q.change_percent,
                ]
            )
    return rows
