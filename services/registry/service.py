"""Registry use cases: the only code that changes registry state or adds outbox rows."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import bindparam
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.models import (
    LEVEL_RANK,
    Area,
    AreaCreate,
    AreaMove,
    AreaPublic,
    AreaSummary,
    AreaUpdate,
    Camera,
    CameraCreate,
    CameraPublic,
    CameraRemove,
    CameraStatus,
    FoundingDecisionPublic,
    Honour,
    HonourPublic,
    Initiative,
    InitiativeCreate,
    InitiativePeriod,
    InitiativePeriodPublic,
    InitiativeProfile,
    InitiativePublic,
    InitiativeRelaunch,
    InitiativeResult,
    InitiativeResultIn,
    InitiativeResultPublic,
    InitiativeStatus,
    InitiativeStop,
    KindSummary,
    MemberIn,
    MemberLeave,
    MemberPublic,
    Membership,
    MembershipPublic,
    Person,
    PersonCreate,
    PersonProfile,
    PersonPublic,
    RevokedAward,
    RosterChange,
    Team,
    TeamCoverage,
    TeamCreate,
    TeamDissolve,
    TeamKindPublic,
    TeamListItem,
    TeamPublic,
    TeamStatus,
    TeamUpdate,
)
from services.registry.rules import (
    EffectiveRule,
    RosterEntry,
    TeamKind,
    TeamRule,
    check_roster,
    effective_rule,
)
from services.registry.tallies import (
    CAMERAS,
    EVERY_KIND,
    INITIATIVES,
    Tallies,
    ancestors,
    kept,
    members_key,
    rebuild,
    recount,
    teams_key,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RuleViolationError,
    UnknownReferenceError,
    check_query_value,
)
from shared.events import (
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    AwardGranted,
    AwardRevoked,
    CameraInstalled,
    CameraRemoved,
    FoundingDecision,
    InitiativeLaunched,
    InitiativeStopped,
    MemberJoined,
    MemberLeft,
    TeamDissolved,
    TeamRegistered,
    TeamRole,
    TeamUpdated,
)
from shared.outbox import Outbox
from shared.scope import AreaLines, AreaScope, descendants

ROLE_ORDER = {TeamRole.LEADER: 0, TeamRole.DEPUTY: 1, TeamRole.MEMBER: 2}
Loc = list[str | int]

# What a team's answer reads, built once (building a statement costs more than running it).
ACTIVE_ROSTER = (
    select(Membership, Person)
    .join(Person, col(Person.id) == col(Membership.person_id))
    .where(Membership.team_id == bindparam("team_id"), col(Membership.left_on).is_(None))
)
COVERED_AREAS = select(TeamCoverage.area_id).where(TeamCoverage.team_id == bindparam("team_id"))
HONOURS = (
    select(Honour)
    .where(Honour.recipient_id == bindparam("recipient_id"))
    .order_by(col(Honour.granted_on), col(Honour.award_id))
)


@dataclass
class Join:
    """A member to add, resolved to a person (new or existing)."""

    person: Person
    role: TeamRole
    joined_on: date
    loc: Loc


@dataclass(frozen=True)
class TeamFilter:
    within: UUID | None = None
    kind: str | None = None
    status: TeamStatus | None = None
    q: str | None = None


class RegistryService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        team_kinds: dict[str, TeamKind],
        team_rules: Sequence[TeamRule],
        camera_funding: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.team_kinds = team_kinds
        self.team_rules = list(team_rules)
        self.camera_funding = list(camera_funding)
        self.scope = AreaScope(Area)
        self.tallies = Tallies()
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

    # --- scope helpers ----------------------------------------------------------------

    async def _referenced_area(
        self, session: AsyncSession, principal: Principal, area_id: UUID, loc: Loc
    ) -> Area:
        """An area a new record names: unknown and out-of-scope both get 422."""
        return await self.scope.area(
            session,
            principal,
            area_id,
            error=partial(UnknownReferenceError, f"unknown area {area_id}", loc),
        )

    async def _visible_area_ids(
        self, session: AsyncSession, principal: Principal, within: UUID | None
    ) -> set[UUID] | None:
        """Areas a list may show: ``within`` and below, cut to the caller's scope."""
        allowed = await self.scope.area_ids(session, principal)
        if within is None:
            return allowed
        if allowed is not None and within not in allowed:
            raise NotFoundError(f"area {within} not found", ["query", "area_id"])
        if await session.get(Area, within) is None:
            raise NotFoundError(f"area {within} not found", ["query", "area_id"])
        return await descendants(session, Area, [within])

    async def _scoped_page(
        self,
        principal: Principal,
        within: UUID | None,
        model: Any,
        area_column: Any,
        where: list[Any],
        order: Any,
        offset: int,
        limit: int,
    ) -> list[Any]:
        """One page of ``model`` rows in ``within`` (and below) and the caller's scope,
        matching ``where``, sorted by ``order`` then id so pages are stable."""
        async with self.sessions() as session:
            visible = await self._visible_area_ids(session, principal, within)
            query = select(model).where(*where)
            if visible is not None:
                query = query.where(col(area_column).in_(visible))
            rows = await session.exec(
                query.order_by(col(order), col(model.id)).offset(offset).limit(limit)
            )
            return list(rows.all())

    # --- areas ------------------------------------------------------------------------

    @staticmethod
    def _check_level(child: AreaLevel, parent: Area | None, loc: Loc) -> None:
        if parent is not None and LEVEL_RANK[parent.level] >= LEVEL_RANK[child]:
            raise RuleViolationError(
                f"rule level_order: a {child.value} cannot be placed under a "
                f"{parent.level.value}; the tree runs province → district → ward/commune → "
                "residential group",
                loc,
            )

    async def register_area(self, command: AreaCreate, principal: Principal) -> AreaPublic:
        async with transaction(self.sessions) as session:
            existing = await session.exec(select(Area).where(Area.code == command.code))
            if existing.first() is not None:
                raise ConflictError(
                    f"area code {command.code!r} is already registered", ["body", "code"]
                )
            parent = None
            if command.parent_id is None:
                if not principal.everywhere:
                    raise ForbiddenError(
                        "only an admin registers a top-level area; officers register areas "
                        "below their own",
                        ["body", "parent_id"],
                    )
            else:
                parent = await self._referenced_area(
                    session, principal, command.parent_id, ["body", "parent_id"]
                )
            self._check_level(command.level, parent, ["body", "level"])
            area = Area.model_validate(command)
            session.add(area)
            await self.audit.record(session, principal, "register_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaRegistered(
                    area_id=area.id,
                    code=area.code,
                    name=area.name,
                    level=area.level,
                    parent_id=area.parent_id,
                    households=area.households,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def _area(self, session: AsyncSession, principal: Principal, area_id: UUID) -> Area:
        return await self.scope.area(session, principal, area_id)

    async def get_area(self, area_id: UUID, principal: Principal) -> AreaPublic:
        async with self.sessions() as session:
            return AreaPublic.model_validate(await self._area(session, principal, area_id))

    async def update_area(
        self, area_id: UUID, command: AreaUpdate, principal: Principal
    ) -> AreaPublic:
        changes = command.model_dump(exclude_unset=True)
        if not changes:
            raise RuleViolationError("nothing to change: give name or households", ["body"])
        if "name" in changes and changes["name"] is None:
            raise RuleViolationError("name cannot be null", ["body", "name"])
        async with transaction(self.sessions) as session:
            area = await self._area(session, principal, area_id)
            area.sqlmodel_update(changes)
            area.version += 1
            session.add(area)
            await self.audit.record(session, principal, "update_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaUpdated(
                    area_id=area.id,
                    code=area.code,
                    name=area.name,
                    households=area.households,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def move_area(self, area_id: UUID, command: AreaMove, principal: Principal) -> AreaPublic:
        async with transaction(self.sessions) as session:
            area = await self._area(session, principal, area_id)
            loc: Loc = ["body", "parent_id"]
            parent = None
            if command.parent_id is None:
                if not principal.everywhere:
                    raise ForbiddenError("only an admin moves an area to the top level", loc)
            else:
                parent = await self._referenced_area(session, principal, command.parent_id, loc)
                if parent.id in await descendants(session, Area, [area.id]):
                    raise RuleViolationError(
                        "rule no_cycle: an area cannot move under itself or its descendants",
                        loc,
                    )
            if command.parent_id == area.parent_id:
                raise ConflictError(f"area {area.code!r} is already there", loc)
            self._check_level(area.level, parent, loc)
            leaving = await ancestors(session, area.parent_id)
            joining = await ancestors(session, command.parent_id)
            await self.tallies.move_subtree(session, area.id, leaving, joining)
            moved_from, area.parent_id = area.parent_id, command.parent_id
            area.version += 1
            session.add(area)
            await self.audit.record(session, principal, "move_area", "area", area.id, area.id)
            await self.outbox.add(
                session,
                AreaMoved(
                    area_id=area.id,
                    code=area.code,
                    from_parent_id=moved_from,
                    to_parent_id=area.parent_id,
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def list_areas(
        self,
        principal: Principal,
        within: UUID | None,
        level: AreaLevel | None,
        q: str | None,
        offset: int,
        limit: int,
    ) -> list[AreaPublic]:
        where: list[Any] = [Area.level == level] if level is not None else []
        if q:
            where.append(or_(col(Area.name).contains(q), col(Area.code).contains(q)))
        rows = await self._scoped_page(
            principal, within, Area, Area.id, where, Area.code, offset, limit
        )
        return [AreaPublic.model_validate(area) for area in rows]

    async def area_summary(self, area_id: UUID, principal: Principal) -> AreaSummary:
        async with self.sessions() as session:
            area = await self._area(session, principal, area_id)
            counts = await self.tallies.read(session, area.id)
        kinds = dict(self.team_kinds)
        for key in counts:  # kinds ops removed from the catalogue still show their teams
            if key.startswith("teams:") and key[6:] not in kinds:
                kinds[key[6:]] = TeamKind(name_vi=key[6:], name_en=key[6:])
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

    # --- people -----------------------------------------------------------------------

    async def register_person(self, command: PersonCreate, principal: Principal) -> PersonPublic:
        async with transaction(self.sessions) as session:
            await self._referenced_area(session, principal, command.area_id, ["body", "area_id"])
            person = Person.model_validate(command)
            session.add(person)
            await self.audit.record(
                session, principal, "register_person", "person", person.id, person.area_id
            )
        return PersonPublic.model_validate(person)

    async def get_person(self, person_id: UUID, principal: Principal) -> PersonProfile:
        async with self.sessions() as session:
            person = await self.scope.get_in_scope(
                session, principal, Person, person_id, what="person"
            )
            rows = await session.exec(
                select(Membership, Team)
                .join(Team, col(Team.id) == col(Membership.team_id))
                .where(Membership.person_id == person.id)
                .order_by(col(Membership.joined_on).desc(), col(Membership.id))
            )
            memberships = [
                MembershipPublic(
                    **self._member_public(membership, person).model_dump(),
                    team_id=team.id,
                    team_name=team.name,
                    team_kind=team.kind,
                )
                for membership, team in rows.all()
            ]
            return PersonProfile(
                **PersonPublic.model_validate(person).model_dump(),
                memberships=memberships,
                honours=await self._honours(session, person.id),
            )

    async def list_people(
        self, principal: Principal, within: UUID | None, q: str | None, offset: int, limit: int
    ) -> list[PersonPublic]:
        where = [col(Person.full_name).contains(q)] if q else []
        rows = await self._scoped_page(
            principal, within, Person, Person.area_id, where, Person.full_name, offset, limit
        )
        return [PersonPublic.model_validate(person) for person in rows]

    # --- teams ------------------------------------------------------------------------

    def _check_kind(self, kind: str, loc: Loc) -> None:
        if kind not in self.team_kinds:
            raise UnknownReferenceError(
                f"unknown team kind {kind!r}; one of {', '.join(self.team_kinds)}", loc
            )

    async def _rule(self, session: AsyncSession, area_id: UUID, kind: str) -> EffectiveRule:
        return self._rule_on(await self.scope.lines(session, [area_id]), area_id, kind)

    def _rule_on(self, lines: AreaLines, area_id: UUID, kind: str) -> EffectiveRule:
        """The rule for a team of ``kind`` in ``area_id``, by the province above it."""
        province = next(
            (
                row.code
                for area in lines.chain(area_id)
                if (row := lines.get(area)) is not None and row.level == AreaLevel.PROVINCE
            ),
            None,
        )
        return effective_rule(self.team_rules, province, kind)

    async def _coverage(
        self, session: AsyncSession, area: Area, covered: list[UUID], loc: Loc
    ) -> list[UUID]:
        """The residential groups a team covers: within its own area; default its area
        when that is a residential group."""
        if not covered:
            return [area.id] if area.level is AreaLevel.RESIDENTIAL_GROUP else []
        if len(set(covered)) != len(covered):
            raise RuleViolationError("covered_area_ids lists an area twice", loc)
        inside = await descendants(session, Area, [area.id])
        for index, area_id in enumerate(covered):
            group = await session.get(Area, area_id)
            if group is None or area_id not in inside:
                raise UnknownReferenceError(
                    f"unknown area {area_id} within {area.code!r}", [*loc, index]
                )
            if group.level is not AreaLevel.RESIDENTIAL_GROUP:
                raise RuleViolationError(
                    f"rule coverage: a team covers residential groups; {group.code!r} is a "
                    f"{group.level.value}",
                    [*loc, index],
                )
        return covered

    async def _resolve_joins(
        self,
        session: AsyncSession,
        principal: Principal,
        area_id: UUID,
        members: Sequence[MemberIn],
        effective_on: date,
        loc: Loc,
    ) -> list[Join]:
        joins: list[Join] = []
        seen: set[UUID] = set()
        for index, member in enumerate(members):
            where: Loc = [*loc, index]
            if member.person_id is not None:
                if member.full_name is not None or member.birth_date is not None:
                    raise RuleViolationError(
                        "give either person_id (an existing person) or full_name (a new one)",
                        where,
                    )
                person = await self.scope.get_in_scope(
                    session,
                    principal,
                    Person,
                    member.person_id,
                    what="person",
                    error=partial(
                        UnknownReferenceError,
                        f"unknown person {member.person_id}",
                        [*where, "person_id"],
                    ),
                )
                if person.id in seen:
                    raise RuleViolationError(
                        f"rule one_membership: {person.full_name} is listed twice", where
                    )
                seen.add(person.id)
            elif member.full_name is None:
                raise RuleViolationError(
                    "full_name is required for a new person (or give person_id)",
                    [*where, "full_name"],
                )
            else:
                person = Person(
                    full_name=member.full_name,
                    birth_date=member.birth_date,
                    phone=member.phone,
                    area_id=area_id,
                )
            joins.append(Join(person, member.role, member.joined_on or effective_on, where))
        return joins

    async def _apply_joins(
        self, session: AsyncSession, team: Team, chain: list[UUID], joins: Sequence[Join]
    ) -> list[tuple[Membership, Person]]:
        """Add the joins' new people and their memberships; each membership with its person."""
        for join in joins:
            session.add(join.person)
        await session.flush()  # no ORM relationships: people exist before memberships
        joined = [
            (
                Membership(
                    team_id=team.id,
                    person_id=join.person.id,
                    role=join.role,
                    joined_on=join.joined_on,
                ),
                join.person,
            )
            for join in joins
        ]
        session.add_all(membership for membership, _ in joined)
        await session.flush()
        await self.tallies.present_many(
            session, self._presence(chain, team.kind, [join.person.id for join in joins], 1)
        )
        for join in joins:
            await self.outbox.add(
                session,
                MemberJoined(
                    team_id=team.id,
                    area_id=team.area_id,
                    person_id=join.person.id,
                    full_name=join.person.full_name,
                    role=join.role,
                    joined_on=join.joined_on,
                    aggregate_version=team.version,
                ),
            )
        return joined

    async def register_team(self, command: TeamCreate, principal: Principal) -> TeamPublic:
        async with transaction(self.sessions) as session:
            team = await self.register_team_in(session, command, principal, ["body"])
            public = await self._team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def register_team_in(
        self, session: AsyncSession, command: TeamCreate, principal: Principal, loc: Loc
    ) -> Team:
        """Register a team inside the caller's transaction (the API, or a bulk import)."""
        self._check_kind(command.kind, [*loc, "kind"])
        area = await self._referenced_area(session, principal, command.area_id, [*loc, "area_id"])
        covered = await self._coverage(
            session, area, command.covered_area_ids, [*loc, "covered_area_ids"]
        )
        today = date.today()
        joins = await self._resolve_joins(
            session, principal, area.id, command.members, today, [*loc, "members"]
        )
        lines = await self.scope.lines(session, [area.id])
        chain = lines.chain(area.id)
        rule = self._rule_on(lines, area.id, command.kind)
        check_roster(rule, [self._entry(join) for join in joins], [*loc, "members"])
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
                founding_decision=self._decision_event(team),
                aggregate_version=team.version,
            ),
        )
        await self._apply_joins(session, team, chain, joins)
        return team

    @staticmethod
    def _presence(
        chain: list[UUID], kind: str, people: Sequence[UUID], delta: int
    ) -> dict[tuple[UUID, str, UUID], int]:
        return {
            (area, key, person): delta
            for person in people
            for area in chain
            for key in (EVERY_KIND, kind)
        }

    @staticmethod
    def _entry(join: Join) -> RosterEntry:
        return RosterEntry(
            join.person.full_name, join.role, join.person.birth_date, join.joined_on, join.loc
        )

    @staticmethod
    def _decision_event(team: Team) -> FoundingDecision | None:
        if team.decision_number is None or team.decision_issued_on is None:
            return None
        return FoundingDecision(
            number=team.decision_number,
            issued_on=team.decision_issued_on,
            issuer=team.decision_issuer or "",
        )

    async def _team(
        self, session: AsyncSession, principal: Principal, team_id: UUID, *, active: bool = False
    ) -> Team:
        team = await self.scope.get_in_scope(session, principal, Team, team_id, what="team")
        if active:
            self._check_active(team)
        return team

    async def _active_team_and_lines(
        self, session: AsyncSession, principal: Principal, team_id: UUID
    ) -> tuple[Team, AreaLines]:
        """``_team(..., active=True)``, with the lines above its area read in the same
        query as the scope check: the rules' province and the counters' areas."""
        team, lines = await self.scope.get_in_scope_with_lines(
            session, principal, Team, team_id, what="team"
        )
        self._check_active(team)
        return team, lines

    @staticmethod
    def _check_active(team: Team) -> None:
        if team.status is TeamStatus.DISSOLVED:
            raise ConflictError(
                f"team {team.name!r} was dissolved on {team.dissolved_on}; it takes no changes",
                ["path", "team_id"],
            )

    async def get_team(self, team_id: UUID, principal: Principal) -> TeamPublic:
        async with self.sessions() as session:
            return await self._team_public(session, await self._team(session, principal, team_id))

    async def list_teams(
        self, principal: Principal, where: TeamFilter, offset: int, limit: int
    ) -> list[TeamListItem]:
        check_query_value("kind", where.kind, self.team_kinds)  # the configured kinds
        async with self.sessions() as session:
            visible = await self._visible_area_ids(session, principal, where.within)
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
            rows = await session.exec(
                query.order_by(col(Team.name), col(Team.id)).offset(offset).limit(limit)
            )
            return [
                TeamListItem(**team.model_dump(), members=members) for team, members in rows.all()
            ]

    async def _active_memberships(self, session: AsyncSession, team_id: UUID) -> list[Membership]:
        rows = await session.exec(
            select(Membership).where(
                Membership.team_id == team_id, col(Membership.left_on).is_(None)
            )
        )
        return list(rows.all())

    async def _active_roster(
        self, session: AsyncSession, team_id: UUID
    ) -> list[tuple[Membership, Person]]:
        """The team's current memberships with their people, in one query."""
        rows = await session.exec(ACTIVE_ROSTER, params={"team_id": team_id})
        return [(membership, person) for membership, person in rows.all()]

    @staticmethod
    def _roster_entries(members: Sequence[tuple[Membership, Person]]) -> dict[UUID, RosterEntry]:
        return {
            person.id: RosterEntry(
                person.full_name, membership.role, person.birth_date, membership.joined_on
            )
            for membership, person in members
        }

    async def update_team(
        self, team_id: UUID, command: TeamUpdate, principal: Principal
    ) -> TeamPublic:
        changes = command.model_dump(exclude_unset=True)
        if not changes:
            raise RuleViolationError("nothing to change", ["body"])
        for field in ("name", "kind"):
            if field in changes and changes[field] is None:
                raise RuleViolationError(f"{field} cannot be null", ["body", field])
        async with transaction(self.sessions) as session:
            team = await self._team(session, principal, team_id, active=True)
            area = await session.get(Area, team.area_id)
            assert area is not None
            chain = await ancestors(session, team.area_id)
            if command.kind is not None and command.kind != team.kind:
                self._check_kind(command.kind, ["body", "kind"])
                members = await self._active_roster(session, team.id)
                memberships = [membership for membership, _ in members]
                roster = self._roster_entries(members)
                rule = await self._rule(session, team.area_id, command.kind)
                check_roster(rule, list(roster.values()), ["body", "kind"])
                await self.tallies.add(session, chain, teams_key(team.kind), -1)
                await self.tallies.add(session, chain, teams_key(command.kind), 1)
                people = [membership.person_id for membership in memberships]
                await self.tallies.present_many(
                    session,
                    {(area, team.kind, person): -1 for person in people for area in chain}
                    | {(area, command.kind, person): 1 for person in people for area in chain},
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
                    covered_area_ids=await self._covered(session, team.id),
                    founding_decision=self._decision_event(team),
                    aggregate_version=team.version,
                ),
            )
            public = await self._team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def dissolve_team(
        self, team_id: UUID, command: TeamDissolve, principal: Principal
    ) -> TeamPublic:
        async with transaction(self.sessions) as session:
            team = await self._team(session, principal, team_id, active=True)
            if team.founded_on is not None and command.dissolved_on < team.founded_on:
                raise RuleViolationError(
                    f"dissolved_on is before the team was founded ({team.founded_on})",
                    ["body", "dissolved_on"],
                )
            chain = await ancestors(session, team.area_id)
            team.version += 1
            ending = await self._active_memberships(session, team.id)
            for membership in ending:
                await self._end_membership(
                    session, team, chain, membership, command.dissolved_on, "team dissolved"
                )
            await self.tallies.present_many(
                session, self._presence(chain, team.kind, [m.person_id for m in ending], -1)
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
            public = await self._team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def _end_membership(
        self,
        session: AsyncSession,
        team: Team,
        chain: list[UUID],
        membership: Membership,
        left_on: date,
        reason: str,
    ) -> None:
        """Close a membership and publish member_left; the caller updates presence."""
        membership.left_on = left_on
        membership.left_reason = reason
        session.add(membership)
        await self.outbox.add(
            session,
            MemberLeft(
                team_id=team.id,
                area_id=team.area_id,
                person_id=membership.person_id,
                role=membership.role,
                left_on=left_on,
                reason=reason,
                aggregate_version=team.version,
            ),
        )

    async def change_roster(
        self, team_id: UUID, command: RosterChange, principal: Principal
    ) -> TeamPublic:
        """Joins, leaves and role changes checked against the team's rules as a whole."""
        effective_on = command.effective_on or date.today()
        async with transaction(self.sessions) as session:
            team, lines = await self._active_team_and_lines(session, principal, team_id)
            # Who serves, as the answer will show it once the change is made.
            members = {
                person.id: (m, person) for m, person in await self._active_roster(session, team.id)
            }
            current = {person_id: membership for person_id, (membership, _) in members.items()}
            roster = self._roster_entries(list(members.values()))
            leaving: list[Membership] = []
            for index, person_id in enumerate(command.leaves):
                membership = current.get(person_id)
                if membership is None or membership in leaving:
                    raise RuleViolationError(
                        f"person {person_id} is not a current member", ["body", "leaves", index]
                    )
                if effective_on < membership.joined_on:
                    raise RuleViolationError(
                        f"effective_on is before {roster[person_id].name} joined "
                        f"({membership.joined_on})",
                        ["body", "effective_on"],
                    )
                leaving.append(membership)
                del roster[person_id]
            promoted: list[tuple[Membership, TeamRole]] = []
            for index, change in enumerate(command.role_changes):
                membership = current.get(change.person_id)
                where: Loc = ["body", "role_changes", index]
                if membership is None or change.person_id not in roster:
                    raise RuleViolationError(
                        f"person {change.person_id} is not a current member", where
                    )
                if change.role is roster[change.person_id].role:
                    raise RuleViolationError(f"already the team's {change.role.value}", where)
                entry = roster[change.person_id]
                roster[change.person_id] = RosterEntry(
                    entry.name, change.role, entry.birth_date, effective_on
                )
                promoted.append((membership, change.role))
            joins = await self._resolve_joins(
                session, principal, team.area_id, command.joins, effective_on, ["body", "joins"]
            )
            for join in joins:
                if join.person.id in roster:
                    raise RuleViolationError(
                        f"rule one_membership: {join.person.full_name} is already on the team",
                        join.loc,
                    )
                roster[join.person.id] = self._entry(join)
            if not (leaving or promoted or joins):
                raise RuleViolationError("nothing to change", ["body"])
            check_roster(
                self._rule_on(lines, team.area_id, team.kind), list(roster.values()), ["body"]
            )
            # The rest of the answer, read before the first write: on SQLite a write holds
            # the database's one write lock until the commit.
            covered = await self._covered(session, team.id)
            honours = await self._honours(session, team.id)

            chain = lines.chain(team.area_id)
            team.version += 1
            session.add(team)
            for membership in leaving:
                await self._end_membership(
                    session, team, chain, membership, effective_on, command.reason
                )
                del members[membership.person_id]
            await self.tallies.present_many(
                session, self._presence(chain, team.kind, [m.person_id for m in leaving], -1)
            )
            for membership, role in promoted:
                # A role change ends the old membership and starts one in the new role; the
                # person keeps serving, so the distinct-member counters do not move.
                await self._end_membership(
                    session,
                    team,
                    chain,
                    membership,
                    effective_on,
                    f"role changed to {role.value}",
                )
                await session.flush()
                person = members[membership.person_id][1]
                renewed = Membership(
                    team_id=team.id, person_id=person.id, role=role, joined_on=effective_on
                )
                session.add(renewed)
                members[person.id] = (renewed, person)
                await self.outbox.add(
                    session,
                    MemberJoined(
                        team_id=team.id,
                        area_id=team.area_id,
                        person_id=person.id,
                        full_name=person.full_name,
                        role=role,
                        joined_on=effective_on,
                        aggregate_version=team.version,
                    ),
                )
            for membership, person in await self._apply_joins(session, team, chain, joins):
                members[person.id] = (membership, person)
            await self.audit.record(
                session, principal, "change_roster", "team", team.id, team.area_id
            )
        # Built from what this change read and wrote: no reading back after the writes.
        return self._team_view(team, list(members.values()), covered, honours)

    async def add_member(
        self, team_id: UUID, command: MemberIn, principal: Principal
    ) -> TeamPublic:
        change = RosterChange(effective_on=command.joined_on, joins=[command], reason="joined")
        return await self._single_change(team_id, change, principal, "joined_on")

    async def remove_member(
        self, team_id: UUID, person_id: UUID, command: MemberLeave, principal: Principal
    ) -> TeamPublic:
        change = RosterChange(
            effective_on=command.left_on, leaves=[person_id], reason=command.reason
        )
        return await self._single_change(team_id, change, principal, "left_on")

    async def _single_change(
        self, team_id: UUID, change: RosterChange, principal: Principal, date_field: str
    ) -> TeamPublic:
        """One join or leave: errors name the fields of that request, not of a batch."""
        try:
            return await self.change_roster(team_id, change, principal)
        except RuleViolationError as error:
            if error.loc == ["body", "effective_on"]:
                error.loc = ["body", date_field]
            elif error.loc[:3] in (["body", "joins", 0], ["body", "leaves", 0]):
                error.loc = ["body", *error.loc[3:]]
            raise

    async def team_history(
        self, team_id: UUID, principal: Principal, offset: int, limit: int
    ) -> list[MemberPublic]:
        """Every membership the team has had, current and past, by joining date."""
        async with self.sessions() as session:
            team = await self._team(session, principal, team_id)
            rows = await session.exec(
                select(Membership, Person)
                .join(Person, col(Person.id) == col(Membership.person_id))
                .where(Membership.team_id == team.id)
                .order_by(col(Membership.joined_on), col(Membership.id))
                .offset(offset)
                .limit(limit)
            )
            return [self._member_public(m, p) for m, p in rows.all()]

    async def _covered(self, session: AsyncSession, team_id: UUID) -> list[UUID]:
        rows = await session.exec(COVERED_AREAS, params={"team_id": team_id})
        return sorted(rows.all(), key=str)

    @staticmethod
    def _member_public(membership: Membership, person: Person) -> MemberPublic:
        return MemberPublic(
            person_id=person.id,
            full_name=person.full_name,
            role=membership.role,
            joined_on=membership.joined_on,
            left_on=membership.left_on,
            left_reason=membership.left_reason,
        )

    async def _honours(self, session: AsyncSession, recipient_id: UUID) -> list[HonourPublic]:
        honours = await session.exec(HONOURS, params={"recipient_id": recipient_id})
        return [
            HonourPublic(
                **honour.model_dump(),
                revoked=honour.revoked_on is not None,
            )
            for honour in honours.all()
        ]

    async def _team_public(self, session: AsyncSession, team: Team) -> TeamPublic:
        return self._team_view(
            team,
            await self._active_roster(session, team.id),
            await self._covered(session, team.id),
            await self._honours(session, team.id),
        )

    def _team_view(
        self,
        team: Team,
        members: Sequence[tuple[Membership, Person]],
        covered: list[UUID],
        honours: list[HonourPublic],
    ) -> TeamPublic:
        """A team with its current members (by role, then name), coverage and honours."""
        roster = sorted(
            members, key=lambda row: (ROLE_ORDER[row[0].role], row[1].full_name, row[1].id)
        )
        decision = self._decision_event(team)
        return TeamPublic(
            **team.model_dump(exclude={"created_at"}),
            covered_area_ids=covered,
            founding_decision=FoundingDecisionPublic.model_validate(decision) if decision else None,
            members=[self._member_public(m, p) for m, p in roster],
            honours=honours,
        )

    # --- initiatives ------------------------------------------------------------------

    async def _initiative(
        self, session: AsyncSession, principal: Principal, initiative_id: UUID
    ) -> Initiative:
        return await self.scope.get_in_scope(
            session, principal, Initiative, initiative_id, what="initiative"
        )

    async def launch_initiative(
        self, command: InitiativeCreate, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            area = await self._referenced_area(
                session, principal, command.area_id, ["body", "area_id"]
            )
            initiative = Initiative.model_validate(command)
            session.add(initiative)
            await session.flush()
            session.add(
                InitiativePeriod(initiative_id=initiative.id, launched_on=command.launched_on)
            )
            await self._launched(session, principal, initiative, area.id, "launch_initiative")
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def _launched(
        self,
        session: AsyncSession,
        principal: Principal,
        initiative: Initiative,
        area_id: UUID,
        action: str,
    ) -> None:
        await self.tallies.add(session, await ancestors(session, area_id), INITIATIVES, 1)
        await self.audit.record(session, principal, action, "initiative", initiative.id, area_id)
        await self.outbox.add(
            session,
            InitiativeLaunched(
                initiative_id=initiative.id,
                area_id=area_id,
                name=initiative.name,
                launched_on=initiative.launched_on,
                aggregate_version=initiative.version,
            ),
        )

    async def record_initiative_result(
        self, initiative_id: UUID, command: InitiativeResultIn, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            if command.recorded_on < initiative.launched_on and not await self._ran_on(
                session, initiative.id, command.recorded_on
            ):
                raise RuleViolationError(
                    "recorded_on is before the initiative was launched", ["body", "recorded_on"]
                )
            session.add(InitiativeResult(initiative_id=initiative.id, **command.model_dump()))
            await self.audit.record(
                session,
                principal,
                "record_initiative_result",
                "initiative",
                initiative.id,
                initiative.area_id,
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def _ran_on(self, session: AsyncSession, initiative_id: UUID, day: date) -> bool:
        periods = await session.exec(
            select(InitiativePeriod).where(InitiativePeriod.initiative_id == initiative_id)
        )
        return any(
            p.launched_on <= day and (p.stopped_on is None or day <= p.stopped_on)
            for p in periods.all()
        )

    async def stop_initiative(
        self, initiative_id: UUID, command: InitiativeStop, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            if initiative.status is InitiativeStatus.STOPPED:
                raise ConflictError(
                    f"initiative was already stopped on {initiative.stopped_on}",
                    ["path", "initiative_id"],
                )
            if command.stopped_on < initiative.launched_on:
                raise RuleViolationError(
                    f"stopped_on is before the launch ({initiative.launched_on})",
                    ["body", "stopped_on"],
                )
            initiative.status = InitiativeStatus.STOPPED
            initiative.stopped_on = command.stopped_on
            initiative.stop_reason = command.reason
            initiative.version += 1
            session.add(initiative)
            period = (
                await session.exec(
                    select(InitiativePeriod).where(
                        InitiativePeriod.initiative_id == initiative.id,
                        col(InitiativePeriod.stopped_on).is_(None),
                    )
                )
            ).one()
            period.stopped_on, period.stop_reason = command.stopped_on, command.reason
            session.add(period)
            await self.tallies.add(
                session, await ancestors(session, initiative.area_id), INITIATIVES, -1
            )
            await self.audit.record(
                session,
                principal,
                "stop_initiative",
                "initiative",
                initiative.id,
                initiative.area_id,
            )
            await self.outbox.add(
                session,
                InitiativeStopped(
                    initiative_id=initiative.id,
                    area_id=initiative.area_id,
                    stopped_on=command.stopped_on,
                    reason=command.reason,
                    aggregate_version=initiative.version,
                ),
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def relaunch_initiative(
        self, initiative_id: UUID, command: InitiativeRelaunch, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            if initiative.status is InitiativeStatus.RUNNING:
                raise ConflictError("initiative is running", ["path", "initiative_id"])
            assert initiative.stopped_on is not None
            if command.launched_on < initiative.stopped_on:
                raise RuleViolationError(
                    f"launched_on is before the last stop ({initiative.stopped_on})",
                    ["body", "launched_on"],
                )
            initiative.status = InitiativeStatus.RUNNING
            initiative.launched_on = command.launched_on
            initiative.stopped_on = initiative.stop_reason = None
            initiative.version += 1
            session.add(initiative)
            session.add(
                InitiativePeriod(initiative_id=initiative.id, launched_on=command.launched_on)
            )
            await self._launched(
                session, principal, initiative, initiative.area_id, "relaunch_initiative"
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def get_initiative(self, initiative_id: UUID, principal: Principal) -> InitiativeProfile:
        async with self.sessions() as session:
            initiative = await self._initiative(session, principal, initiative_id)
            return await self._initiative_profile(session, initiative)

    async def list_initiatives(
        self,
        principal: Principal,
        within: UUID | None,
        status: InitiativeStatus | None,
        offset: int,
        limit: int,
    ) -> list[InitiativePublic]:
        where = [Initiative.status == status] if status is not None else []
        rows = await self._scoped_page(
            principal, within, Initiative, Initiative.area_id, where, Initiative.name, offset, limit
        )
        return [InitiativePublic.model_validate(i) for i in rows]

    async def _initiative_profile(
        self, session: AsyncSession, initiative: Initiative
    ) -> InitiativeProfile:
        periods = await session.exec(
            select(InitiativePeriod)
            .where(InitiativePeriod.initiative_id == initiative.id)
            .order_by(col(InitiativePeriod.launched_on), col(InitiativePeriod.id))
        )
        results = await session.exec(
            select(InitiativeResult)
            .where(InitiativeResult.initiative_id == initiative.id)
            .order_by(col(InitiativeResult.recorded_on), col(InitiativeResult.id))
        )
        return InitiativeProfile(
            **InitiativePublic.model_validate(initiative).model_dump(),
            periods=[InitiativePeriodPublic.model_validate(p) for p in periods.all()],
            results=[InitiativeResultPublic.model_validate(r) for r in results.all()],
        )

    # --- cameras ----------------------------------------------------------------------

    async def install_camera(self, command: CameraCreate, principal: Principal) -> CameraPublic:
        if command.funding not in self.camera_funding:
            raise UnknownReferenceError(
                f"unknown funding {command.funding!r}; one of {', '.join(self.camera_funding)}",
                ["body", "funding"],
            )
        async with transaction(self.sessions) as session:
            area = await self._referenced_area(
                session, principal, command.area_id, ["body", "area_id"]
            )
            camera = Camera.model_validate(command)
            session.add(camera)
            await self.tallies.add(session, await ancestors(session, area.id), CAMERAS, 1)
            await self.audit.record(
                session, principal, "install_camera", "camera", camera.id, area.id
            )
            await self.outbox.add(
                session,
                CameraInstalled(
                    camera_id=camera.id,
                    area_id=area.id,
                    installed_on=camera.installed_on,
                    funding=camera.funding,
                    aggregate_version=camera.version,
                ),
            )
        return CameraPublic.model_validate(camera)

    async def _camera(self, session: AsyncSession, principal: Principal, camera_id: UUID) -> Camera:
        return await self.scope.get_in_scope(session, principal, Camera, camera_id, what="camera")

    async def remove_camera(
        self, camera_id: UUID, command: CameraRemove, principal: Principal
    ) -> CameraPublic:
        async with transaction(self.sessions) as session:
            camera = await self._camera(session, principal, camera_id)
            if camera.status is CameraStatus.REMOVED:
                raise ConflictError(
                    f"camera was already removed on {camera.removed_on}", ["path", "camera_id"]
                )
            if command.removed_on < camera.installed_on:
                raise RuleViolationError(
                    f"removed_on is before the installation ({camera.installed_on})",
                    ["body", "removed_on"],
                )
            camera.status = CameraStatus.REMOVED
            camera.removed_on = command.removed_on
            camera.removal_reason = command.reason
            camera.version += 1
            session.add(camera)
            await self.tallies.add(session, await ancestors(session, camera.area_id), CAMERAS, -1)
            await self.audit.record(
                session, principal, "remove_camera", "camera", camera.id, camera.area_id
            )
            await self.outbox.add(
                session,
                CameraRemoved(
                    camera_id=camera.id,
                    area_id=camera.area_id,
                    removed_on=command.removed_on,
                    reason=command.reason,
                    aggregate_version=camera.version,
                ),
            )
        return CameraPublic.model_validate(camera)

    async def get_camera(self, camera_id: UUID, principal: Principal) -> CameraPublic:
        async with self.sessions() as session:
            return CameraPublic.model_validate(await self._camera(session, principal, camera_id))

    async def list_cameras(
        self,
        principal: Principal,
        within: UUID | None,
        status: CameraStatus | None,
        offset: int,
        limit: int,
    ) -> list[CameraPublic]:
        where = [Camera.status == status] if status is not None else []
        rows = await self._scoped_page(
            principal, within, Camera, Camera.area_id, where, Camera.installed_on, offset, limit
        )
        return [CameraPublic.model_validate(c) for c in rows]

    # --- maintenance ------------------------------------------------------------------

    async def check_summaries(self, *, fix: bool = False) -> list[tuple[UUID, str, int, int]]:
        """Compare the kept summary counters with a full recount: (area, key, kept,
        recounted) for each difference; with ``fix``, replace them with the recount."""
        async with transaction(self.sessions) as session:
            (counts, presence), (have, have_presence) = await recount(session), await kept(session)
            differences = sorted(
                (area, key, have.get(area, {}).get(key, 0), counts.get(area, {}).get(key, 0))
                for area in set(counts) | set(have)
                for key in set(counts.get(area, {})) | set(have.get(area, {}))
                if have.get(area, {}).get(key, 0) != counts.get(area, {}).get(key, 0)
            )
            if fix and (differences or presence != have_presence):
                await rebuild(session, counts, presence)
        return differences

    # --- honours from the awards service ------------------------------------------------

    async def record_honour(self, session: AsyncSession, event: AwardGranted) -> bool:
        """Show a granted award on its recipient's profile; False if the recipient is not ours."""
        recipient_known = (
            await session.get(Team, event.recipient_id) is not None
            or await session.get(Person, event.recipient_id) is not None
        )
        if not recipient_known or await session.get(Honour, event.award_id) is not None:
            return False
        revoked = await session.get(RevokedAward, event.award_id)
        session.add(
            Honour(
                award_id=event.award_id,
                recipient_id=event.recipient_id,
                award_form=event.award_form,
                authority=event.authority,
                reason=event.reason,
                decision_number=event.decision_number,
                granted_on=event.granted_on,
                revoked_on=revoked.revoked_on if revoked else None,
                revocation_reason=revoked.reason if revoked else None,
            )
        )
        return True

    async def record_revocation(self, session: AsyncSession, event: AwardRevoked) -> bool:
        """Mark an honour revoked on its profile; False if this registry never showed it."""
        honour = await session.get(Honour, event.award_id)
        if honour is None:
            if await session.get(RevokedAward, event.award_id) is None:
                session.add(
                    RevokedAward(
                        award_id=event.award_id, revoked_on=event.revoked_on, reason=event.reason
                    )
                )
            return False
        honour.revoked_on = event.revoked_on
        honour.revocation_reason = event.reason
        session.add(honour)
        return True
