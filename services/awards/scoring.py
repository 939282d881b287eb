"""Emulation scores: points from consumed events under configurable rules, leaderboards,
and suggested nominations when a recipient's points in a period cross a threshold.

Score entries are written by the event handlers, in the same transaction as the inbox
row, so an event scores once; a unique key (rule, source, subject) also keeps an
incident from scoring twice if reporting publishes its resolution again."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.catalogue import (
    Credit,
    ScoreRule,
    ScoreSubject,
    SuggestionThreshold,
)
from services.awards.models import (
    AchievementKind,
    KnownArea,
    KnownPerson,
    KnownTeam,
    LeaderboardPublic,
    LeaderboardRow,
    MemberCredit,
    ScoreEntry,
    ScoreEntryPublic,
    ScorePublic,
    Suggestion,
    SuggestionPublic,
    SuggestionStatus,
    TrackedActivity,
    TrackedIncident,
)
from services.awards.periods import Granularity, Period, local_date, today
from services.awards.readmodels import ReadModels
from shared.auth import Principal
from shared.db import SessionFactory, execute, serialize_on
from shared.errors import NotFoundError
from shared.events import IncidentStatus, RecipientKind
from shared.scope import AreaScope, descendants

RECIPIENT_KIND = {
    ScoreSubject.PERSON: RecipientKind.INDIVIDUAL,
    ScoreSubject.TEAM: RecipientKind.COLLECTIVE,
    ScoreSubject.AREA: RecipientKind.COLLECTIVE,
}


@dataclass(frozen=True)
class Subject:
    kind: ScoreSubject
    id: UUID
    name: str
    area_id: UUID
    active: bool = True  # a dissolved team keeps its points but gets no suggestion


@dataclass(frozen=True)
class Touched:
    subject: ScoreSubject
    subject_id: UUID
    day: date


async def _score_entry(
    session: AsyncSession, rule: str, source_id: UUID, subject: ScoreSubject, subject_id: UUID
) -> ScoreEntry | None:
    """The points one source earned one subject under one rule, if it has them already."""
    found = await session.exec(
        select(ScoreEntry).where(
            ScoreEntry.rule == rule,
            ScoreEntry.source_id == source_id,
            ScoreEntry.subject == subject,
            ScoreEntry.subject_id == subject_id,
        )
    )
    return found.first()


class Scoring:
    def __init__(
        self,
        sessions: SessionFactory,
        rules: list[ScoreRule],
        thresholds: list[SuggestionThreshold],
        granularity: Granularity,
        read_models: ReadModels,
        scope: AreaScope,
    ) -> None:
        self.sessions = sessions
        self.rules = rules
        self.thresholds = sorted(thresholds, key=lambda threshold: threshold.points)
        self.granularity = granularity
        self.read_models = read_models
        self.scope = scope

    # --- from events ------------------------------------------------------------------

    async def incident_solved(
        self,
        session: AsyncSession,
        incident: TrackedIncident,
        to_status: IncidentStatus,
        changed_at: datetime,
        event_id: str,
    ) -> None:
        if incident.duplicate_of is not None:
            return
        teams = [UUID(team) for team in incident.credited_team_ids]
        day = local_date(changed_at)
        touched: list[Touched] = []
        for rule in self.rules:
            if rule.on != "incident_solved" or to_status not in rule.statuses:
                continue
            if rule.sources and incident.source not in rule.sources:
                continue
            if rule.category_groups and incident.category_group not in rule.category_groups:
                continue
            touched += await self._credit(
                session, rule, rule.points, teams, incident.area_id, day, incident.id, event_id
            )
        await self._suggest(session, touched)

    async def activity_logged(
        self, session: AsyncSession, activity: TrackedActivity, event_id: str
    ) -> None:
        teams = [UUID(team) for team in activity.team_ids]
        touched: list[Touched] = []
        for rule in self.rules:
            if rule.on != "activity" or rule.activity_type != activity.activity_type:
                continue
            if rule.outcome is not None and rule.outcome != activity.outcome:
                continue
            points = rule.points
            if rule.measure is not None:
                quantity = sum(
                    (
                        Decimal(m["quantity"])
                        for m in activity.measures
                        if m["item"] == rule.measure
                    ),
                    Decimal(0),
                )
                points = int(quantity // rule.per) * rule.points
            if points > 0:
                touched += await self._credit(
                    session,
                    rule,
                    points,
                    teams,
                    activity.area_id,
                    activity.occurred_on,
                    activity.id,
                    event_id,
                    AchievementKind.ACTIVITY,
                )
        await self._suggest(session, touched)

    async def void_source(self, session: AsyncSession, source_id: UUID) -> None:
        """A duplicate incident no longer counts: its points are kept but void."""
        await execute(
            session,
            update(ScoreEntry).where(col(ScoreEntry.source_id) == source_id).values(voided=True),
        )
        await execute(
            session,
            update(MemberCredit)
            .where(col(MemberCredit.source_id) == source_id)
            .values(voided=True),
        )

    async def _credit(
        self,
        session: AsyncSession,
        rule: ScoreRule,
        points: int,
        teams: list[UUID],
        area_id: UUID,
        day: date,
        source_id: UUID,
        event_id: str,
        source_kind: AchievementKind = AchievementKind.INCIDENT,
    ) -> list[Touched]:
        touched = []
        if Credit.MEMBERS in rule.credit:
            await self._keep_member_credits(
                session, rule, points, teams, area_id, day, source_id, event_id, source_kind
            )
        for subject, subject_id, subject_area in await self._credited(
            session, rule.credit, teams, area_id, day
        ):
            if await _score_entry(session, rule.code, source_id, subject, subject_id):
                continue
            session.add(
                ScoreEntry(
                    subject=subject,
                    subject_id=subject_id,
                    area_id=subject_area,
                    occurred_on=day,
                    points=points,
                    rule=rule.code,
                    source_kind=source_kind,
                    source_id=source_id,
                    event_id=event_id,
                )
            )
            touched.append(Touched(subject, subject_id, day))
        return touched

    async def _keep_member_credits(
        self,
        session: AsyncSession,
        rule: ScoreRule,
        points: int,
        teams: list[UUID],
        area_id: UUID,
        day: date,
        source_id: UUID,
        event_id: str,
        source_kind: AchievementKind,
    ) -> None:
        # Taken before the members are read: a roster change of the team waits, or is seen.
        await serialize_on(session, *(f"team-roster:{team}" for team in teams))
        for team_id in teams:
            held = await session.exec(
                select(MemberCredit.id).where(
                    MemberCredit.rule == rule.code,
                    MemberCredit.source_id == source_id,
                    MemberCredit.team_id == team_id,
                )
            )
            if held.first() is None:
                session.add(
                    MemberCredit(
                        rule=rule.code,
                        source_id=source_id,
                        source_kind=source_kind,
                        team_id=team_id,
                        area_id=area_id,
                        occurred_on=day,
                        points=points,
                        event_id=event_id,
                    )
                )

    async def roster_changed(self, session: AsyncSession, team_id: UUID, person_id: UUID) -> None:
        """A person joined or left a team: they score for the team's achievements of the
        days they were on it, whether the roster or the achievement arrived first."""
        await serialize_on(session, f"team-roster:{team_id}")
        credits = (
            await session.exec(select(MemberCredit).where(MemberCredit.team_id == team_id))
        ).all()
        touched: list[Touched] = []
        for credit in credits:
            teams = (
                await session.exec(
                    select(MemberCredit.team_id).where(
                        MemberCredit.rule == credit.rule,
                        MemberCredit.source_id == credit.source_id,
                    )
                )
            ).all()
            on_team = person_id in await self.read_models.members_on(
                session, list(teams), credit.occurred_on
            )
            entry = await _score_entry(
                session, credit.rule, credit.source_id, ScoreSubject.PERSON, person_id
            )
            if on_team and entry is None:
                person = await session.get(KnownPerson, person_id)
                session.add(
                    ScoreEntry(
                        subject=ScoreSubject.PERSON,
                        subject_id=person_id,
                        area_id=person.area_id if person else credit.area_id,
                        occurred_on=credit.occurred_on,
                        points=credit.points,
                        rule=credit.rule,
                        source_kind=credit.source_kind,
                        source_id=credit.source_id,
                        event_id=credit.event_id,
                        voided=credit.voided,
                    )
                )
                touched.append(Touched(ScoreSubject.PERSON, person_id, credit.occurred_on))
            elif not on_team and entry is not None:
                await session.delete(entry)  # had left before that day
        await self._suggest(session, touched)

    async def _credited(
        self,
        session: AsyncSession,
        credit: list[Credit],
        teams: list[UUID],
        area_id: UUID,
        day: date,
    ) -> list[tuple[ScoreSubject, UUID, UUID]]:
        """Who the rule's points go to, and the area each belongs to."""
        credited: list[tuple[ScoreSubject, UUID, UUID]] = []
        if Credit.TEAMS in credit:
            for team_id in teams:
                team = await session.get(KnownTeam, team_id)
                credited.append((ScoreSubject.TEAM, team_id, team.area_id if team else area_id))
        if Credit.MEMBERS in credit and teams:
            for person_id in sorted(await self.read_models.members_on(session, teams, day)):
                person = await session.get(KnownPerson, person_id)
                credited.append(
                    (ScoreSubject.PERSON, person_id, person.area_id if person else area_id)
                )
        if Credit.AREA in credit:
            credited.append((ScoreSubject.AREA, area_id, area_id))
        return credited

    async def _suggest(self, session: AsyncSession, touched: list[Touched]) -> None:
        """Suggest a nomination for each threshold a subject's period total has reached,
        never twice for the same subject, period and threshold."""
        if not self.thresholds:
            return
        for subject_kind, subject_id, period in _unique_periods(touched, self.granularity):
            subject = await subject_info(session, subject_kind, subject_id)
            if subject is None or not subject.active:
                continue  # not known to the registry yet, or dissolved: nothing to nominate
            total = await self._total(session, subject_kind, subject_id, period)
            for threshold in self.thresholds:
                if total < threshold.points:
                    break
                exists = await session.exec(
                    select(Suggestion.id).where(
                        Suggestion.subject == subject_kind,
                        Suggestion.subject_id == subject_id,
                        Suggestion.period == period.code,
                        Suggestion.threshold == threshold.points,
                    )
                )
                if exists.first() is not None:
                    continue
                session.add(
                    Suggestion(
                        subject=subject_kind,
                        subject_id=subject_id,
                        recipient_kind=RECIPIENT_KIND[subject_kind],
                        recipient_name=subject.name,
                        area_id=subject.area_id,
                        period=period.code,
                        threshold=threshold.points,
                        points=total,
                        award_form=threshold.award_form,
                        authority=threshold.authority,
                    )
                )

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
    ) -> ScorePublic:
        period = self.period(period_code)
        not_found = NotFoundError(f"{subject_kind} {subject_id} not found", ["path", "subject_id"])
        async with self.sessions() as session:
            subject = await subject_info(session, subject_kind, subject_id)
            if subject is None:
                raise not_found
            await self.scope.require(session, principal, subject.area_id, not_found)
            total = await self._total(session, subject_kind, subject_id, period)
            entries = await session.exec(
                select(ScoreEntry)
                .where(
                    ScoreEntry.subject == subject_kind,
                    ScoreEntry.subject_id == subject_id,
                    col(ScoreEntry.occurred_on) >= period.start,
                    col(ScoreEntry.occurred_on) <= period.end,
                    col(ScoreEntry.voided).is_(False),
                )
                .order_by(col(ScoreEntry.occurred_on).desc(), col(ScoreEntry.id))
                .offset(offset)
                .limit(limit)
            )
            return ScorePublic(
                subject=subject_kind,
                subject_id=subject_id,
                name=subject.name,
                area_id=subject.area_id,
                period=period.code,
                points=total,
                entries=[ScoreEntryPublic.model_validate(entry) for entry in entries.all()],
            )

    async def leaderboard(
        self,
        area_id: UUID,
        period_code: str | None,
        subject_kind: ScoreSubject | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> LeaderboardPublic:
        """Points per subject in the area and every area below it, highest first."""
        period = self.period(period_code)
        not_found = NotFoundError(f"area {area_id} not found", ["query", "area_id"])
        async with self.sessions() as session:
            if await session.get(KnownArea, area_id) is None:
                raise not_found
            await self.scope.require(session, principal, area_id, not_found)
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
            rows = await session.exec(
                query.group_by(col(ScoreEntry.subject), col(ScoreEntry.subject_id))
                .order_by(points.desc(), col(ScoreEntry.subject), col(ScoreEntry.subject_id))
                .offset(offset)
                .limit(limit)
            )
            board = []
            for rank, (stored_kind, subject_id, total) in enumerate(rows.all(), start=offset + 1):
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
        return LeaderboardPublic(
            area_id=area_id, period=period.code, subject=subject_kind, rows=board
        )

    async def suggestions(
        self,
        status: SuggestionStatus | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> list[SuggestionPublic]:
        async with self.sessions() as session:
            query = select(Suggestion)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Suggestion.area_id).in_(allowed))
            if status is not None:
                query = query.where(Suggestion.status == status)
            rows = await session.exec(
                query.order_by(col(Suggestion.created_at).desc(), col(Suggestion.id))
                .offset(offset)
                .limit(limit)
            )
            return [SuggestionPublic.model_validate(row) for row in rows.all()]

    async def pending_suggestions(self) -> int:
        async with self.sessions() as session:
            count = await session.exec(
                select(func.count()).where(Suggestion.status == SuggestionStatus.SUGGESTED)
            )
            return int(count.one())


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


def measured(measures: list[dict[str, str]], item: str) -> Decimal:
    """The total quantity of one item among an activity's measures."""
    return sum((Decimal(m["quantity"]) for m in measures if m["item"] == item), Decimal(0))


def _unique_periods(
    touched: list[Touched], granularity: Granularity
) -> Iterator[tuple[ScoreSubject, UUID, Period]]:
    seen: set[tuple[ScoreSubject, UUID, str]] = set()
    for item in touched:
        period = Period.containing(item.day, granularity)
        key = (item.subject, item.subject_id, period.code)
        if key not in seen:
            seen.add(key)
            yield item.subject, item.subject_id, period
