"""How long a statistics query takes at 10 000 and at 1 000 000 incidents.

    .venv/bin/python -m benchmarks.reporting_statistics [--small 10000] [--large 1000000]

Fills a SQLite database (migrated to the real schema) with incidents spread over a
realistic area tree (1 province, 10 districts, 100 wards, 1 000 residential groups) and
three years, with the statistics tallies the service keeps, built by the service's own
bucket and upsert rules. Then it times ``StatisticsService.statistics`` (the code behind
``GET /statistics``) for a ward over eight months, for a period with ragged edges and for
the whole province, takes the median of several runs, checks the answer against a
``COUNT(*)`` over the incidents, prints both figures and their ratio and writes the
``reporting_statistics`` section of ``benchmarks/results/latest.md``. Not part of
``make test``; takes a few minutes, most of it loading the million rows.
"""

import argparse
import asyncio
import random
import sqlite3
import statistics as stats
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, select
from sqlmodel import col

from benchmarks.results import BenchRow, write_section
from services.reporting.app import DEFAULT_CATEGORY_GROUPS, Settings, create_app
from services.reporting.models import Incident, KnownArea
from services.reporting.statistics.rules import buckets, local_day
from services.reporting.statistics.service import StatisticsService
from shared.auth import Principal, Role
from shared.db import create_engine, execute
from shared.events import AreaLevel, IncidentStatus
from shared.migrations import upgrade_to_head

console = Console()
ADMIN = Principal(subject="benchmark", role=Role.ADMIN)
FIRST_DAY, DAYS = date(2022, 1, 1), 3 * 365
CATEGORIES = list(DEFAULT_CATEGORY_GROUPS)
# Most incidents end solved; some are still open or were dismissed.
STATUSES = [
    (IncidentStatus.RESOLVED, 55),
    (IncidentStatus.MEDIATED, 12),
    (IncidentStatus.REFERRED, 8),
    (IncidentStatus.VERIFIED, 10),
    (IncidentStatus.REPORTED, 10),
    (IncidentStatus.DISMISSED, 5),
]
CHUNK = 50_000
RUNS = 9
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a datetime on SQLite


