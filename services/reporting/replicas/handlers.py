"""Reporting event subscribers: thin, each hands one of registry's events to the replicas."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.replicas.service import ReplicaService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import (
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)


def register_handlers(consumer: EventConsumer, service: ReplicaService) -> None:
    async def remember_area(session: AsyncSession, event: AreaRegistered, _: Envelope) -> None:
        """area_registered: add the area to the local read model."""
        await service.remember_area(session, event)

    async def rename_area(session: AsyncSession, event: AreaUpdated, _: Envelope) -> None:
        """area_updated: the area's new code and name."""
        await service.rename_area(session, event)

    async def move_area(session: AsyncSession, event: AreaMoved, _: Envelope) -> None:
        """area_moved: the area's new parent (scopes and statistics follow it)."""
        await service.move_area(session, event)

    async def remember_team(session: AsyncSession, event: TeamRegistered, _: Envelope) -> None:
        """team_registered: add the team to the local read model."""
        await service.remember_team(session, event)

    async def update_team(session: AsyncSession, event: TeamUpdated, _: Envelope) -> None:
        """team_updated: the team's new name, kind or area."""
        await service.update_team(session, event)

    async def dissolve_team(session: AsyncSession, event: TeamDissolved, _: Envelope) -> None:
        """team_dissolved: the team may no longer be credited."""
        await service.dissolve_team(session, event)

    consumer.subscribe(AreaRegistered, remember_area)
    consumer.subscribe(AreaUpdated, rename_area)
    consumer.subscribe(AreaMoved, move_area)
    consumer.subscribe(TeamRegistered, remember_team)
    consumer.subscribe(TeamUpdated, update_team)
    consumer.subscribe(TeamDissolved, dissolve_team)
