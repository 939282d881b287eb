"""Roster routes: a team's membership history; members join, leave, change role."""

from uuid import UUID

from fastapi import Response

from services.registry.areas.api import ERRORS, WRITE_ERRORS
from services.registry.rosters.models import MemberIn, MemberLeave, MemberPublic, RosterChange
from services.registry.rosters.service import RosterService
from services.registry.teams.models import TeamPublic
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "team_members": Access.READ,
    "add_member": Access.WRITE,
    "remove_member": Access.WRITE,
    "change_roster": Access.WRITE,
}


def create_router(service: RosterService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/teams/{team_id}/members",
        response_model=list[MemberPublic],
        tags=["teams"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def team_members(
        response: Response,
        team_id: UUID,
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[MemberPublic]:
        """The team's full membership history, current and past, by joining date."""
        page = await service.team_history(team_id, principal, offset, limit)
        return with_total(response, page.total, page.items)

    @router.post(
        "/teams/{team_id}/members",
        response_model=TeamPublic,
        tags=["teams"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def add_member(team_id: UUID, body: MemberIn, principal: CurrentPrincipal) -> TeamPublic:
        """Add one member (an existing person by id, or a new one by name)."""
        return await service.add_member(team_id, body, principal)

    @router.post(
        "/teams/{team_id}/members/{person_id}/leave",
        response_model=TeamPublic,
        tags=["teams"],
        responses=WRITE_ERRORS,
    )
    async def remove_member(
        team_id: UUID, person_id: UUID, body: MemberLeave, principal: CurrentPrincipal
    ) -> TeamPublic:
        """A member leaves the team."""
        return await service.remove_member(team_id, person_id, body, principal)

    @router.post(
        "/teams/{team_id}/roster", response_model=TeamPublic, tags=["teams"], responses=WRITE_ERRORS
    )
    async def change_roster(
        team_id: UUID, body: RosterChange, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Joins, leaves and role changes applied together, e.g. a new leader replacing the
        old; the rules are checked on the result."""
        return await service.change_roster(team_id, body, principal)

    return router
