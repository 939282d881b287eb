"""Activity use cases: log an activity with its quantities and credited teams, and read
them; the only code that writes activities, their outbox events and their tallies."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.activities.models import (
    Activity,
    ActivityCreate,
    ActivityFilter,
    ActivityMeasureRow,
    ActivityPublic,
    ActivityTeam,
    MeasurePublic,
)
from services.reporting.activities.rules import check_activity, from_milli
from services.reporting.catalogue.rules import Catalogue
from services.reporting.common import ReportingMetrics, insert_new, keyset_chunks
from services.reporting.incidents.models import Incident
from services.reporting.replicas.service import ReplicaService
from services.reporting.statistics import service as statistics
from services.reporting.statistics.rules import check_period
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import UnknownReferenceError, check_query_value
from shared.events import ActivityLogged, ActivityMeasure
from shared.idempotency import IdempotentRequest
from shared.outbox import Outbox
from shared.paging import Page, page_rows


class ActivityService:
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

    async def log_activity(
        self,
        command: ActivityCreate,
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> ActivityPublic:
        measures = check_activity(command, self.catalogue, self.catalogue.today())
        async with transaction(self.sessions) as session:
            incident = (
                await session.get(Incident, command.incident_id)
                if command.incident_id is not None
                else None
            )
            lines, teams = await self.replicas.named(
                session,
                command.area_id,
                command.team_ids,
                incident.area_id if incident is not None else None,
            )
            self.replicas.place(lines, command.area_id, principal)
            if command.incident_id is not None:
                if incident is None or not self.scope.permits(principal, lines, incident.area_id):
                    raise UnknownReferenceError(
                        f"unknown incident {command.incident_id}", ["body", "incident_id"]
                    )
            team_ids = self.replicas.credited_teams(command.team_ids, teams, lines, principal)
            activity = Activity(
                **command.model_dump(exclude={"measures", "team_ids"}),
                recorded_by=principal.subject,
            )
            await insert_new(session, activity)
            await insert_new(
                session,
                *(
                    ActivityMeasureRow(
                        activity_id=activity.id, item=item, unit=unit, quantity_milli=milli
                    )
                    for item, unit, milli in measures
                ),
            )
            await insert_new(
                session, *(ActivityTeam(activity_id=activity.id, team_id=team) for team in team_ids)
            )
            await statistics.add_activity(
                session,
                areas=lines.chain(activity.area_id, statistics.MAX_DEPTH),
                day=activity.occurred_on,
                activity_type=activity.activity_type,
                outcome=activity.outcome,
                measures=measures,
            )
            await self.outbox.add(
                session,
                ActivityLogged(
                    activity_id=activity.id,
                    area_id=activity.area_id,
                    activity_type=activity.activity_type,
                    occurred_on=activity.occurred_on,
                    measures=[
                        ActivityMeasure(item=item, unit=unit, quantity=from_milli(milli))
                        for item, unit, milli in measures
                    ],
                    outcome=activity.outcome,
                    team_ids=team_ids,
                    incident_id=activity.incident_id,
                    aggregate_version=activity.version,
                ),
            )
            await self.audit.record(
                session, principal, "log_activity", "activity", activity.id, activity.area_id
            )
            # Built from what was just written, ordered as ``_activity_items`` orders them.
            public = self._activity_public(
                activity,
                [
                    MeasurePublic(item=item, unit=unit, quantity=from_milli(milli))
                    for item, unit, milli in measures
                ],
                team_ids,
            )
            if idempotency is not None:
                await idempotency.remember(session, public)
        self.metrics.activities.labels(activity_type=activity.activity_type).inc()
        return public

    async def get_activity(self, activity_id: UUID, principal: Principal) -> ActivityPublic:
        async with self.sessions() as session:
            activity = await self.scope.get_in_scope(
                session, principal, Activity, activity_id, what="activity"
            )
            return (await self._activity_items(session, [activity]))[0]

    def _activity_query(self, filters: ActivityFilter, areas: set[UUID] | None) -> Any:
        check_period(filters.start, filters.end)
        query = select(Activity)
        if areas is not None:
            query = query.where(col(Activity.area_id).in_(areas))
        if filters.activity_type is not None:
            query = query.where(col(Activity.activity_type) == filters.activity_type)
        if filters.team_id is not None:
            query = query.where(
                col(Activity.id).in_(
                    select(ActivityTeam.activity_id).where(
                        col(ActivityTeam.team_id) == filters.team_id
                    )
                )
            )
        if filters.start is not None:
            query = query.where(col(Activity.occurred_on) >= filters.start)
        if filters.end is not None:
            query = query.where(col(Activity.occurred_on) <= filters.end)
        return query.order_by(col(Activity.occurred_on).desc(), col(Activity.id).desc())

    async def list_activities(
        self, filters: ActivityFilter, principal: Principal, offset: int, limit: int
    ) -> Page[ActivityPublic]:
        check_query_value("activity_type", filters.activity_type, self.catalogue.activity_types)
        async with self.sessions() as session:
            areas = await self.replicas.filter_areas(session, filters.area_id, principal)
            rows, total = await page_rows(
                session, self._activity_query(filters, areas), offset, limit
            )
            return Page(await self._activity_items(session, rows), total)

    async def export_activities(
        self, filters: ActivityFilter, principal: Principal
    ) -> AsyncIterator[list[ActivityPublic]]:
        check_query_value("activity_type", filters.activity_type, self.catalogue.activity_types)
        async with self.sessions() as session:
            areas = await self.replicas.filter_areas(session, filters.area_id, principal)
        query = self._activity_query(filters, areas)
        return keyset_chunks(
            self.sessions, query, col(Activity.occurred_on), col(Activity.id), self._activity_items
        )

    async def _activity_items(
        self, session: AsyncSession, activities: list[Activity]
    ) -> list[ActivityPublic]:
        ids = [activity.id for activity in activities]
        measures: dict[UUID, list[MeasurePublic]] = {activity_id: [] for activity_id in ids}
        teams: dict[UUID, list[UUID]] = {activity_id: [] for activity_id in ids}
        if ids:
            rows = await session.exec(
                select(ActivityMeasureRow)
                .where(col(ActivityMeasureRow.activity_id).in_(ids))
                .order_by(col(ActivityMeasureRow.item), col(ActivityMeasureRow.unit))
            )
            for row in rows.all():
                measures[row.activity_id].append(
                    MeasurePublic(
                        item=row.item, unit=row.unit, quantity=from_milli(row.quantity_milli)
                    )
                )
            links = await session.exec(
                select(ActivityTeam)
                .where(col(ActivityTeam.activity_id).in_(ids))
                .order_by(col(ActivityTeam.team_id))
            )
            for link in links.all():
                teams[link.activity_id].append(link.team_id)
        return [
            self._activity_public(activity, measures[activity.id], teams[activity.id])
            for activity in activities
        ]

    @staticmethod
    def _activity_public(
        activity: Activity, measures: list[MeasurePublic], team_ids: list[UUID]
    ) -> ActivityPublic:
        """Measures by item and unit, teams by id, whichever database sorted them (or none)."""
        return ActivityPublic(
            **activity.model_dump(),
            measures=sorted(measures, key=lambda measure: (measure.item, measure.unit)),
            team_ids=sorted(team_ids),
        )
