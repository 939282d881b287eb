"""Reporting event subscribers: thin, each hands one event to the service layer."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.service import ReportingService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import AreaRegistered, TeamRegistered


def register_handlers(consumer: EventConsumer, service: ReportingService) -> None:
    async def remember_area(session: AsyncSession, event: AreaRegistered, _: Envelope) -> None:
        """area_registered: add the area to the local read model."""
        await service.remember_area(session, event)

    async def remember_team(session: AsyncSession, event: TeamRegistered, _: Envelope) -> None:
        """team_registered: add the team to the local read model."""
        await service.remember_team(session, event)

    consumer.subscribe(AreaRegistered, remember_area)
    consumer.subscribe(TeamRegistered, remember_team)
