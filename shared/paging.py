"""One page of a list query with the number of rows matching it in all, sent as the
``X-Total-Count`` header of every paged list route (the body stays the JSON list)."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Response
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select, SelectOfScalar

T = TypeVar("T")

ListQuery = Select[*tuple[Any, ...]] | SelectOfScalar[Any]

TOTAL_HEADER = "X-Total-Count"

TOTAL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_HEADER: {
                "description": "how many rows match the filters in all (in the caller's areas), "
                "whatever offset and limit",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    }
}


@dataclass(frozen=True)
class Page(Generic[T]):
    """The rows of one page and how many match in all."""

    items: list[T]
    total: int


async def count_rows(session: AsyncSession, query: ListQuery) -> int:
    """``SELECT count(*)`` over ``query`` (same WHERE, joins and grouping), without its
    ORDER BY, OFFSET and LIMIT."""
    inner = query.order_by(None).limit(None).offset(None).subquery()
    result = await session.exec(select(func.count()).select_from(inner))
    return int(result.one())


async def page_rows(
    session: AsyncSession, query: ListQuery, offset: int, limit: int
) -> tuple[list[Any], int]:
    """The rows of ``query`` from ``offset`` (at most ``limit``) and how many match in all,
    both read in ``session``."""
    total = await count_rows(session, query)
    rows = await session.exec(query.offset(offset).limit(limit))
    return list(rows.all()), total


def with_total(response: Response, total: int, body: T) -> T:
    """``body`` with ``X-Total-Count: total`` set on ``response``."""
    response.headers[TOTAL_HEADER] = str(total)
    return body
