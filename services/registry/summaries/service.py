"""Area summary use cases: the counters every change keeps up to date instead of scanning,
an area's summary read from them, and the check of the kept counters against a recount.

Each area holds the totals of its whole subtree, so a change to a team in a residential
group adds to the group, its ward, its district and its province (the tree is at most
four deep). Distinct people are counted through ``AreaPresence``: a person's active
memberships per area and key; the ``members`` counter moves only when that number goes
from 0 to 1 or back. Counters are changed with atomic upserts (``value = value + n``), so
concurrent transactions on PostgreSQL do not lose updates."""

from collections import defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area, AreaPublic
from services.registry.cameras.models import Camera
from services.registry.cameras.rules import CameraStatus
from services.registry.initiatives.models import Initiative
from services.registry.initiatives.rules import InitiativeStatus
from services.registry.rosters.models import Membership
from services.registry.summaries.models import AreaPresence, AreaSummary, AreaTally, KindSummary
from services.registry.summaries.rules import (
    CAMERAS,
    EVERY_KIND,
    INITIATIVES,
    Counts,
    Presence,
    PresenceChange,
    differences,
    distinct_changes,
    line_of,
    members_key,
    moved_counters,
    presence_deltas,
    teams_key,
    uncatalogued_kinds,
    without_common,
)
from services.registry.teams.models import Team
from services.registry.teams.rules import TeamKind, TeamStatus
from shared.auth import Principal
from shared.db import SessionFactory, execute, transaction
from shared.scope import AreaScope


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# The two upserts, built once per dialect (building one costs more than running it).
_UPSERTS: dict[tuple[Any, str], Any] = {}


def _tally_upsert(session: AsyncSession) -> Any:
    insert = _insert(session)
    statement = _UPSERTS.get((insert, "tally"))
    if statement is None:
        table = AreaTally.__table__  # type: ignore[attr-defined]
        statement = insert(table)
        statement = _UPSERTS[(insert, "tally")] = statement.on_conflict_do_update(
            index_elements=["area_id", "key"],
            set_={"value": table.c.value + statement.excluded.value},
        )
    return statement


def _presence_upsert(session: AsyncSession) -> Any:
    insert = _insert(session)
    statement = _UPSERTS.get((insert, "presence"))
    if statement is None:
        table = AreaPresence.__table__  # type: ignore[attr-defined]
        statement = insert(table)
        statement = _UPSERTS[(insert, "presence")] = statement.on_conflict_do_update(
            index_elements=["area_id", "key", "person_id"],
            set_={"memberships": table.c.memberships + statement.excluded.memberships},
        ).returning(table.c.area_id, table.c.key, table.c.person_id, table.c.memberships)
    return statement


class Tallies:
    """The only code that changes ``AreaTally`` and ``AreaPresence``. Changes are applied
    in batches (one upsert for many rows), so a team of thirty costs a few statements."""

    async def add(self, session: AsyncSession, area_ids: list[UUID], key: str, delta: int) -> None:
        """Add ``delta`` to counter ``key`` of each of ``area_ids`` (one area's ancestors)."""
        await self.add_many(session, {(area_id, key): delta for area_id in area_ids})

    async def add_many(self, session: AsyncSession, deltas: dict[tuple[UUID, str], int]) -> None:
        rows = [
            {"area_id": area_id, "key": key, "value": delta}
            for (area_id, key), delta in deltas.items()
            if delta
        ]
        if not rows:
            return
        await execute(session, _tally_upsert(session), rows)

    async def present(
        self,
        session: AsyncSession,
        area_ids: list[UUID],
        person_id: UUID,
        kind: str,
        delta: int,
    ) -> None:
        """A person gained (``delta`` > 0) or lost active memberships on a team of ``kind``
        in each of ``area_ids``; distinct-member counters follow."""
        await self.present_many(session, presence_deltas(area_ids, kind, [person_id], delta))

    async def present_key(
        self, session: AsyncSession, area_ids: list[UUID], person_id: UUID, key: str, delta: int
    ) -> None:
        await self.present_many(session, {(area_id, key, person_id): delta for area_id in area_ids})

    async def present_many(self, session: AsyncSession, deltas: dict[PresenceChange, int]) -> None:
        """Apply presence changes; a person's first membership in an area (0 → n) adds
        one to its distinct-member counter, their last (n → 0) takes one off."""
        rows = [
            {"area_id": area, "key": key, "person_id": person, "memberships": delta}
            for (area, key, person), delta in deltas.items()
            if delta
        ]
        if not rows:
            return
        table = AreaPresence.__table__  # type: ignore[attr-defined]
        result = await execute(session, _presence_upsert(session), rows)
        distinct, emptied = distinct_changes(
            ((row.area_id, row.key, row.person_id, row.memberships) for row in result.all()),
            deltas,
        )
        if emptied:
            await execute(
                session,
                delete(table).where(table.c.memberships == 0, table.c.area_id.in_(emptied)),
            )
        await self.add_many(session, distinct)

    async def move_subtree(
        self, session: AsyncSession, root_id: UUID, leaving: list[UUID], joining: list[UUID]
    ) -> None:
        """The subtree under ``root_id`` left the ancestors ``leaving`` for ``joining``:
        its totals and its people's presence move with it (common ancestors are untouched)."""
        leaving, joining = without_common(leaving, joining)
        tallies = (
            await session.exec(
                select(AreaTally.key, AreaTally.value).where(AreaTally.area_id == root_id)
            )
        ).all()
        presence = (
            await session.exec(
                select(AreaPresence.key, AreaPresence.person_id, AreaPresence.memberships).where(
                    AreaPresence.area_id == root_id
                )
            )
        ).all()
        await self.add_many(session, moved_counters(tallies, leaving, joining))
        for areas, sign in ((leaving, -1), (joining, 1)):
            await self.present_many(
                session,
                {
                    (area, key, person): sign * memberships
                    for key, person, memberships in presence
                    for area in areas
                },
            )

    async def read(self, session: AsyncSession, area_id: UUID) -> dict[str, int]:
        rows = await session.exec(
            select(AreaTally.key, AreaTally.value).where(AreaTally.area_id == area_id)
        )
        return {key: value for key, value in rows.all() if value}


