"""Awards' use cases: a nomination approved into an award (or an award already decided
recorded at once), each achievement it cites rewarded once; an award revoked."""

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.awards.models import (
    ApprovalCreate,
    Award,
    AwardPublic,
    AwardRecord,
    AwardStatus,
    RevocationCreate,
    RewardedAchievement,
)
from services.awards.awards.rules import (
    Catalogue,
    check_revoked_after_grant,
    decision_date,
    revocation_date,
)
from services.awards.common import AwardsMetrics, unit_of_work, utcnow
from services.awards.nominations.models import Achievement, Nomination, NominationStatus
from services.awards.nominations.service import Nominations, check_not_rewarded
from services.awards.scores.rules import today
from services.awards.scores.service import Scores
from services.awards.suggestions.service import Suggestions
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError
from shared.events import (
    AwardGranted,
    AwardKind,
    AwardRevoked,
    NominationDecided,
    NominationDecision,
)
from shared.idempotency import IdempotentRequest
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.scope import AreaScope


class Awards:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        catalogue: Catalogue,
        metrics: AwardsMetrics,
        nominations: Nominations,
        scope: AreaScope,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.catalogue = catalogue
        self.metrics = metrics
        self.nominations = nominations
        self.scope = scope

    # --- the catalogue ----------------------------------------------------------------

    def catalogue_view(self, scores: Scores, suggestions: Suggestions) -> dict[str, Any]:
        """The catalogue as configured, with the score rules, thresholds and period."""
        return {
            "award_forms": {k: v.model_dump() for k, v in self.catalogue.forms.items()},
            "authorities": {k: v.model_dump() for k, v in self.catalogue.authorities.items()},
            "award_kinds": [kind.value for kind in AwardKind],
            "campaigns": {
                "festival-19-8-<year>": {"name": "Ngày hội toàn dân bảo vệ an ninh Tổ quốc"},
                **{k: v.model_dump(mode="json") for k, v in self.catalogue.campaigns.items()},
            },
            "score_rules": [rule.model_dump(mode="json") for rule in scores.rules],
            "suggestion_thresholds": [t.model_dump() for t in suggestions.thresholds],
            "score_period": scores.granularity,
        }

    # --- awards -----------------------------------------------------------------------

    async def approve(
        self, nomination_id: UUID, command: ApprovalCreate, principal: Principal
    ) -> AwardPublic:
        decided_on = decision_date(command.decided_on, today())
        conflict = "an achievement it cites was rewarded meanwhile: one achievement, one award"
        async with unit_of_work(self.sessions, conflict, ["path", "nomination_id"]) as session:
            nomination = await self.nominations.open_nomination(session, nomination_id, principal)
            award = await self._grant(
                session, nomination, command.decision_number, decided_on, principal
            )
        self._count_grant(award)
        return AwardPublic.model_validate(award)

    async def record_award(
        self,
        command: AwardRecord,
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> AwardPublic:
        """An award already decided (a past festival's, say): nomination and approval at once."""
        decided_on = decision_date(command.decided_on, today())
        self.catalogue.check(
            command.award_form, command.authority, command.award_kind, command.campaign
        )
        conflict = "the award conflicts with another"
        async with unit_of_work(self.sessions, conflict, ["body"]) as session:
            nomination = await self.nominations.create(session, command, principal)
            award = await self._grant(
                session, nomination, command.decision_number, decided_on, principal
            )
            public = AwardPublic.model_validate(award)
            if idempotency is not None:  # for a retry with the same key, in this transaction
                await idempotency.remember(session, public)
        self._count_grant(award)
        return public

    async def _grant(
        self,
        session: AsyncSession,
        nomination: Nomination,
        decision_number: str,
        decided_on: date,
        principal: Principal,
    ) -> Award:
        achievements = [Achievement.model_validate(a) for a in nomination.achievements]
        await check_not_rewarded(session, nomination.recipient_id, achievements)
        award = Award(
            nomination_id=nomination.id,
            recipient_kind=nomination.recipient_kind,
            recipient_source=nomination.recipient_source,
            recipient_id=nomination.recipient_id,
            recipient_name=nomination.recipient_name,
            area_id=nomination.area_id,
            award_form=nomination.award_form,
            authority=nomination.authority,
            authority_level=self.catalogue.level(nomination.authority),
            award_kind=nomination.award_kind,
            campaign=nomination.campaign,
            reason=nomination.reason,
            achievements=nomination.achievements,
            decision_number=decision_number,
            granted_on=datetime.combine(decided_on, time(), tzinfo=UTC),
        )
        nomination.status = NominationStatus.APPROVED
        nomination.decided_at = utcnow()
        nomination.version += 1
        session.add(nomination)
        session.add(award)
        for achievement in achievements:
            session.add(
                RewardedAchievement(
                    recipient_id=award.recipient_id,
                    achievement_key=achievement.key,
                    award_id=award.id,
                )
            )
        await session.flush()  # a racing approval of the same achievement fails here
        await self.outbox.add(
            session,
            NominationDecided(
                nomination_id=nomination.id,
                decision=NominationDecision.APPROVED,
                decided_at=nomination.decided_at,
                area_id=nomination.area_id,
                aggregate_version=nomination.version,
            ),
        )
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
                authority_level=award.authority_level,
                award_kind=award.award_kind,
                campaign=award.campaign,
                aggregate_version=award.version,
            ),
        )
        await self.audit.record(session, principal, "grant_award", "award", award.id, award.area_id)
        return award

    def _count_grant(self, award: Award) -> None:
        self.metrics.granted.labels(authority_level=award.authority_level).inc()
        self.metrics.decided.labels(decision=NominationDecision.APPROVED.value).inc()

    async def revoke(
        self, award_id: UUID, command: RevocationCreate, principal: Principal
    ) -> AwardPublic:
        revoked_on = revocation_date(command.revoked_on, today())
        async with transaction(self.sessions) as session:
            award = await self._award(session, award_id, principal)
            if award.status is AwardStatus.REVOKED:
                raise ConflictError(
                    f"award {award_id} was already revoked on {award.revoked_on}",
                    ["path", "award_id"],
                )
            check_revoked_after_grant(revoked_on, award.granted_on.date())
            award.status = AwardStatus.REVOKED
            award.revoked_on = revoked_on
            award.revocation_reason = command.reason
            award.version += 1
            session.add(award)
            # The achievements are free again, e.g. for an award given in the right form.
            await session.exec(
                delete(RewardedAchievement).where(col(RewardedAchievement.award_id) == award.id)
            )
            await self.outbox.add(
                session,
                AwardRevoked(
                    award_id=award.id,
                    recipient_kind=award.recipient_kind,
                    recipient_id=award.recipient_id,
                    reason=command.reason,
                    revoked_on=revoked_on,
                    area_id=award.area_id,
                    aggregate_version=award.version,
                ),
            )
            await self.audit.record(
                session, principal, "revoke_award", "award", award.id, award.area_id
            )
        self.metrics.revoked.labels(authority_level=award.authority_level).inc()
        return AwardPublic.model_validate(award)

    async def get_award(self, award_id: UUID, principal: Principal) -> AwardPublic:
        async with self.sessions() as session:
            return AwardPublic.model_validate(await self._award(session, award_id, principal))

    async def list_awards(
        self,
        offset: int,
        limit: int,
        principal: Principal,
        status: AwardStatus | None = None,
        campaign: str | None = None,
    ) -> Page[AwardPublic]:
        self.catalogue.check_campaign_query(campaign)
        async with self.sessions() as session:
            query = select(Award)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Award.area_id).in_(allowed))
            if status is not None:
                query = query.where(Award.status == status)
            if campaign is not None:
                query = query.where(Award.campaign == campaign)
            awards, total = await page_rows(
                session, query.order_by(col(Award.granted_on).desc(), col(Award.id)), offset, limit
            )
            return Page([AwardPublic.model_validate(award) for award in awards], total)

    # --- lookups that hide what the caller may not see ---------------------------------

    async def _award(self, session: AsyncSession, award_id: UUID, principal: Principal) -> Award:
        return await self.scope.get_in_scope(session, principal, Award, award_id, what="award")
