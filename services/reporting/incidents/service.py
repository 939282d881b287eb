"""Incident use cases: report, move along the lifecycle, link as a duplicate, and read;
the only code that writes incidents, their outbox events and their tallies."""

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.catalogue.rules import Catalogue, category_group
from services.reporting.common import ReportingMetrics, insert_new, keyset_chunks, utcnow
from services.reporting.incidents.models import (
    DuplicateLinkCreate,
    DuplicateLinkPublic,
    Incident,
    IncidentCreate,
    IncidentFilter,
    IncidentLink,
    IncidentListItem,
    IncidentPublic,
    IncidentStatusChange,
    IncidentTeam,
    StatusChangeCreate,
    StatusChangePublic,
)
from services.reporting.incidents.rules import (
    check_has_no_duplicates,
    check_may_become_duplicate,
    check_original,
    check_status_change,
)
from services.reporting.replicas.service import ReplicaService
from services.reporting.statistics import service as statistics
from services.reporting.statistics.rules import DUPLICATE, check_period, local_day
from services.reporting.tips.models import TipOff
from shared.audit import AuditTrail
from shared.auth import Access, Principal
from shared.db import SessionFactory, transaction
from shared.errors import UnknownReferenceError, check_query_value
from shared.events import (
    IncidentLinked,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
)
from shared.idempotency import IdempotentRequest
from shared.outbox import Outbox
from shared.paging import Page, page_rows
from shared.scope import AreaLines


