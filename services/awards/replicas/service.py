"""Awards' local copies of registry's and reporting's aggregates, kept from their events,
and the lookups of whom they name.

Each copy follows the shared rules of ``shared.read_models``: an event older than what is
held changes nothing, and an event naming an aggregate not seen yet holds a placeholder
that the aggregate's own event fills in, so redeliveries and any order are harmless."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, or_, update
from sqlalchemy import select as sqlalchemy_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.replicas.models import (
    KnownArea,
    KnownMembership,
    KnownPerson,
    KnownTeam,
    TeamContribution,
    TeamContributionPublic,
    TrackedActivity,
    TrackedIncident,
)
from services.awards.replicas.rules import (
    IncidentState,
    membership_id,
    rejoined_since,
    settled_person,
)
from services.awards.scores.models import ScoreEntry
from services.awards.scores.rules import ScoreSubject, Subject
from shared.auth import Principal
from shared.db import SessionFactory, execute, execute_per_database, per_database
from shared.events import (
    ActivityLogged,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    IncidentLinked,
    IncidentReported,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from shared.read_models import apply_if_newer, hold_reference, is_known, set_parent_if_newer
from shared.scope import AreaScope


class ReadModels:
    def __init__(self, sessions: SessionFactory, scope: AreaScope) -> None:
        self.sessions = sessions
        self.scope = scope

    # --- areas: name and households follow `version`, the parent `parent_version` -------

    async def area_registered(self, session: AsyncSession, event: AreaRegistered) -> None:
        values = {
            "code": event.code,
            "name": event.name,
            "level": event.level.value,
            "households": event.households,
        }
        await apply_if_newer(session, KnownArea, event.area_id, event.aggregate_version, values)
        await set_parent_if_newer(
            session, KnownArea, event.area_id, event.parent_id, event.aggregate_version
        )

    async def area_updated(self, session: AsyncSession, event: AreaUpdated) -> None:
        values = {"code": event.code, "name": event.name, "households": event.households}
        await apply_if_newer(session, KnownArea, event.area_id, event.aggregate_version, values)

    async def area_moved(self, session: AsyncSession, event: AreaMoved) -> None:
        await hold_reference(session, KnownArea, event.area_id, code=event.code, name=event.code)
        await set_parent_if_newer(
            session, KnownArea, event.area_id, event.to_parent_id, event.aggregate_version
        )

    # --- teams and their members -------------------------------------------------------

    async def team_registered(
        self, session: AsyncSession, event: TeamRegistered | TeamUpdated
    ) -> None:
        values = {
            "area_id": event.area_id,
            "name": event.name,
            "kind": event.kind,
            "founded_on": event.founded_on,
        }
        first_news = not is_known(await session.get(KnownTeam, event.team_id))
        await apply_if_newer(session, KnownTeam, event.team_id, event.aggregate_version, values)
        if first_news:
            # Credits that came before the team scored in the incident's area: now the
            # team's own area is known, they count where they would have in order.
            await execute(
                session,
                update(ScoreEntry)
                .where(
                    col(ScoreEntry.subject) == ScoreSubject.TEAM,
                    col(ScoreEntry.subject_id) == event.team_id,
                )
                .values(area_id=event.area_id),
            )

    async def team_dissolved(self, session: AsyncSession, event: TeamDissolved) -> None:
        # The registration, if it comes later, fills the name and leaves the dissolution.
        team = await hold_reference(
            session, KnownTeam, event.team_id, area_id=event.area_id, name=""
        )
        team.dissolved_on = event.dissolved_on
        session.add(team)

    async def member_joined(self, session: AsyncSession, event: MemberJoined) -> None:
        await self.members_changed(session, [event])

    async def member_left(self, session: AsyncSession, event: MemberLeft) -> None:
        await self.members_changed(session, [event])

    async def members_changed(
        self, session: AsyncSession, events: Sequence[MemberJoined | MemberLeft]
    ) -> None:
        """Apply each join or departure in turn to the memberships (a newer version wins)
        and to the people it names, reading the memberships and people involved once."""
        people_ids = sorted({event.person_id for event in events})
        held = (
            await session.exec(
                select(KnownMembership).where(col(KnownMembership.person_id).in_(people_ids))
            )
        ).all()
        memberships = {membership.id: membership for membership in held}
        people = {
            person.id: person
            for person in (
                await session.exec(select(KnownPerson).where(col(KnownPerson.id).in_(people_ids)))
            ).all()
        }
        for event in events:
            key = membership_id(event.team_id, event.person_id, event.role)
            membership = memberships.get(key)
            values = _membership_values(membership, event)
            if membership is None:
                membership = KnownMembership(id=key, version=event.aggregate_version, **values)
                memberships[key] = membership
                session.add(membership)
            elif membership.version < event.aggregate_version:
                membership.sqlmodel_update({**values, "version": event.aggregate_version})
                session.add(membership)
            settled = settled_person(
                [m for m in memberships.values() if m.person_id == event.person_id]
            )
            if settled is not None:
                area_id, full_name = settled
                person = people.setdefault(
                    event.person_id,
                    KnownPerson(id=event.person_id, area_id=area_id, full_name=full_name),
                )
                person.sqlmodel_update({"area_id": area_id, "full_name": full_name})
                session.add(person)

    async def members_on(self, session: AsyncSession, team_ids: list[UUID], day: date) -> set[UUID]:
        """The people on any of these teams on ``day``, as far as the rosters are known."""
        rows = await session.exec(
            select(KnownMembership.person_id).where(
                col(KnownMembership.team_id).in_(team_ids),
                or_(
                    col(KnownMembership.joined_on).is_(None), col(KnownMembership.joined_on) <= day
                ),
                or_(
                    col(KnownMembership.active),
                    col(KnownMembership.left_on).is_(None),
                    col(KnownMembership.left_on) >= day,
                ),
            )
        )
        return set(rows.all())

    # --- incidents and activities ------------------------------------------------------

    async def incident_reported(self, session: AsyncSession, event: IncidentReported) -> None:
        tracked = await session.get(TrackedIncident, event.incident_id)
        if tracked is None:
            tracked = TrackedIncident(
                id=event.incident_id,
                area_id=event.area_id,
                category=event.category,
                status=event.status,
                version=event.aggregate_version,
                # given, not defaulted: pydantic inspects a default factory's signature on
                # every construction, and list's costs 80 µs
                credited_team_ids=[],
            )
        elif tracked.version < event.aggregate_version:
            tracked.status = event.status
            tracked.version = event.aggregate_version
        tracked.occurred_at = event.occurred_at
        tracked.source = event.source.value
        tracked.category_group = event.category_group or tracked.category_group
        if not tracked.credited_team_ids:
            tracked.credited_team_ids = [str(team) for team in event.credited_team_ids]
        session.add(tracked)

    async def incidents_status_changed(
        self, session: AsyncSession, events: list[IncidentStatusChanged]
    ) -> tuple[list["IncidentState"], Counter[UUID]]:
        """Apply each event in turn to the incidents (a newer version wins), reading the
        incidents involved once; returns each incident as its event left it, and the
        resolutions each team is to be counted for (a duplicate never counts), which the
        caller adds with ``count_resolutions`` (last, as these rows are shared)."""
        ids = sorted({event.incident_id for event in events})
        await session.flush()  # an incident changed through the ORM earlier is read as written
        rows = await execute(session, _TRACKED_OF, [{"ids": ids}])
        known = {row.id: _Tracked(**row._mapping) for row in rows}
        resolved: Counter[UUID] = Counter()
        applied: list[IncidentState] = []
        for event in events:
            tracked = _status_changed(known.get(event.incident_id), event)
            known[event.incident_id] = tracked
            if event.to_status is IncidentStatus.RESOLVED and tracked.duplicate_of is None:
                resolved.update(event.credited_team_ids)
            applied.append(IncidentState.of(tracked))
        # Core, not ORM objects: one upsert of each incident's last state for the whole run.
        await execute_per_database(
            session,
            _TRACKED_UPSERT,
            [{name: getattr(row, name) for name in _TRACKED_COLUMNS} for row in known.values()],
        )
        for held in list(session.identity_map.values()):
            if isinstance(held, TrackedIncident) and held.id in known:
                session.expire(held)  # the ORM's copy no longer says what the row holds
        return applied, resolved

    async def count_resolutions(self, session: AsyncSession, resolved: Counter[UUID]) -> None:
        await _count_resolutions(session, resolved)

    async def incident_linked(self, session: AsyncSession, event: IncidentLinked) -> bool:
        """Mark the duplicate; True if this link is new (its counts must be taken back)."""
        tracked = await hold_reference(
            session,
            TrackedIncident,
            event.incident_id,
            area_id=event.area_id,
            category=event.category,
            status=IncidentStatus.REPORTED,
        )
        if tracked.duplicate_of is not None:
            return False
        tracked.duplicate_of = event.duplicate_of
        session.add(tracked)
        if tracked.status is IncidentStatus.RESOLVED:
            teams = [UUID(team) for team in tracked.credited_team_ids]
            await self._add_resolutions(session, teams, -1)
        return True

    async def _add_resolutions(self, session: AsyncSession, teams: list[UUID], step: int) -> None:
        await _count_resolutions(session, Counter(dict.fromkeys(teams, step)))

    async def activity_logged(self, session: AsyncSession, event: ActivityLogged) -> bool:
        """Store the activity; True if it is new or newer than the copy held."""
        values = {
            "area_id": event.area_id,
            "activity_type": event.activity_type,
            "occurred_on": event.occurred_on,
            "outcome": event.outcome,
            "measures": [measure.model_dump(mode="json") for measure in event.measures],
            "team_ids": [str(team) for team in event.team_ids],
        }
        return await apply_if_newer(
            session, TrackedActivity, event.activity_id, event.aggregate_version, values
        )

    # --- what the API shows of them ---------------------------------------------------

    async def team_contribution(
        self, team_id: UUID, principal: Principal
    ) -> TeamContributionPublic:
        async with self.sessions() as session:
            await self.scope.get_in_scope(session, principal, KnownTeam, team_id, what="team")
            contribution = await session.get(TeamContribution, team_id)
        return TeamContributionPublic(
            team_id=team_id,
            resolved_incidents=contribution.resolved_incidents if contribution else 0,
        )


@dataclass(slots=True)
class _Tracked:
    """A tracked incident's row, as plain data: cheaper than an ORM object per event."""

    id: UUID
    area_id: UUID
    category: str
    status: IncidentStatus
    version: int
    category_group: str | None
    source: str | None
    occurred_at: datetime | None
    credited_team_ids: list[str]
    duplicate_of: UUID | None


