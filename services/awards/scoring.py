"""Emulation scores: points from consumed events under configurable rules, leaderboards,
and suggested nominations when a recipient's points in a period cross a threshold.

Score entries are written by the event handlers, in the same transaction as the inbox
row, so an event scores once; a unique key (rule, source, subject) also keeps an
incident from scoring twice if reporting publishes its resolution again."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, insert, update
from sqlalchemy import select as columns
from sqlalchemy.dialects import postgresql, sqlite
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
    KnownMembership,
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
    utcnow,
)
from services.awards.periods import Granularity, Period, local_date, today
from services.awards.readmodels import IncidentState, ReadModels
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


@dataclass(frozen=True)
class Scored:
    """Points an event just gave a subject (0 if they do not count: void)."""

    touched: Touched
    points: int


@dataclass(frozen=True)
class SolvedIncident:
    """An incident as it stood right after the event that solved it."""

    id: UUID
    area_id: UUID
    source: str | None
    category_group: str | None
    duplicate_of: UUID | None
    teams: tuple[UUID, ...]
    to_status: IncidentStatus
    day: date
    event_id: str

    @classmethod
    def of(
        cls, incident: IncidentState, to_status: IncidentStatus, at: datetime, event_id: str
    ) -> "SolvedIncident":
        return cls(
            incident.id,
            incident.area_id,
            incident.source,
            incident.category_group,
            incident.duplicate_of,
            incident.credited_team_ids,
            to_status,
            local_date(at),
            event_id,
        )


@dataclass(frozen=True)
class Earned:
    """What one rule gives for one incident or activity, before it is shared out."""

    rule: ScoreRule
    points: int
    teams: tuple[UUID, ...]
    area_id: UUID
    day: date
    source_id: UUID
    event_id: str
    source_kind: AchievementKind

    def score_entry(self, subject: ScoreSubject, subject_id: UUID, area_id: UUID) -> dict[str, Any]:
        return {
            "id": uuid4(),
            "subject": subject,
            "subject_id": subject_id,
            "area_id": area_id,
            "occurred_on": self.day,
            "points": self.points,
            "rule": self.rule.code,
            "source_kind": self.source_kind,
            "source_id": self.source_id,
            "event_id": self.event_id,
            "voided": False,
            "created_at": utcnow(),
        }

    def member_credit(self, team_id: UUID) -> dict[str, Any]:
        return {
            "id": uuid4(),
            "rule": self.rule.code,
            "source_id": self.source_id,
            "source_kind": self.source_kind,
            "team_id": team_id,
            "area_id": self.area_id,
            "occurred_on": self.day,
            "points": self.points,
            "event_id": self.event_id,
            "voided": False,
        }


@dataclass(frozen=True)
class _Stint:
    person_id: UUID
    joined_on: date | None
    left_on: date | None
    active: bool

    def on(self, day: date) -> bool:
        joined = self.joined_on is None or self.joined_on <= day
        return joined and (self.active or self.left_on is None or self.left_on >= day)


class _Lookups:
    """What scoring a list of achievements reads, read once for the whole list: the points
    and member credits their sources already have, team and person areas, team rosters."""

    def __init__(self) -> None:
        self.scored: set[tuple[str, UUID, ScoreSubject, UUID]] = set()
        self.member_credited: set[tuple[str, UUID, UUID]] = set()
        self.team_areas: dict[UUID, UUID] = {}
        self.person_areas: dict[UUID, UUID] = {}
        self.rosters: dict[UUID, list[_Stint]] = {}

    async def load(
        self, session: AsyncSession, earned: list[Earned], member_teams: list[UUID]
    ) -> None:
        sources = sorted({item.source_id for item in earned})
        rows = await execute(
            session,
            columns(
                col(ScoreEntry.rule),
                col(ScoreEntry.source_id),
                col(ScoreEntry.subject),
                col(ScoreEntry.subject_id),
            ).where(col(ScoreEntry.source_id).in_(sources)),
        )
        self.scored = {tuple(row) for row in rows}  # type: ignore[misc]
        if member_teams:
            credited = await session.exec(
                select(MemberCredit.rule, MemberCredit.source_id, MemberCredit.team_id).where(
                    col(MemberCredit.source_id).in_(sources)
                )
            )
            self.member_credited = set(credited.all())
            stints = await execute(
                session,
                columns(
                    col(KnownMembership.team_id),
                    col(KnownMembership.person_id),
                    col(KnownMembership.joined_on),
                    col(KnownMembership.left_on),
                    col(KnownMembership.active),
                ).where(col(KnownMembership.team_id).in_(member_teams)),
            )
            for team_id, person_id, joined_on, left_on, active in map(tuple, stints):
                self.rosters.setdefault(team_id, []).append(
                    _Stint(person_id, joined_on, left_on, active)
                )
            people = sorted({s.person_id for stints in self.rosters.values() for s in stints})
            if people:
                areas = await session.exec(
                    select(KnownPerson.id, KnownPerson.area_id).where(
                        col(KnownPerson.id).in_(people)
                    )
                )
                self.person_areas = dict(areas.all())
        team_credit = sorted(
            {team for item in earned if Credit.TEAMS in item.rule.credit for team in item.teams}
        )
        if team_credit:
            areas = await session.exec(
                select(KnownTeam.id, KnownTeam.area_id).where(col(KnownTeam.id).in_(team_credit))
            )
            self.team_areas = dict(areas.all())

    def members_on(self, teams: tuple[UUID, ...], day: date) -> set[UUID]:
        return {s.person_id for team in teams for s in self.rosters.get(team, ()) if s.on(day)}

    def credited(self, item: Earned) -> list[tuple[ScoreSubject, UUID, UUID]]:
        """Who the rule's points go to, and the area each belongs to."""
        credited: list[tuple[ScoreSubject, UUID, UUID]] = []
        if Credit.TEAMS in item.rule.credit:
            for team_id in item.teams:
                area = self.team_areas.get(team_id, item.area_id)
                credited.append((ScoreSubject.TEAM, team_id, area))
        if Credit.MEMBERS in item.rule.credit and item.teams:
            for person_id in sorted(self.members_on(item.teams, item.day)):
                area = self.person_areas.get(person_id, item.area_id)
                credited.append((ScoreSubject.PERSON, person_id, area))
        if Credit.AREA in item.rule.credit:
            credited.append((ScoreSubject.AREA, item.area_id, item.area_id))
        return credited

    def first_score(self, item: Earned, subject: ScoreSubject, subject_id: UUID) -> bool:
        """True once per rule, source and subject (the unique key of score entries)."""
        key = (item.rule.code, item.source_id, subject, subject_id)
        if key in self.scored:
            return False
        self.scored.add(key)
        return True

    def first_member_credit(self, item: Earned, team_id: UUID) -> bool:
        key = (item.rule.code, item.source_id, team_id)
        if key in self.member_credited:
            return False
        self.member_credited.add(key)
        return True