class IncidentService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        catalogue: Catalogue,
        metrics: ReportingMetrics,
        replicas: ReplicaService,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.catalogue = catalogue
        self.metrics = metrics
        self.replicas = replicas
        self.scope = replicas.scope

    # --- changes ----------------------------------------------------------------------

    async def report_incident(
        self,
        command: IncidentCreate,
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> IncidentPublic:
        group = category_group(self.catalogue, command.category)
        async with transaction(self.sessions) as session:
            lines, teams = await self.replicas.named(session, command.area_id, command.team_ids)
            self.replicas.place(lines, command.area_id, principal)
            team_ids = self.replicas.credited_teams(command.team_ids, teams, lines, principal)
            incident = Incident(
                **command.model_dump(exclude={"team_ids", "reported_at"}),
                category_group=group,
                reported_at=command.reported_at or utcnow(),
            )
            await self.record_incident(
                session, incident, team_ids, lines.chain(incident.area_id, statistics.MAX_DEPTH)
            )
            await self.audit.record(
                session, principal, "report_incident", "incident", incident.id, incident.area_id
            )
            # Built from what was just written: a new incident has no history, link or
            # duplicates yet, and its teams are the ones credited (as ``team_ids`` orders
            # them). Remembered for a retry with the same Idempotency-Key, in this transaction.
            public = IncidentPublic(
                **incident.model_dump(),
                team_ids=sorted(team_ids),
                history=[],
                link=None,
                duplicates=[],
            )
            if idempotency is not None:
                await idempotency.remember(session, public)
        self.metrics.reported.labels(category_group=group).inc()
        return public

    async def record_incident(
        self,
        session: AsyncSession,
        incident: Incident,
        team_ids: list[UUID],
        areas: list[UUID],
    ) -> Incident:
        """A new incident (reported, or from a tip): its row, credited teams, tallies in
        ``areas`` and its ``incident_reported`` event, in the caller's transaction."""
        await insert_new(session, incident)
        await insert_new(
            session, *(IncidentTeam(incident_id=incident.id, team_id=team) for team in team_ids)
        )
        await self._count(session, incident, incident.status, +1, areas)
        await self.outbox.add(
            session,
            IncidentReported(
                incident_id=incident.id,
                area_id=incident.area_id,
                category=incident.category,
                category_group=incident.category_group,
                severity=incident.severity,
                source=incident.source,
                status=incident.status,
                occurred_at=incident.occurred_at,
                reported_at=incident.reported_at,
                credited_team_ids=team_ids,
                aggregate_version=incident.version,
            ),
        )
        return incident

    async def _count(
        self,
        session: AsyncSession,
        incident: Incident,
        status: str,
        delta: int,
        areas: list[UUID],
    ) -> None:
        """Count ``incident`` in ``areas``: its area and those above it."""
        await statistics.add_incident(
            session,
            areas=areas,
            day=local_day(incident.occurred_at, self.catalogue.zone),
            category_group=incident.category_group,
            category=incident.category,
            status=status,
            delta=delta,
        )

    async def change_status(
        self, incident_id: UUID, command: StatusChangeCreate, principal: Principal
    ) -> IncidentPublic:
        async with transaction(self.sessions) as session:
            # The lines above its area, read by the scope check, are the ones it counts in.
            incident, lines = await self.get_with_lines(session, incident_id, principal)
            check_status_change(incident.id, incident.status, command.status, incident.duplicate_of)
            change = IncidentStatusChange(
                incident_id=incident.id,
                from_status=incident.status,
                to_status=command.status,
                reason=command.reason,
                changed_by=principal.subject,
                changed_at=utcnow(),
            )
            areas = lines.chain(incident.area_id, statistics.MAX_DEPTH)
            await self._count(session, incident, incident.status, -1, areas)
            await self._count(session, incident, command.status, +1, areas)
            incident.status = command.status
            incident.version += 1
            session.add(incident)
            session.add(change)
            team_ids = await self.team_ids(session, incident.id)
            await self.outbox.add(
                session,
                IncidentStatusChanged(
                    incident_id=incident.id,
                    area_id=incident.area_id,
                    category=incident.category,
                    category_group=incident.category_group,
                    source=incident.source,
                    from_status=change.from_status,
                    to_status=change.to_status,
                    changed_at=change.changed_at,
                    occurred_at=incident.occurred_at,
                    credited_team_ids=team_ids,
                    aggregate_version=incident.version,
                ),
            )
            await self.audit.record(
                session,
                principal,
                f"status_{command.status}",
                "incident",
                incident.id,
                incident.area_id,
            )
            public = await self.incident_public(session, incident, principal, team_ids)
        if public.status is IncidentStatus.RESOLVED:
            self.metrics.resolved.labels(category_group=public.category_group).inc()
        return public

    async def link_duplicate(
        self, incident_id: UUID, command: DuplicateLinkCreate, principal: Principal
    ) -> IncidentPublic:
        """Mark an incident as repeating another: it leaves every count (its original
        stays), keeps its record and history, and takes no further status changes."""
        async with transaction(self.sessions) as session:
            incident, lines = await self.get_with_lines(session, incident_id, principal)
            loc = ["body", "duplicate_of"]
            check_may_become_duplicate(incident.id, incident.duplicate_of, command.duplicate_of)
            original = await self.scope.get_in_scope(
                session,
                principal,
                Incident,
                command.duplicate_of,
                what="incident",
                error=partial(
                    UnknownReferenceError, f"unknown incident {command.duplicate_of}", loc
                ),
            )
            check_original(original.id, original.duplicate_of)
            repeats = await session.exec(
                select(Incident.id).where(col(Incident.duplicate_of) == incident.id).limit(1)
            )
            check_has_no_duplicates(incident.id, repeats.first() is not None)
            areas = lines.chain(incident.area_id, statistics.MAX_DEPTH)
            await self._count(session, incident, incident.status, -1, areas)
            await self._count(session, incident, DUPLICATE, +1, areas)
            incident.duplicate_of = original.id
            incident.version += 1
            session.add(incident)
            session.add(
                IncidentLink(
                    incident_id=incident.id,
                    duplicate_of=original.id,
                    reason=command.reason,
                    linked_by=principal.subject,
                    linked_at=utcnow(),
                )
            )
            await self.outbox.add(
                session,
                IncidentLinked(
                    incident_id=incident.id,
                    duplicate_of=original.id,
                    area_id=incident.area_id,
                    category=incident.category,
                    linked_at=utcnow(),
                    aggregate_version=incident.version,
                ),
            )
            await self.audit.record(
                session, principal, "link_duplicate", "incident", incident.id, incident.area_id
            )
            return await self.incident_public(session, incident, principal)

    # --- reading ------------------------------------------------------------------------

    async def get_incident(self, incident_id: UUID, principal: Principal) -> IncidentPublic:
        async with self.sessions() as session:
            incident = await self.get(session, incident_id, principal)
            return await self.incident_public(session, incident, principal)

    async def get(self, session: AsyncSession, incident_id: UUID, principal: Principal) -> Incident:
        return await self.scope.get_in_scope(
            session, principal, Incident, incident_id, what="incident"
        )

    async def get_with_lines(
        self, session: AsyncSession, incident_id: UUID, principal: Principal
    ) -> tuple[Incident, AreaLines]:
        """``get``, with the lines above the incident's area that its scope check read."""
        return await self.scope.get_in_scope_with_lines(
            session, principal, Incident, incident_id, what="incident"
        )

    def _incident_query(self, filters: IncidentFilter, areas: set[UUID] | None) -> Any:
        check_period(filters.start, filters.end)
        query = select(Incident)
        if areas is not None:
            query = query.where(col(Incident.area_id).in_(areas))
        for column, value in (
            (Incident.category, filters.category),
            (Incident.category_group, filters.category_group),
            (Incident.status, filters.status),
            (Incident.source, filters.source),
            (Incident.severity, filters.severity),
        ):
            if value is not None:
                query = query.where(col(column) == value)
        if filters.start is not None:
            query = query.where(col(Incident.occurred_at) >= self._midnight(filters.start))
        if filters.end is not None:
            query = query.where(
                col(Incident.occurred_at) < self._midnight(filters.end + timedelta(days=1))
            )
        if not filters.include_duplicates:
            query = query.where(col(Incident.duplicate_of).is_(None))
        return query.order_by(col(Incident.occurred_at).desc(), col(Incident.id).desc())

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.catalogue.zone)

    def _check_incident_filter(self, filters: IncidentFilter) -> None:
        """Categories and groups are the configured ones (an unknown one is 422, as an
        unknown status is), not a filter that quietly matches nothing."""
        groups = self.catalogue.category_groups
        check_query_value("category", filters.category, groups)
        check_query_value("category_group", filters.category_group, set(groups.values()))

    async def list_incidents(
        self, filters: IncidentFilter, principal: Principal, offset: int, limit: int
    ) -> Page[IncidentListItem]:
        self._check_incident_filter(filters)
        async with self.sessions() as session:
            areas = await self.replicas.filter_areas(session, filters.area_id, principal)
            rows, total = await page_rows(
                session, self._incident_query(filters, areas), offset, limit
            )
            return Page(await self._incident_items(session, rows), total)

    async def export_incidents(
        self, filters: IncidentFilter, principal: Principal
    ) -> AsyncIterator[list[IncidentListItem]]:
        """Checks the scope now; the rows follow in chunks (see ``keyset_chunks``)."""
        self._check_incident_filter(filters)
        async with self.sessions() as session:
            areas = await self.replicas.filter_areas(session, filters.area_id, principal)
        query = self._incident_query(filters, areas)
        return keyset_chunks(
            self.sessions, query, col(Incident.occurred_at), col(Incident.id), self._incident_items
        )

    async def _incident_items(
        self, session: AsyncSession, incidents: list[Incident]
    ) -> list[IncidentListItem]:
        teams: dict[UUID, list[UUID]] = {incident.id: [] for incident in incidents}
        if teams:
            links = await session.exec(
                select(IncidentTeam)
                .where(col(IncidentTeam.incident_id).in_(teams))
                .order_by(col(IncidentTeam.team_id))
            )
            for link in links.all():
                teams[link.incident_id].append(link.team_id)
        return [
            IncidentListItem(**incident.model_dump(), team_ids=teams[incident.id])
            for incident in incidents
        ]

    async def team_ids(self, session: AsyncSession, incident_id: UUID) -> list[UUID]:
        rows = await session.exec(
            select(IncidentTeam.team_id)
            .where(IncidentTeam.incident_id == incident_id)
            .order_by(col(IncidentTeam.team_id))
        )
        return list(rows.all())

    async def incident_public(
        self,
        session: AsyncSession,
        incident: Incident,
        principal: Principal,
        team_ids: list[UUID] | None = None,
    ) -> IncidentPublic:
        """The incident with its history and links; its tip number only for a caller who
        may see tips (a tip handler), never its informant. ``team_ids``: its teams, when
        the caller has just read them."""
        history = await session.exec(
            select(IncidentStatusChange)
            .where(IncidentStatusChange.incident_id == incident.id)
            .order_by(col(IncidentStatusChange.changed_at))
        )
        duplicates = await session.exec(
            select(Incident.id)
            .where(col(Incident.duplicate_of) == incident.id)
            .order_by(col(Incident.occurred_at), col(Incident.id))
        )
        # A link is written with duplicate_of, in one transaction, and never undone.
        link = None
        if incident.duplicate_of is not None:
            link = await session.get(IncidentLink, incident.id)
        tip_number = None
        if principal.may(Access.INFORMANT) and incident.source == IncidentSource.RESIDENT_TIP:
            tips = await session.exec(
                select(TipOff.tip_number).where(TipOff.incident_id == incident.id)
            )
            tip_number = tips.first()
        return IncidentPublic(
            **incident.model_dump(),
            team_ids=team_ids
            if team_ids is not None
            else await self.team_ids(session, incident.id),
            history=[StatusChangePublic.model_validate(change) for change in history.all()],
            link=DuplicateLinkPublic.model_validate(link) if link else None,
            duplicates=list(duplicates.all()),
            tip_number=tip_number,
        )