_TRACKED = TrackedIncident.__table__  # type: ignore[attr-defined]
_TRACKED_COLUMNS = tuple(field.name for field in fields(_Tracked))
_TRACKED_OF = sqlalchemy_select(*(_TRACKED.c[name] for name in _TRACKED_COLUMNS)).where(
    _TRACKED.c.id.in_(bindparam("ids", expanding=True))
)


def _upsert(dialect: Any) -> Any:
    """Insert an incident's row, or replace every column of the one held."""
    statement = dialect.insert(_TRACKED)
    return statement.on_conflict_do_update(
        index_elements=[_TRACKED.c.id],
        set_={name: statement.excluded[name] for name in _TRACKED_COLUMNS if name != "id"},
    )


_TRACKED_UPSERT = per_database(_upsert)


def _status_changed(tracked: _Tracked | None, event: IncidentStatusChanged) -> _Tracked:
    """The incident after ``event``: a newer version wins; facts only some events carry
    (when, how it came in, its group, the teams credited) are kept once known."""
    if tracked is None:
        tracked = _Tracked(
            event.incident_id,
            event.area_id,
            event.category,
            event.to_status,
            event.aggregate_version,
            None,
            None,
            None,
            [],
            None,
        )
    elif tracked.version < event.aggregate_version:
        tracked.status = event.to_status
        tracked.version = event.aggregate_version
        tracked.area_id = event.area_id
        tracked.category = event.category
    if event.occurred_at is not None:
        tracked.occurred_at = event.occurred_at
    if event.source is not None:
        tracked.source = event.source.value
    tracked.category_group = event.category_group or tracked.category_group
    if event.credited_team_ids and tracked.version <= event.aggregate_version:
        tracked.credited_team_ids = [str(team) for team in event.credited_team_ids]
    return tracked


