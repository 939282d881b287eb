"""Reporting use cases: the only code that changes reporting state or adds outbox rows."""

import hashlib
import hmac
import secrets
from uuid import UUID

from cryptography.fernet import Fernet, MultiFernet
from prometheus_client import CollectorRegistry, Counter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import (
    Incident,
    IncidentCreate,
    IncidentPublic,
    IncidentStatusChange,
    IncidentTeam,
    InformantPublic,
    KnownArea,
    KnownTeam,
    StatusChangeCreate,
    StatusChangePublic,
    TipCreate,
    TipOff,
    TipReceipt,
    TipStatusPublic,
    utcnow,
)
from shared.audit import AuditTrail
from shared.auth import Principal, Role
from shared.db import SessionFactory, transaction
from shared.errors import ConflictError, NotFoundError, UnknownReferenceError
from shared.events import (
    AreaRegistered,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    TeamRegistered,
)
from shared.outbox import Outbox
from shared.read_models import apply_if_newer
from shared.scope import AreaScope

# Who the audit trail names for an anonymous tip: never the informant.
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


class ReportingMetrics:
    """The movement's figures as counters; labels are category groups, never ids or text."""

    def __init__(self, registry: CollectorRegistry, category_groups: dict[str, str]) -> None:
        self.category_groups = category_groups
        self.reported = Counter(
            "antt_incidents_reported", "Incidents reported", ["category_group"], registry=registry
        )
        self.resolved = Counter(
            "antt_incidents_resolved", "Incidents resolved", ["category_group"], registry=registry
        )

    def group(self, category: str) -> str:
        return self.category_groups.get(category, "other")


class ReportingService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        vault: InformantVault,
        categories: list[str],
        metrics: ReportingMetrics,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.audit = audit
        self.vault = vault
        self.categories = categories
        self.metrics = metrics
        self.scope = AreaScope(KnownArea)

    # --- read models ------------------------------------------------------------------

    async def remember_area(self, session: AsyncSession, event: AreaRegistered) -> None:
        await apply_if_newer(
            session,
            KnownArea,
            event.area_id,
            event.aggregate_version,
            {
                "code": event.code,
                "name": event.name,
                "level": event.level,
                "parent_id": event.parent_id,
            },
        )

    async def remember_team(self, session: AsyncSession, event: TeamRegistered) -> None:
        await apply_if_newer(
            session,
            KnownTeam,
            event.team_id,
            event.aggregate_version,
            {"area_id": event.area_id, "name": event.name, "kind": event.kind},
        )

    # --- incidents --------------------------------------------------------------------

    def _check_category(self, category: str) -> None:
        if category not in self.categories:
            raise UnknownReferenceError(
                f"unknown category {category!r}; one of {', '.join(self.categories)}",
                ["body", "category"],
            )

    async def report_incident(
        self, command: IncidentCreate, principal: Principal
    ) -> IncidentPublic:
        self._check_category(command.category)
        team_ids = list(dict.fromkeys(command.team_ids))
        async with transaction(self.sessions) as session:
            allowed = await self.scope.area_ids(session, principal)
            area = await session.get(KnownArea, command.area_id)
            if area is None or (allowed is not None and area.id not in allowed):
                raise UnknownReferenceError(f"unknown area {command.area_id}", ["body", "area_id"])
            for index, team_id in enumerate(team_ids):
                team = await session.get(KnownTeam, team_id)
                if team is None or (allowed is not None and team.area_id not in allowed):
                    raise UnknownReferenceError(
                        f"unknown team {team_id}", ["body", "team_ids", index]
                    )
                if team.status != "active":
                    raise UnknownReferenceError(
                        f"{team.status} team {team_id}", ["body", "team_ids", index]
                    )
            incident = await self._record_incident(
                session, Incident.model_validate(command.model_dump(exclude={"team_ids"})), team_ids
            )
            await self.audit.record(
                session, principal, "report_incident", "incident", incident.id, incident.area_id
            )
            public = await self._incident_public(session, incident)
        self.metrics.reported.labels(category_group=self.metrics.group(public.category)).inc()
        return public

    async def _record_incident(
        self, session: AsyncSession, incident: Incident, team_ids: list[UUID]
    ) -> Incident:
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
        return incident

    async def change_status(
        self, incident_id: UUID, command: StatusChangeCreate, principal: Principal
    ) -> IncidentPublic:
        async with transaction(self.sessions) as session:
            incident = await self._get(session, incident_id, principal)
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
            await self.audit.record(
                session,
                principal,
                f"status_{command.status}",
                "incident",
                incident.id,
                incident.area_id,
            )
            public = await self._incident_public(session, incident)
        if public.status is IncidentStatus.RESOLVED:
            self.metrics.resolved.labels(category_group=self.metrics.group(public.category)).inc()
        return public

    async def get_incident(self, incident_id: UUID, principal: Principal) -> IncidentPublic:
        async with self.sessions() as session:
            incident = await self._get(session, incident_id, principal)
            return await self._incident_public(session, incident)

    async def _get(
        self, session: AsyncSession, incident_id: UUID, principal: Principal
    ) -> Incident:
        not_found = NotFoundError(f"incident {incident_id} not found", ["path", "incident_id"])
        incident = await session.get(Incident, incident_id)
        if incident is None:
            raise not_found
        await self.scope.require(session, principal, incident.area_id, not_found)
        return incident

    # --- tip-offs ---------------------------------------------------------------------

    async def submit_tip(self, command: TipCreate) -> TipReceipt:
        """A resident's tip, without an account: it becomes an incident from a resident tip."""
        self._check_category(command.category)
        secret = secrets.token_urlsafe(18)
        async with transaction(self.sessions) as session:
            if await session.get(KnownArea, command.area_id) is None:
                raise UnknownReferenceError(f"unknown area {command.area_id}", ["body", "area_id"])
            incident = await self._record_incident(
                session,
                Incident(
                    area_id=command.area_id,
                    category=command.category,
                    source=IncidentSource.RESIDENT_TIP,
                    summary=command.summary,
                    occurred_at=command.occurred_at,
                ),
                [],
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
        self.metrics.reported.labels(category_group=self.metrics.group(command.category)).inc()
        return TipReceipt(tip_number=tip.tip_number, secret=secret, status=incident.status)

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
        """Re-encrypt every informant record with the newest key (after adding one)."""
        count = 0
        async with transaction(self.sessions) as session:
            for tip in (await session.exec(select(TipOff))).all():
                tip.informant_name = self.vault.reseal(tip.informant_name)
                tip.informant_contact = self.vault.reseal(tip.informant_contact)
                session.add(tip)
                count += 1
        return count

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
