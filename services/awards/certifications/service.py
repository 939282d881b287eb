"""Safe-area certification's use cases (Circular 124/2021/TT-BCA): an area registers for
a year; an officer asks for the evaluation; every configured criterion is checked against
what awards holds from registry's and reporting's events, and the decision keeps each
criterion's result, the value found and the rule applied.

A decision never changes by itself: when events arriving later change what a criterion
shows, the certification reads ``stale`` with the current values beside the decided
ones, until someone re-evaluates explicitly (evaluation 2, 3, …, each published)."""

from datetime import date
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.certifications.models import (
    Certification,
    CertificationCreate,
    CertificationEvaluation,
    CertificationPublic,
    EvaluationCreate,
    EvaluationPublic,
)
from services.awards.certifications.rules import (
    Criterion,
    CriterionCheck,
    active_teams,
    certified,
    incidents_not_up,
    is_stale,
    no_incidents_in,
    pledge_share,
    pledged_households,
)
from services.awards.replicas.models import KnownArea, KnownTeam, TrackedActivity, TrackedIncident
from services.awards.scores.rules import day_start
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, RuleViolationError
from shared.events import (
    AreaLevel,
    AreaRegistered,
    CertificationDecided,
    CriterionResult,
    IncidentStatus,
)
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.references import References
from shared.scope import AreaScope, descendants


