"""Helpers several awards aggregates use that are not domain rules: the tables' base, the
clock of stored timestamps, one transaction that answers 409 on a lost race, the
service's metrics, and the campaign query parameter."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction
from shared.errors import ConflictError

Loc = list[str | int]
CampaignQuery = Annotated[str | None, Query(max_length=64, description="e.g. festival-19-8-2023")]


class AwardsTable(SQLModel, registry=registry()):
    """Base of the awards tables: their own metadata, apart from other services'. Here, not
    in ``models`` (which imports every aggregate's tables into it), so that an aggregate's
    models may import another's whichever is imported first."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def unit_of_work(
    sessions: SessionFactory, conflict: str, loc: Loc
) -> AsyncIterator[AsyncSession]:
    """One transaction; a unique key another request took first answers 409."""
    try:
        async with transaction(sessions) as session:
            yield session
    except IntegrityError as exc:
        raise ConflictError(conflict, loc) from exc


class AwardsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.granted = Counter(
            "antt_awards_granted",
            "Awards granted, by the level of the issuing authority",
            ["authority_level"],
            registry=registry,
        )
        self.revoked = Counter(
            "antt_awards_revoked",
            "Awards revoked, by the level of the issuing authority",
            ["authority_level"],
            registry=registry,
        )
        self.decided = Counter(
            "antt_nominations_decided",
            "Nominations approved or rejected",
            ["decision"],
            registry=registry,
        )
        self.suggestions_pending = Gauge(
            "antt_award_suggestions_pending",
            "Suggested nominations waiting for an officer (every replica reports the total)",
            registry=registry,
        )
