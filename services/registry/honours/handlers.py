"""Honour subscribers: thin, each hands one awards event to the honour use cases."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.honours.service import HonourService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import AwardGranted, AwardRevoked
from shared.logging import get_logger

log = get_logger()


def register_handlers(consumer: EventConsumer, service: HonourService) -> None:
    async def show_award_on_profile(
        session: AsyncSession, event: AwardGranted, envelope: Envelope
    ) -> None:
        """award_granted: list the honour on the team's or person's profile."""
        if not await service.record_honour(session, event):
            log.info("award_not_for_registry_profile", award_id=str(event.award_id))

    async def show_revocation_on_profile(
        session: AsyncSession, event: AwardRevoked, envelope: Envelope
    ) -> None:
        """award_revoked: mark the honour revoked on its profile."""
        if not await service.record_revocation(session, event):
            log.info("revocation_before_grant_or_not_ours", award_id=str(event.award_id))

    consumer.subscribe(AwardGranted, show_award_on_profile)
    consumer.subscribe(AwardRevoked, show_revocation_on_profile)
