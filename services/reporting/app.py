"""Reporting composition root: settings, database, broker, routes, handlers, metrics."""

from fastapi import FastAPI
from pydantic import Field

from services.reporting.api import create_router
from services.reporting.handlers import register_handlers
from services.reporting.models import ReportingTable
from services.reporting.service import ReportingService
from shared.events import IncidentReported, IncidentStatusChanged
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

DEFAULT_CATEGORIES = [
    "theft",
    "robbery",
    "snatching",
    "assault",
    "fraud",
    "online_fraud",
    "property_damage",
    "weapons",
    "drugs",
    "gambling",
    "public_disorder",
    "traffic",
    "fire_explosion",
    "administrative_violation",
    "security",
    "dispute",
]


class Settings(ServiceSettings):
    service_name: str = "reporting"
    port: int = 8002
    incident_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        metadata=ReportingTable.metadata,
        publishes=[IncidentReported, IncidentStatusChanged],
    )
    service = ReportingService(runtime.sessions, runtime.outbox, settings.incident_categories)
    register_handlers(runtime.consumer, service)
    return runtime.create_app(
        title="ANTT reporting",
        description="Incidents and their lifecycle, checked against areas and teams "
        "known from registry events.",
        routers=[create_router(service)],
    )
