"""Tip use cases: a resident's tip becomes an incident, its follow secret is checked, and
its informant is sealed, read by tip handlers (audited) and resealed with a newer key."""

from uuid import UUID

from cryptography.fernet import Fernet, MultiFernet
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.catalogue.rules import Catalogue, category_group
from services.reporting.common import ReportingMetrics
from services.reporting.incidents.models import Incident, IncidentPublic
from services.reporting.incidents.service import IncidentService
from services.reporting.statistics import service as statistics
from services.reporting.tips.models import (
    InformantPublic,
    TipCreate,
    TipOff,
    TipReceipt,
    TipStatusPublic,
)
from services.reporting.tips.rules import (
    as_typed_by_handler,
    hash_secret,
    new_secret,
    new_tip_number,
    secret_matches,
)
from shared.audit import AuditTrail
from shared.auth import Principal, Role
from shared.db import SessionFactory, transaction
from shared.errors import NotFoundError
from shared.events import IncidentSource
from shared.idempotency import Idempotency, IdempotentRequest

# Who the audit trail names for an anonymous tip: never the informant.
ANONYMOUS_INFORMANT = Principal(subject="anonymous-informant", role=Role.SERVICE)


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


class TipService:
    def __init__(
        self,
        sessions: SessionFactory,
        audit: AuditTrail,
        vault: InformantVault,
        catalogue: Catalogue,
        metrics: ReportingMetrics,
        incidents: IncidentService,
        idempotency: Idempotency | None = None,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.vault = vault
        self.catalogue = catalogue
        self.metrics = metrics
        self.incidents = incidents
        self.replicas = incidents.replicas
        self.scope = incidents.scope
        self.idempotency = idempotency  # its sealed rows are resealed with the informants'

    async def submit_tip(
        self, command: TipCreate, idempotency: IdempotentRequest | None = None
    ) -> TipReceipt:
        """A resident's tip, without an account: it becomes an incident from a resident tip.
        Its receipt holds the follow secret: a route that remembers it seals it."""
        group = category_group(self.catalogue, command.category)
        secret = new_secret()
        async with transaction(self.sessions) as session:
            lines = await self.scope.lines(session, [command.area_id])
            self.replicas.place(lines, command.area_id, ANONYMOUS_INFORMANT)
            incident = await self.incidents.record_incident(
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
                select(TipOff.incident_id).where(
                    TipOff.tip_number == as_typed_by_handler(tip_number)
                )
            )
            incident_id = found.first()
            if incident_id is None:
                raise not_found
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            await self.scope.require(session, principal, incident.area_id, not_found)
            return await self.incidents.incident_public(session, incident, principal)

    async def informant(self, incident_id: UUID, principal: Principal) -> InformantPublic:
        async with transaction(self.sessions) as session:
            incident = await self.incidents.get(session, incident_id, principal)
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
