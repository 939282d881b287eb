"""Roster use cases: members join, leave and change role, checked against the team rules as
a whole; and the pieces the team use cases share (new members, a team as answers show it)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from uuid import UUID

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area
from services.registry.common import Loc
from services.registry.honours.models import HonourPublic
from services.registry.honours.service import honours_of
from services.registry.people.models import Person
from services.registry.rosters.models import (
    MemberIn,
    MemberLeave,
    MemberPublic,
    Membership,
    RosterChange,
)
from services.registry.rosters.rules import (
    add_joins,
    change_roles,
    check_member_reference,
    check_some_change,
    roster_order,
    single_change_loc,
    take_leaves,
)
from services.registry.summaries.rules import presence_deltas
from services.registry.summaries.service import Tallies
from services.registry.teams.models import FoundingDecisionPublic, Team, TeamCoverage, TeamPublic
from services.registry.teams.rules import (
    EffectiveRule,
    RosterEntry,
    TeamRule,
    check_active,
    check_roster,
    effective_rule,
    founding_decision,
    province_of,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import RuleViolationError, UnknownReferenceError
from shared.events import MemberJoined, MemberLeft, TeamRole
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.scope import AreaLines, AreaScope

# What a team's answer reads, built once (building a statement costs more than running it).
ACTIVE_ROSTER = (
    select(Membership, Person)
    .join(Person, col(Person.id) == col(Membership.person_id))
    .where(Membership.team_id == bindparam("team_id"), col(Membership.left_on).is_(None))
)
COVERED_AREAS = select(TeamCoverage.area_id).where(TeamCoverage.team_id == bindparam("team_id"))


@dataclass
class Join:
    """A member to add, resolved to a person (new or existing)."""

    person: Person
    role: TeamRole
    joined_on: date
    loc: Loc

    def entry(self) -> RosterEntry:
        return RosterEntry(
            self.person.full_name, self.role, self.person.birth_date, self.joined_on, self.loc
        )


def team_rule(
    rules: Sequence[TeamRule], lines: AreaLines, area_id: UUID, kind: str
) -> EffectiveRule:
    """The rule for a team of ``kind`` in ``area_id``, by the province above it."""
    line = [
        (row.level, row.code)
        for area in lines.chain(area_id)
        if (row := lines.get(area)) is not None
    ]
    return effective_rule(rules, province_of(line), kind)


def roster_entries(members: Sequence[tuple[Membership, Person]]) -> dict[UUID, RosterEntry]:
    return {
        person.id: RosterEntry(
            person.full_name, membership.role, person.birth_date, membership.joined_on
        )
        for membership, person in members
    }


def member_public(membership: Membership, person: Person) -> MemberPublic:
    return MemberPublic(
        person_id=person.id,
        full_name=person.full_name,
        role=membership.role,
        joined_on=membership.joined_on,
        left_on=membership.left_on,
        left_reason=membership.left_reason,
    )


def team_view(
    team: Team,
    members: Sequence[tuple[Membership, Person]],
    covered: list[UUID],
    honours: list[HonourPublic],
) -> TeamPublic:
    """A team with its current members (by role, then name), coverage and honours."""
    roster = sorted(members, key=lambda row: roster_order(row[0].role, row[1].full_name, row[1].id))
    decision = founding_decision(
        team.decision_number, team.decision_issued_on, team.decision_issuer
    )
    return TeamPublic(
        **team.model_dump(exclude={"created_at"}),
        covered_area_ids=covered,
        founding_decision=FoundingDecisionPublic.model_validate(decision) if decision else None,
        members=[member_public(m, p) for m, p in roster],
        honours=honours,
    )


async def active_roster(session: AsyncSession, team_id: UUID) -> list[tuple[Membership, Person]]:
    """The team's current memberships with their people, in one query."""
    rows = await session.exec(ACTIVE_ROSTER, params={"team_id": team_id})
    return [(membership, person) for membership, person in rows.all()]


async def covered_areas(session: AsyncSession, team_id: UUID) -> list[UUID]:
    rows = await session.exec(COVERED_AREAS, params={"team_id": team_id})
    return sorted(rows.all(), key=str)


async def team_public(session: AsyncSession, team: Team) -> TeamPublic:
    return team_view(
        team,
        await active_roster(session, team.id),
        await covered_areas(session, team.id),
        await honours_of(session, team.id),
    )