class Certifications:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        criteria: list[Criterion],
        scope: AreaScope,
        references: References,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.criteria = criteria
        self.scope = scope
        self.references = references

    async def register(
        self, command: CertificationCreate, principal: Principal
    ) -> CertificationPublic:
        conflict = f"area {command.area_id} is already registered for {command.year}"
        try:
            async with transaction(self.sessions) as session:
                area = await self.scope.area(
                    session,
                    principal,
                    command.area_id,
                    error=self.references.when_unknown(
                        "area", command.area_id, ["body", "area_id"], AreaRegistered.topic
                    ),
                )
                existing = await session.exec(
                    select(Certification.id).where(
                        Certification.area_id == area.id, Certification.year == command.year
                    )
                )
                earlier = existing.first()
                if earlier is not None:
                    raise ConflictError(f"{conflict} (certification {earlier})", ["body", "year"])
                certification = Certification(area_id=area.id, year=command.year)
                session.add(certification)
                await session.flush()
                await self.audit.record(
                    session, principal, "register_certification", "certification",
                    certification.id, area.id,
                )  # fmt: skip
                public = await self._public(session, certification)
        except IntegrityError as exc:
            raise ConflictError(conflict, ["body", "year"]) from exc
        return public

    async def evaluate(
        self, certification_id: UUID, command: EvaluationCreate, principal: Principal
    ) -> CertificationPublic:
        conflict = f"certification {certification_id} was evaluated meanwhile: reload it"
        try:
            async with transaction(self.sessions) as session:
                certification = await self._certification(session, certification_id, principal)
                if certification.evaluations and command.reason is None:
                    raise RuleViolationError(
                        f"certification {certification_id} was decided already: a "
                        "re-evaluation states its reason",
                        ["body", "reason"],
                    )
                results = await self.results(session, certification.area_id, certification.year)
                certification.evaluations += 1
                evaluation = CertificationEvaluation(
                    certification_id=certification.id,
                    evaluation=certification.evaluations,
                    certified=certified(results),
                    criteria=[result.model_dump() for result in results],
                    reason=command.reason,
                )
                session.add(certification)
                session.add(evaluation)
                await session.flush()
                await self.outbox.add(
                    session,
                    CertificationDecided(
                        certification_id=certification.id,
                        area_id=certification.area_id,
                        year=certification.year,
                        certified=evaluation.certified,
                        criteria=results,
                        decided_at=evaluation.decided_at,
                        evaluation=evaluation.evaluation,
                        aggregate_version=evaluation.evaluation,
                    ),
                )
                await self.audit.record(
                    session, principal, "evaluate_certification", "certification",
                    certification.id, certification.area_id,
                )  # fmt: skip
                public = await self._public(session, certification)
        except IntegrityError as exc:
            raise ConflictError(conflict, ["path", "certification_id"]) from exc
        return public

    async def get(self, certification_id: UUID, principal: Principal) -> CertificationPublic:
        async with self.sessions() as session:
            certification = await self._certification(session, certification_id, principal)
            return await self._public(session, certification)

    async def search(
        self,
        year: int | None,
        offset: int,
        limit: int,
        principal: Principal,
    ) -> Page[CertificationPublic]:
        async with self.sessions() as session:
            query = select(Certification)
            allowed = await self.scope.area_ids(session, principal)
            if allowed is not None:
                query = query.where(col(Certification.area_id).in_(allowed))
            if year is not None:
                query = query.where(Certification.year == year)
            rows, total = await page_rows(
                session,
                query.order_by(
                    col(Certification.year).desc(),
                    col(Certification.registered_at).desc(),
                    col(Certification.id),
                ),
                offset,
                limit,
            )
            return Page([await self._public(session, row) for row in rows], total)

    async def _certification(
        self, session: AsyncSession, certification_id: UUID, principal: Principal
    ) -> Certification:
        return await self.scope.get_in_scope(
            session, principal, Certification, certification_id, what="certification"
        )

    async def _public(
        self, session: AsyncSession, certification: Certification
    ) -> CertificationPublic:
        rows = await session.exec(
            select(CertificationEvaluation)
            .where(CertificationEvaluation.certification_id == certification.id)
            .order_by(col(CertificationEvaluation.evaluation).desc())
        )
        history = [EvaluationPublic.model_validate(row) for row in rows.all()]
        decision = history[0] if history else None
        stale, current = False, None
        if decision is not None:
            now = await self.results(session, certification.area_id, certification.year)
            if is_stale(decision.criteria, now):
                stale, current = True, now
        return CertificationPublic(
            id=certification.id,
            area_id=certification.area_id,
            year=certification.year,
            registered_at=certification.registered_at,
            decision=decision,
            stale=stale,
            current=current,
            history=history,
        )

    # --- the criteria -----------------------------------------------------------------

    async def results(
        self, session: AsyncSession, area_id: UUID, year: int
    ) -> list[CriterionResult]:
        areas = await descendants(session, KnownArea, [area_id])
        results = []
        for criterion in self.criteria:
            if criterion.check is CriterionCheck.INCIDENTS_NOT_UP:
                now = await self._incidents(session, areas, year)
                before = await self._incidents(session, areas, year - 1)
                result = incidents_not_up(criterion, year, now, before)
            elif criterion.check is CriterionCheck.NO_INCIDENTS_IN:
                found = await self._incidents(session, areas, year, criterion.categories)
                result = no_incidents_in(criterion, year, found)
            elif criterion.check is CriterionCheck.ACTIVE_TEAMS:
                teams = await self._active_teams(session, areas, year, criterion.team_kinds)
                result = active_teams(criterion, year, teams)
            else:
                result = await self._pledges(session, criterion, area_id, areas, year)
            results.append(result)
        return results

    async def _incidents(
        self,
        session: AsyncSession,
        areas: set[UUID],
        year: int,
        categories: list[str] | None = None,
    ) -> int:
        """Incidents that happened in the area in the year, duplicates and dismissed
        reports left out."""
        query = select(func.count()).where(
            col(TrackedIncident.area_id).in_(areas),
            col(TrackedIncident.occurred_at) >= day_start(date(year, 1, 1)),
            col(TrackedIncident.occurred_at) < day_start(date(year + 1, 1, 1)),
            col(TrackedIncident.duplicate_of).is_(None),
            TrackedIncident.status != IncidentStatus.DISMISSED,
        )
        if categories is not None:
            query = query.where(col(TrackedIncident.category).in_(categories))
        return int((await session.exec(query)).one())

    async def _active_teams(
        self, session: AsyncSession, areas: set[UUID], year: int, kinds: list[str]
    ) -> int:
        year_end = date(year, 12, 31)
        query = select(func.count()).where(
            col(KnownTeam.area_id).in_(areas),
            KnownTeam.version > 0,
            (col(KnownTeam.founded_on).is_(None)) | (col(KnownTeam.founded_on) <= year_end),
            (col(KnownTeam.dissolved_on).is_(None)) | (col(KnownTeam.dissolved_on) > year_end),
        )
        if kinds:
            query = query.where(col(KnownTeam.kind).in_(kinds))
        return int((await session.exec(query)).one())

    async def _pledges(
        self,
        session: AsyncSession,
        criterion: Criterion,
        area_id: UUID,
        areas: set[UUID],
        year: int,
    ) -> CriterionResult:
        """Households that pledged in the year over the households living there: the
        area's own count, or else the sum over its residential groups."""
        activities = await session.exec(
            select(TrackedActivity).where(
                col(TrackedActivity.area_id).in_(areas),
                TrackedActivity.activity_type == "household_pledge",
                col(TrackedActivity.occurred_on) >= date(year, 1, 1),
                col(TrackedActivity.occurred_on) <= date(year, 12, 31),
            )
        )
        pledged = pledged_households(activity.measures for activity in activities.all())
        area = await session.get(KnownArea, area_id)
        households = area.households if area else None
        if households is None:
            groups = await session.exec(
                select(KnownArea.households).where(
                    col(KnownArea.id).in_(areas - {area_id}),
                    KnownArea.level == AreaLevel.RESIDENTIAL_GROUP.value,
                    col(KnownArea.households).is_not(None),
                )
            )
            known = [count for count in groups.all() if count is not None]
            households = sum(known) if known else None
        return pledge_share(criterion, year, pledged, households)
