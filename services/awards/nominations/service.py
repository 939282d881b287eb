"""Nominations' use cases: an officer nominates a recipient the registry holds (or one
named in the request) for achievements reporting holds; the nomination is rejected here,
or approved into an award (``awards.service``)."""

from uuid import UUID, uuid4

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.awards.models import Award, RewardedAchievement
from services.awards.awards.rules import AchievementKind, Catalogue, first_repeat
from services.awards.common import AwardsMetrics, Loc, unit_of_work, utcnow
from services.awards.nominations.models import (
    Achievement,
    Nomination,
    NominationCreate,
    NominationPublic,
    NominationStatus,
    RejectionCreate,
)
from services.awards.nominations.rules import (
    Recipient,
    RecipientSource,
    as_nominated,
    check_named_recipient,
)
from services.awards.replicas.models import (
    KnownArea,
    KnownPerson,
    KnownTeam,
    TrackedActivity,
    TrackedIncident,
)
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, RuleViolationError
from shared.events import (
    ActivityLogged,
    AreaRegistered,
    IncidentReported,
    MemberJoined,
    NominationCreated,
    NominationDecided,
    NominationDecision,
    RecipientKind,
    TeamRegistered,
)
from shared.idempotency import IdempotentRequest
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.references import References
from shared.scope import AreaScope, get_within