class RosterService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        scope: AreaScope[Area],
        tallies: Tallies,
        team_rules: Sequence[TeamRule],
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.scope = scope
        self.tallies = tallies
        self.team_rules = list(team_rules)

    async def resolve_joins(
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
            check_member_reference(
                member.person_id is not None, member.full_name, member.birth_date, where
            )
            if member.person_id is not None:
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
            else:
                assert member.full_name is not None  # check_member_reference asked for one
                person = Person(
                    full_name=member.full_name,
                    birth_date=member.birth_date,
                    phone=member.phone,
                    area_id=area_id,
                )
            joins.append(Join(person, member.role, member.joined_on or effective_on, where))
        return joins

    async def apply_joins(
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
            session, presence_deltas(chain, team.kind, [join.person.id for join in joins], 1)
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

    async def active_memberships(self, session: AsyncSession, team_id: UUID) -> list[Membership]:
        rows = await session.exec(
            select(Membership).where(
                Membership.team_id == team_id, col(Membership.left_on).is_(None)
            )
        )
        return list(rows.all())

    async def end_membership(
        self,
        session: AsyncSession,
        team: Team,
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
            # The lines above the team's area come with the scope check: the rules'
            # province and the counters' areas.
            team, lines = await self.scope.get_in_scope_with_lines(
                session, principal, Team, team_id, what="team"
            )
            check_active(team.status, team.name, team.dissolved_on)
            # Who serves, as the answer will show it once the change is made.
            members = {
                person.id: (m, person) for m, person in await active_roster(session, team.id)
            }
            current = {person_id: membership for person_id, (membership, _) in members.items()}
            roster = roster_entries(list(members.values()))
            leaving = [
                current[person] for person in take_leaves(roster, command.leaves, effective_on)
            ]
            promoted = [
                (current[person], role)
                for person, role in change_roles(
                    roster,
                    [(change.person_id, change.role) for change in command.role_changes],
                    effective_on,
                )
            ]
            joins = await self.resolve_joins(
                session, principal, team.area_id, command.joins, effective_on, ["body", "joins"]
            )
            add_joins(roster, [(join.person.id, join.entry()) for join in joins])
            check_some_change(len(leaving), len(promoted), len(joins))
            check_roster(
                team_rule(self.team_rules, lines, team.area_id, team.kind),
                list(roster.values()),
                ["body"],
            )
            # The rest of the answer, read before the first write: on SQLite a write holds
            # the database's one write lock until the commit.
            covered = await covered_areas(session, team.id)
            honours = await honours_of(session, team.id)

            chain = lines.chain(team.area_id)
            team.version += 1
            session.add(team)
            for membership in leaving:
                await self.end_membership(session, team, membership, effective_on, command.reason)
                del members[membership.person_id]
            await self.tallies.present_many(
                session, presence_deltas(chain, team.kind, [m.person_id for m in leaving], -1)
            )
            for membership, role in promoted:
                # A role change ends the old membership and starts one in the new role; the
                # person keeps serving, so the distinct-member counters do not move.
                await self.end_membership(
                    session, team, membership, effective_on, f"role changed to {role.value}"
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
            for membership, person in await self.apply_joins(session, team, chain, joins):
                members[person.id] = (membership, person)
            await self.audit.record(
                session, principal, "change_roster", "team", team.id, team.area_id
            )
        # Built from what this change read and wrote: no reading back after the writes.
        return team_view(team, list(members.values()), covered, honours)

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
            error.loc = single_change_loc(error.loc, date_field)
            raise

    async def team_history(
        self, team_id: UUID, principal: Principal, offset: int, limit: int
    ) -> Page[MemberPublic]:
        """Every membership the team has had, current and past, by joining date."""
        async with self.sessions() as session:
            team = await self.scope.get_in_scope(session, principal, Team, team_id, what="team")
            rows, total = await page_rows(
                session,
                select(Membership, Person)
                .join(Person, col(Person.id) == col(Membership.person_id))
                .where(Membership.team_id == team.id)
                .order_by(col(Membership.joined_on), col(Membership.id)),
                offset,
                limit,
            )
            return Page([member_public(m, p) for m, p in rows], total)
