"""Reporting composition root: settings, database, broker, routes, handlers, metrics."""

import base64
import hashlib
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field, SecretStr

from services.reporting.api import create_router
from services.reporting.handlers import register_handlers
from services.reporting.models import ReportingTable
from services.reporting.service import InformantVault, ReportingMetrics, ReportingService
from shared.auth import ConfigurationError
from shared.events import IncidentReported, IncidentStatusChanged
from shared.limits import RateLimiter
from shared.logging import get_logger
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

log = get_logger()

# Category → group, for the statistics and the metrics; ops may add categories.
DEFAULT_CATEGORY_GROUPS = {
    "theft": "crime",
    "robbery": "crime",
    "snatching": "crime",
    "assault": "crime",
    "fraud": "crime",
    "online_fraud": "crime",
    "property_damage": "crime",
    "weapons": "crime",
    "drugs": "drugs_social_evils",
    "gambling": "drugs_social_evils",
    "public_disorder": "public_order",
    "dispute": "public_order",
    "traffic": "traffic",
    "fire_explosion": "fire_explosion",
    "administrative_violation": "administrative",
    "security": "security",
}


class Settings(ServiceSettings):
    service_name: str = "reporting"
    port: int = 8002
    incident_category_groups: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_GROUPS)
    )
    # Fernet keys for informant details, newest first; older ones still decrypt (rotation).
    informant_keys: list[SecretStr] = Field(default_factory=list)
    informant_keys_file: Path | None = None
    tips_per_client_per_minute: int = Field(default=5, ge=1)
    tips_per_minute: int = Field(default=120, ge=1)


def informant_keys(settings: Settings) -> list[str]:
    if settings.informant_keys_file is not None:
        keys = [line.strip() for line in settings.informant_keys_file.read_text().splitlines()]
        return [key for key in keys if key and not key.startswith("#")]
    if settings.informant_keys:
        return [key.get_secret_value() for key in settings.informant_keys]
    if settings.env == "dev":
        log.warning("dev_informant_key_in_use", hint="set ANTT_INFORMANT_KEYS outside development")
        return [
            base64.urlsafe_b64encode(hashlib.sha256(b"antt-dev-informant-key").digest()).decode()
        ]
    raise ConfigurationError(
        "ANTT_INFORMANT_KEYS or ANTT_INFORMANT_KEYS_FILE is required unless ANTT_ENV=dev"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        metadata=ReportingTable.metadata,
        publishes=[IncidentReported, IncidentStatusChanged],
    )
    service = ReportingService(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        InformantVault(informant_keys(settings)),
        list(settings.incident_category_groups),
        ReportingMetrics(runtime.registry, settings.incident_category_groups),
    )
    register_handlers(runtime.consumer, service)
    tip_limiter = RateLimiter(settings.tips_per_client_per_minute, settings.tips_per_minute)
    app = runtime.create_app(
        title="ANTT reporting",
        description="Incidents and their lifecycle, checked against areas and teams "
        "known from registry events; tip-offs from residents.",
        routers=[create_router(service, runtime, tip_limiter)],
    )
    app.state.service = service
    return app
