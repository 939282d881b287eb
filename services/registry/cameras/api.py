"""Camera routes: install, list, remove community cameras."""

from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from services.registry.areas.api import ERRORS, WRITE_ERRORS, WithinQuery
from services.registry.cameras.models import CameraCreate, CameraPublic, CameraRemove
from services.registry.cameras.rules import CameraStatus
from services.registry.cameras.service import CameraService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.paging import TOTAL_RESPONSES, with_total
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ACCESS = {
    "install_camera": Access.WRITE,
    "list_cameras": Access.READ,
    "get_camera": Access.READ,
    "remove_camera": Access.WRITE,
}


def create_router(service: CameraService, runtime: ServiceRuntime) -> ProtectedRouter:
    router = runtime.router(ACCESS)

    @router.post(
        "/cameras",
        response_model=CameraPublic,
        tags=["cameras"],
        status_code=201,
        responses=WRITE_ERRORS,
    )
    async def install_camera(body: CameraCreate, principal: CurrentPrincipal) -> CameraPublic:
        """Record a community camera installed in an area, with who funded it."""
        return await service.install_camera(body, principal)

    @router.get(
        "/cameras",
        response_model=list[CameraPublic],
        tags=["cameras"],
        responses={**ERRORS, **TOTAL_RESPONSES},
    )
    async def list_cameras(
        response: Response,
        principal: CurrentPrincipal,
        within: WithinQuery = None,
        camera_status: Annotated[CameraStatus | None, Query(alias="status")] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[CameraPublic]:
        """Cameras by installation date; filter by subtree and status."""
        page = await service.list_cameras(principal, within, camera_status, offset, limit)
        return with_total(response, page.total, page.items)

    @router.get(
        "/cameras/{camera_id}", response_model=CameraPublic, tags=["cameras"], responses=ERRORS
    )
    async def get_camera(camera_id: UUID, principal: CurrentPrincipal) -> CameraPublic:
        """One camera."""
        return await service.get_camera(camera_id, principal)

    @router.post(
        "/cameras/{camera_id}/remove",
        response_model=CameraPublic,
        tags=["cameras"],
        responses=WRITE_ERRORS,
    )
    async def remove_camera(
        camera_id: UUID, body: CameraRemove, principal: CurrentPrincipal
    ) -> CameraPublic:
        """Record a camera taken down."""
        return await service.remove_camera(camera_id, body, principal)

    return router
