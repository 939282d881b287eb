"""Leaderboards' HTTP routes: a subject's points, and the leaderboard of an area."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from services.awards.leaderboards.models import LeaderboardPublic, ScorePublic
from services.awards.leaderboards.service import Leaderboards
from services.awards.scores.rules import ScoreSubject
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.paging import TOTAL_RESPONSES, with_total
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
        responses={**error_responses(404), **TOTAL_RESPONSES},
    )
    async def score(
        response: Response,
        subject: ScoreSubject,
        subject_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> ScorePublic:
        """A person's, team's or area's emulation points in a period, with the entries
        behind them (newest first)."""
        score, total = await leaderboards.score(
            subject, subject_id, period, offset, limit, principal
        )
        return with_total(response, total, score)

    @router.get(
        "/leaderboard",
        response_model=LeaderboardPublic,
        tags=["scores"],
        responses={**error_responses(404), **TOTAL_RESPONSES},
    )
    async def leaderboard(
        response: Response,
        area_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        subject: ScoreSubject | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> LeaderboardPublic:
        """Points in an area and below for a period, highest first."""
        board, total = await leaderboards.leaderboard(
            area_id, period, subject, offset, limit, principal
        )
        return with_total(response, total, board)

    return router
