"""Awards use cases: the only code that changes awards state or adds outbox rows."""

from datetime import UTC, datetime, time
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.models import (
    ApprovalCreate,
    Award,
    AwardPublic,
    Nomination,
    NominationCreate,
    NominationPublic,
    NominationStatus,
    TeamContribution,
    TeamContributionPublic,
    TrackedIncident,
)
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, NotFoundError, UnknownReferenceError
from shared.events import AwardGranted, IncidentReported, IncidentStatus, IncidentStatusChanged
from shared.outbox import Outbox


class AwardsService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        award_forms: list[str],
        authorities: list[str],
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.award_forms = award_forms
        self.authorities = authorities

    # --- contributions ----------------------------------------------------------------

    async def track_incident(self, session: AsyncSession, event: IncidentReported) -> None:
        if await session.get(TrackedIncident, event.incident_id) is None:
            session.add(
                TrackedIncident(
                    id=event.incident_id,
                    area_id=event.area_id,
                    category=event.category,
                    status=event.status,
                    version=event.aggregate_version,
                )
            )

    async def credit_resolution(self, session: AsyncSession, event: IncidentStatusChanged) -> None:
        """Count a resolved incident for each credited team (the inbox makes this once only)."""
        tracked = await session.get(TrackedIncident, event.incident_id)
        if tracked is None:
            tracked = TrackedIncident(
                id=event.incident_id,
                area_id=event.area_id,
                category=event.category,
                status=event.to_status,
                version=event.aggregate_version,
            )
        elif tracked.version < event.aggregate_version:
            tracked.status = event.to_status
            tracked.version = event.aggregate_version
        session.add(tracked)
        if event.to_status is not IncidentStatus.RESOLVED:
            return
        for team_id in event.credited_team_ids:
            contribution = await session.get(TeamContribution, team_id)
            if contribution is None:
                contribution = TeamContribution(team_id=team_id)
            contribution.resolved_incidents += 1
            session.add(contribution)

    async def team_contribution(self, team_id: UUID) -> TeamContributionPublic:
        async with self.sessions() as session:
            contribution = await session.get(TeamContribution, team_id)
        return TeamContributionPublic(
            team_id=team_id,
            resolved_incidents=contribution.resolved_incidents if contribution else 0,
        )

    # --- nominations and awards -------------------------------------------------------

    async def nominate(self, command: NominationCreate) -> NominationPublic:
        if command.award_form not in self.award_forms:
            raise UnknownReferenceError(
                f"unknown award form {command.award_form!r}; one of {', '.join(self.award_forms)}",
                ["body", "award_form"],
            )
        if command.authority not in self.authorities:
            raise UnknownReferenceError(
                f"unknown authority {command.authority!r}; one of {', '.join(self.authorities)}",
                ["body", "authority"],
            )
        async with transaction(self.sessions) as session:
            nomination = Nomination.model_validate(command)
            session.add(nomination)
        return NominationPublic.model_validate(nomination)

    async def get_nomination(self, nomination_id: UUID) -> NominationPublic:
        async with self.sessions() as session:
            return NominationPublic.model_validate(await self._nomination(session, nomination_id))

    async def approve(self, nomination_id: UUID, command: ApprovalCreate) -> AwardPublic:
        async with transaction(self.sessions) as session:
            nomination = await self._nomination(session, nomination_id)
            if nomination.status is not NominationStatus.NOMINATED:
                raise ConflictError(
                    f"nomination {nomination_id} is already {nomination.status}",
                    ["path", "nomination_id"],
                )
            granted_on = (
                datetime.combine(command.decided_on, time(), tzinfo=UTC)
                if command.decided_on
                else datetime.now(UTC)
            )
            award = Award(
                **nomination.model_dump(include=set(NominationCreate.model_fields)),
                nomination_id=nomination.id,
                decision_number=command.decision_number,
                granted_on=granted_on,
            )
            nomination.status = NominationStatus.APPROVED
            session.add(nomination)
            session.add(award)
            await self.outbox.add(
                session,
                AwardGranted(
                    award_id=award.id,
                    nomination_id=nomination.id,
                    recipient_kind=award.recipient_kind,
                    recipient_id=award.recipient_id,
                    recipient_name=award.recipient_name,
                    award_form=award.award_form,
                    authority=award.authority,
                    reason=award.reason,
                    decision_number=award.decision_number,
                    granted_on=award.granted_on,
                    aggregate_version=award.version,
                ),
            )
        return AwardPublic.model_validate(award)

    async def list_awards(self, offset: int, limit: int) -> list[AwardPublic]:
        async with self.sessions() as session:
            awards = await session.exec(
                select(Award)
                .order_by(col(Award.granted_on).desc(), col(Award.id))
                .offset(offset)
                .limit(limit)
            )
            return [AwardPublic.model_validate(award) for award in awards.all()]

    async def _nomination(self, session: AsyncSession, nomination_id: UUID) -> Nomination:
        nomination = await session.get(Nomination, nomination_id)
        if nomination is None:
            raise NotFoundError(f"nomination {nomination_id} not found", ["path", "nomination_id"])
        return nomination
