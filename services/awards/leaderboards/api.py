"""Leaderboards' HTTP routes: a subject's points, and the leaderboard of an area."""

from typing import Annotated
from uuid import UUID

from fastapi import Query

from services.awards.leaderboards.models import LeaderboardPublic, ScorePublic
from services.awards.leaderboards.service import Leaderboards
from services.awards.scores.rules import ScoreSubject
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

PeriodQuery = Annotated[
    str | None,
    Query(max_length=7, description="2023 (year), 2023-Q3 (quarter) or 2023-08 (month); "
    "defaults to the current year"),
]  # fmt: skip
ACCESS = {
    "score": Access.READ,
    "leaderboard": Access.READ,
}


def create_router(leaderboards: Leaderboards, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/scores/{subject}/{subject_id}",
        response_model=ScorePublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def score(
        subject: ScoreSubject,
        subject_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> ScorePublic:
        """A person's, team's or area's emulation points in a period, with the entries
        behind them (newest first)."""
        return await leaderboards.score(subject, subject_id, period, offset, limit, principal)

    @router.get(
        "/leaderboard",
        response_model=LeaderboardPublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def leaderboard(
        area_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        subject: ScoreSubject | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> LeaderboardPublic:
        """Points in an area and below for a period, highest first."""
        return await leaderboards.leaderboard(area_id, period, subject, offset, limit, principal)

    return router
