"""Statistics use cases: the tallies kept in the same transaction as each incident or
activity change, and the figures of an area and a period summed from them, beside the same
dates a year earlier.

Each record is counted in its own area and in every area above it (rolled up), by day
and by month, so the figures of a ward or a province are the rows of that one area: a
query reads whole-month rows for the months inside the period and day rows only for its
ragged edges, at most (months + edge days) × categories × statuses rows, whatever the
number of incidents or the size of the area tree. When an area moves (or its parent is
registered after it), its rows move from the old ancestors to the new ones, set-based.

The incident, activity and replica use cases call the functions that change tallies
(``add_incident``, ``add_activity``, ``reparent``) in their own transactions;
``StatisticsService.recount`` counts everything again from the records for
``antt rebuild reporting``; the query functions only read.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.activities.models import Activity, ActivityMeasureRow
from services.reporting.catalogue.rules import ActivityKind, Catalogue
from services.reporting.incidents.models import Incident
from services.reporting.replicas.models import KnownArea
from services.reporting.statistics.models import (
    ActivityFigure,
    ActivityTally,
    IncidentFigures,
    IncidentTally,
    MeasureTally,
    Period,
    Statistics,
)
from services.reporting.statistics.rules import (
    Periods,
    Sum,
    buckets,
    check_period,
    count_activities,
    count_incidents,
    local_day,
    moved_counts,
    period_parts,
    roll_up,
    tallied_status,
)
from shared.auth import Principal
from shared.db import SessionFactory, execute
from shared.scope import AreaScope, area_lines

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
    for target, sign in moved_counts(area_id, old_chain, new_chain):
        await _shift(session, area_id, target, sign)


async def recount(session: AsyncSession, zone: tzinfo) -> None:
    """Replace every tally by a count of the incidents and activities themselves, each in
    its area and every area above it as the read model holds the tree now: the same rows
    ``add_incident``, ``add_activity`` and ``reparent`` keep one change at a time (rows those
    left at zero are not made again)."""
    for table, _ in TALLIES:
        await execute(session, table.delete())
    chains: dict[UUID, list[UUID]] = {}
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
        counted = tallied_status(getattr(status, "value", status), duplicate_of)
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
        for area_id in {key[0] for key in counts} - chains.keys():
            chains[area_id] = await ancestors(session, area_id)
        rolled = roll_up(counts, chains)
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


async def sums(
    session: AsyncSession,
    table: Any,
    root: UUID,
    periods: Periods,
    keys: Sequence[str],
    value: str,
) -> list[Sum]:
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


async def incident_figures(
    session: AsyncSession, root: UUID, periods: Periods, category_groups: Mapping[str, str]
) -> IncidentFigures:
    found = await sums(
        session,
        IncidentTally.__table__,  # type: ignore[attr-defined]
        root,
        periods,
        ("category_group", "category", "status"),
        "incidents",
    )
    return IncidentFigures.of(count_incidents(found, category_groups))


async def activity_figures(
    session: AsyncSession,
    root: UUID,
    periods: Periods,
    activity_types: Mapping[str, ActivityKind],
) -> list[ActivityFigure]:
    activity_table: Any = ActivityTally.__table__  # type: ignore[attr-defined]
    records = await sums(
        session, activity_table, root, periods, ("activity_type", "outcome"), "activities"
    )
    measure_table: Any = MeasureTally.__table__  # type: ignore[attr-defined]
    quantities = await sums(
        session, measure_table, root, periods, ("activity_type", "item", "unit"), "quantity_milli"
    )
    counted = count_activities(records, quantities, activity_types)
    return [ActivityFigure.of(counts) for counts in counted]


class StatisticsService:
    def __init__(self, sessions: SessionFactory, catalogue: Catalogue, scope: AreaScope) -> None:
        self.sessions = sessions
        self.catalogue = catalogue
        self.scope = scope

    async def statistics(
        self, area_id: UUID, start: date, end: date, principal: Principal
    ) -> Statistics:
        """Incidents and activities of an area and everything below it, in [start, end]
        and the same dates a year earlier, summed from the tallies."""
        check_period(start, end)
        periods = Periods(start, end)
        async with self.sessions() as session:
            allowed = await self.scope.area_ids(session, principal)
            area = await self.scope.area_within(session, area_id, allowed, loc=["query", "area_id"])
            incidents = await incident_figures(
                session, area_id, periods, self.catalogue.category_groups
            )
            activities = await activity_figures(
                session, area_id, periods, self.catalogue.activity_types
            )
        previous = periods.previous
        return Statistics(
            area_id=area.id,
            area_code=area.code,
            area_name=area.name,
            period=Period(start=start, end=end),
            compared_with=Period(start=previous.start, end=previous.end),
            timezone=self.catalogue.zone_name,
            incidents=incidents,
            activities=activities,
        )

    async def recount(self, session: AsyncSession) -> None:
        """Every statistics tally again, from the incidents and activities themselves, along
        the area tree as the read model holds it now: what the tallies kept with each change
        and each move add up to. ``antt rebuild reporting`` runs it once the tree is rebuilt
        (replaying moves onto kept tallies would count them twice)."""
        await recount(session, self.catalogue.zone)
