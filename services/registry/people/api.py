"""People routes."""

from uuid import UUID

from fastapi import Response

from services.registry.areas.api import ERRORS, WRITE_ERRORS, TextQuery, WithinQuery
from services.registry.people.models import PersonCreate, PersonProfile, PersonPublic
from services.registry.people.service import PersonService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "register_person": Access.WRITE,
    "list_people": Access.READ,
    "get_person": Access.READ,
}


def create_router(service: PersonService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/people",
        response_model=PersonPublic,
        tags=["people"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def register_person(body: PersonCreate, principal: CurrentPrincipal) -> PersonPublic:
        """Register a person, to add to one or more teams by id."""
        return await service.register_person(body, principal)

    @router.get(
        "/people",
        response_model=list[PersonPublic],
        tags=["people"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_people(
        response: Response,
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        q: TextQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[PersonPublic]:
        """People of the caller's areas, by name."""
        page = await service.list_people(principal, within, q, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get(
        "/people/{person_id}", response_model=PersonProfile, tags=["people"], responses=ERRORS
    )
    async def get_person(person_id: UUID, principal: CurrentPrincipal) -> PersonProfile:
        """A person with every membership, current and past, and their honours."""
        return await service.get_person(person_id, principal)

    return router
