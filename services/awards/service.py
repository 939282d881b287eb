"""Awards use cases: the only code that changes awards state or adds outbox rows (with
``readmodels``, ``scoring`` and ``certification`` beside it for the larger concepts)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid4

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.catalogue import Catalogue
from services.awards.models import (
    Achievement,
    AchievementKind,
    ApprovalCreate,
    Award,
    AwardPublic,
    AwardRecord,
    AwardStatus,
    KnownArea,
    KnownPerson,
    KnownTeam,
    Nomination,
    NominationCreate,
    NominationPublic,
    NominationStatus,
    RecipientSource,
    RejectionCreate,
    RevocationCreate,
    RewardedAchievement,
    ScoreEntry,
    Suggestion,
    SuggestionAcceptance,
    SuggestionDismissal,
    SuggestionStatus,
    TeamContribution,
    TeamContributionPublic,
    TrackedActivity,
    TrackedIncident,
    utcnow,
)
from services.awards.periods import Period, today
from services.awards.readmodels import ReadModels
from services.awards.scoring import Scoring, SolvedIncident
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, serialize_on, transaction
from shared.errors import ConflictError, RuleViolationError
from shared.events import (
    ActivityLogged,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    AwardGranted,
    AwardKind,
    AwardRevoked,
    IncidentLinked,
    IncidentReported,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
    NominationCreated,
    NominationDecided,
    NominationDecision,
    RecipientKind,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from shared.idempotency import IdempotentRequest
from shared.outbox import Outbox
from shared.references import References
from shared.scope import AreaScope, get_within

SOLVED = {IncidentStatus.RESOLVED, IncidentStatus.MEDIATED, IncidentStatus.REFERRED}
Loc = list[str | int]


class AwardsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.granted = Counter(
            "antt_awards_granted",
            "Awards granted, by the level of the issuing authority",
            ["authority_level"],
            registry=registry,
        )
        self.revoked = Counter(
            "antt_awards_revoked",
            "Awards revoked, by the level of the issuing authority",
            ["authority_level"],
            registry=registry,
        )
        self.decided = Counter(
            "antt_nominations_decided",
            "Nominations approved or rejected",
            ["decision"],
            registry=registry,
        )
        self.suggestions_pending = Gauge(
            "antt_award_suggestions_pending",
            "Suggested nominations waiting for an officer (every replica reports the total)",
            registry=registry,
        )


@dataclass(frozen=True)
class Recipient:
    source: RecipientSource
    id: UUID
    name: str
    area_id: UUID


class AwardsService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        catalogue: Catalogue,
        metrics: AwardsMetrics,
        read_models: ReadModels,
        scoring: Scoring,
        scope: AreaScope,
        references: References,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.catalogue = catalogue
        self.metrics = metrics
        self.read_models = read_models
        self.scoring = scoring
        self.scope = scope
        self.references = references  # unknown (422), or not yet known while catching up

    # --- consumed events (one entry point per event type) -----------------------------

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        await self.read_models.area_registered(session, event)

    async def update_area(self, session: AsyncSession, event: AreaUpdated) -> None:
        await self.read_models.area_updated(session, event)

    async def move_area(self, session: AsyncSession, event: AreaMoved) -> None:
        await self.read_models.area_moved(session, event)

    async def remember_team(
        self, session: AsyncSession, event: TeamRegistered | TeamUpdated
    ) -> None:
        await self.read_models.team_registered(session, event)

    async def dissolve_team(self, session: AsyncSession, event: TeamDissolved) -> None:
        await self.read_models.team_dissolved(session, event)

    async def remember_member(self, session: AsyncSession, event: MemberJoined) -> None:
        await self.roster_changes(session, [event])

    async def forget_member(self, session: AsyncSession, event: MemberLeft) -> None:
        await self.roster_changes(session, [event])

    async def roster_changes(
        self, session: AsyncSession, events: Sequence[MemberJoined | MemberLeft]
    ) -> None:
        """Joins and departures in turn: the rosters and people, then each person's share
        of the team's achievements (none to settle on a team that has none yet)."""
        teams = {event.team_id for event in events}
        # Before anything is read: a credit of one of these teams being written now either
        # waits for this transaction, or is seen by it (see shared.db.serialize_on).
        await serialize_on(session, *(f"team-roster:{team}" for team in teams))
        credited = await self.scoring.teams_with_member_credits(session, teams)
        pending: list[MemberJoined | MemberLeft] = []  # a stretch with nothing to settle
        for event in events:
            if event.team_id not in credited:
                pending.append(event)
                continue
            if pending:
                await self.read_models.members_changed(session, pending)
                pending = []
            await self.read_models.members_changed(session, [event])
            await self.scoring.roster_changed(session, event.team_id, event.person_id)
        if pending:
            await self.read_models.members_changed(session, pending)

    async def track_incident(self, session: AsyncSession, event: IncidentReported) -> None:
        await self.read_models.incident_reported(session, event)

    async def credit_resolution(
        self, session: AsyncSession, event: IncidentStatusChanged, event_id: str
    ) -> None:
        """A resolution counts for every credited team; a solved incident scores points."""
        await self.credit_resolutions(session, [(event, event_id)])

    async def credit_resolutions(
        self, session: AsyncSession, events: list[tuple[IncidentStatusChanged, str]]
    ) -> None:
        """``credit_resolution`` for each of a run of events, in a handful of statements."""
        applied = await self.read_models.incidents_status_changed(
            session, [event for event, _ in events]
        )
        solved = [
            SolvedIncident.of(incident, event.to_status, event.changed_at, event_id)
            for (event, event_id), incident in zip(events, applied, strict=True)
            if event.to_status in SOLVED
        ]
        if solved:
            await self.scoring.incidents_solved(session, solved)

    async def drop_duplicate(self, session: AsyncSession, event: IncidentLinked) -> None:
        if await self.read_models.incident_linked(session, event):
            await self.scoring.void_source(session, event.incident_id)

    async def score_activity(
        self, session: AsyncSession, event: ActivityLogged, event_id: str
    ) -> None:
        if await self.read_models.activity_logged(session, event):
            activity = await session.get(TrackedActivity, event.activity_id)
            if activity is not None:
                await self.scoring.activity_logged(session, activity, event_id)

    async def refresh_gauges(self) -> None:
        self.metrics.suggestions_pending.set(await self.scoring.pending_suggestions())

    # --- contributions ----------------------------------------------------------------

    async def team_contribution(
        self, team_id: UUID, principal: Principal
    ) -> TeamContributionPublic:
        async with self.sessions() as session:
            await self.scope.get_in_scope(session, principal, KnownTeam, team_id, what="team")
            contribution = await session.get(TeamContribution, team_id)
        return TeamContributionPublic(
            team_id=team_id,
            resolved_incidents=contribution.resolved_incidents if contribution else 0,
        )

    # --- the catalogue ----------------------------------------------------------------

    def catalogue_view(self) -> dict[str, Any]:
        return {
            "award_forms": {k: v.model_dump() for k, v in self.catalogue.forms.items()},
            "authorities": {k: v.model_dump() for k, v in self.catalogue.authorities.items()},
            "award_kinds": [kind.value for kind in AwardKind],
            "campaigns": {
                "festival-19-8-<year>": {"name": "Ngày hội toàn dân bảo vệ an ninh Tổ quốc"},
                **{k: v.model_dump(mode="json") for k, v in self.catalogue.campaigns.items()},
            },
            "score_rules": [rule.model_dump(mode="json") for rule in self.scoring.rules],
            "suggestion_thresholds": [t.model_dump() for t in self.scoring.thresholds],
            "score_period": self.scoring.granularity,
        }

    # --- nominations ------------------------------------------------------------------

    @asynccontextmanager
    async def _unit_of_work(self, conflict: str, loc: Loc) -> AsyncIterator[AsyncSession]:
        """One transaction; a unique key another request took first answers 409."""
        try:
            async with transaction(self.sessions) as session:
                yield session
        except IntegrityError as exc:
            raise ConflictError(conflict, loc) from exc

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
        async with self._unit_of_work("the nomination conflicts with another", ["body"]) as session:
            nomination = await self._nominate(session, command, principal, suggested)
            public = NominationPublic.model_validate(nomination)
            if idempotency is not None:  # for a retry with the same key, in this transaction
                await idempotency.remember(session, public)
        return public

    async def _nominate(
        self,
        session: AsyncSession,
        command: NominationCreate,
        principal: Principal,
        suggested: bool = False,
    ) -> Nomination:
        allowed = await self.scope.area_ids(session, principal)
        recipient = await self._recipient(session, command, allowed)
        achievements = await self._achievements(session, command.achievements, allowed)
        await self._check_not_rewarded(session, recipient.id, achievements)
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
            if command.recipient_name is None:
                raise RuleViolationError(
                    "a recipient without a registry id is named in recipient_name",
                    ["body", "recipient_name"],
                )
            if command.area_id is None:
                raise RuleViolationError(
                    f"a recipient without a registry id ({kind}) names its area in area_id",
                    ["body", "area_id"],
                )
            place = await self.scope.area_within(
                session,
                command.area_id,
                allowed,
                error=self.references.when_unknown(
                    "area", command.area_id, ["body", "area_id"], AreaRegistered.topic
                ),
            )
            return Recipient(
                RecipientSource.NAMED, given_id or uuid4(), command.recipient_name, place.id
            )
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
        if command.area_id is not None and command.area_id != found.area_id:
            raise RuleViolationError(
                "area_id must be left out or be the recipient's own area",
                ["body", "area_id"],
            )
        return Recipient(
            found.source, found.id, command.recipient_name or found.name, found.area_id
        )

    async def _achievements(
        self, session: AsyncSession, achievements: list[Achievement], allowed: set[UUID] | None
    ) -> list[Achievement]:
        """Cited incidents and activities must be known (in the caller's areas)."""
        seen: set[str] = set()
        for index, achievement in enumerate(achievements):
            loc: Loc = ["body", "achievements", index]
            if achievement.key in seen:
                raise RuleViolationError("the same achievement is cited twice", loc)
            seen.add(achievement.key)
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

    async def _check_not_rewarded(
        self, session: AsyncSession, recipient_id: UUID, achievements: list[Achievement]
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
    ) -> list[NominationPublic]:
        async with self.sessions() as session:
            query = select(Nomination)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Nomination.area_id).in_(allowed))
            if status is not None:
                query = query.where(Nomination.status == status)
            rows = await session.exec(
                query.order_by(col(Nomination.created_at).desc(), col(Nomination.id))
                .offset(offset)
                .limit(limit)
            )
            return [NominationPublic.model_validate(row) for row in rows.all()]

    async def reject(
        self, nomination_id: UUID, command: RejectionCreate, principal: Principal
    ) -> NominationPublic:
        async with transaction(self.sessions) as session:
            nomination = await self._open_nomination(session, nomination_id, principal)
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

    # --- awards -----------------------------------------------------------------------

    async def approve(
        self, nomination_id: UUID, command: ApprovalCreate, principal: Principal
    ) -> AwardPublic:
        decided_on = _decision_date(command.decided_on)
        conflict = "an achievement it cites was rewarded meanwhile: one achievement, one award"
        async with self._unit_of_work(conflict, ["path", "nomination_id"]) as session:
            nomination = await self._open_nomination(session, nomination_id, principal)
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
        decided_on = _decision_date(command.decided_on)
        self.catalogue.check(
            command.award_form, command.authority, command.award_kind, command.campaign
        )
        async with self._unit_of_work("the award conflicts with another", ["body"]) as session:
            nomination = await self._nominate(session, command, principal)
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
        await self._check_not_rewarded(session, nomination.recipient_id, achievements)
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
        revoked_on = command.revoked_on or today()
        if revoked_on > today():
            raise RuleViolationError("revoked_on must not be in the future", ["body", "revoked_on"])
        async with transaction(self.sessions) as session:
            award = await self._award(session, award_id, principal)
            if award.status is AwardStatus.REVOKED:
                raise ConflictError(
                    f"award {award_id} was already revoked on {award.revoked_on}",
                    ["path", "award_id"],
                )
            if revoked_on < award.granted_on.date():
                raise RuleViolationError(
                    "revoked_on must not be before the award was granted", ["body", "revoked_on"]
                )
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
    ) -> list[AwardPublic]:
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
            awards = await session.exec(
                query.order_by(col(Award.granted_on).desc(), col(Award.id))
                .offset(offset)
                .limit(limit)
            )
            return [AwardPublic.model_validate(award) for award in awards.all()]

    # --- suggestions ------------------------------------------------------------------

    async def accept_suggestion(
        self, suggestion_id: UUID, command: SuggestionAcceptance, principal: Principal
    ) -> NominationPublic:
        """A suggestion becomes a real nomination (nomination_created, suggested=true)
        citing the incidents and activities behind the points not yet rewarded."""
        async with self.sessions() as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
        nomination = NominationCreate(
            recipient_kind=suggestion.recipient_kind,
            recipient_id=suggestion.subject_id,
            award_form=command.award_form or suggestion.award_form,
            authority=command.authority or suggestion.authority,
            award_kind=command.award_kind,
            campaign=command.campaign,
            reason=command.reason
            or f"Đạt {suggestion.points} điểm thi đua kỳ {suggestion.period} "
            f"(ngưỡng {suggestion.threshold} điểm)",
        )
        self.catalogue.check(
            nomination.award_form, nomination.authority, nomination.award_kind, nomination.campaign
        )
        conflict = f"suggestion {suggestion_id} was decided meanwhile"
        async with self._unit_of_work(conflict, ["path", "suggestion_id"]) as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
            nomination.achievements = await self._score_sources(session, suggestion)
            created = await self._nominate(session, nomination, principal, suggested=True)
            suggestion.status = SuggestionStatus.ACCEPTED
            suggestion.nomination_id = created.id
            suggestion.decided_at = utcnow()
            session.add(suggestion)
            await self.audit.record(
                session, principal, "accept_suggestion", "suggestion", suggestion.id,
                suggestion.area_id,
            )  # fmt: skip
        return NominationPublic.model_validate(created)

    async def _score_sources(
        self, session: AsyncSession, suggestion: Suggestion
    ) -> list[Achievement]:
        period = Period.parse(suggestion.period, [])
        rows = await session.exec(
            select(ScoreEntry.source_kind, ScoreEntry.source_id)
            .where(
                ScoreEntry.subject == suggestion.subject,
                ScoreEntry.subject_id == suggestion.subject_id,
                col(ScoreEntry.occurred_on) >= period.start,
                col(ScoreEntry.occurred_on) <= period.end,
                col(ScoreEntry.voided).is_(False),
            )
            .distinct()
            .order_by(col(ScoreEntry.source_kind), col(ScoreEntry.source_id))
        )
        cited = []
        for kind, source_id in rows.all():
            achievement = Achievement(kind=AchievementKind(kind), ref_id=source_id)
            key = (suggestion.subject_id, achievement.key)
            if await session.get(RewardedAchievement, key) is None:
                cited.append(achievement)
        return cited[:50]

    async def dismiss_suggestion(
        self, suggestion_id: UUID, command: SuggestionDismissal, principal: Principal
    ) -> Suggestion:
        async with transaction(self.sessions) as session:
            suggestion = await self._open_suggestion(session, suggestion_id, principal)
            suggestion.status = SuggestionStatus.DISMISSED
            suggestion.dismissal_reason = command.reason
            suggestion.decided_at = utcnow()
            session.add(suggestion)
            await self.audit.record(
                session, principal, "dismiss_suggestion", "suggestion", suggestion.id,
                suggestion.area_id,
            )  # fmt: skip
        return suggestion

    # --- lookups that hide what the caller may not see ---------------------------------

    async def _nomination(
        self, session: AsyncSession, nomination_id: UUID, principal: Principal
    ) -> Nomination:
        return await self.scope.get_in_scope(
            session, principal, Nomination, nomination_id, what="nomination"
        )

    async def _open_nomination(
        self, session: AsyncSession, nomination_id: UUID, principal: Principal
    ) -> Nomination:
        nomination = await self._nomination(session, nomination_id, principal)
        if nomination.status is not NominationStatus.NOMINATED:
            raise ConflictError(
                f"nomination {nomination_id} is already {nomination.status}",
                ["path", "nomination_id"],
            )
        return nomination

    async def _award(self, session: AsyncSession, award_id: UUID, principal: Principal) -> Award:
        return await self.scope.get_in_scope(session, principal, Award, award_id, what="award")

    async def _open_suggestion(
        self, session: AsyncSession, suggestion_id: UUID, principal: Principal
    ) -> Suggestion:
        suggestion = await self.scope.get_in_scope(
            session, principal, Suggestion, suggestion_id, what="suggestion"
        )
        if suggestion.status is not SuggestionStatus.SUGGESTED:
            raise ConflictError(
                f"suggestion {suggestion_id} is already {suggestion.status}",
                ["path", "suggestion_id"],
            )
        return suggestion


def _decision_date(decided_on: date | None) -> date:
    """A decision's date may be in the past (historic records), not in the future."""
    if decided_on is None:
        return today()
    if decided_on > today():
        raise RuleViolationError("decided_on must not be in the future", ["body", "decided_on"])
    return decided_on
