"""Initiative use cases: launch, stop and relaunch initiatives; record their results."""

from datetime import date
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area
from services.registry.areas.service import ancestors, referenced_area, scoped_page
from services.registry.initiatives.models import (
    Initiative,
    InitiativeCreate,
    InitiativePeriod,
    InitiativePeriodPublic,
    InitiativeProfile,
    InitiativePublic,
    InitiativeRelaunch,
    InitiativeResult,
    InitiativeResultIn,
    InitiativeResultPublic,
    InitiativeStop,
)
from services.registry.initiatives.rules import (
    InitiativeStatus,
    check_relaunch,
    check_result_date,
    check_stop,
)
from services.registry.summaries.rules import INITIATIVES
from services.registry.summaries.service import Tallies
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.events import InitiativeLaunched, InitiativeStopped
from shared.outbox import Outbox
from shared.paging import Page
from shared.scope import AreaScope


class InitiativeService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        scope: AreaScope[Area],
        tallies: Tallies,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.scope = scope
        self.tallies = tallies

    async def _initiative(
        self, session: AsyncSession, principal: Principal, initiative_id: UUID
    ) -> Initiative:
        return await self.scope.get_in_scope(
            session, principal, Initiative, initiative_id, what="initiative"
        )

    async def launch_initiative(
        self, command: InitiativeCreate, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            area = await referenced_area(
                self.scope, session, principal, command.area_id, ["body", "area_id"]
            )
            initiative = Initiative.model_validate(command)
            session.add(initiative)
            await session.flush()
            session.add(
                InitiativePeriod(initiative_id=initiative.id, launched_on=command.launched_on)
            )
            await self._launched(session, principal, initiative, area.id, "launch_initiative")
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def _launched(
        self,
        session: AsyncSession,
        principal: Principal,
        initiative: Initiative,
        area_id: UUID,
        action: str,
    ) -> None:
        await self.tallies.add(session, await ancestors(session, area_id), INITIATIVES, 1)
        await self.audit.record(session, principal, action, "initiative", initiative.id, area_id)
        await self.outbox.add(
            session,
            InitiativeLaunched(
                initiative_id=initiative.id,
                area_id=area_id,
                name=initiative.name,
                launched_on=initiative.launched_on,
                aggregate_version=initiative.version,
            ),
        )

    async def record_initiative_result(
        self, initiative_id: UUID, command: InitiativeResultIn, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            # Earlier runs are read only for a result dated before the current one.
            earlier = (
                await self._periods(session, initiative.id)
                if command.recorded_on < initiative.launched_on
                else []
            )
            check_result_date(command.recorded_on, initiative.launched_on, earlier)
            session.add(InitiativeResult(initiative_id=initiative.id, **command.model_dump()))
            await self.audit.record(
                session,
                principal,
                "record_initiative_result",
                "initiative",
                initiative.id,
                initiative.area_id,
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def _periods(
        self, session: AsyncSession, initiative_id: UUID
    ) -> list[tuple[date, date | None]]:
        periods = await session.exec(
            select(InitiativePeriod).where(InitiativePeriod.initiative_id == initiative_id)
        )
        return [(p.launched_on, p.stopped_on) for p in periods.all()]

    async def stop_initiative(
        self, initiative_id: UUID, command: InitiativeStop, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            check_stop(
                initiative.status, initiative.stopped_on, initiative.launched_on, command.stopped_on
            )
            initiative.status = InitiativeStatus.STOPPED
            initiative.stopped_on = command.stopped_on
            initiative.stop_reason = command.reason
            initiative.version += 1
            session.add(initiative)
            period = (
                await session.exec(
                    select(InitiativePeriod).where(
                        InitiativePeriod.initiative_id == initiative.id,
                        col(InitiativePeriod.stopped_on).is_(None),
                    )
                )
            ).one()
            period.stopped_on, period.stop_reason = command.stopped_on, command.reason
            session.add(period)
            await self.tallies.add(
                session, await ancestors(session, initiative.area_id), INITIATIVES, -1
            )
            await self.audit.record(
                session,
                principal,
                "stop_initiative",
                "initiative",
                initiative.id,
                initiative.area_id,
            )
            await self.outbox.add(
                session,
                InitiativeStopped(
                    initiative_id=initiative.id,
                    area_id=initiative.area_id,
                    stopped_on=command.stopped_on,
                    reason=command.reason,
                    aggregate_version=initiative.version,
                ),
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def relaunch_initiative(
        self, initiative_id: UUID, command: InitiativeRelaunch, principal: Principal
    ) -> InitiativeProfile:
        async with transaction(self.sessions) as session:
            initiative = await self._initiative(session, principal, initiative_id)
            check_relaunch(initiative.status, initiative.stopped_on, command.launched_on)
            initiative.status = InitiativeStatus.RUNNING
            initiative.launched_on = command.launched_on
            initiative.stopped_on = initiative.stop_reason = None
            initiative.version += 1
            session.add(initiative)
            session.add(
                InitiativePeriod(initiative_id=initiative.id, launched_on=command.launched_on)
            )
            await self._launched(
                session, principal, initiative, initiative.area_id, "relaunch_initiative"
            )
            await session.flush()
            profile = await self._initiative_profile(session, initiative)
        return profile

    async def get_initiative(self, initiative_id: UUID, principal: Principal) -> InitiativeProfile:
        async with self.sessions() as session:
            initiative = await self._initiative(session, principal, initiative_id)
            return await self._initiative_profile(session, initiative)

    async def list_initiatives(
        self,
        principal: Principal,
        within: UUID | None,
        status: InitiativeStatus | None,
        offset: int,
        limit: int,
    ) -> Page[InitiativePublic]:
        where = [Initiative.status == status] if status is not None else []
        page = await scoped_page(
            self.sessions,
            self.scope,
            principal,
            within,
            Initiative,
            Initiative.area_id,
            where,
            Initiative.name,
            offset,
            limit,
        )
        return Page([InitiativePublic.model_validate(i) for i in page.items], page.total)

    async def _initiative_profile(
        self, session: AsyncSession, initiative: Initiative
    ) -> InitiativeProfile:
        periods = await session.exec(
            select(InitiativePeriod)
            .where(InitiativePeriod.initiative_id == initiative.id)
            .order_by(col(InitiativePeriod.launched_on), col(InitiativePeriod.id))
        )
        results = await session.exec(
            select(InitiativeResult)
            .where(InitiativeResult.initiative_id == initiative.id)
            .order_by(col(InitiativeResult.recorded_on), col(InitiativeResult.id))
        )
        return InitiativeProfile(
            **InitiativePublic.model_validate(initiative).model_dump(),
            periods=[InitiativePeriodPublic.model_validate(p) for p in periods.all()],
            results=[InitiativeResultPublic.model_validate(r) for r in results.all()],
        )