async def recount(session: AsyncSession) -> tuple[Counts, Presence]:
    """Every area's counters, and every person's presence, computed from scratch by
    scanning: the reference the kept ones are checked against (tests, and
    ``antt registry recount``)."""
    parents = dict((await session.exec(select(Area.id, Area.parent_id))).all())

    def chain(area_id: UUID | None) -> list[UUID]:
        return line_of(parents, area_id)

    totals: dict[UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    people: dict[tuple[UUID, str], set[UUID]] = defaultdict(set)
    presence: Presence = defaultdict(int)
    teams = await session.exec(
        select(Team.area_id, Team.kind, func.count())
        .where(Team.status == TeamStatus.ACTIVE)
        .group_by(col(Team.area_id), col(Team.kind))
    )
    for area_id, kind, count in teams.all():
        for area in chain(area_id):
            totals[area][teams_key(kind)] += count
    serving = await session.exec(
        select(Team.area_id, Team.kind, Membership.person_id)
        .join(Team, col(Team.id) == col(Membership.team_id))
        .where(Team.status == TeamStatus.ACTIVE, col(Membership.left_on).is_(None))
    )
    for area_id, kind, person_id in serving.all():
        for area in chain(area_id):
            for key in (EVERY_KIND, kind):
                people[(area, key)].add(person_id)
                presence[(area, key, person_id)] += 1
    for (area, key), persons in people.items():
        totals[area][members_key(key)] += len(persons)
    for model, status, key in (
        (Camera, CameraStatus.INSTALLED, CAMERAS),
        (Initiative, InitiativeStatus.RUNNING, INITIATIVES),
    ):
        rows = await session.exec(
            select(model.area_id, func.count())
            .where(model.status == status)
            .group_by(col(model.area_id))
        )
        for area_id, count in rows.all():
            for area in chain(area_id):
                totals[area][key] += count
    counts = {area: {k: v for k, v in keys.items() if v} for area, keys in totals.items()}
    return {area: keys for area, keys in counts.items() if keys}, dict(presence)


async def kept(session: AsyncSession) -> tuple[Counts, Presence]:
    """The counters and presence as kept by every change."""
    counts: Counts = defaultdict(dict)
    for row in (await session.exec(select(AreaTally).where(AreaTally.value != 0))).all():
        counts[row.area_id][row.key] = row.value
    presence = {
        (row.area_id, row.key, row.person_id): row.memberships
        for row in (await session.exec(select(AreaPresence))).all()
    }
    return dict(counts), presence


async def rebuild(session: AsyncSession, counts: Counts, presence: Presence) -> None:
    """Replace the kept counters with recounted ones (after a restore or a bug)."""
    await execute(session, delete(AreaTally))
    await execute(session, delete(AreaPresence))
    session.add_all(
        AreaTally(area_id=area, key=key, value=value)
        for area, keys in counts.items()
        for key, value in keys.items()
    )
    session.add_all(
        AreaPresence(area_id=area, key=key, person_id=person, memberships=memberships)
        for (area, key, person), memberships in presence.items()
    )


class SummaryService:
    def __init__(
        self, sessions: SessionFactory, scope: AreaScope[Area], team_kinds: dict[str, TeamKind]
    ) -> None:
        self.sessions = sessions
        self.scope = scope
        self.team_kinds = team_kinds
        self.tallies = Tallies()

    async def area_summary(self, area_id: UUID, principal: Principal) -> AreaSummary:
        async with self.sessions() as session:
            area = await self.scope.area(session, principal, area_id)
            counts = await self.tallies.read(session, area.id)
        kinds = dict(self.team_kinds)
        for code in uncatalogued_kinds(kinds, counts):
            kinds[code] = TeamKind(name_vi=code, name_en=code)
        by_kind = [
            KindSummary(
                kind=code,
                name_vi=kind.name_vi,
                name_en=kind.name_en,
                teams=counts.get(teams_key(code), 0),
                members=counts.get(members_key(code), 0),
            )
            for code, kind in kinds.items()
        ]
        return AreaSummary(
            area=AreaPublic.model_validate(area),
            teams=sum(entry.teams for entry in by_kind),
            members=counts.get(members_key("*"), 0),
            cameras=counts.get(CAMERAS, 0),
            initiatives=counts.get(INITIATIVES, 0),
            by_kind=by_kind,
        )

    async def check_summaries(self, *, fix: bool = False) -> list[tuple[UUID, str, int, int]]:
        """Compare the kept summary counters with a full recount: (area, key, kept,
        recounted) for each difference; with ``fix``, replace them with the recount."""
        async with transaction(self.sessions) as session:
            (counts, presence), (have, have_presence) = await recount(session), await kept(session)
            found = differences(have, counts)
            if fix and (found or presence != have_presence):
                await rebuild(session, counts, presence)
        return found
