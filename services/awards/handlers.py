"""Awards event subscribers: thin, each hands one event to the service layer."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.service import AwardsService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import IncidentReported, IncidentStatusChanged


def register_handlers(consumer: EventConsumer, service: AwardsService) -> None:
    async def track_incident(session: AsyncSession, event: IncidentReported, _: Envelope) -> None:
        """incident_reported: remember the incident and the teams it credits."""
        await service.track_incident(session, event)

    async def credit_resolution(
        session: AsyncSession, event: IncidentStatusChanged, _: Envelope
    ) -> None:
        """incident_status_changed: a resolution counts for every credited team."""
        await service.credit_resolution(session, event)

    consumer.subscribe(IncidentReported, track_incident)
    consumer.subscribe(IncidentStatusChanged, credit_resolution)
