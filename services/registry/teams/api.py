"""Team routes: the kinds catalogue; register, list, change and dissolve teams."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from services.registry.areas.api import ERRORS, WRITE_ERRORS, TextQuery, WithinQuery
from services.registry.teams.models import (
    TeamCreate,
    TeamDissolve,
    TeamKindPublic,
    TeamListItem,
    TeamPublic,
    TeamUpdate,
)
from services.registry.teams.rules import TeamStatus
from services.registry.teams.service import TeamFilter, TeamService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "list_team_kinds": Access.READ,
    "register_team": Access.WRITE,
    "list_teams": Access.READ,
    "get_team": Access.READ,
    "update_team": Access.WRITE,
    "dissolve_team": Access.WRITE,
}


def create_router(service: TeamService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get("/team-kinds", response_model=list[TeamKindPublic], tags=["teams"])
    async def list_team_kinds(principal: CurrentPrincipal) -> list[TeamKindPublic]:
        """The catalogue of team kinds, with their Vietnamese and English names."""
        return service.kinds()

    @router.post(
        "/teams", response_model=TeamPublic, tags=["teams"], status_code=201, responses=WRITE_ERRORS
    )
    async def register_team(body: TeamCreate, principal: CurrentPrincipal) -> TeamPublic:
        """Register a team with its leader, deputies and members, checked against the
        team rules of its province and kind."""
        return await service.register_team(body, principal)

    @router.get(
        "/teams",
        response_model=list[TeamListItem],
        tags=["teams"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_teams(
        response: Response,
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        kind: str | None = None,
        team_status: Annotated[TeamStatus | None, Query(alias="status")] = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[TeamListItem]:
        """Teams by name; filter by subtree, kind, status (active, dissolved) or text."""
        where = TeamFilter(within=within, kind=kind, status=team_status, q=q)
        page = await service.list_teams(principal, where, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get("/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=ERRORS)
    async def get_team(team_id: UUID, principal: CurrentPrincipal) -> TeamPublic:
        """A team with its current members and the honours it received."""
        return await service.get_team(team_id, principal)

    @router.patch(
        "/teams/{team_id}", response_model=TeamPublic, tags=["teams"], responses=WRITE_ERRORS
    )
    async def update_team(
        team_id: UUID, body: TeamUpdate, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Change a team's name, kind, covered groups or founding decision."""
        return await service.update_team(team_id, body, principal)

    @router.post(
        "/teams/{team_id}/dissolve",
        response_model=TeamPublic,
        tags=["teams"],
        responses=WRITE_ERRORS,
    )
    async def dissolve_team(
        team_id: UUID, body: TeamDissolve, principal: CurrentPrincipal
    ) -> TeamPublic:
        """Dissolve a team: its members leave, it stays in history."""
        return await service.dissolve_team(team_id, body, principal)

    return router
