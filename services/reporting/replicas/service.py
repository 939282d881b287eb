"""Replica use cases: registry's areas and teams applied from its events, and the checks
of the areas and teams a new incident or activity names, read from them."""

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.catalogue.rules import Catalogue
from services.reporting.replicas.models import KnownArea, KnownTeam
from services.reporting.replicas.rules import (
    TeamStatus,
    check_creditable,
    check_record_level,
    first_of_each,
)
from services.reporting.statistics import service as statistics
from shared.auth import Principal
from shared.db import execute
from shared.events import (
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from shared.read_models import apply_if_newer, hold_reference, is_known, set_parent_if_newer
from shared.references import References
from shared.scope import AreaLines, AreaScope, descendants

# Built once (on a write path, building a statement costs more than running it); a Core
# query of columns: ORM objects cost more to load than the query takes.
_TEAM = KnownTeam.__table__  # type: ignore[attr-defined]
TEAMS_BY_ID = core_select(_TEAM.c.id, _TEAM.c.area_id, _TEAM.c.status, _TEAM.c.version).where(
    _TEAM.c.id.in_(bindparam("ids", expanding=True))
)


class ReplicaService:
    def __init__(self, catalogue: Catalogue, references: References) -> None:
        self.catalogue = catalogue
        self.references = references  # unknown (422), or not yet known while catching up
        self.scope = AreaScope(KnownArea)

    # --- read models ------------------------------------------------------------------
    # Each event is applied only if newer than what the row holds (shared rule). Events
    # that change part of a row (a rename, a move, a dissolution) come on their own topics
    # and may overtake others, so each part is guarded on its own: the area's parent by
    # ``parent_version``, a dissolution (final) by nothing at all.

    # Registry's areas and teams, kept with the shared read-model rule: an event that
    # arrives before the aggregate it names holds a placeholder, never a dead letter.

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {"code": event.code, "name": event.name},
            fills={"level": event.level},
        )
        await self._reparent(session, event.area_id, event.parent_id, event.aggregate_version)

    async def rename_area(self, session: AsyncSession, event: AreaUpdated) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {"code": event.code, "name": event.name},
        )

    async def move_area(self, session: AsyncSession, event: AreaMoved) -> None:
        """A new parent: descendant queries, officers' scopes and statistics follow it."""
        await hold_reference(session, KnownArea, event.area_id, code=event.code, name=event.code)
        await self._reparent(session, event.area_id, event.to_parent_id, event.aggregate_version)

    async def _reparent(
        self, session: AsyncSession, area_id: UUID, parent_id: UUID | None, version: int
    ) -> None:
        change = await set_parent_if_newer(session, KnownArea, area_id, parent_id, version)
        if change is not None and (change.first or change.old_parent != parent_id):
            # Rows rolled up into it while it hung unattached join its new ancestors.
            await statistics.reparent(session, area_id, change.old_parent, parent_id)

    async def remember_team(
        self, session: AsyncSession, event: TeamRegistered | TeamUpdated
    ) -> None:
        await apply_if_newer(
            session,
            KnownTeam,
            event.team_id,
            event.aggregate_version,
            {"area_id": event.area_id, "name": event.name, "kind": event.kind},
        )

    async def update_team(self, session: AsyncSession, event: TeamUpdated) -> None:
        await self.remember_team(session, event)

    async def dissolve_team(self, session: AsyncSession, event: TeamDissolved) -> None:
        """Final whatever the order: a dissolved team takes no new work."""
        team = await hold_reference(
            session, KnownTeam, event.team_id, area_id=event.area_id, name="", kind=""
        )
        team.status = TeamStatus.DISSOLVED.value
        team.dissolved_on = event.dissolved_on
        session.add(team)

    # --- what a new record names ------------------------------------------------------------

    async def named(
        self,
        session: AsyncSession,
        area_id: UUID,
        team_ids: list[UUID],
        other_area_id: UUID | None = None,
    ) -> tuple[AreaLines, dict[UUID, Any]]:
        """What a new record names, read before anything is written: its teams (one
        query), and the lines above every area among them and ``other_area_id`` (the area
        of an incident it is linked to; one query), from which scope, level and the
        statistics' roll-up are answered."""
        teams: dict[UUID, Any] = {}
        if team_ids:
            rows = await execute(session, TEAMS_BY_ID, [{"ids": team_ids}])
            teams = {team.id: team for team in rows.all()}
        lines = await self.scope.lines(
            session, [area_id, *(team.area_id for team in teams.values()), other_area_id]
        )
        return lines, teams

    def place(self, lines: AreaLines, area_id: UUID, principal: Principal) -> Any:
        """The area a new record names: known, in the caller's scope, of a level that
        records are kept at (a ward, commune or residential group by default)."""
        area = lines.get(area_id)
        if not is_known(area) or not self.scope.permits(principal, lines, area_id):
            raise self.references.unknown(
                "area", area_id, ["body", "area_id"], AreaRegistered.topic
            )
        check_record_level(area.level, self.catalogue.area_levels)
        return area

    def credited_teams(
        self,
        team_ids: list[UUID],
        teams: dict[UUID, Any],
        lines: AreaLines,
        principal: Principal,
    ) -> list[UUID]:
        team_ids = first_of_each(team_ids)
        for index, team_id in enumerate(team_ids):
            team = teams.get(team_id)
            if not is_known(team):
                raise self.references.unknown(
                    "team", team_id, ["body", "team_ids", index], TeamRegistered.topic
                )
            if not self.scope.permits(principal, lines, team.area_id):
                # Its area's events (which place it in the tree) may be on their way too.
                raise self.references.unknown(
                    "team",
                    team_id,
                    ["body", "team_ids", index],
                    TeamRegistered.topic,
                    AreaRegistered.topic,
                )
            check_creditable(team.status, team_id, index)
        return team_ids

    async def filter_areas(
        self, session: AsyncSession, area_id: UUID | None, principal: Principal
    ) -> set[UUID] | None:
        """The areas a list or statistic covers: the named area and its descendants, or
        the caller's areas; None for every area. An area the caller may not see is 404."""
        allowed = await self.scope.area_ids(session, principal)
        if area_id is None:
            return allowed
        await self.scope.area_within(
            session, area_id, allowed, loc=["query", "area_id"], known=is_known
        )
        return await descendants(session, KnownArea, [area_id])
