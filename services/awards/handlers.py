"""Awards event subscribers: thin, each hands one event to the service layer."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.service import AwardsService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import (
    AreaRegistered,
    IncidentReported,
    IncidentStatusChanged,
    MemberJoined,
    TeamRegistered,
)


def register_handlers(consumer: EventConsumer, service: AwardsService) -> None:
    async def track_incident(session: AsyncSession, event: IncidentReported, _: Envelope) -> None:
        """incident_reported: remember the incident and the teams it credits."""
        await service.track_incident(session, event)

    async def credit_resolution(
        session: AsyncSession, event: IncidentStatusChanged, _: Envelope
    ) -> None:
        """incident_status_changed: a resolution counts for every credited team."""
        await service.credit_resolution(session, event)

    async def remember_area(session: AsyncSession, event: AreaRegistered, _: Envelope) -> None:
        """area_registered: the area tree, to scope officers' access."""
        await service.remember_area(session, event)

    async def remember_team(session: AsyncSession, event: TeamRegistered, _: Envelope) -> None:
        """team_registered: teams that can be nominated, and their area."""
        await service.remember_team(session, event)

    async def remember_member(session: AsyncSession, event: MemberJoined, _: Envelope) -> None:
        """member_joined: people who can be nominated, and their area."""
        await service.remember_member(session, event)

    consumer.subscribe(AreaRegistered, remember_area)
    consumer.subscribe(TeamRegistered, remember_team)
    consumer.subscribe(MemberJoined, remember_member)
    consumer.subscribe(IncidentReported, track_incident)
    consumer.subscribe(IncidentStatusChanged, credit_resolution)
