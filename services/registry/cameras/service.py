"""Camera use cases: record community cameras installed and removed."""

from collections.abc import Sequence
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area
from services.registry.areas.service import ancestors, referenced_area, scoped_page
from services.registry.cameras.models import Camera, CameraCreate, CameraPublic, CameraRemove
from services.registry.cameras.rules import CameraStatus, check_funding, check_removal
from services.registry.summaries.rules import CAMERAS
from services.registry.summaries.service import Tallies
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.events import CameraInstalled, CameraRemoved
from shared.outbox import Outbox
from shared.paging import Page
from shared.scope import AreaScope


class CameraService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        scope: AreaScope[Area],
        tallies: Tallies,
        camera_funding: Sequence[str],
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.scope = scope
        self.tallies = tallies
        self.camera_funding = list(camera_funding)

    async def install_camera(self, command: CameraCreate, principal: Principal) -> CameraPublic:
        check_funding(command.funding, self.camera_funding)
        async with transaction(self.sessions) as session:
            area = await referenced_area(
                self.scope, session, principal, command.area_id, ["body", "area_id"]
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
            check_removal(camera.status, camera.removed_on, camera.installed_on, command.removed_on)
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
    ) -> Page[CameraPublic]:
        where = [Camera.status == status] if status is not None else []
        page = await scoped_page(
            self.sessions,
            self.scope,
            principal,
            within,
            Camera,
            Camera.area_id,
            where,
            Camera.installed_on,
            offset,
            limit,
        )
        return Page([CameraPublic.model_validate(c) for c in page.items], page.total)