def _period_key(touched: Touched, granularity: Granularity) -> tuple[ScoreSubject, UUID, str]:
    return (
        touched.subject,
        touched.subject_id,
        Period.containing(touched.day, granularity).code,
    )


async def _period_totals(
    session: AsyncSession, touched: list[Touched], granularity: Granularity
) -> dict[tuple[ScoreSubject, UUID, str], int]:
    """Each touched subject's points (not void) in each period touched, in one query."""
    periods = [Period.containing(t.day, granularity) for t in touched]
    wanted = {_period_key(t, granularity) for t in touched}
    rows = await execute(
        session,
        columns(
            col(ScoreEntry.subject),
            col(ScoreEntry.subject_id),
            col(ScoreEntry.occurred_on),
            func.sum(ScoreEntry.points),
        )
        .where(
            col(ScoreEntry.subject_id).in_(sorted({t.subject_id for t in touched})),
            col(ScoreEntry.occurred_on) >= min(p.start for p in periods),
            col(ScoreEntry.occurred_on) <= max(p.end for p in periods),
            col(ScoreEntry.voided).is_(False),
        )
        .group_by(col(ScoreEntry.subject), col(ScoreEntry.subject_id), col(ScoreEntry.occurred_on)),
    )
    totals: dict[tuple[ScoreSubject, UUID, str], int] = {}
    for subject, subject_id, day, points in map(tuple, rows):
        key = _period_key(Touched(subject, subject_id, day), granularity)
        if key in wanted:
            totals[key] = totals.get(key, 0) + int(points)
    return totals