class Nominations:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        catalogue: Catalogue,
        metrics: AwardsMetrics,
        scope: AreaScope,
        references: References,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.catalogue = catalogue
        self.metrics = metrics
        self.scope = scope
        self.references = references  # unknown (422), or not yet known while catching up

    async def nominate(
        self,
        command: NominationCreate,
        principal: Principal,
        suggested: bool = False,
        idempotency: IdempotentRequest | None = None,
    ) -> NominationPublic:
        self.catalogue.check(
            command.award_form, command.authority, command.award_kind, command.campaign
        )
        conflict = "the nomination conflicts with another"
        async with unit_of_work(self.sessions, conflict, ["body"]) as session:
            nomination = await self.create(session, command, principal, suggested)
            public = NominationPublic.model_validate(nomination)
            if idempotency is not None:  # for a retry with the same key, in this transaction
                await idempotency.remember(session, public)
        return public

    async def create(
        self,
        session: AsyncSession,
        command: NominationCreate,
        principal: Principal,
        suggested: bool = False,
    ) -> Nomination:
        """A nomination in ``session`` (nomination_created in its outbox), for the use cases
        that nominate: a nomination, an award recorded at once, an accepted suggestion."""
        allowed = await self.scope.area_ids(session, principal)
        recipient = await self._recipient(session, command, allowed)
        achievements = await self._achievements(session, command.achievements, allowed)
        await check_not_rewarded(session, recipient.id, achievements)
        nomination = Nomination(
            recipient_kind=command.recipient_kind,
            recipient_source=recipient.source,
            recipient_id=recipient.id,
            recipient_name=recipient.name,
            area_id=recipient.area_id,
            award_form=command.award_form,
            authority=command.authority,
            award_kind=command.award_kind,
            campaign=command.campaign,
            reason=command.reason,
            achievements=[a.model_dump(mode="json") for a in achievements],
            suggested=suggested,
        )
        session.add(nomination)
        await session.flush()  # before the award that may refer to it in this transaction
        await self.outbox.add(
            session,
            NominationCreated(
                nomination_id=nomination.id,
                recipient_kind=nomination.recipient_kind,
                recipient_id=nomination.recipient_id,
                recipient_name=nomination.recipient_name,
                area_id=nomination.area_id,
                award_form=nomination.award_form,
                authority=nomination.authority,
                award_kind=nomination.award_kind,
                campaign=nomination.campaign,
                suggested=suggested,
                aggregate_version=nomination.version,
            ),
        )
        await self.audit.record(
            session, principal, "nominate", "nomination", nomination.id, nomination.area_id
        )
        return nomination

    async def _recipient(
        self, session: AsyncSession, command: NominationCreate, allowed: set[UUID] | None
    ) -> Recipient:
        """Who the recipient is and where it belongs; unknown or out-of-scope recipients
        and areas do not exist for the caller (422 "unknown …")."""
        kind, given_id = command.recipient_kind, command.recipient_id
        if given_id is None or kind is RecipientKind.HOUSEHOLD:
            # Not in the registry: named in the request, placed in an area of the caller's.
            name, area_id = check_named_recipient(kind, command.recipient_name, command.area_id)
            place = await self.scope.area_within(
                session,
                area_id,
                allowed,
                error=self.references.when_unknown(
                    "area", area_id, ["body", "area_id"], AreaRegistered.topic
                ),
            )
            return Recipient(RecipientSource.NAMED, given_id or uuid4(), name, place.id)
        found: Recipient | None = None
        if kind is RecipientKind.INDIVIDUAL:
            person = await session.get(KnownPerson, given_id)
            if person is not None:
                found = Recipient(
                    RecipientSource.PERSON, given_id, person.full_name, person.area_id
                )
        else:
            team = await session.get(KnownTeam, given_id)
            area = None if team else await session.get(KnownArea, given_id)
            if team is not None and (allowed is None or team.area_id in allowed):
                if team.dissolved_on is not None:
                    raise RuleViolationError(
                        f"team {given_id} was dissolved on {team.dissolved_on}: a dissolved "
                        "team cannot be nominated",
                        ["body", "recipient_id"],
                    )
                found = Recipient(RecipientSource.TEAM, given_id, team.name, team.area_id)
            elif area is not None:
                found = Recipient(RecipientSource.AREA, given_id, area.name, area.id)
        if found is None or (allowed is not None and found.area_id not in allowed):
            # People come with member_joined on registry.team; a collective is a team or area.
            if kind is RecipientKind.INDIVIDUAL:
                noun, topics = "person", [MemberJoined.topic]
            else:
                noun, topics = "team or area", [TeamRegistered.topic, AreaRegistered.topic]
            raise self.references.unknown(noun, given_id, ["body", "recipient_id"], *topics)
        return as_nominated(found, command.recipient_name, command.area_id)

    async def _achievements(
        self, session: AsyncSession, achievements: list[Achievement], allowed: set[UUID] | None
    ) -> list[Achievement]:
        """Cited incidents and activities must be known (in the caller's areas)."""
        repeat = first_repeat(achievement.key for achievement in achievements)
        for index, achievement in enumerate(achievements):
            loc: Loc = ["body", "achievements", index]
            if index == repeat:
                raise RuleViolationError("the same achievement is cited twice", loc)
            if achievement.kind is AchievementKind.TEXT:
                continue
            model: type[TrackedIncident | TrackedActivity]
            if achievement.kind is AchievementKind.INCIDENT:
                model, topic = TrackedIncident, IncidentReported.topic
            else:
                model, topic = TrackedActivity, ActivityLogged.topic
            row = await get_within(
                session,
                model,
                achievement.ref_id,
                allowed,
                what=f"{achievement.kind}",
                error=self.references.when_unknown(
                    f"{achievement.kind}", achievement.ref_id, [*loc, "ref_id"], topic
                ),
            )
            if isinstance(row, TrackedIncident) and row.duplicate_of is not None:
                raise RuleViolationError(
                    f"incident {row.id} repeats incident {row.duplicate_of}: cite that one",
                    [*loc, "ref_id"],
                )
        return achievements

    async def get_nomination(self, nomination_id: UUID, principal: Principal) -> NominationPublic:
        async with self.sessions() as session:
            nomination = await self._nomination(session, nomination_id, principal)
            return NominationPublic.model_validate(nomination)

    async def list_nominations(
        self,
        status: NominationStatus | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> Page[NominationPublic]:
        async with self.sessions() as session:
            query = select(Nomination)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Nomination.area_id).in_(allowed))
            if status is not None:
                query = query.where(Nomination.status == status)
            rows, total = await page_rows(
                session,
                query.order_by(col(Nomination.created_at).desc(), col(Nomination.id)),
                offset,
                limit,
            )
            return Page([NominationPublic.model_validate(row) for row in rows], total)

    async def reject(
        self, nomination_id: UUID, command: RejectionCreate, principal: Principal
    ) -> NominationPublic:
        async with transaction(self.sessions) as session:
            nomination = await self.open_nomination(session, nomination_id, principal)
            nomination.status = NominationStatus.REJECTED
            nomination.decision_reason = command.reason
            nomination.decided_at = utcnow()
            nomination.version += 1
            session.add(nomination)
            await self.outbox.add(
                session,
                NominationDecided(
                    nomination_id=nomination.id,
                    decision=NominationDecision.REJECTED,
                    reason=command.reason,
                    decided_at=nomination.decided_at,
                    area_id=nomination.area_id,
                    aggregate_version=nomination.version,
                ),
            )
            await self.audit.record(
                session, principal, "reject_nomination", "nomination", nomination.id,
                nomination.area_id,
            )  # fmt: skip
        self.metrics.decided.labels(decision=NominationDecision.REJECTED.value).inc()
        return NominationPublic.model_validate(nomination)

    # --- lookups that hide what the caller may not see ---------------------------------

    async def _nomination(
        self, session: AsyncSession, nomination_id: UUID, principal: Principal
    ) -> Nomination:
        return await self.scope.get_in_scope(
            session, principal, Nomination, nomination_id, what="nomination"
        )

    async def open_nomination(
        self, session: AsyncSession, nomination_id: UUID, principal: Principal
    ) -> Nomination:
        nomination = await self._nomination(session, nomination_id, principal)
        if nomination.status is not NominationStatus.NOMINATED:
            raise ConflictError(
                f"nomination {nomination_id} is already {nomination.status}",
                ["path", "nomination_id"],
            )
        return nomination


async def check_not_rewarded(
    session: AsyncSession, recipient_id: UUID, achievements: list[Achievement]
) -> None:
    """One achievement earns one award: 409 naming the award that already rewards it."""
    for index, achievement in enumerate(achievements):
        held = await session.get(RewardedAchievement, (recipient_id, achievement.key))
        if held is None:
            continue
        award = await session.get(Award, held.award_id)
        decision = f" (decision {award.decision_number})" if award else ""
        raise ConflictError(
            f"this achievement of the recipient was already rewarded by award "
            f"{held.award_id}{decision}: one achievement earns one award",
            ["body", "achievements", index],
        )
