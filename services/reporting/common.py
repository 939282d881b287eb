"""Helpers several reporting aggregates share: the tables' base, batched inserts, keyset
exports, the movement's metrics, and the CSV answers of the export routes."""

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy import and_, or_
from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, execute
from shared.errors import error_responses
from shared.idempotency import idempotency_table

Item = TypeVar("Item")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ReportingTable(SQLModel, registry=registry()):
    """Base of the reporting tables: their own metadata, apart from other services'."""


# Idempotency-Key answers of the create routes (shared/idempotency.py), kept beside the
# records they created.
idempotency_table(ReportingTable.metadata)


def not_in_future(value: datetime) -> datetime:
    if value > utcnow():
        raise ValueError("cannot be in the future")
    return value


PastDatetime = Annotated[AwareDatetime, AfterValidator(not_in_future)]


# --- writing and reading many rows --------------------------------------------------------


async def insert_new(session: AsyncSession, *records: ReportingTable) -> None:
    """Insert new records of one table in one statement, without the session's unit of
    work (which costs more than the inserts on the intake paths): the records stay
    outside the session, as they were built. Nothing is flushed in between, so insert
    a record before the ones that refer to it."""
    if not records:
        return
    table = type(records[0]).__table__  # type: ignore[attr-defined]
    insert = _INSERTS.get(table.name)
    if insert is None:
        insert = _INSERTS[table.name] = table.insert()
    names = [column.key for column in table.columns]
    await execute(
        session, insert, [{name: getattr(record, name) for name in names} for record in records]
    )


_INSERTS: dict[str, Any] = {}

EXPORT_CHUNK = 500


def keyset_chunks(
    sessions: SessionFactory,
    query: Any,
    order: Any,
    row_id: Any,
    to_items: Callable[[AsyncSession, list[Any]], Awaitable[list[Item]]],
) -> AsyncIterator[list[Item]]:
    """Rows newest first in chunks, a fresh query per chunk that resumes after the
    last row (keyset), so an export of any size keeps memory flat."""

    async def chunks() -> AsyncIterator[list[Item]]:
        last: tuple[Any, Any] | None = None
        while True:
            page = query
            if last is not None:
                page = page.where(or_(order < last[0], and_(order == last[0], row_id < last[1])))
            async with sessions() as session:
                rows = list((await session.exec(page.limit(EXPORT_CHUNK))).all())
                if not rows:
                    return
                yield await to_items(session, rows)
            last = (getattr(rows[-1], order.key), rows[-1].id)

    return chunks()


# --- metrics ------------------------------------------------------------------------------


class ReportingMetrics:
    """The movement's figures as counters; labels are category groups and activity types
    from the configured catalogue, never ids or text."""

    def __init__(self, registry: CollectorRegistry, category_groups: dict[str, str]) -> None:
        self.category_groups = category_groups
        self.reported = Counter(
            "antt_incidents_reported", "Incidents reported", ["category_group"], registry=registry
        )
        self.resolved = Counter(
            "antt_incidents_resolved", "Incidents resolved", ["category_group"], registry=registry
        )
        self.activities = Counter(
            "antt_activities_logged", "Activities logged", ["activity_type"], registry=registry
        )

    def group(self, category: str) -> str:
        return self.category_groups.get(category, "other")


# --- routes: query parameters and CSV exports ---------------------------------------------
# CSV exports (`/incidents.csv`, `/activities.csv`, `/statistics.csv`) take the same filters
# as their JSON counterparts, stream UTF-8 with a byte-order mark (so spreadsheet programs
# show Vietnamese correctly), and neutralise text cells that a spreadsheet would run as a
# formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'` in front).

ERRORS = error_responses(404, 409)
LIST_ERRORS = error_responses(404)
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with a byte-order mark"},
    **LIST_ERRORS,
}

FromQuery = Annotated[
    date | None, Query(alias="from", description="First day, inclusive (local calendar)")
]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day, inclusive")]
AreaQuery = Annotated[
    UUID | None, Query(description="An area: records of it and every area below it")
]
NameQuery = Annotated[str | None, Query(min_length=1, max_length=64)]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers
    (a −72 % change) are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_line(values: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return buffer.getvalue().encode()


def csv_response(
    filename: str, header: Sequence[str], rows: AsyncIterator[Iterable[Sequence[Any]]]
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield "\ufeff".encode() + csv_line(header)
        async for chunk in rows:
            yield b"".join(csv_line(row) for row in chunk)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