def _membership_values(
    held: KnownMembership | None, event: MemberJoined | MemberLeft
) -> dict[str, Any]:
    """What a join or a departure says of one membership (team, person and role)."""
    values: dict[str, Any] = {
        "team_id": event.team_id,
        "person_id": event.person_id,
        "role": event.role,
        "active": isinstance(event, MemberJoined),
    }
    if isinstance(event, MemberJoined):
        joined = event.joined_on
        if held is not None and held.version < event.aggregate_version:
            joined = rejoined_since(held.joined_on, joined)
        return values | {
            "joined_on": joined,
            "left_on": None,
            "area_id": event.area_id,
            "full_name": event.full_name,
        }
    return values | {"left_on": event.left_on}


COUNT = "resolved_incidents"
_CONTRIBUTIONS = TeamContribution.__table__  # type: ignore[attr-defined]


def _add_to_counts(dialect: Any) -> Any:
    statement = dialect.insert(_CONTRIBUTIONS)
    return statement.on_conflict_do_update(
        index_elements=[_CONTRIBUTIONS.c.team_id],
        set_={COUNT: _CONTRIBUTIONS.c[COUNT] + statement.excluded[COUNT]},
    )


_ADD_TO_COUNTS = per_database(_add_to_counts)


async def _count_resolutions(session: AsyncSession, resolved: Counter[UUID]) -> None:
    """Add to (or take from, never below 0) the teams' counts of resolved incidents, in the
    database, in one statement and in team order: two instances crediting the same teams at
    once lose no count (no read-modify-write), lock the rows in the same order (no deadlock)
    and neither finds the other's new row a conflict."""
    if not resolved:
        return
    await session.flush()  # a count changed through the ORM earlier is written first
    rows = [{"team_id": team, COUNT: n} for team, n in sorted(resolved.items())]
    await execute_per_database(session, _ADD_TO_COUNTS, rows)
    for held in list(session.identity_map.values()):
        if isinstance(held, TeamContribution) and held.team_id in resolved:
            session.expire(held)  # the ORM's copy no longer says what the row holds


# --- who a scored subject is ---------------------------------------------------------


async def scored_subjects(
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
