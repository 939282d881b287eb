"""Honour use cases: show the awards service's grants and revocations on profiles."""

from uuid import UUID

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.honours.models import Honour, HonourPublic, RevokedAward
from services.registry.people.models import Person
from services.registry.teams.models import Team
from shared.events import AwardGranted, AwardRevoked

# What a profile reads, built once (building a statement costs more than running it).
HONOURS = (
    select(Honour)
    .where(Honour.recipient_id == bindparam("recipient_id"))
    .order_by(col(Honour.granted_on), col(Honour.award_id))
)


async def honours_of(session: AsyncSession, recipient_id: UUID) -> list[HonourPublic]:
    """The honours a team or person received, oldest first."""
    honours = await session.exec(HONOURS, params={"recipient_id": recipient_id})
    return [
        HonourPublic(
            **honour.model_dump(),
            revoked=honour.revoked_on is not None,
        )
        for honour in honours.all()
    ]


class HonourService:
    async def record_honour(self, session: AsyncSession, event: AwardGranted) -> bool:
        """Show a granted award on its recipient's profile; False if the recipient is not ours."""
        recipient_known = (
            await session.get(Team, event.recipient_id) is not None
            or await session.get(Person, event.recipient_id) is not None
        )
        if not recipient_known or await session.get(Honour, event.award_id) is not None:
            return False
        revoked = await session.get(RevokedAward, event.award_id)
        session.add(
            Honour(
                award_id=event.award_id,
                recipient_id=event.recipient_id,
                award_form=event.award_form,
                authority=event.authority,
                reason=event.reason,
                decision_number=event.decision_number,
                granted_on=event.granted_on,
                revoked_on=revoked.revoked_on if revoked else None,
                revocation_reason=revoked.reason if revoked else None,
            )
        )
        return True

    async def record_revocation(self, session: AsyncSession, event: AwardRevoked) -> bool:
        """Mark an honour revoked on its profile; False if this registry never showed it."""
        honour = await session.get(Honour, event.award_id)
        if honour is None:
            if await session.get(RevokedAward, event.award_id) is None:
                session.add(
                    RevokedAward(
                        award_id=event.award_id, revoked_on=event.revoked_on, reason=event.reason
                    )
                )
            return False
        honour.revoked_on = event.revoked_on
        honour.revocation_reason = event.reason
        session.add(honour)
        return True
