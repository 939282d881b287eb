"""The HTTP route of what awards' copies count: a team's resolved incidents."""

from uuid import UUID

from services.awards.replicas.models import TeamContributionPublic
from services.awards.replicas.service import ReadModels
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.runtime import ServiceRuntime

ACCESS = {"team_contribution": Access.READ}


def create_router(read_models: ReadModels, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/contributions/teams/{team_id}",
        response_model=TeamContributionPublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def team_contribution(
        team_id: UUID, principal: CurrentPrincipal
    ) -> TeamContributionPublic:
        """How many resolved incidents credit this team."""
        return await read_models.team_contribution(team_id, principal)

    return router
