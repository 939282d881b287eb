"""Team use cases: register a team with its roster, change or dissolve it; the catalogue
of kinds and the active-teams metric."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from prometheus_client import CollectorRegistry, Gauge
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area
from services.registry.areas.service import ancestors, referenced_area, visible_area_ids
from services.registry.common import Loc
from services.registry.rosters.models import Membership
from services.registry.rosters.service import (
    RosterService,
    active_roster,
    covered_areas,
    roster_entries,
    team_public,
    team_rule,
)
from services.registry.summaries.rules import kind_change_deltas, presence_deltas, teams_key
from services.registry.summaries.service import Tallies
from services.registry.teams.models import (
    Team,
    TeamCoverage,
    TeamCreate,
    TeamDissolve,
    TeamKindPublic,
    TeamListItem,
    TeamPublic,
    TeamUpdate,
)
from services.registry.teams.rules import (
    TeamKind,
    TeamRule,
    TeamStatus,
    check_active,
    check_covers,
    check_dissolution,
    check_kind,
    check_listed_once,
    check_roster,
    check_team_changes,
    default_coverage,
    founding_decision,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import UnknownReferenceError, check_query_value
from shared.events import TeamDissolved, TeamRegistered, TeamUpdated
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.scope import AreaScope, descendants


@dataclass(frozen=True)
class TeamFilter:
    within: UUID | None = None
    kind: str | None = None
    status: TeamStatus | None = None
    q: str | None = None


class TeamService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        scope: AreaScope[Area],
        tallies: Tallies,
        rosters: RosterService,
        team_kinds: dict[str, TeamKind],
        team_rules: Sequence[TeamRule],
        registry: CollectorRegistry,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.scope = scope
        self.tallies = tallies
        self.rosters = rosters
        self.team_kinds = team_kinds
        self.team_rules = list(team_rules)
        # Every replica reports the same total: dashboards take the max, not the sum.
        self.active_teams = Gauge(
            "antt_active_teams", "Teams not dissolved", ["kind"], registry=registry
        )

    async def refresh_active_teams(self) -> None:
        async with self.sessions() as session:
            counts = await session.exec(
                select(Team.kind, func.count())
                .where(Team.status == TeamStatus.ACTIVE)
                .group_by(col(Team.kind))
            )
            totals = dict.fromkeys(self.team_kinds, 0) | dict(counts.all())
        # Every kind is set, so a kind whose last team was dissolved drops to zero.
        for kind, count in totals.items():
            self.active_teams.labels(kind=kind).set(count)

    def kinds(self) -> list[TeamKindPublic]:
        return [
            TeamKindPublic(code=code, name_vi=kind.name_vi, name_en=kind.name_en)
            for code, kind in self.team_kinds.items()
        ]

    async def _coverage(
        self, session: AsyncSession, area: Area, covered: list[UUID], loc: Loc
    ) -> list[UUID]:
        """The residential groups a team covers: within its own area; default its area
        when that is a residential group."""
        if not covered:
            return default_coverage(area.id, area.level)
        check_listed_once(covered, loc)
        inside = await descendants(session, Area, [area.id])
        for index, area_id in enumerate(covered):
            group = await session.get(Area, area_id)
            if group is None or area_id not in inside:
                raise UnknownReferenceError(
                    f"unknown area {area_id} within {area.code!r}", [*loc, index]
                )
            check_covers(group.code, group.level, [*loc, index])
        return covered

    async def register_team(self, command: TeamCreate, principal: Principal) -> TeamPublic:
        async with transaction(self.sessions) as session:
            team = await self.register_team_in(session, command, principal, ["body"])
            public = await team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def register_team_in(
        self, session: AsyncSession, command: TeamCreate, principal: Principal, loc: Loc
    ) -> Team:
        """Register a team inside the caller's transaction (the API, or a bulk import)."""
        check_kind(command.kind, self.team_kinds, [*loc, "kind"])
        area = await referenced_area(
            self.scope, session, principal, command.area_id, [*loc, "area_id"]
        )
        covered = await self._coverage(
            session, area, command.covered_area_ids, [*loc, "covered_area_ids"]
        )
        today = date.today()
        joins = await self.rosters.resolve_joins(
            session, principal, area.id, command.members, today, [*loc, "members"]
        )
        lines = await self.scope.lines(session, [area.id])
        chain = lines.chain(area.id)
        rule = team_rule(self.team_rules, lines, area.id, command.kind)
        check_roster(rule, [join.entry() for join in joins], [*loc, "members"])
        decision = command.founding_decision
        team = Team(
            area_id=area.id,
            name=command.name,
            kind=command.kind,
            founded_on=command.founded_on,
            decision_number=decision.number if decision else None,
            decision_issued_on=decision.issued_on if decision else None,
            decision_issuer=decision.issuer if decision else None,
        )
        session.add(team)
        await session.flush()
        for area_id in covered:
            session.add(TeamCoverage(team_id=team.id, area_id=area_id))
        await self.tallies.add(session, chain, teams_key(team.kind), 1)
        await self.audit.record(session, principal, "register_team", "team", team.id, area.id)
        await self.outbox.add(
            session,
            TeamRegistered(
                team_id=team.id,
                area_id=team.area_id,
                name=team.name,
                kind=team.kind,
                founded_on=team.founded_on,
                covered_area_ids=covered,
                founding_decision=founding_decision(
                    team.decision_number, team.decision_issued_on, team.decision_issuer
                ),
                aggregate_version=team.version,
            ),
        )
        await self.rosters.apply_joins(session, team, chain, joins)
        return team

    async def _team(
        self, session: AsyncSession, principal: Principal, team_id: UUID, *, active: bool = False
    ) -> Team:
        team = await self.scope.get_in_scope(session, principal, Team, team_id, what="team")
        if active:
            check_active(team.status, team.name, team.dissolved_on)
        return team

    async def get_team(self, team_id: UUID, principal: Principal) -> TeamPublic:
        async with self.sessions() as session:
            return await team_public(session, await self._team(session, principal, team_id))

    async def list_teams(
        self, principal: Principal, where: TeamFilter, offset: int, limit: int
    ) -> Page[TeamListItem]:
        check_query_value("kind", where.kind, self.team_kinds)  # the configured kinds
        async with self.sessions() as session:
            visible = await visible_area_ids(self.scope, session, principal, where.within)
            active_members = (
                select(func.count())
                .where(Membership.team_id == Team.id, col(Membership.left_on).is_(None))
                .scalar_subquery()
            )
            query = select(Team, active_members)
            if visible is not None:
                query = query.where(col(Team.area_id).in_(visible))
            if where.kind is not None:
                query = query.where(Team.kind == where.kind)
            if where.status is not None:
                query = query.where(Team.status == where.status)
            if where.q:
                query = query.where(col(Team.name).contains(where.q))
            rows, total = await page_rows(
                session, query.order_by(col(Team.name), col(Team.id)), offset, limit
            )
            return Page(
                [TeamListItem(**team.model_dump(), members=members) for team, members in rows],
                total,
            )

    async def update_team(
        self, team_id: UUID, command: TeamUpdate, principal: Principal
    ) -> TeamPublic:
        changes = command.model_dump(exclude_unset=True)
        check_team_changes(changes)
        async with transaction(self.sessions) as session:
            team = await self._team(session, principal, team_id, active=True)
            area = await session.get(Area, team.area_id)
            assert area is not None
            chain = await ancestors(session, team.area_id)
            if command.kind is not None and command.kind != team.kind:
                check_kind(command.kind, self.team_kinds, ["body", "kind"])
                members = await active_roster(session, team.id)
                roster = roster_entries(members)
                lines = await self.scope.lines(session, [team.area_id])
                rule = team_rule(self.team_rules, lines, team.area_id, command.kind)
                check_roster(rule, list(roster.values()), ["body", "kind"])
                await self.tallies.add(session, chain, teams_key(team.kind), -1)
                await self.tallies.add(session, chain, teams_key(command.kind), 1)
                people = [membership.person_id for membership, _ in members]
                await self.tallies.present_many(
                    session, kind_change_deltas(chain, team.kind, command.kind, people)
                )
                team.kind = command.kind
            if command.covered_area_ids is not None:
                covered = await self._coverage(
                    session, area, command.covered_area_ids, ["body", "covered_area_ids"]
                )
                for existing in (
                    await session.exec(select(TeamCoverage).where(TeamCoverage.team_id == team.id))
                ).all():
                    await session.delete(existing)
                await session.flush()
                for area_id in covered:
                    session.add(TeamCoverage(team_id=team.id, area_id=area_id))
            if command.name is not None:
                team.name = command.name
            if "founded_on" in changes:
                team.founded_on = command.founded_on
            if "founding_decision" in changes:
                decision = command.founding_decision
                team.decision_number = decision.number if decision else None
                team.decision_issued_on = decision.issued_on if decision else None
                team.decision_issuer = decision.issuer if decision else None
            team.version += 1
            session.add(team)
            await session.flush()
            await self.audit.record(session, principal, "update_team", "team", team.id, area.id)
            await self.outbox.add(
                session,
                TeamUpdated(
                    team_id=team.id,
                    area_id=team.area_id,
                    name=team.name,
                    kind=team.kind,
                    founded_on=team.founded_on,
                    covered_area_ids=await covered_areas(session, team.id),
                    founding_decision=founding_decision(
                        team.decision_number, team.decision_issued_on, team.decision_issuer
                    ),
                    aggregate_version=team.version,
                ),
            )
            public = await team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def dissolve_team(
        self, team_id: UUID, command: TeamDissolve, principal: Principal
    ) -> TeamPublic:
        async with transaction(self.sessions) as session:
            team = await self._team(session, principal, team_id, active=True)
            check_dissolution(team.founded_on, command.dissolved_on)
            chain = await ancestors(session, team.area_id)
            team.version += 1
            ending = await self.rosters.active_memberships(session, team.id)
            for membership in ending:
                await self.rosters.end_membership(
                    session, team, membership, command.dissolved_on, "team dissolved"
                )
            await self.tallies.present_many(
                session, presence_deltas(chain, team.kind, [m.person_id for m in ending], -1)
            )
            await self.tallies.add(session, chain, teams_key(team.kind), -1)
            team.status = TeamStatus.DISSOLVED
            team.dissolved_on = command.dissolved_on
            team.dissolution_reason = command.reason
            session.add(team)
            await self.audit.record(
                session, principal, "dissolve_team", "team", team.id, team.area_id
            )
            await self.outbox.add(
                session,
                TeamDissolved(
                    team_id=team.id,
                    area_id=team.area_id,
                    dissolved_on=command.dissolved_on,
                    reason=command.reason,
                    aggregate_version=team.version,
                ),
            )
            await session.flush()
            public = await team_public(session, team)
        await self.refresh_active_teams()
        return public