def area_tree() -> tuple[list[dict[str, Any]], uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """1 province → 10 districts → 10 wards each → 10 residential groups each."""
    rows: list[dict[str, Any]] = []

    def add(code: str, level: AreaLevel, parent: uuid.UUID | None) -> uuid.UUID:
        area_id = uuid.uuid4()
        rows.append(
            {
                "id": area_id,
                "code": code,
                "name": code,
                "level": level,
                "parent_id": parent,
                "version": 1,
                "name_version": 1,
                "parent_version": 1,
            }
        )
        return area_id

    province = add("P", AreaLevel.PROVINCE, None)
    wards, groups = [], []
    for d in range(10):
        district = add(f"P-{d}", AreaLevel.DISTRICT, province)
        for w in range(10):
            ward = add(f"P-{d}-{w}", AreaLevel.WARD, district)
            wards.append(ward)
            groups += [add(f"P-{d}-{w}-{g}", AreaLevel.RESIDENTIAL_GROUP, ward) for g in range(10)]
    return rows, province, wards, groups


def load(
    path: Path,
    groups: list[uuid.UUID],
    parents: dict[uuid.UUID, uuid.UUID | None],
    count: int,
    rng: random.Random,
    zone: Any,
) -> None:
    """Bulk-insert ``count`` incidents and add them to the tallies: the service's keys
    (``statistics.buckets`` of the local day), rolled up to every ancestor as
    ``statistics.add_incident`` does, and its upsert, summed per chunk. Values are written
    as SQLAlchemy stores them on SQLite (hex UUIDs, ISO dates, UTC datetimes); the
    ``COUNT(*)`` check in ``main`` reads them back through the models."""
    statuses = [status.value for status, _ in STATUSES]
    weights = [weight for _, weight in STATUSES]
    chains: dict[uuid.UUID, list[str]] = {}
    for area_id in groups:
        chain: list[str] = []
        current: uuid.UUID | None = area_id
        while current is not None:
            chain.append(current.hex)
            current = parents.get(current)
        chains[area_id] = chain
    now = datetime.now(UTC).strftime(SQLITE_DATETIME)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with Progress(
        TextColumn("  loading {task.fields[size]} incidents"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("load", total=count, size=f"{count:,}")
        done = 0
        while done < count:
            size = min(CHUNK, count - done)
            rows, tallies = [], Counter[tuple[Any, ...]]()
            for _ in range(size):
                occurred = datetime.combine(
                    FIRST_DAY + timedelta(days=rng.randrange(DAYS)),
                    datetime.min.time(),
                    tzinfo=zone,
                ) + timedelta(minutes=rng.randrange(24 * 60))
                category = rng.choice(CATEGORIES)
                category_group = DEFAULT_CATEGORY_GROUPS[category]
                status = rng.choices(statuses, weights)[0]
                area = rng.choice(groups)
                rows.append(
                    (
                        uuid.uuid4().hex,
                        area.hex,
                        category,
                        category_group,
                        status,
                        occurred.astimezone(UTC).strftime(SQLITE_DATETIME),
                        now,
                    )
                )
                day_buckets = buckets(local_day(occurred, zone))
                for ancestor in chains[area]:
                    for span, bucket in day_buckets:
                        key = (ancestor, span, bucket.isoformat(), category_group, category, status)
                        tallies[key] += 1
            with connection:
                connection.executemany(
                    "INSERT INTO incident (id, area_id, category, category_group, source, "
                    "severity, summary, status, occurred_at, reported_at, version) "
                    "VALUES (?, ?, ?, ?, 'patrol', 'minor', 'Vụ việc', ?, ?, ?, 1)",
                    rows,
                )
                connection.executemany(
                    "INSERT INTO incidenttally (area_id, span, bucket, category_group, "
                    "category, status, incidents) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (area_id, span, bucket, category_group, category, status) "
                    "DO UPDATE SET incidents = incidents + excluded.incidents",
                    [(*key, n) for key, n in tallies.items()],
                )
            done += size
            progress.update(task, completed=done)
    connection.close()


async def timed(service: StatisticsService, area: uuid.UUID, start: date, end: date) -> float:
    await service.statistics(area, start, end, ADMIN)  # warm the cache
    runs = []
    for _ in range(RUNS):
        began = time.perf_counter()
        await service.statistics(area, start, end, ADMIN)
        runs.append(time.perf_counter() - began)
    return stats.median(runs)


async def direct_count(
    service: StatisticsService, groups: list[uuid.UUID], start: date, end: date
) -> int:
    """The same figure the slow way, over the incidents, to check the tallies."""
    zone = service.catalogue.zone
    first = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    async with service.sessions() as session:
        result = await execute(
            session,
            select(func.count())
            .select_from(Incident)
            .where(
                col(Incident.area_id).in_(groups),
                col(Incident.status) != IncidentStatus.DISMISSED,
                col(Incident.occurred_at) >= first,
                col(Incident.occurred_at) < after,
            ),
        )
        return int(result.scalar_one())


async def main(small: int, large: int, workdir: Path) -> None:
    url = f"sqlite+aiosqlite:///{workdir / 'reporting-benchmark.db'}"
    engine = create_engine(url)
    await upgrade_to_head(engine, "reporting")
    await engine.dispose()
    app = create_app(Settings(database_url=url, log_level="ERROR", log_format="console"))
    service: StatisticsService = app.state.service.statistics
    zone = service.catalogue.zone
    rows, province, wards, groups = area_tree()
    parents = {row["id"]: row["parent_id"] for row in rows}
    sync_url = url.replace("+aiosqlite", "")
    sync = create_sync_engine(sync_url)
    with sync.begin() as connection:
        connection.execute(KnownArea.__table__.insert(), rows)  # type: ignore[attr-defined]
    sync.dispose()
    rng = random.Random(19082005)
    ward = wards[42]
    ward_groups = [row["id"] for row in rows if row["parent_id"] == ward]
    queries = {
        "ward, 1 Jan – 31 Aug 2024 vs 2023": (ward, date(2024, 1, 1), date(2024, 8, 31)),
        "ward, 15 Jan – 20 Aug 2024 (edge days)": (ward, date(2024, 1, 15), date(2024, 8, 20)),
        "province (1 111 areas), 2024 vs 2023": (province, date(2024, 1, 1), date(2024, 12, 31)),
    }
    results: dict[str, list[float]] = {name: [] for name in queries}
    loaded = 0
    for size in (small, large):
        console.print(f"[bold]{size:,} incidents[/bold]")
        load(workdir / "reporting-benchmark.db", groups, parents, size - loaded, rng, zone)
        loaded = size
        for name, (area, start, end) in queries.items():
            results[name].append(await timed(service, area, start, end))
        figures = await service.statistics(ward, date(2024, 1, 1), date(2024, 8, 31), ADMIN)
        expected = await direct_count(service, ward_groups, date(2024, 1, 1), date(2024, 8, 31))
        matches = figures.incidents.total.count == expected
        console.print(
            f"  ward total {figures.incidents.total.count:,} "
            f"(a COUNT(*) over the incidents says {expected:,}: "
            f"{'[green]equal[/green]' if matches else '[red]DIFFERENT[/red]'}), "
            f"change {figures.incidents.total.change_percent}% on "
            f"{figures.incidents.total.previous:,}"
        )
        if not matches:
            raise SystemExit("the tallies disagree with the incidents")
    await app.state.runtime.engine.dispose()

    table = Table(title=f"GET /statistics, median of {RUNS} runs (SQLite)")
    table.add_column("query")
    table.add_column(f"{small:,} incidents", justify="right")
    table.add_column(f"{large:,} incidents", justify="right")
    table.add_column("ratio", justify="right")
    for name, (at_small, at_large) in results.items():
        table.add_row(
            name,
            f"{at_small * 1000:.1f} ms",
            f"{at_large * 1000:.1f} ms",
            f"{at_large / at_small:.2f}×",
        )
    console.print(table)
    ward_small, ward_large = results[next(iter(queries))]
    console.print(
        f"[bold]statistics at {small:,} incidents: {ward_small * 1000:.1f} ms; at "
        f"{large:,}: {ward_large * 1000:.1f} ms; ratio {ward_large / ward_small:.2f}[/bold] "
        f"({large // small}× the incidents)"
    )
    bench_rows = [
        BenchRow(
            name,
            "ms",
            [at_large * 1000],
            [at_small * 1000],
            f"{small:,} incidents",
            higher_is_better=False,
        )
        for name, (at_small, at_large) in results.items()
    ]
    bench_rows[0].notes.append(
        f"each figure the median of {RUNS} runs; the baseline is the same query"
    )
    title = f"reporting_statistics: GET /statistics at {large:,} against {small:,} incidents"
    console.print(f"wrote {write_section('reporting_statistics', title, bench_rows)}")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the database in this directory")
    arguments = parser.parse_args()
    if arguments.keep:
        arguments.keep.mkdir(parents=True, exist_ok=True)
        asyncio.run(main(arguments.small, arguments.large, arguments.keep))
        return
    with tempfile.TemporaryDirectory(prefix="antt-bench-") as workdir:
        asyncio.run(main(arguments.small, arguments.large, Path(workdir)))


if __name__ == "__main__":
    run()
