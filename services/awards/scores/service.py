"""Emulation scores' use cases: points from consumed events under the configured rules,
each subject's score and the leaderboards.

Score entries are written by the event handlers, in the same transaction as the inbox
row, so an event scores once; a unique key (rule, source, subject) also keeps an
incident from scoring twice if reporting publishes its resolution again. After each
event's points, ``Suggestions`` suggests the nominations its thresholds call for."""

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, update
from sqlalchemy import select as columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.awards.rules import AchievementKind
from services.awards.replicas.models import (
    KnownMembership,
    KnownPerson,
    KnownTeam,
    TrackedActivity,
)
from services.awards.replicas.service import ReadModels
from services.awards.scores.models import (
    MemberCredit,
    ScoreEntry,
    ScoreMonth,
)
from services.awards.scores.rules import (
    SOLVED,
    Credit,
    Earned,
    Granularity,
    Ledger,
    ScoreRule,
    ScoreSubject,
    SolvedIncident,
    Stint,
    activity_points,
    incident_earns,
    month_of,
)
from services.awards.suggestions.rules import Scored, Touched
from services.awards.suggestions.service import Suggestions
from shared.db import (
    SessionFactory,
    execute,
    execute_per_database,
    per_database,
    serialize_on,
)
from shared.events import (
    ActivityLogged,
    IncidentLinked,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
)
from shared.scope import AreaScope

SOLVING = set(SOLVED)  # checked for every status change: a set


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


_MONTHS = ScoreMonth.__table__  # type: ignore[attr-defined]


def _add_to_months_statement(dialect: Any) -> Any:
    statement = dialect.insert(_MONTHS)
    return statement.on_conflict_do_update(
        index_elements=[_MONTHS.c.subject, _MONTHS.c.subject_id, _MONTHS.c.month],
        set_={"points": _MONTHS.c.points + statement.excluded.points},
    )


_ADD_TO_MONTHS = per_database(_add_to_months_statement)


async def add_to_months(
    session: AsyncSession, changes: Iterable[tuple[ScoreSubject, UUID, date, int]]
) -> None:
    """Add points to (or take them from) their subjects' monthly totals: in the database,
    in one statement and in key order, so two instances lose nothing and never deadlock."""
    totals: Counter[tuple[ScoreSubject, UUID, str]] = Counter()
    for subject, subject_id, day, points in changes:
        totals[(subject, subject_id, month_of(day))] += points
    rows = [
        {"subject": subject, "subject_id": subject_id, "month": month, "points": points}
        for (subject, subject_id, month), points in sorted(totals.items())
        if points
    ]
    if rows:
        await execute_per_database(session, _ADD_TO_MONTHS, rows)


def _insert_once_statement(dialect: Any, table: Any, key: list[str]) -> Any:
    """Insert rows, leaving out any whose ``key`` is taken, and say which went in."""
    statement = dialect.insert(table).on_conflict_do_nothing(
        index_elements=[table.c[name] for name in key]
    )
    return statement.returning(table.c.id)


_ENTRIES = ScoreEntry.__table__  # type: ignore[attr-defined]
_CREDITS = MemberCredit.__table__  # type: ignore[attr-defined]
_ENTRY_KEY = ["rule", "source_id", "subject", "subject_id"]  # uq_score_once
_CREDIT_KEY = ["rule", "source_id", "team_id"]  # uq_member_credit_once
_INSERT_ENTRIES_ONCE = per_database(lambda d: _insert_once_statement(d, _ENTRIES, _ENTRY_KEY))
_INSERT_CREDITS_ONCE = per_database(lambda d: _insert_once_statement(d, _CREDITS, _CREDIT_KEY))


async def insert_once(
    session: AsyncSession, statements: dict[str, Any], rows: list[dict[str, Any]]
) -> set[UUID]:
    """The ids of those of ``rows`` that went in: a row whose unique key an earlier event
    took (a resolution published twice) stays out, with no read before the write."""
    return set((await execute_per_database(session, statements, rows)).scalars())


# Built once: a statement built at each batch cost more than its run for a batch of one.
_ROSTERS_WITH_AREAS = (
    columns(
        col(KnownMembership.team_id),
        col(KnownMembership.person_id),
        col(KnownMembership.joined_on),
        col(KnownMembership.left_on),
        col(KnownMembership.active),
        col(KnownPerson.area_id),
    )
    .outerjoin(KnownPerson, col(KnownPerson.id) == col(KnownMembership.person_id))
    .where(col(KnownMembership.team_id).in_(bindparam("teams", expanding=True)))
)
_TEAM_AREAS = columns(col(KnownTeam.id), col(KnownTeam.area_id)).where(
    col(KnownTeam.id).in_(bindparam("teams", expanding=True))
)


