"""Reporting use cases: the only code that changes reporting state or adds outbox rows
(the statistics tallies included, through ``statistics.add_*`` in the same transaction)."""

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from cryptography.fernet import Fernet, MultiFernet
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import and_, bindparam, or_
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting import statistics
from services.reporting.models import (
    Activity,
    ActivityCreate,
    ActivityMeasureRow,
    ActivityPublic,
    ActivityTeam,
    ActivityTypeSpec,
    CatalogueActivityType,
    CataloguePublic,
    DuplicateLinkCreate,
    DuplicateLinkPublic,
    Incident,
    IncidentCreate,
    IncidentLink,
    IncidentListItem,
    IncidentPublic,
    IncidentSeverity,
    IncidentStatusChange,
    IncidentTeam,
    InformantPublic,
    KnownArea,
    KnownTeam,
    MeasurePublic,
    Period,
    ReportingTable,
    Statistics,
    StatusChangeCreate,
    StatusChangePublic,
    TeamStatus,
    TipCreate,
    TipOff,
    TipReceipt,
    TipStatusPublic,
    utcnow,
)
from shared.audit import AuditTrail
from shared.auth import Access, Principal, Role
from shared.db import SessionFactory, execute, transaction
from shared.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    UnknownReferenceError,
    check_query_value,
)
from shared.events import (
    ActivityLogged,
    ActivityMeasure,
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    IncidentLinked,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from shared.idempotency import Idempotency, IdempotentRequest
from shared.outbox import Outbox
from shared.read_models import (
    apply_if_newer,
    hold_reference,
    is_known,
    set_parent_if_newer,
)
from shared.references import References
from shared.scope import AreaLines, AreaScope, descendants

# Who the audit trail names for an anonymous tip: never the informant.
Item = TypeVar("Item")

ANONYMOUS_INFORMANT = Principal(subject="anonymous-informant", role=Role.SERVICE)

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


# Built once (on a write path, building a statement costs more than running it); a Core
# query of columns: ORM objects cost more to load than the query takes.
_TEAM = KnownTeam.__table__  # type: ignore[attr-defined]
TEAMS_BY_ID = core_select(_TEAM.c.id, _TEAM.c.area_id, _TEAM.c.status, _TEAM.c.version).where(
    _TEAM.c.id.in_(bindparam("ids", expanding=True))
)


async def insert_new(session: AsyncSession, *records: ReportingTable) -> None:
    """Insert new records of one table in one statement, without the session's unit of
    work (which costs more than the inserts on the intake paths): the records stay
    outside the session, as they were built. Nothing is flushed in between, so insert
    a record before the ones that refer to it."""
    if not records:
        return
    table = type(records[0]).__table__  # type: ignore[attr-defined]
    insert = _INSERTS.get(table.name)
    if insert is None:
        insert = _INSERTS[table.name] = table.insert()
    names = [column.key for column in table.columns]
    await execute(
        session, insert, [{name: getattr(record, name) for name in names} for record in records]
    )


_INSERTS: dict[str, Any] = {}

TIP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_tip_number() -> str:
    code = "".join(secrets.choice(TIP_ALPHABET) for _ in range(8))
    return f"T-{code[:4]}-{code[4:]}"


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_secret(secret, bytes.fromhex(salt)), stored)


