"""Awards composition root: settings, database, broker, routes, handlers, metrics."""

from fastapi import FastAPI
from pydantic import Field

from services.awards.api import create_router
from services.awards.handlers import register_handlers
from services.awards.models import AwardsTable
from services.awards.service import AwardsMetrics, AwardsService
from shared.events import AwardGranted
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "awards"
    port: int = 8003
    award_forms: list[str] = Field(default_factory=lambda: ["giay_khen", "bang_khen"])
    # Issuing authorities and their level are configuration: the district level ended in
    # mid-2025 but old records keep it.
    authority_levels: dict[str, str] = Field(
        default_factory=lambda: {
            "ward_committee": "ward",
            "commune_committee": "ward",
            "district_committee": "district",
            "city_police": "province",
            "provincial_police": "province",
            "provincial_committee": "province",
            "ministry_of_public_security": "national",
        }
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata=AwardsTable.metadata, publishes=[AwardGranted])
    service = AwardsService(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        settings.award_forms,
        AwardsMetrics(runtime.registry, settings.authority_levels),
    )
    register_handlers(runtime.consumer, service)
    app = runtime.create_app(
        title="ANTT awards",
        description="Nominations and awards, and the contributions behind them.",
        routers=[create_router(service, runtime)],
    )
    app.state.service = service
    return app
