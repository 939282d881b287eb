"""Suggested nominations' use cases: after each event's points, a suggestion for every
threshold a subject's period total reaches (never twice for the same subject, period and
threshold); an officer accepts one (a nomination) or dismisses it."""

from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import bindparam, func
from sqlalchemy import select as columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.awards.models import RewardedAchievement
from services.awards.awards.rules import AchievementKind, Catalogue
from services.awards.common import AwardsMetrics, unit_of_work, utcnow
from services.awards.nominations.models import Achievement, NominationCreate, NominationPublic
from services.awards.nominations.service import Nominations
from services.awards.replicas.service import scored_subjects
from services.awards.scores.models import ScoreEntry, ScoreMonth
from services.awards.scores.rules import Granularity, Period, ScoreSubject
from services.awards.suggestions.models import (
    Suggestion,
    SuggestionAcceptance,
    SuggestionDismissal,
    SuggestionPublic,
    SuggestionStatus,
)
from services.awards.suggestions.rules import (
    RECIPIENT_KIND,
    Scored,
    SuggestionThreshold,
    Touched,
    acceptance_reason,
    period_key,
    reached,
    unique_periods,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, execute, execute_per_database, per_database, transaction
from shared.errors import ConflictError
from shared.paging import Page, page_rows
from shared.scope import AreaScope

# Built once: a statement built at each batch cost more than its run for a batch of one.
_MONTHS_OF = columns(
    col(ScoreMonth.subject),
    col(ScoreMonth.subject_id),
    col(ScoreMonth.month),
    col(ScoreMonth.points),
).where(
    col(ScoreMonth.subject_id).in_(bindparam("ids", expanding=True)),
    col(ScoreMonth.month).in_(bindparam("months", expanding=True)),
)
_SUGGESTED_BEFORE = columns(
    col(Suggestion.subject),
    col(Suggestion.subject_id),
    col(Suggestion.period),
    col(Suggestion.threshold),
).where(col(Suggestion.subject_id).in_(bindparam("ids", expanding=True)))


async def _period_totals(
    session: AsyncSession, touched: list[Touched], granularity: Granularity
) -> dict[tuple[ScoreSubject, UUID, str], int]:
    """Each touched subject's points (not void) in each period touched, in one query of
    their monthly totals (never a sum over every entry of the period)."""
    periods = {period_key(t, granularity): Period.containing(t.day, granularity) for t in touched}
    period_of_month = {
        (subject, subject_id, month): code
        for (subject, subject_id, code), period in periods.items()
        for month in period.months()
    }
    subject_ids = sorted({t.subject_id for t in touched})
    months = sorted({month for *_, month in period_of_month})
    rows = await execute(session, _MONTHS_OF, [{"ids": subject_ids, "months": months}])
    totals: dict[tuple[ScoreSubject, UUID, str], int] = {}
    for subject, subject_id, month, points in map(tuple, rows):
        code = period_of_month.get((subject, subject_id, month))
        if code is not None:
            totals[(subject, subject_id, code)] = (
                totals.get((subject, subject_id, code), 0) + points
            )
    return totals


_INSERT_SUGGESTIONS_ONCE = per_database(
    lambda dialect: dialect.insert(Suggestion).on_conflict_do_nothing(
        index_elements=["subject", "subject_id", "period", "threshold"]
    )
)


class Suggestions:
    def __init__(
        self,
        sessions: SessionFactory,
        audit: AuditTrail,
        catalogue: Catalogue,
        thresholds: list[SuggestionThreshold],
        granularity: Granularity,
        nominations: Nominations,
        metrics: AwardsMetrics,
        scope: AreaScope,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.catalogue = catalogue
        self.thresholds = sorted(thresholds, key=lambda threshold: threshold.points)
        self.granularity = granularity
        self.nominations = nominations
        self.metrics = metrics
        self.scope = scope

    # --- from events ------------------------------------------------------------------

    async def suggest(self, session: AsyncSession, scored: list[list[Scored]]) -> None:
        """After each event's points, suggest a nomination for each threshold a subject's
        period total has reached, never twice for the same subject, period and threshold."""
        if not self.thresholds or not any(scored):
            return
        await session.flush()
        touched = [item.touched for items in scored for item in items]
        totals = await _period_totals(session, touched, self.granularity)
        # The totals include every event's points: take them back, then add them event by event.
        for item in (item for items in scored for item in items):
            key = period_key(item.touched, self.granularity)
            totals[key] = totals.get(key, 0) - item.points
        # Each event's subjects and periods at the total the event brought them to, where
        # that total reaches a threshold: only these need a look for a suggestion made
        # before, and only those not suggested yet a name; a batch that brings no one to a
        # threshold reads nothing more.
        reaching: list[tuple[ScoreSubject, UUID, Period, int]] = []
        for items in scored:
            for item in items:
                key = period_key(item.touched, self.granularity)
                totals[key] = totals.get(key, 0) + item.points
            for subject_kind, subject_id, period in unique_periods(
                [item.touched for item in items], self.granularity
            ):
                total = totals.get((subject_kind, subject_id, period.code), 0)
                if total >= self.thresholds[0].points:
                    reaching.append((subject_kind, subject_id, period, total))
        if not reaching:
            return
        ids = sorted({id_ for _, id_, *_ in reaching})
        existing = set(map(tuple, await execute(session, _SUGGESTED_BEFORE, [{"ids": ids}])))
        due: list[tuple[ScoreSubject, UUID, Period, int, SuggestionThreshold]] = []
        for subject_kind, subject_id, period, total in reaching:
            for threshold in reached(total, self.thresholds):
                once = (subject_kind, subject_id, period.code, threshold.points)
                if once not in existing:
                    existing.add(once)
                    due.append((subject_kind, subject_id, period, total, threshold))
        if not due:
            return  # all suggested before: no names to read
        subjects = await scored_subjects(session, {(kind, id_) for kind, id_, *_ in due})
        suggestions: list[dict[str, Any]] = []
        for subject_kind, subject_id, period, total, threshold in due:
            subject = subjects.get((subject_kind, subject_id))
            if subject is None or not subject.active:
                continue  # not known to the registry yet, or dissolved: nothing to nominate
            suggestions.append(
                {
                    "id": uuid4(),
                    "subject": subject_kind,
                    "subject_id": subject_id,
                    "recipient_kind": RECIPIENT_KIND[subject_kind],
                    "recipient_name": subject.name,
                    "area_id": subject.area_id,
                    "period": period.code,
                    "threshold": threshold.points,
                    "points": total,
                    "award_form": threshold.award_form,
                    "authority": threshold.authority,
                    "status": SuggestionStatus.SUGGESTED,
                    "created_at": utcnow(),
                }
            )
        if suggestions:
            # Another instance may suggest the same at once: one row stays, and the rows go
            # in key order so that two such inserts never wait for each other in a circle.
            suggestions.sort(
                key=lambda row: (
                    row["subject"],
                    str(row["subject_id"]),
                    row["period"],
                    row["threshold"],
                )
            )
            await execute_per_database(session, _INSERT_SUGGESTIONS_ONCE, suggestions)

    # --- queries ----------------------------------------------------------------------

    async def suggestions(
        self,
        status: SuggestionStatus | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> Page[SuggestionPublic]:
        async with self.sessions() as session:
            query = select(Suggestion)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Suggestion.area_id).in_(allowed))
            if status is not None:
                query = query.where(Suggestion.status == status)
            rows, total = await page_rows(
                session,
                query.order_by(col(Suggestion.created_at).desc(), col(Suggestion.id)),
                offset,
                limit,
            )
            return Page([SuggestionPublic.model_validate(row) for row in rows], total)

    async def pending_suggestions(self) -> int:
        async with self.sessions() as session:
            count = await session.exec(
                select(func.count()).where(Suggestion.status == SuggestionStatus.SUGGESTED)
            )
            return int(count.one())

    async def refresh_gauges(self) -> None:
        self.metrics.suggestions_pending.set(await self.pending_suggestions())

    # --- an officer's decision --------------------------------------------------------

    async def accept(
        self, suggestion_id: UUID, command: SuggestionAcceptance, principal: Principal
    ) -> NominationPublic:
        """A suggestion becomes a real nomination (nomination_created, suggested=true)
        citing the incidents and activities behind the points not yet rewarded."""
        async with self.sessions() as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
        nomination = NominationCreate(
            recipient_kind=suggestion.recipient_kind,
            recipient_id=suggestion.subject_id,
            award_form=command.award_form or suggestion.award_form,
            authority=command.authority or suggestion.authority,
            award_kind=command.award_kind,
            campaign=command.campaign,
            reason=command.reason
            or acceptance_reason(suggestion.points, suggestion.period, suggestion.threshold),
        )
        self.catalogue.check(
            nomination.award_form, nomination.authority, nomination.award_kind, nomination.campaign
        )
        conflict = f"suggestion {suggestion_id} was decided meanwhile"
        async with unit_of_work(self.sessions, conflict, ["path", "suggestion_id"]) as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
            nomination.achievements = await self._score_sources(session, suggestion)
            created = await self.nominations.create(session, nomination, principal, suggested=True)
            suggestion.status = SuggestionStatus.ACCEPTED
            suggestion.nomination_id = created.id
            suggestion.decided_at = utcnow()
            session.add(suggestion)
            await self.audit.record(
                session, principal, "accept_suggestion", "suggestion", suggestion.id,
                suggestion.area_id,
            )  # fmt: skip
        return NominationPublic.model_validate(created)

    async def _score_sources(
        self, session: AsyncSession, suggestion: Suggestion
    ) -> list[Achievement]:
        period = Period.parse(suggestion.period, [])
        rows = await session.exec(
            select(ScoreEntry.source_kind, ScoreEntry.source_id)
            .where(
                ScoreEntry.subject == suggestion.subject,
                ScoreEntry.subject_id == suggestion.subject_id,
                col(ScoreEntry.occurred_on) >= period.start,
                col(ScoreEntry.occurred_on) <= period.end,
                col(ScoreEntry.voided).is_(False),
            )
            .distinct()
            .order_by(col(ScoreEntry.source_kind), col(ScoreEntry.source_id))
        )
        cited = []
        for kind, source_id in rows.all():
            achievement = Achievement(kind=AchievementKind(kind), ref_id=source_id)
            key = (suggestion.subject_id, achievement.key)
            if await session.get(RewardedAchievement, key) is None:
                cited.append(achievement)
        return cited[:50]

    async def dismiss(
        self, suggestion_id: UUID, command: SuggestionDismissal, principal: Principal
    ) -> Suggestion:
        async with transaction(self.sessions) as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
            suggestion.status = SuggestionStatus.DISMISSED
            suggestion.dismissal_reason = command.reason
            suggestion.decided_at = utcnow()
            session.add(suggestion)
            await self.audit.record(
                session, principal, "dismiss_suggestion", "suggestion", suggestion.id,
                suggestion.area_id,
            )  # fmt: skip
        return suggestion

    async def _open_suggestion(
        self, session: AsyncSession, suggestion_id: UUID, principal: Principal
    ) -> Suggestion:
        suggestion = await self.scope.get_in_scope(
            session, principal, Suggestion, suggestion_id, what="suggestion"
        )
        if suggestion.status is not SuggestionStatus.SUGGESTED:
            raise ConflictError(
                f"suggestion {suggestion_id} is already {suggestion.status}",
                ["path", "suggestion_id"],
            )
        return suggestion
