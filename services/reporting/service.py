"""The reporting use cases held together: each aggregate's service, built once from the
runtime's parts, for the app, its ``antt`` command, tests and benchmarks
(``app.state.service``). No domain logic here."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.activities.service import ActivityService
from services.reporting.catalogue.rules import Catalogue
from services.reporting.common import ReportingMetrics
from services.reporting.incidents.service import IncidentService
from services.reporting.replicas.service import ReplicaService
from services.reporting.statistics.service import StatisticsService
from services.reporting.tips.service import InformantVault, TipService
from shared.audit import AuditTrail
from shared.db import SessionFactory
from shared.idempotency import Idempotency
from shared.outbox import Outbox
from shared.references import References


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
        self.catalogue = catalogue
        self.replicas = ReplicaService(catalogue, references)
        self.incidents = IncidentService(sessions, outbox, audit, catalogue, metrics, self.replicas)
        self.tips = TipService(
            sessions, audit, vault, catalogue, metrics, self.incidents, idempotency
        )
        self.activities = ActivityService(
            sessions, outbox, audit, catalogue, metrics, self.replicas
        )
        self.statistics = StatisticsService(sessions, catalogue, self.replicas.scope)

    async def reseal_informants(self) -> int:
        """``antt reseal-informants``: see ``TipService.reseal_informants``."""
        return await self.tips.reseal_informants()

    async def recount_statistics(self, session: AsyncSession) -> None:
        """``antt rebuild reporting``, once the replicas are rebuilt: see
        ``StatisticsService.recount``."""
        await self.statistics.recount(session)
