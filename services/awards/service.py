"""Awards use cases: the only code that changes awards state or adds outbox rows."""

from datetime import UTC, datetime, time
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.models import (
    ApprovalCreate,
    Award,
    AwardPublic,
    KnownArea,
    KnownPerson,
    KnownTeam,
    Nomination,
    NominationBase,
    NominationCreate,
    NominationPublic,
    NominationStatus,
    TeamContribution,
    TeamContributionPublic,
    TrackedIncident,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, NotFoundError, UnknownReferenceError
from shared.events import (
    AreaRegistered,
    AwardGranted,
    IncidentReported,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    RecipientKind,
    TeamRegistered,
)
from shared.outbox import Outbox
from shared.read_models import apply_if_newer
from shared.scope import AreaScope


class AwardsMetrics:
    def __init__(self, registry: CollectorRegistry, authority_levels: dict[str, str]) -> None:
        self.authority_levels = authority_levels
        self.granted = Counter(
            "antt_awards_granted",
            "Awards granted, by the level of the issuing authority",
            ["authority_level"],
            registry=registry,
        )


class AwardsService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        award_forms: list[str],
        metrics: AwardsMetrics,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.award_forms = award_forms
        self.metrics = metrics
        self.authorities = list(metrics.authority_levels)
        self.scope = AreaScope(KnownArea)

    # --- read models from registry events ---------------------------------------------

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {"code": event.code, "name": event.name, "parent_id": event.parent_id},
        )

    async def remember_team(self, session: AsyncSession, event: TeamRegistered) -> None:
        await apply_if_newer(
            session,
            KnownTeam,
            event.team_id,
            event.aggregate_version,
            {"area_id": event.area_id, "name": event.name},
        )

    async def remember_member(self, session: AsyncSession, event: MemberJoined) -> None:
        person = await session.get(KnownPerson, event.person_id)
        person = person or KnownPerson(
            id=event.person_id, area_id=event.area_id, full_name=event.full_name
        )
        person.sqlmodel_update({"area_id": event.area_id, "full_name": event.full_name})
        session.add(person)

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

    async def team_contribution(
        self, team_id: UUID, principal: Principal
    ) -> TeamContributionPublic:
        not_found = NotFoundError(f"team {team_id} not found", ["path", "team_id"])
        async with self.sessions() as session:
            team = await session.get(KnownTeam, team_id)
            if team is None:
                raise not_found
            await self.scope.require(session, principal, team.area_id, not_found)
            contribution = await session.get(TeamContribution, team_id)
        return TeamContributionPublic(
            team_id=team_id,
            resolved_incidents=contribution.resolved_incidents if contribution else 0,
        )

    # --- nominations and awards -------------------------------------------------------

    async def _recipient_area(
        self, session: AsyncSession, command: NominationCreate, allowed: set[UUID] | None
    ) -> UUID:
        """Where the recipient belongs; unknown or out-of-scope recipients do not exist."""
        area_id: UUID | None = None
        if command.recipient_kind is RecipientKind.INDIVIDUAL:
            person = await session.get(KnownPerson, command.recipient_id)
            area_id = person.area_id if person else None
        elif command.recipient_kind is RecipientKind.COLLECTIVE:
            team = await session.get(KnownTeam, command.recipient_id)
            area = None if team else await session.get(KnownArea, command.recipient_id)
            area_id = team.area_id if team else (area.id if area else None)
        elif command.area_id is None:
            raise UnknownReferenceError(
                "a household nomination names its residential group in area_id",
                ["body", "area_id"],
            )
        else:
            area = await session.get(KnownArea, command.area_id)
            if area is None or (allowed is not None and area.id not in allowed):
                raise UnknownReferenceError(f"unknown area {command.area_id}", ["body", "area_id"])
            return area.id
        if area_id is None or (allowed is not None and area_id not in allowed):
            raise UnknownReferenceError(
                f"unknown {command.recipient_kind} recipient {command.recipient_id}",
                ["body", "recipient_id"],
            )
        return area_id

    async def nominate(self, command: NominationCreate, principal: Principal) -> NominationPublic:
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
            allowed = await self.scope.area_ids(session, principal)
            area_id = await self._recipient_area(session, command, allowed)
            nomination = Nomination.model_validate(command, update={"area_id": area_id})
            session.add(nomination)
            await self.audit.record(
                session, principal, "nominate", "nomination", nomination.id, area_id
            )
        return NominationPublic.model_validate(nomination)

    async def get_nomination(self, nomination_id: UUID, principal: Principal) -> NominationPublic:
        async with self.sessions() as session:
            nomination = await self._nomination(session, nomination_id, principal)
            return NominationPublic.model_validate(nomination)

    async def approve(
        self, nomination_id: UUID, command: ApprovalCreate, principal: Principal
    ) -> AwardPublic:
        async with transaction(self.sessions) as session:
            nomination = await self._nomination(session, nomination_id, principal)
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
                **nomination.model_dump(include=set(NominationBase.model_fields)),
                nomination_id=nomination.id,
                area_id=nomination.area_id,
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
                    area_id=award.area_id,
                    aggregate_version=award.version,
                ),
            )
            await self.audit.record(
                session, principal, "grant_award", "award", award.id, award.area_id
            )
        level = self.metrics.authority_levels.get(award.authority, "unknown")
        self.metrics.granted.labels(authority_level=level).inc()
        return AwardPublic.model_validate(award)

    async def list_awards(self, offset: int, limit: int, principal: Principal) -> list[AwardPublic]:
        async with self.sessions() as session:
            query = select(Award)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Award.area_id).in_(allowed))
            awards = await session.exec(
                query.order_by(col(Award.granted_on).desc(), col(Award.id))
                .offset(offset)
                .limit(limit)
            )
            return [AwardPublic.model_validate(award) for award in awards.all()]

    async def _nomination(
        self, session: AsyncSession, nomination_id: UUID, principal: Principal
    ) -> Nomination:
        not_found = NotFoundError(
            f"nomination {nomination_id} not found", ["path", "nomination_id"]
        )
        nomination = await session.get(Nomination, nomination_id)
        if nomination is None:
            raise not_found
        await self.scope.require(session, principal, nomination.area_id, not_found)
        return nomination