class InformantVault:
    """Encrypts informant details with the newest key; decrypts with any configured key,
    so keys can be rotated (see README: informant key rotation)."""

    def __init__(self, keys: list[str]) -> None:
        self.fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, value: str | None) -> str | None:
        return self.fernet.encrypt(value.encode()).decode() if value else None

    def open(self, token: str | None) -> str | None:
        return self.fernet.decrypt(token.encode()).decode() if token else None

    def reseal(self, token: str | None) -> str | None:
        return self.fernet.rotate(token.encode()).decode() if token else None

    # As a ``shared.idempotency.Sealer``: a tip's remembered receipt holds its secret.
    def seal_text(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def open_text(self, token: str) -> str:
        return self.fernet.decrypt(token.encode()).decode()

    def reseal_text(self, token: str) -> str:
        return self.fernet.rotate(token.encode()).decode()


class ReportingMetrics:
    """The movement's figures as counters; labels are category groups and activity types
    from the configured catalogue, never ids or text."""

    def __init__(self, registry: CollectorRegistry, category_groups: dict[str, str]) -> None:
        self.category_groups = category_groups
        self.reported = Counter(
            "antt_incidents_reported", "Incidents reported", ["category_group"], registry=registry
        )
        self.resolved = Counter(
            "antt_incidents_resolved", "Incidents resolved", ["category_group"], registry=registry
        )
        self.activities = Counter(
            "antt_activities_logged", "Activities logged", ["activity_type"], registry=registry
        )

    def group(self, category: str) -> str:
        return self.category_groups.get(category, "other")


@dataclass(frozen=True)
class Catalogue:
    """What reporting accepts, from the settings (ops may add entries)."""

    category_groups: dict[str, str]
    activity_types: dict[str, ActivityTypeSpec]
    units: list[str]
    whole_units: list[str]
    area_levels: list[AreaLevel]
    zone: tzinfo
    zone_name: str

    def public(self) -> CataloguePublic:
        groups: dict[str, list[str]] = {}
        for category, group in self.category_groups.items():
            groups.setdefault(group, []).append(category)
        return CataloguePublic(
            category_groups=groups,
            severities=[s.value for s in IncidentSeverity],
            sources=[s.value for s in IncidentSource],
            activity_types=[
                CatalogueActivityType(activity_type=kind, **spec.model_dump())
                for kind, spec in self.activity_types.items()
            ],
            units=self.units,
            whole_units=self.whole_units,
        )

    def today(self) -> date:
        return datetime.now(self.zone).date()


@dataclass(frozen=True)
class IncidentFilter:
    area_id: UUID | None = None
    category: str | None = None
    category_group: str | None = None
    status: IncidentStatus | None = None
    source: IncidentSource | None = None
    severity: IncidentSeverity | None = None
    start: date | None = None
    end: date | None = None
    include_duplicates: bool = True


@dataclass(frozen=True)
class ActivityFilter:
    area_id: UUID | None = None
    activity_type: str | None = None
    team_id: UUID | None = None
    start: date | None = None
    end: date | None = None


EXPORT_CHUNK = 500
MAX_PERIOD_DAYS = 366 * 20


def check_period(start: date | None, end: date | None, loc: str = "query") -> None:
    if start is not None and end is not None:
        if end < start:
            raise RuleViolationError("must not be before from", [loc, "to"])
        if (end - start).days > MAX_PERIOD_DAYS:
            raise RuleViolationError("the period may span at most 20 years", [loc, "to"])


class ReportingService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        vault: InformantVault,
        catalogue: Catalogue,
        metrics: ReportingMetrics,
        references: References,
        idempotency: Idempotency | None = None,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.vault = vault
        self.catalogue = catalogue
        self.metrics = metrics
        self.references = references  # unknown (422), or not yet known while catching up
        self.idempotency = idempotency  # its sealed rows are resealed with the informants'
        self.scope = AreaScope(KnownArea)

    @property
    def categories(self) -> list[str]:
        return list(self.catalogue.category_groups)

    # --- read models ------------------------------------------------------------------
    # Each event is applied only if newer than what the row holds (shared rule). Events
    # that change part of a row (a rename, a move, a dissolution) come on their own topics
    # and may overtake others, so each part is guarded on its own: the area's parent by
    # ``parent_version``, a dissolution (final) by nothing at all.

    # Registry's areas and teams, kept with the shared read-model rule: an event that
    # arrives before the aggregate it names holds a placeholder, never a dead letter.

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {"code": event.code, "name": event.name},
            fills={"level": event.level},
        )
        await self._reparent(session, event.area_id, event.parent_id, event.aggregate_version)

    async def rename_area(self, session: AsyncSession, event: AreaUpdated) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {"code": event.code, "name": event.name},
        )

    async def move_area(self, session: AsyncSession, event: AreaMoved) -> None:
        """A new parent: descendant queries, officers' scopes and statistics follow it."""
        await hold_reference(session, KnownArea, event.area_id, code=event.code, name=event.code)
        await self._reparent(session, event.area_id, event.to_parent_id, event.aggregate_version)

    async def _reparent(
        self, session: AsyncSession, area_id: UUID, parent_id: UUID | None, version: int
    ) -> None:
        change = await set_parent_if_newer(session, KnownArea, area_id, parent_id, version)
        if change is not None and (change.first or change.old_parent != parent_id):
            # Rows rolled up into it while it hung unattached join its new ancestors.
            await statistics.reparent(session, area_id, change.old_parent, parent_id)

    async def remember_team(
        self, session: AsyncSession, event: TeamRegistered | TeamUpdated
    ) -> None:
        await apply_if_newer(
            session,
            KnownTeam,
            event.team_id,
            event.aggregate_version,
            {"area_id": event.area_id, "name": event.name, "kind": event.kind},
        )

    async def update_team(self, session: AsyncSession, event: TeamUpdated) -> None:
        await self.remember_team(session, event)

    async def dissolve_team(self, session: AsyncSession, event: TeamDissolved) -> None:
        """Final whatever the order: a dissolved team takes no new work."""
        team = await hold_reference(
            session, KnownTeam, event.team_id, area_id=event.area_id, name="", kind=""
        )
        team.status = TeamStatus.DISSOLVED.value
        team.dissolved_on = event.dissolved_on
        session.add(team)

    # --- references -----------------------------------------------------------------------

    def _check_category(self, category: str) -> str:
        group = self.catalogue.category_groups.get(category)
        if group is None:
            raise UnknownReferenceError(
                f"unknown category {category!r}; one of {', '.join(self.categories)}",
                ["body", "category"],
            )
        return group

    async def _references(
        self,
        session: AsyncSession,
        area_id: UUID,
        team_ids: list[UUID],
        incident_id: UUID | None = None,
    ) -> tuple[AreaLines, dict[UUID, Any], Incident | None]:
        """What a new record names, read before anything is written: its teams (one
        query), the incident it is linked to, and the lines above every area among them
        (one query), from which scope, level and the statistics' roll-up are answered."""
        teams: dict[UUID, Any] = {}
        if team_ids:
            rows = await execute(session, TEAMS_BY_ID, [{"ids": team_ids}])
            teams = {team.id: team for team in rows.all()}
        incident = await session.get(Incident, incident_id) if incident_id is not None else None
        lines = await self.scope.lines(
            session,
            [
                area_id,
                *(team.area_id for team in teams.values()),
                incident.area_id if incident is not None else None,
            ],
        )
        return lines, teams, incident

    def _place(self, lines: AreaLines, area_id: UUID, principal: Principal) -> Any:
        """The area a new record names: known, in the caller's scope, of a level that
        records are kept at (a ward, commune or residential group by default)."""
        area = lines.get(area_id)
        if not is_known(area) or not self.scope.permits(principal, lines, area_id):
            raise self.references.unknown(
                "area", area_id, ["body", "area_id"], AreaRegistered.topic
            )
        levels = self.catalogue.area_levels
        if area.level not in levels:
            raise RuleViolationError(
                f"records are kept at {' or '.join(levels)} level; this area is a {area.level}",
                ["body", "area_id"],
            )
        return area

    def _teams(
        self,
        team_ids: list[UUID],
        teams: dict[UUID, Any],
        lines: AreaLines,
        principal: Principal,
    ) -> list[UUID]:
        team_ids = list(dict.fromkeys(team_ids))
        for index, team_id in enumerate(team_ids):
            team = teams.get(team_id)
            if not is_known(team):
                raise self.references.unknown(
                    "team", team_id, ["body", "team_ids", index], TeamRegistered.topic
                )
            if not self.scope.permits(principal, lines, team.area_id):
                # Its area's events (which place it in the tree) may be on their way too.
                raise self.references.unknown(
                    "team",
                    team_id,
                    ["body", "team_ids", index],
                    TeamRegistered.topic,
                    AreaRegistered.topic,
                )
            if team.status != TeamStatus.ACTIVE:
                raise UnknownReferenceError(
                    f"{team.status} team {team_id}: a dissolved team cannot be credited",
                    ["body", "team_ids", index],
                )
        return team_ids

    async def _filter_areas(
        self, session: AsyncSession, area_id: UUID | None, principal: Principal
    ) -> set[UUID] | None:
        """The areas a list or statistic covers: the named area and its descendants, or
        the caller's areas; None for every area. An area the caller may not see is 404."""
        allowed = await self.scope.area_ids(session, principal)
        if area_id is None:
            return allowed
        await self.scope.area_within(
            session, area_id, allowed, loc=["query", "area_id"], known=is_known
        )
        return await descendants(session, KnownArea, [area_id])

    # --- incidents --------------------------------------------------------------------

    async def report_incident(
        self,
        command: IncidentCreate,
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> IncidentPublic:
        group = self._check_category(command.category)
        async with transaction(self.sessions) as session:
            lines, teams, _ = await self._references(session, command.area_id, command.team_ids)
            self._place(lines, command.area_id, principal)
            team_ids = self._teams(command.team_ids, teams, lines, principal)
            incident = Incident(
                **command.model_dump(exclude={"team_ids", "reported_at"}),
                category_group=group,
                reported_at=command.reported_at or utcnow(),
            )
            await self._record_incident(
                session, incident, team_ids, lines.chain(incident.area_id, statistics.MAX_DEPTH)
            )
            await self.audit.record(
                session, principal, "report_incident", "incident", incident.id, incident.area_id
            )
            # Built from what was just written: a new incident has no history, link or
            # duplicates yet, and its teams are the ones credited (as ``_team_ids`` orders
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

    async def _record_incident(
        self,
        session: AsyncSession,
        incident: Incident,
        team_ids: list[UUID],
        areas: list[UUID],
    ) -> Incident:
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
            day=statistics.local_day(incident.occurred_at, self.catalogue.zone),
            category_group=incident.category_group,
            category=incident.category,
            status=status,
            delta=delta,
        )

    async def change_status(
        self, incident_id: UUID, command: StatusChangeCreate, principal: Principal
    ) -> IncidentPublic:
        async with transaction(self.sessions) as session:
            incident = await self._get(session, incident_id, principal)
            if incident.duplicate_of is not None:
                raise ConflictError(
                    f"incident {incident.id} is linked as a duplicate of "
                    f"{incident.duplicate_of}; change the status of that one",
                    ["path", "incident_id"],
                )
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
                changed_by=principal.subject,
                changed_at=utcnow(),
            )
            areas = await statistics.ancestors(session, incident.area_id)
            await self._count(session, incident, incident.status, -1, areas)
            await self._count(session, incident, command.status, +1, areas)
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
                    category_group=incident.category_group,
                    source=incident.source,
                    from_status=change.from_status,
                    to_status=change.to_status,
                    changed_at=change.changed_at,
                    occurred_at=incident.occurred_at,
                    credited_team_ids=await self._team_ids(session, incident.id),
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
            public = await self._incident_public(session, incident, principal)
        if public.status is IncidentStatus.RESOLVED:
            self.metrics.resolved.labels(category_group=public.category_group).inc()
        return public

    async def link_duplicate(
        self, incident_id: UUID, command: DuplicateLinkCreate, principal: Principal
    ) -> IncidentPublic:
        """Mark an incident as repeating another: it leaves every count (its original
        stays), keeps its record and history, and takes no further status changes."""
        async with transaction(self.sessions) as session:
            incident = await self._get(session, incident_id, principal)
            loc = ["body", "duplicate_of"]
            if incident.duplicate_of is not None:
                raise ConflictError(
                    f"incident {incident.id} is already linked as a duplicate of "
                    f"{incident.duplicate_of}",
                    ["path", "incident_id"],
                )
            if command.duplicate_of == incident.id:
                raise RuleViolationError("an incident cannot repeat itself", loc)
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
            if original.duplicate_of is not None:
                raise RuleViolationError(
                    f"incident {original.id} is itself a duplicate of {original.duplicate_of}: "
                    "link to that one",
                    loc,
                )
            repeats = await session.exec(
                select(Incident.id).where(col(Incident.duplicate_of) == incident.id).limit(1)
            )
            if repeats.first() is not None:
                raise ConflictError(
                    f"other incidents are linked as duplicates of {incident.id}; "
                    "it cannot become a duplicate itself",
                    ["path", "incident_id"],
                )
            areas = await statistics.ancestors(session, incident.area_id)
            await self._count(session, incident, incident.status, -1, areas)
            await self._count(session, incident, statistics.DUPLICATE, +1, areas)
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
            return await self._incident_public(session, incident, principal)

    async def get_incident(self, incident_id: UUID, principal: Principal) -> IncidentPublic:
        async with self.sessions() as session:
            incident = await self._get(session, incident_id, principal)
            return await self._incident_public(session, incident, principal)

    async def _get(
        self, session: AsyncSession, incident_id: UUID, principal: Principal
    ) -> Incident:
        return await self.scope.get_in_scope(
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
    ) -> list[IncidentListItem]:
        self._check_incident_filter(filters)
        async with self.sessions() as session:
            areas = await self._filter_areas(session, filters.area_id, principal)
            rows = await session.exec(
                self._incident_query(filters, areas).offset(offset).limit(limit)
            )
            return await self._incident_items(session, list(rows.all()))

    async def export_incidents(
        self, filters: IncidentFilter, principal: Principal
    ) -> AsyncIterator[list[IncidentListItem]]:
        """Checks the scope now; the rows follow in chunks (see ``_keyset_chunks``)."""
        self._check_incident_filter(filters)
        async with self.sessions() as session:
            areas = await self._filter_areas(session, filters.area_id, principal)
        query = self._incident_query(filters, areas)
        return self._keyset_chunks(
            query, col(Incident.occurred_at), col(Incident.id), self._incident_items
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

    # --- activities -----------------------------------------------------------------------

    def _check_activity(self, command: ActivityCreate) -> list[tuple[str, str, int]]:
        """The activity against the catalogue; its measures as (item, unit, thousandths)."""
        catalogue = self.catalogue
        spec = catalogue.activity_types.get(command.activity_type)
        if spec is None:
            raise UnknownReferenceError(
                f"unknown activity type {command.activity_type!r}; one of "
                f"{', '.join(catalogue.activity_types)}",
                ["body", "activity_type"],
            )
        kind = command.activity_type
        if command.occurred_on > catalogue.today():
            raise RuleViolationError("cannot be in the future", ["body", "occurred_on"])
        if spec.outcomes:
            if command.outcome not in spec.outcomes:
                raise RuleViolationError(
                    f"activity type {kind} needs an outcome: one of {', '.join(spec.outcomes)}",
                    ["body", "outcome"],
                )
        elif command.outcome is not None:
            raise RuleViolationError(f"activity type {kind} has no outcome", ["body", "outcome"])
        if command.topic is not None and not spec.topic:
            raise RuleViolationError(f"activity type {kind} has no topic", ["body", "topic"])
        if command.incident_id is not None and not spec.incident_link:
            raise RuleViolationError(
                f"activity type {kind} is not linked to an incident", ["body", "incident_id"]
            )
        measures: list[tuple[str, str, int]] = []
        seen: set[tuple[str, str]] = set()
        for index, measure in enumerate(command.measures):
            loc: list[str | int] = ["body", "measures", index]
            fixed_unit = spec.measures.get(measure.item)
            if fixed_unit is not None:
                unit = measure.unit or fixed_unit
                if unit != fixed_unit:
                    raise RuleViolationError(
                        f"the unit of {measure.item} ({kind}) is {fixed_unit}", [*loc, "unit"]
                    )
            elif spec.free_items:
                if measure.unit is None or measure.unit not in catalogue.units:
                    raise RuleViolationError(
                        f"unit must be one of {', '.join(catalogue.units)}", [*loc, "unit"]
                    )
                unit = measure.unit
            else:
                raise UnknownReferenceError(
                    f"unknown item {measure.item!r} for activity type {kind}; one of "
                    f"{', '.join(spec.measures)}",
                    [*loc, "item"],
                )
            if unit in catalogue.whole_units and measure.quantity != int(measure.quantity):
                raise RuleViolationError(
                    f"{measure.item} must be a whole number (unit {unit})", [*loc, "quantity"]
                )
            if (measure.item, unit) in seen:
                raise RuleViolationError(f"{measure.item} is given twice", [*loc, "item"])
            seen.add((measure.item, unit))
            measures.append((measure.item, unit, statistics.to_milli(measure.quantity)))
        return measures

    async def log_activity(
        self,
        command: ActivityCreate,
        principal: Principal,
        idempotency: IdempotentRequest | None = None,
    ) -> ActivityPublic:
        measures = self._check_activity(command)
        async with transaction(self.sessions) as session:
            lines, teams, incident = await self._references(
                session, command.area_id, command.team_ids, command.incident_id
            )
            self._place(lines, command.area_id, principal)
            if command.incident_id is not None:
                if incident is None or not self.scope.permits(principal, lines, incident.area_id):
                    raise UnknownReferenceError(
                        f"unknown incident {command.incident_id}", ["body", "incident_id"]
                    )
            team_ids = self._teams(command.team_ids, teams, lines, principal)
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
                        ActivityMeasure(item=item, unit=unit, quantity=statistics.from_milli(milli))
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
                    MeasurePublic(item=item, unit=unit, quantity=statistics.from_milli(milli))
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
    ) -> list[ActivityPublic]:
        check_query_value("activity_type", filters.activity_type, self.catalogue.activity_types)
        async with self.sessions() as session:
            areas = await self._filter_areas(session, filters.area_id, principal)
            rows = await session.exec(
                self._activity_query(filters, areas).offset(offset).limit(limit)
            )
            return await self._activity_items(session, list(rows.all()))

    async def export_activities(
        self, filters: ActivityFilter, principal: Principal
    ) -> AsyncIterator[list[ActivityPublic]]:
        check_query_value("activity_type", filters.activity_type, self.catalogue.activity_types)
        async with self.sessions() as session:
            areas = await self._filter_areas(session, filters.area_id, principal)
        query = self._activity_query(filters, areas)
        return self._keyset_chunks(
            query, col(Activity.occurred_on), col(Activity.id), self._activity_items
        )

    def _keyset_chunks(
        self,
        query: Any,
        order: Any,
        row_id: Any,
        to_items: Callable[[AsyncSession, list[Any]], Awaitable[list[Item]]],
    ) -> AsyncIterator[list[Item]]:
        """Rows newest first in chunks, a fresh query per chunk that resumes after the
        last row (keyset), so an export of any size keeps memory flat."""

        async def chunks() -> AsyncIterator[list[Item]]:
            last: tuple[Any, Any] | None = None
            while True:
                page = query
                if last is not None:
                    page = page.where(
                        or_(order < last[0], and_(order == last[0], row_id < last[1]))
                    )
                async with self.sessions() as session:
                    rows = list((await session.exec(page.limit(EXPORT_CHUNK))).all())
                    if not rows:
                        return
                    yield await to_items(session, rows)
                last = (getattr(rows[-1], order.key), rows[-1].id)

        return chunks()

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
                        item=row.item,
                        unit=row.unit,
                        quantity=statistics.from_milli(row.quantity_milli),
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

    # --- statistics -----------------------------------------------------------------------

    async def statistics(
        self, area_id: UUID, start: date, end: date, principal: Principal
    ) -> Statistics:
        """Incidents and activities of an area and everything below it, in [start, end]
        and the same dates a year earlier, summed from the tallies."""
        check_period(start, end)
        periods = statistics.Periods(start, end)
        async with self.sessions() as session:
            allowed = await self.scope.area_ids(session, principal)
            area = await self.scope.area_within(session, area_id, allowed, loc=["query", "area_id"])
            incidents = await statistics.incident_figures(
                session, area_id, periods, self.catalogue.category_groups
            )
            activities = await statistics.activity_figures(
                session, area_id, periods, self.catalogue.activity_types
            )
        previous = periods.previous
        return Statistics(
            area_id=area.id,
            area_code=area.code,
            area_name=area.name,
            period=Period(start=start, end=end),
            compared_with=Period(start=previous.start, end=previous.end),
            timezone=self.catalogue.zone_name,
            incidents=incidents,
            activities=activities,
        )

    async def recount_statistics(self, session: AsyncSession) -> None:
        """Every statistics tally again, from the incidents and activities themselves, along
        the area tree as the read model holds it now: what the tallies kept with each change
        and each move add up to. ``antt rebuild reporting`` runs it once the tree is rebuilt
        (replaying moves onto kept tallies would count them twice)."""
        await statistics.recount(session, self.catalogue.zone)

    # --- tip-offs ---------------------------------------------------------------------

    async def submit_tip(
        self, command: TipCreate, idempotency: IdempotentRequest | None = None
    ) -> TipReceipt:
        """A resident's tip, without an account: it becomes an incident from a resident tip.
        Its receipt holds the follow secret: a route that remembers it seals it."""
        group = self._check_category(command.category)
        secret = secrets.token_urlsafe(18)
        async with transaction(self.sessions) as session:
            lines = await self.scope.lines(session, [command.area_id])
            self._place(lines, command.area_id, ANONYMOUS_INFORMANT)
            incident = await self._record_incident(
                session,
                Incident(
                    area_id=command.area_id,
                    category=command.category,
                    category_group=group,
                    source=IncidentSource.RESIDENT_TIP,
                    summary=command.summary,
                    occurred_at=command.occurred_at,
                ),
                [],
                lines.chain(command.area_id, statistics.MAX_DEPTH),
            )
            informant = command.informant
            tip = TipOff(
                incident_id=incident.id,
                tip_number=await self._unused_tip_number(session),
                secret_hash=hash_secret(secret),
                informant_name=self.vault.seal(informant.full_name if informant else None),
                informant_contact=self.vault.seal(informant.contact if informant else None),
            )
            session.add(tip)
            await self.audit.record(
                session,
                ANONYMOUS_INFORMANT,
                "submit_tip",
                "incident",
                incident.id,
                incident.area_id,
            )
            receipt = TipReceipt(tip_number=tip.tip_number, secret=secret, status=incident.status)
            if idempotency is not None:
                await idempotency.remember(session, receipt)
        self.metrics.reported.labels(category_group=group).inc()
        return receipt

    async def _unused_tip_number(self, session: AsyncSession) -> str:
        while True:
            number = new_tip_number()
            taken = await session.exec(select(TipOff.id).where(TipOff.tip_number == number))
            if taken.first() is None:
                return number

    async def tip_status(self, tip_number: str, secret: str) -> TipStatusPublic:
        # Unknown number and wrong secret answer alike: no way to probe for tip numbers.
        not_found = NotFoundError("no tip with this number and secret", ["path", "tip_number"])
        async with self.sessions() as session:
            tip = (
                await session.exec(select(TipOff).where(TipOff.tip_number == tip_number))
            ).first()
            if tip is None:
                hash_secret(secret)  # same work either way, so timing tells nothing
                raise not_found
            if not secret_matches(secret, tip.secret_hash):
                raise not_found
            incident = await session.get(Incident, tip.incident_id)
            assert incident is not None
            return TipStatusPublic(
                tip_number=tip.tip_number, status=incident.status, received_at=tip.created_at
            )

    async def incident_for_tip(self, tip_number: str, principal: Principal) -> IncidentPublic:
        """The incident a tip became, for a tip handler of its area (another area's tip is
        404, as an unknown number). Its informant is read only through ``informant``."""
        not_found = NotFoundError("tip not found", ["path", "tip_number"])
        async with self.sessions() as session:
            found = await session.exec(
                select(TipOff.incident_id).where(TipOff.tip_number == tip_number.upper())
            )
            incident_id = found.first()
            if incident_id is None:
                raise not_found
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            await self.scope.require(session, principal, incident.area_id, not_found)
            return await self._incident_public(session, incident, principal)

    async def informant(self, incident_id: UUID, principal: Principal) -> InformantPublic:
        async with transaction(self.sessions) as session:
            incident = await self._get(session, incident_id, principal)
            tip = (
                await session.exec(select(TipOff).where(TipOff.incident_id == incident.id))
            ).first()
            if tip is None:
                raise NotFoundError(
                    f"incident {incident_id} did not come from a tip-off", ["path", "incident_id"]
                )
            await self.audit.record(
                session, principal, "read_informant", "incident", incident.id, incident.area_id
            )
            name, contact = (
                self.vault.open(tip.informant_name),
                self.vault.open(tip.informant_contact),
            )
            return InformantPublic(
                incident_id=incident.id,
                tip_number=tip.tip_number,
                anonymous=name is None and contact is None,
                full_name=name,
                contact=contact,
            )

    async def reseal_informants(self) -> int:
        """Re-encrypt every informant record with the newest key (after adding one), and
        the tip receipts kept for idempotent retries."""
        count = 0
        async with transaction(self.sessions) as session:
            for tip in (await session.exec(select(TipOff))).all():
                tip.informant_name = self.vault.reseal(tip.informant_name)
                tip.informant_contact = self.vault.reseal(tip.informant_contact)
                session.add(tip)
                count += 1
            if self.idempotency is not None:
                await self.idempotency.reseal(session)
        return count

    async def _team_ids(self, session: AsyncSession, incident_id: UUID) -> list[UUID]:
        rows = await session.exec(
            select(IncidentTeam.team_id)
            .where(IncidentTeam.incident_id == incident_id)
            .order_by(col(IncidentTeam.team_id))
        )
        return list(rows.all())

    async def _incident_public(
        self, session: AsyncSession, incident: Incident, principal: Principal
    ) -> IncidentPublic:
        """The incident with its history and links; its tip number only for a caller who
        may see tips (a tip handler), never its informant."""
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
        link = await session.get(IncidentLink, incident.id)
        tip_number = None
        if principal.may(Access.INFORMANT) and incident.source == IncidentSource.RESIDENT_TIP:
            tips = await session.exec(
                select(TipOff.tip_number).where(TipOff.incident_id == incident.id)
            )
            tip_number = tips.first()
        return IncidentPublic(
            **incident.model_dump(),
            team_ids=await self._team_ids(session, incident.id),
            history=[StatusChangePublic.model_validate(change) for change in history.all()],
            link=DuplicateLinkPublic.model_validate(link) if link else None,
            duplicates=list(duplicates.all()),
            tip_number=tip_number,
        )
