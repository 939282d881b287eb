"""Leaderboards' queries: a subject's points in a period with the entries behind them, and
the points per subject in an area and below, highest first (the read side of scores)."""

from functools import partial
from uuid import UUID

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.leaderboards.models import (
    LeaderboardPublic,
    LeaderboardRow,
    ScoreEntryPublic,
    ScorePublic,
)
from services.awards.replicas.models import KnownArea, KnownPerson, KnownTeam
from services.awards.scores.models import ScoreEntry
from services.awards.scores.rules import Period, ScoreSubject, Subject, today
from shared.auth import Principal
from shared.db import SessionFactory
from shared.errors import NotFoundError
from shared.paging import page_rows
from shared.scope import AreaScope, descendants


class Leaderboards:
    def __init__(self, sessions: SessionFactory, scope: AreaScope) -> None:
        self.sessions = sessions
        self.scope = scope

    async def _total(
        self, session: AsyncSession, subject: ScoreSubject, subject_id: UUID, period: Period
    ) -> int:
        total = await session.exec(
            select(func.coalesce(func.sum(ScoreEntry.points), 0)).where(
                ScoreEntry.subject == subject,
                ScoreEntry.subject_id == subject_id,
                col(ScoreEntry.occurred_on) >= period.start,
                col(ScoreEntry.occurred_on) <= period.end,
                col(ScoreEntry.voided).is_(False),
            )
        )
        return int(total.one())

    # --- queries ----------------------------------------------------------------------

    def period(self, code: str | None) -> Period:
        if code is None:
            return Period.containing(today(), "year")
        return Period.parse(code, ["query", "period"])

    async def score(
        self,
        subject_kind: ScoreSubject,
        subject_id: UUID,
        period_code: str | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> tuple[ScorePublic, int]:
        """The subject's points and one page of the entries behind them, with how many
        entries there are in all."""
        period = self.period(period_code)
        async with self.sessions() as session:
            subject = await self.scope.visible(
                session,
                principal,
                await subject_info(session, subject_kind, subject_id),
                error=partial(
                    NotFoundError, f"{subject_kind} {subject_id} not found", ["path", "subject_id"]
                ),
            )
            total = await self._total(session, subject_kind, subject_id, period)
            entries, count = await page_rows(
                session,
                select(ScoreEntry)
                .where(
                    ScoreEntry.subject == subject_kind,
                    ScoreEntry.subject_id == subject_id,
                    col(ScoreEntry.occurred_on) >= period.start,
                    col(ScoreEntry.occurred_on) <= period.end,
                    col(ScoreEntry.voided).is_(False),
                )
                .order_by(col(ScoreEntry.occurred_on).desc(), col(ScoreEntry.id)),
                offset,
                limit,
            )
            score = ScorePublic(
                subject=subject_kind,
                subject_id=subject_id,
                name=subject.name,
                area_id=subject.area_id,
                period=period.code,
                points=total,
                entries=[ScoreEntryPublic.model_validate(entry) for entry in entries],
            )
            return score, count

    async def leaderboard(
        self,
        area_id: UUID,
        period_code: str | None,
        subject_kind: ScoreSubject | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> tuple[LeaderboardPublic, int]:
        """Points per subject in the area and every area below it, highest first, with how
        many subjects have points there in all."""
        period = self.period(period_code)
        async with self.sessions() as session:
            await self.scope.area(session, principal, area_id, loc=["query", "area_id"])
            areas = await descendants(session, KnownArea, [area_id])
            points = func.sum(ScoreEntry.points).label("points")
            query = select(ScoreEntry.subject, ScoreEntry.subject_id, points).where(
                col(ScoreEntry.area_id).in_(areas),
                col(ScoreEntry.occurred_on) >= period.start,
                col(ScoreEntry.occurred_on) <= period.end,
                col(ScoreEntry.voided).is_(False),
            )
            if subject_kind is not None:
                query = query.where(ScoreEntry.subject == subject_kind)
            rows, count = await page_rows(
                session,
                query.group_by(col(ScoreEntry.subject), col(ScoreEntry.subject_id)).order_by(
                    points.desc(), col(ScoreEntry.subject), col(ScoreEntry.subject_id)
                ),
                offset,
                limit,
            )
            board = []
            for rank, (stored_kind, subject_id, total) in enumerate(rows, start=offset + 1):
                kind = ScoreSubject(stored_kind)
                subject = await subject_info(session, kind, subject_id)
                board.append(
                    LeaderboardRow(
                        rank=rank,
                        subject=kind,
                        subject_id=subject_id,
                        name=subject.name if subject else "",
                        area_id=subject.area_id if subject else area_id,
                        points=int(total),
                    )
                )
        board_public = LeaderboardPublic(
            area_id=area_id, period=period.code, subject=subject_kind, rows=board
        )
        return board_public, count


async def subject_info(
    session: AsyncSession, kind: ScoreSubject, subject_id: UUID
) -> Subject | None:
    """The name and area of a scored person, team or area, if the registry told us."""
    if kind is ScoreSubject.PERSON:
        person = await session.get(KnownPerson, subject_id)
        return Subject(kind, subject_id, person.full_name, person.area_id) if person else None
    if kind is ScoreSubject.TEAM:
        team = await session.get(KnownTeam, subject_id)
        if team is None or team.version == 0:
            return None
        return Subject(kind, subject_id, team.name, team.area_id, team.dissolved_on is None)
    area = await session.get(KnownArea, subject_id)
    return Subject(kind, subject_id, area.name, area.id) if area else None
