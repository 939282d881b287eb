"""Suggested nominations' HTTP routes: list them, accept or dismiss one."""

from typing import Annotated
from uuid import UUID

from fastapi import Body, Response, status

from services.awards.nominations.models import NominationPublic
from services.awards.suggestions.models import (
    SuggestionAcceptance,
    SuggestionDismissal,
    SuggestionPublic,
    SuggestionStatus,
)
from services.awards.suggestions.service import Suggestions
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
ACCESS = {
    "list_suggestions": Access.READ,
    "accept_suggestion": Access.WRITE,
    "dismiss_suggestion": Access.WRITE,
}


def create_router(suggestions: Suggestions, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.get(
        "/suggestions",
        response_model=list[SuggestionPublic],
        tags=["scores"],
        responses=TOTAL_RESPONSES,
    )
    async def list_suggestions(
        response: Response,
        principal: CurrentPrincipal,
        status: SuggestionStatus | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[SuggestionPublic]:
        """Nominations the scores suggest in the caller's areas, newest first."""
        page = await suggestions.suggestions(status, offset, limit, principal)
        return with_total(response, page.total, page.items)

    @router.post(
        "/suggestions/{suggestion_id}/accept",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["scores"],
        responses=ERRORS,
    )
    async def accept_suggestion(
        suggestion_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[SuggestionAcceptance | None, Body()] = None,
    ) -> NominationPublic:
        """Turn a suggestion into a nomination (nomination_created with suggested=true)."""
        return await suggestions.accept(suggestion_id, body or SuggestionAcceptance(), principal)

    @router.post(
        "/suggestions/{suggestion_id}/dismiss",
        response_model=SuggestionPublic,
        tags=["scores"],
        responses=ERRORS,
    )
    async def dismiss_suggestion(
        suggestion_id: UUID, body: SuggestionDismissal, principal: CurrentPrincipal
    ) -> SuggestionPublic:
        """Dismiss a suggestion with a reason; it does not come back for that threshold."""
        dismissed = await suggestions.dismiss(suggestion_id, body, principal)
        return SuggestionPublic.model_validate(dismissed)

    return router
