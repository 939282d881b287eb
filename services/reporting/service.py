"""Reporting use cases: the only code that changes reporting state or adds outbox rows."""

from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import (
    Incident,
    IncidentCreate,
    IncidentPublic,
    IncidentStatusChange,
    IncidentTeam,
    KnownArea,
    KnownTeam,
    StatusChangeCreate,
    StatusChangePublic,
    utcnow,
)
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, NotFoundError, UnknownReferenceError
from shared.events import (
    AreaRegistered,
    IncidentReported,
    IncidentStatus,
    IncidentStatusChanged,
    TeamRegistered,
)
from shared.outbox import Outbox

# reported → verified → resolved | mediated | referred | dismissed; a report that proves
# false may be dismissed before verification. The four outcomes are final.
ALLOWED_TRANSITIONS: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.REPORTED: (IncidentStatus.VERIFIED, IncidentStatus.DISMISSED),
    IncidentStatus.VERIFIED: (
        IncidentStatus.RESOLVED,
        IncidentStatus.MEDIATED,
        IncidentStatus.REFERRED,
        IncidentStatus.DISMISSED,
    ),
    IncidentStatus.RESOLVED: (),
    IncidentStatus.MEDIATED: (),
    IncidentStatus.REFERRED: (),
    IncidentStatus.DISMISSED: (),
}


class ReportingService:
    def __init__(self, sessions: SessionFactory, outbox: Outbox, categories: list[str]) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.categories = categories

    # --- read models ------------------------------------------------------------------

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        area = await session.get(KnownArea, event.area_id)
        if area is not None and area.version >= event.aggregate_version:
            return  # an older or repeated version: keep what we have
        session.add(
            KnownArea(
                id=event.area_id,
                code=event.code,
                name=event.name,
                level=event.level,
                parent_id=event.parent_id,
                version=event.aggregate_version,
            )
            if area is None
            else area.sqlmodel_update(
                {
                    "code": event.code,
                    "name": event.name,
                    "level": event.level,
                    "parent_id": event.parent_id,
                    "version": event.aggregate_version,
                }
            )
        )

    async def remember_team(self, session: AsyncSession, event: TeamRegistered) -> None:
        team = await session.get(KnownTeam, event.team_id)
        if team is not None and team.version >= event.aggregate_version:
            return
        if team is None:
            team = KnownTeam(
                id=event.team_id,
                area_id=event.area_id,
                name=event.name,
                kind=event.kind,
                version=event.aggregate_version,
            )
        else:
            team.sqlmodel_update(
                {
                    "area_id": event.area_id,
                    "name": event.name,
                    "kind": event.kind,
                    "version": event.aggregate_version,
                }
            )
        session.add(team)

    # --- incidents --------------------------------------------------------------------

    async def report_incident(self, command: IncidentCreate) -> IncidentPublic:
        if command.category not in self.categories:
            raise UnknownReferenceError(
                f"unknown category {command.category!r}; one of {', '.join(self.categories)}",
                ["body", "category"],
            )
        team_ids = list(dict.fromkeys(command.team_ids))
        async with transaction(self.sessions) as session:
            if await session.get(KnownArea, command.area_id) is None:
                raise UnknownReferenceError(f"unknown area {command.area_id}", ["body", "area_id"])
            for index, team_id in enumerate(team_ids):
                team = await session.get(KnownTeam, team_id)
                if team is None or team.status != "active":
                    state = "unknown" if team is None else team.status
                    raise UnknownReferenceError(
                        f"{state} team {team_id}", ["body", "team_ids", index]
                    )
            incident = Incident.model_validate(command.model_dump(exclude={"team_ids"}))
            session.add(incident)
            await session.flush()
            for team_id in team_ids:
                session.add(IncidentTeam(incident_id=incident.id, team_id=team_id))
            await self.outbox.add(
                session,
                IncidentReported(
                    incident_id=incident.id,
                    area_id=incident.area_id,
                    category=incident.category,
                    source=incident.source,
                    status=incident.status,
                    occurred_at=incident.occurred_at,
                    reported_at=incident.reported_at,
                    credited_team_ids=team_ids,
                    aggregate_version=incident.version,
                ),
            )
            return await self._incident_public(session, incident)

    async def change_status(self, incident_id: UUID, command: StatusChangeCreate) -> IncidentPublic:
        async with transaction(self.sessions) as session:
            incident = await self._get(session, incident_id)
            allowed = ALLOWED_TRANSITIONS[incident.status]
            if command.status not in allowed:
                rule = (
                    f"allowed: {', '.join(allowed)}" if allowed else f"{incident.status} is final"
                )
                raise ConflictError(
                    f"cannot move an incident from {incident.status} to {command.status}; {rule}",
                    ["body", "status"],
                )
            change = IncidentStatusChange(
                incident_id=incident.id,
                from_status=incident.status,
                to_status=command.status,
                reason=command.reason,
                changed_at=utcnow(),
            )
            incident.status = command.status
            incident.version += 1
            session.add(incident)
            session.add(change)
            await self.outbox.add(
                session,
                IncidentStatusChanged(
                    incident_id=incident.id,
                    area_id=incident.area_id,
                    category=incident.category,
                    from_status=change.from_status,
                    to_status=change.to_status,
                    changed_at=change.changed_at,
                    credited_team_ids=await self._team_ids(session, incident.id),
                    aggregate_version=incident.version,
                ),
            )
            return await self._incident_public(session, incident)

    async def get_incident(self, incident_id: UUID) -> IncidentPublic:
        async with self.sessions() as session:
            return await self._incident_public(session, await self._get(session, incident_id))

    async def _get(self, session: AsyncSession, incident_id: UUID) -> Incident:
        incident = await session.get(Incident, incident_id)
        if incident is None:
            raise NotFoundError(f"incident {incident_id} not found", ["path", "incident_id"])
        return incident

    async def _team_ids(self, session: AsyncSession, incident_id: UUID) -> list[UUID]:
        rows = await session.exec(
            select(IncidentTeam.team_id)
            .where(IncidentTeam.incident_id == incident_id)
            .order_by(col(IncidentTeam.team_id))
        )
        return list(rows.all())

    async def _incident_public(self, session: AsyncSession, incident: Incident) -> IncidentPublic:
        history = await session.exec(
            select(IncidentStatusChange)
            .where(IncidentStatusChange.incident_id == incident.id)
            .order_by(col(IncidentStatusChange.changed_at))
        )
        return IncidentPublic(
            **incident.model_dump(),
            team_ids=await self._team_ids(session, incident.id),
            history=[StatusChangePublic.model_validate(change) for change in history.all()],
        )