class _Lookups(Ledger):
    """What scoring a list of achievements reads, once for the whole list: the credited
    teams' areas, and for teams that pay their members, their rosters with the members'
    areas. What the sources already scored is not read: the inserts leave it out
    (``insert_once``)."""

    async def load(
        self, session: AsyncSession, earned: list[Earned], member_teams: list[UUID]
    ) -> None:
        if member_teams:
            stints = await execute(session, _ROSTERS_WITH_AREAS, [{"teams": member_teams}])
            for team_id, person_id, joined_on, left_on, active, area_id in map(tuple, stints):
                self.rosters.setdefault(team_id, []).append(
                    Stint(person_id, joined_on, left_on, active)
                )
                if area_id is not None:
                    self.person_areas[person_id] = area_id
        team_credit = sorted(
            {team for item in earned if Credit.TEAMS in item.rule.credit for team in item.teams}
        )
        if team_credit:
            areas = await execute(session, _TEAM_AREAS, [{"teams": team_credit}])
            self.team_areas = dict(map(tuple, areas))


class Scores:
    def __init__(
        self,
        sessions: SessionFactory,
        rules: list[ScoreRule],
        granularity: Granularity,
        read_models: ReadModels,
        suggestions: Suggestions,
        scope: AreaScope,
    ) -> None:
        self.sessions = sessions
        self.rules = rules
        self.granularity = granularity
        self.read_models = read_models
        self.suggestions = suggestions
        self.scope = scope

    # --- consumed events (one entry point per event type) -----------------------------

    async def remember_member(self, session: AsyncSession, event: MemberJoined) -> None:
        await self.roster_changes(session, [event])

    async def forget_member(self, session: AsyncSession, event: MemberLeft) -> None:
        await self.roster_changes(session, [event])

    async def roster_changes(
        self, session: AsyncSession, events: Sequence[MemberJoined | MemberLeft]
    ) -> None:
        """Joins and departures in turn: the rosters and people, then each person's share
        of the team's achievements (none to settle on a team that has none yet)."""
        teams = {event.team_id for event in events}
        # Before anything is read: a credit of one of these teams being written now either
        # waits for this transaction, or is seen by it (see shared.db.serialize_on).
        await serialize_on(session, *(f"team-roster:{team}" for team in teams))
        credited = await self.teams_with_member_credits(session, teams)
        pending: list[MemberJoined | MemberLeft] = []  # a stretch with nothing to settle
        for event in events:
            if event.team_id not in credited:
                pending.append(event)
                continue
            if pending:
                await self.read_models.members_changed(session, pending)
                pending = []
            await self.read_models.members_changed(session, [event])
            await self.roster_changed(session, event.team_id, event.person_id)
        if pending:
            await self.read_models.members_changed(session, pending)

    async def credit_resolution(
        self, session: AsyncSession, event: IncidentStatusChanged, event_id: str
    ) -> None:
        """A resolution counts for every credited team; a solved incident scores points."""
        await self.credit_resolutions(session, [(event, event_id)])

    async def credit_resolutions(
        self, session: AsyncSession, events: list[tuple[IncidentStatusChanged, str]]
    ) -> None:
        """``credit_resolution`` for each of a run of events, in a handful of statements."""
        applied, resolved = await self.read_models.incidents_status_changed(
            session, [event for event, _ in events]
        )
        solved = [
            SolvedIncident.of(incident, event.to_status, event.changed_at, event_id)
            for (event, event_id), incident in zip(events, applied, strict=True)
            if event.to_status in SOLVING
        ]
        await self.incidents_solved(session, solved, counted=resolved)

    async def drop_duplicate(self, session: AsyncSession, event: IncidentLinked) -> None:
        if await self.read_models.incident_linked(session, event):
            await self.void_source(session, event.incident_id)

    async def score_activity(
        self, session: AsyncSession, event: ActivityLogged, event_id: str
    ) -> None:
        if await self.read_models.activity_logged(session, event):
            activity = await session.get(TrackedActivity, event.activity_id)
            if activity is not None:
                await self.activity_logged(session, activity, event_id)

    # --- scoring what an event earned ------------------------------------------------

    async def incidents_solved(
        self,
        session: AsyncSession,
        solved: list[SolvedIncident],
        counted: Counter[UUID] | None = None,
    ) -> None:
        """Score each incident's solution in turn, as the rules say: the same effect as one
        at a time, with a handful of statements for the whole list; ``counted``: the
        resolutions to add to the teams' counts, with the points."""
        earned: list[list[Earned]] = []
        for incident in solved:
            earned.append([])
            if incident.duplicate_of is not None:
                continue
            for rule in self.rules:
                if not incident_earns(
                    rule, incident.to_status, incident.source, incident.category_group
                ):
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
        await self.suggestions.suggest(session, await self._credit(session, earned, counted))

    async def activity_logged(
        self, session: AsyncSession, activity: TrackedActivity, event_id: str
    ) -> None:
        teams = tuple(UUID(team) for team in activity.team_ids)
        earned: list[Earned] = []
        for rule in self.rules:
            points = activity_points(
                rule, activity.activity_type, activity.outcome, activity.measures
            )
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
        await self.suggestions.suggest(session, await self._credit(session, [earned]))

    async def void_source(self, session: AsyncSession, source_id: UUID) -> None:
        """A duplicate incident no longer counts: its points are kept but void."""
        counted = await execute(
            session,
            columns(
                col(ScoreEntry.subject),
                col(ScoreEntry.subject_id),
                col(ScoreEntry.occurred_on),
                col(ScoreEntry.points),
            ).where(col(ScoreEntry.source_id) == source_id, col(ScoreEntry.voided).is_(False)),
        )
        await add_to_months(
            session,
            ((row.subject, row.subject_id, row.occurred_on, -row.points) for row in counted),
        )
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
        earned: list[list[Earned]],
        counted: Counter[UUID] | None = None,
    ) -> list[list[Scored]]:
        """Score what each event earned, event after event; returns each event's new points.
        Members are paid from the rosters of the achievement's day; an achievement that pays
        members is also kept as a member credit, for roster events that arrive after it.
        ``counted``: resolutions to add to the teams' counts in the same last stretch."""
        flat = [item for items in earned for item in items]
        counted = counted or Counter()
        if not flat:
            await self.read_models.count_resolutions(session, counted)
            return [[] for _ in earned]
        await session.flush()  # what follows reads with Core: it sees only flushed rows
        member_teams = sorted(
            {team for item in flat if Credit.MEMBERS in item.rule.credit for team in item.teams}
        )
        # Taken before the members are read: a roster change of the team waits, or is seen.
        # Shared: two credits of one team read the same roster, and need not wait for each
        # other here (their totals are kept apart below).
        await serialize_on(session, *(f"team-roster:{team}" for team in member_teams), shared=True)
        batch = _Lookups()
        await batch.load(session, flat, member_teams)
        entries: list[tuple[int, dict[str, Any], Scored]] = []  # (event's place, row, points)
        credits: list[dict[str, Any]] = []
        for place, items in enumerate(earned):
            for item in items:
                if Credit.MEMBERS in item.rule.credit:
                    for team_id in item.teams:
                        if batch.first_member_credit(item, team_id):
                            credits.append(item.member_credit(team_id))
                for subject, subject_id, subject_area in batch.credited(item):
                    if batch.first_score(item, subject, subject_id):
                        entry = item.score_entry(subject, subject_id, subject_area)
                        touched = Touched(subject, subject_id, item.day)
                        entries.append((place, entry, Scored(touched, item.points)))
        if credits:
            await insert_once(session, _INSERT_CREDITS_ONCE, credits)
        scored: list[list[Scored]] = [[] for _ in earned]
        if entries:
            inserted = await insert_once(session, _INSERT_ENTRIES_ONCE, [e for _, e, _ in entries])
            entries = [(place, e, points) for place, e, points in entries if e["id"] in inserted]
        # The last stretch, on rows other instances add to as well: from here to the commit
        # one credit of a team at a time, so that the totals the thresholds then read include
        # every other credit of the team (a team's points in two months reach a threshold
        # that neither credit alone would). Everything before overlaps freely.
        await serialize_on(session, *(f"team-score:{team}" for item in flat for team in item.teams))
        months = [
            (e["subject"], e["subject_id"], e["occurred_on"], e["points"]) for _, e, _ in entries
        ]
        await add_to_months(session, months)
        await self.read_models.count_resolutions(session, counted)
        for place, _, points in entries:
            scored[place].append(points)
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
                points = 0 if credit.voided else credit.points
                await add_to_months(
                    session, [(ScoreSubject.PERSON, person_id, credit.occurred_on, points)]
                )
                touched = Touched(ScoreSubject.PERSON, person_id, credit.occurred_on)
                scored.append(Scored(touched, points))
            elif not on_team and entry is not None:
                await session.delete(entry)  # had left before that day
                if not entry.voided:
                    await add_to_months(
                        session,
                        [(entry.subject, entry.subject_id, entry.occurred_on, -entry.points)],
                    )
        await self.suggestions.suggest(session, [scored])
