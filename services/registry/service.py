"""Registry use cases: the only code that changes registry state or adds outbox rows."""

from uuid import UUID

from prometheus_client import CollectorRegistry, Gauge
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.models import (
    Area,
    AreaCreate,
    AreaPublic,
    Honour,
    HonourPublic,
    MemberPublic,
    Membership,
    Person,
    Team,
    TeamCreate,
    TeamPublic,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, ForbiddenError, NotFoundError, UnknownReferenceError
from shared.events import AreaRegistered, AwardGranted, MemberJoined, TeamRegistered, TeamRole
from shared.outbox import Outbox
from shared.scope import AreaScope

ROLE_ORDER = {TeamRole.LEADER: 0, TeamRole.DEPUTY: 1, TeamRole.MEMBER: 2}


class RegistryService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        team_kinds: list[str],
        registry: CollectorRegistry,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.team_kinds = team_kinds
        self.scope = AreaScope(Area)
        # Every replica reports the same total: dashboards take the max, not the sum.
        self.active_teams = Gauge(
            "antt_active_teams", "Teams not dissolved", ["kind"], registry=registry
        )

    async def refresh_active_teams(self) -> None:
        async with self.sessions() as session:
            counts = await session.exec(
                select(Team.kind, func.count()).where(Team.status == "active").group_by(Team.kind)
            )
            totals = dict.fromkeys(self.team_kinds, 0) | dict(counts.all())
        # Every kind is set, so a kind whose last team was dissolved drops to zero.
        for kind, count in totals.items():
            self.active_teams.labels(kind=kind).set(count)

    async def register_area(self, command: AreaCreate, principal: Principal) -> AreaPublic:
        async with transaction(self.sessions) as session:
            existing = await session.exec(select(Area).where(Area.code == command.code))
            if existing.first() is not None:
                raise ConflictError(
                    f"area code {command.code!r} is already registered", ["body", "code"]
                )
            if command.parent_id is None:
                if not principal.everywhere:
                    raise ForbiddenError(
                        "only an admin registers a top-level area; officers register areas "
                        "below their own",
                        ["body", "parent_id"],
                    )
            elif await session.get(Area, command.parent_id) is None or not (
                await self.scope.allows(session, principal, command.parent_id)
            ):
                raise UnknownReferenceError(
                    f"unknown parent area {command.parent_id}", ["body", "parent_id"]
                )
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
                    aggregate_version=area.version,
                ),
            )
        return AreaPublic.model_validate(area)

    async def register_team(self, command: TeamCreate, principal: Principal) -> TeamPublic:
        if command.kind not in self.team_kinds:
            raise UnknownReferenceError(
                f"unknown team kind {command.kind!r}; one of {', '.join(self.team_kinds)}",
                ["body", "kind"],
            )
        async with transaction(self.sessions) as session:
            if await session.get(Area, command.area_id) is None or not (
                await self.scope.allows(session, principal, command.area_id)
            ):
                raise UnknownReferenceError(f"unknown area {command.area_id}", ["body", "area_id"])
            team = Team.model_validate(command)
            session.add(team)
            await self.audit.record(
                session, principal, "register_team", "team", team.id, team.area_id
            )
            # No ORM relationships: flush parents explicitly so foreign keys hold.
            await session.flush()
            await self.outbox.add(
                session,
                TeamRegistered(
                    team_id=team.id,
                    area_id=team.area_id,
                    name=team.name,
                    kind=team.kind,
                    aggregate_version=team.version,
                ),
            )
            for member in command.members:
                person = Person(full_name=member.full_name, birth_date=member.birth_date)
                session.add(person)
                await session.flush()
                session.add(Membership(team_id=team.id, person_id=person.id, role=member.role))
                await self.outbox.add(
                    session,
                    MemberJoined(
                        team_id=team.id,
                        area_id=team.area_id,
                        person_id=person.id,
                        full_name=person.full_name,
                        role=member.role,
                        aggregate_version=team.version,
                    ),
                )
            await session.flush()
            public = await self._team_public(session, team)
        await self.refresh_active_teams()
        return public

    async def get_team(self, team_id: UUID, principal: Principal) -> TeamPublic:
        not_found = NotFoundError(f"team {team_id} not found", ["path", "team_id"])
        async with self.sessions() as session:
            team = await session.get(Team, team_id)
            if team is None:
                raise not_found
            await self.scope.require(session, principal, team.area_id, not_found)
            return await self._team_public(session, team)

    async def record_honour(self, session: AsyncSession, event: AwardGranted) -> bool:
        """Show a granted award on its recipient's profile; False if the recipient is not ours."""
        recipient_known = (
            await session.get(Team, event.recipient_id) is not None
            or await session.get(Person, event.recipient_id) is not None
        )
        if not recipient_known or await session.get(Honour, event.award_id) is not None:
            return False
        session.add(
            Honour(
                award_id=event.award_id,
                recipient_id=event.recipient_id,
                award_form=event.award_form,
                authority=event.authority,
                reason=event.reason,
                decision_number=event.decision_number,
                granted_on=event.granted_on,
            )
        )
        return True

    async def _team_public(self, session: AsyncSession, team: Team) -> TeamPublic:
        members = await session.exec(
            select(Membership, Person)
            .join(Person, Person.id == Membership.person_id)  # type: ignore[arg-type]
            .where(Membership.team_id == team.id, Membership.left_on == None)  # noqa: E711
        )
        roster = sorted(
            members.all(), key=lambda row: (ROLE_ORDER[row[0].role], row[1].full_name, row[1].id)
        )
        honours = await session.exec(
            select(Honour).where(Honour.recipient_id == team.id).order_by(col(Honour.granted_on))
        )
        return TeamPublic(
            **team.model_dump(exclude={"created_at"}),
            members=[
                MemberPublic(
                    person_id=person.id,
                    full_name=person.full_name,
                    role=membership.role,
                    joined_on=membership.joined_on,
                )
                for membership, person in roster
            ],
            honours=[HonourPublic.model_validate(honour) for honour in honours.all()],
        )
