"""People use cases: register a person; a person's profile with memberships and honours."""

from uuid import UUID

from sqlmodel import col, select

from services.registry.areas.models import Area
from services.registry.areas.service import referenced_area, scoped_page
from services.registry.honours.service import honours_of
from services.registry.people.models import Person, PersonCreate, PersonProfile, PersonPublic
from services.registry.rosters.models import Membership, MembershipPublic
from services.registry.rosters.service import member_public
from services.registry.teams.models import Team
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.paging import Page
from shared.scope import AreaScope


class PersonService:
    def __init__(self, sessions: SessionFactory, audit: AuditTrail, scope: AreaScope[Area]) -> None:
        self.sessions = sessions
        self.audit = audit
        self.scope = scope

    async def register_person(self, command: PersonCreate, principal: Principal) -> PersonPublic:
        async with transaction(self.sessions) as session:
            await referenced_area(
                self.scope, session, principal, command.area_id, ["body", "area_id"]
            )
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
                    **member_public(membership, person).model_dump(),
                    team_id=team.id,
                    team_name=team.name,
                    team_kind=team.kind,
                )
                for membership, team in rows.all()
            ]
            return PersonProfile(
                **PersonPublic.model_validate(person).model_dump(),
                memberships=memberships,
                honours=await honours_of(session, person.id),
            )

    async def list_people(
        self, principal: Principal, within: UUID | None, q: str | None, offset: int, limit: int
    ) -> Page[PersonPublic]:
        where = [col(Person.full_name).contains(q)] if q else []
        page = await scoped_page(
            self.sessions,
            self.scope,
            principal,
            within,
            Person,
            Person.area_id,
            where,
            Person.full_name,
            offset,
            limit,
        )
        return Page([PersonPublic.model_validate(person) for person in page.items], page.total)