async def _subjects(
    session: AsyncSession, wanted: set[tuple[ScoreSubject, UUID]]
) -> dict[tuple[ScoreSubject, UUID], Subject]:
    """The name and area of each scored person, team or area the registry told us of."""
    found: dict[tuple[ScoreSubject, UUID], Subject] = {}
    ids = {kind: sorted(i for k, i in wanted if k is kind) for kind in ScoreSubject}
    if ids[ScoreSubject.PERSON]:
        people = await session.exec(
            select(KnownPerson).where(col(KnownPerson.id).in_(ids[ScoreSubject.PERSON]))
        )
        for person in people.all():
            kind = ScoreSubject.PERSON
            found[(kind, person.id)] = Subject(kind, person.id, person.full_name, person.area_id)
    if ids[ScoreSubject.TEAM]:
        teams = await session.exec(
            select(KnownTeam).where(col(KnownTeam.id).in_(ids[ScoreSubject.TEAM]))
        )
        for team in teams.all():
            if team.version != 0:  # a placeholder: the registry has not told us yet
                active = team.dissolved_on is None
                found[(ScoreSubject.TEAM, team.id)] = Subject(
                    ScoreSubject.TEAM, team.id, team.name, team.area_id, active
                )
    if ids[ScoreSubject.AREA]:
        areas = await session.exec(
            select(KnownArea).where(col(KnownArea.id).in_(ids[ScoreSubject.AREA]))
        )
        for area in areas.all():
            found[(ScoreSubject.AREA, area.id)] = Subject(
                ScoreSubject.AREA, area.id, area.name, area.id
            )
    return found


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

    async def incidents_solved(self, session: AsyncSession, solved: list["SolvedIncident"]) -> None:
        """Score each incident's solution in turn, as the rules say: the same effect as one
        at a time, with a handful of statements for the whole list."""
        earned: list[list[Earned]] = []
        for incident in solved:
            earned.append([])
            if incident.duplicate_of is not None:
                continue
            for rule in self.rules:
                if rule.on != "incident_solved" or incident.to_status not in rule.statuses:
                    continue
                if rule.sources and incident.source not in rule.sources:
                    continue
                if rule.category_groups and incident.category_group not in rule.category_groups:
                    continue
                earned[-1].append(
                    Earned(
                        rule,
                        rule.points,
                        incident.teams,
                        incident.area_id,
                        incident.day,
                        incident.id,
                        incident.event_id,
                        AchievementKind.INCIDENT,
                    )
                )
        await self._suggest(session, await self._credit(session, earned))

    async def activity_logged(
        self, session: AsyncSession, activity: TrackedActivity, event_id: str
    ) -> None:
        teams = tuple(UUID(team) for team in activity.team_ids)
        earned: list[Earned] = []
        for rule in self.rules:
            if rule.on != "activity" or rule.activity_type != activity.activity_type:
                continue
            if rule.outcome is not None and rule.outcome != activity.outcome:
                continue
            points = rule.points
            if rule.measure is not None:
                points = int(measured(activity.measures, rule.measure) // rule.per) * rule.points
            if points > 0:
                earned.append(
                    Earned(
                        rule,
                        points,
                        teams,
                        activity.area_id,
                        activity.occurred_on,
                        activity.id,
                        event_id,
                        AchievementKind.ACTIVITY,
                    )
                )
        await self._suggest(session, await self._credit(session, [earned]))

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
        self, session: AsyncSession, earned: list[list["Earned"]]
    ) -> list[list["Scored"]]:
        """Score what each event earned, event after event; returns each event's new points.
        Members are paid from the rosters of the achievement's day; an achievement that pays
        members is also kept as a member credit, for roster events that arrive after it."""
        flat = [item for items in earned for item in items]
        if not flat:
            return [[] for _ in earned]
        await session.flush()  # what follows reads with Core: it sees only flushed rows
        member_teams = sorted(
            {team for item in flat if Credit.MEMBERS in item.rule.credit for team in item.teams}
        )
        # Taken before the members are read: a roster change of the team waits, or is seen.
        await serialize_on(session, *(f"team-roster:{team}" for team in member_teams))
        batch = _Lookups()
        await batch.load(session, flat, member_teams)
        scored: list[list[Scored]] = []
        entries: list[dict[str, Any]] = []
        credits: list[dict[str, Any]] = []
        for items in earned:
            scored.append([])
            for item in items:
                if Credit.MEMBERS in item.rule.credit:
                    for team_id in item.teams:
                        if batch.first_member_credit(item, team_id):
                            credits.append(item.member_credit(team_id))
                for subject, subject_id, subject_area in batch.credited(item):
                    if batch.first_score(item, subject, subject_id):
                        entries.append(item.score_entry(subject, subject_id, subject_area))
                        touched = Touched(subject, subject_id, item.day)
                        scored[-1].append(Scored(touched, item.points))
        if credits:
            await execute(session, insert(MemberCredit), credits)
        if entries:
            await execute(session, insert(ScoreEntry), entries)
        return scored

    async def teams_with_member_credits(self, session: AsyncSession, teams: set[UUID]) -> set[UUID]:
        """Those of ``teams`` with achievements that pay their members."""
        rows = await session.exec(
            select(MemberCredit.team_id).where(col(MemberCredit.team_id).in_(sorted(teams)))
        )
        return set(rows.all())

    async def roster_changed(self, session: AsyncSession, team_id: UUID, person_id: UUID) -> None:
        """A person joined or left a team: they score for the team's achievements of the
        days they were on it, whether the roster or the achievement arrived first."""
        await serialize_on(session, f"team-roster:{team_id}")
        credits = (
            await session.exec(select(MemberCredit).where(MemberCredit.team_id == team_id))
        ).all()
        scored: list[Scored] = []
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
                touched = Touched(ScoreSubject.PERSON, person_id, credit.occurred_on)
                scored.append(Scored(touched, 0 if credit.voided else credit.points))
            elif not on_team and entry is not None:
                await session.delete(entry)  # had left before that day
        await self._suggest(session, [scored])

    async def _suggest(self, session: AsyncSession, scored: list[list["Scored"]]) -> None:
        """After each event's points, suggest a nomination for each threshold a subject's
        period total has reached, never twice for the same subject, period and threshold."""
        if not self.thresholds or not any(scored):
            return
        await session.flush()
        touched = [item.touched for items in scored for item in items]
        totals = await _period_totals(session, touched, self.granularity)
        # The totals include every event's points: take them back, then add them event by event.
        for item in (item for items in scored for item in items):
            key = _period_key(item.touched, self.granularity)
            totals[key] = totals.get(key, 0) - item.points
        subjects = await _subjects(session, {(t.subject, t.subject_id) for t in touched})
        ids = sorted({t.subject_id for t in touched})
        existing = set(
            (
                await session.exec(
                    select(
                        Suggestion.subject,
                        Suggestion.subject_id,
                        Suggestion.period,
                        Suggestion.threshold,
                    ).where(col(Suggestion.subject_id).in_(ids))
                )
            ).all()
        )
        suggestions: list[dict[str, Any]] = []
        for items in scored:
            for item in items:
                key = _period_key(item.touched, self.granularity)
                totals[key] = totals.get(key, 0) + item.points
            for subject_kind, subject_id, period in _unique_periods(
                [item.touched for item in items], self.granularity
            ):
                subject = subjects.get((subject_kind, subject_id))
                if subject is None or not subject.active:
                    continue  # not known to the registry yet, or dissolved: nothing to nominate
                total = totals.get((subject_kind, subject_id, period.code), 0)
                for threshold in self.thresholds:
                    if total < threshold.points:
                        break
                    once = (subject_kind, subject_id, period.code, threshold.points)
                    if once in existing:
                        continue
                    existing.add(once)
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
            connection = await session.connection()
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            await connection.execute(
                dialect.insert(Suggestion).on_conflict_do_nothing(
                    index_elements=["subject", "subject_id", "period", "threshold"]
                ),
                suggestions,
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
