"""Reporting composition root: settings, database, broker, routes, handlers, metrics."""

import base64
import hashlib
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI
from pydantic import Field, SecretStr

from services.reporting.activities import api as activities_api
from services.reporting.catalogue import api as catalogue_api
from services.reporting.catalogue.models import ActivityTypeSpec
from services.reporting.catalogue.rules import Catalogue, activity_type_problem
from services.reporting.common import ReportingMetrics
from services.reporting.incidents import api as incidents_api
from services.reporting.models import (
    ActivityTally,
    IncidentTally,
    KnownArea,
    KnownTeam,
    MeasureTally,
    ReportingTable,
)
from services.reporting.replicas.handlers import register_handlers
from services.reporting.service import ReportingService
from services.reporting.statistics import api as statistics_api
from services.reporting.tips import api as tips_api
from services.reporting.tips.service import InformantVault
from shared.auth import ConfigurationError
from shared.events import (
    ActivityLogged,
    AreaLevel,
    IncidentLinked,
    IncidentReported,
    IncidentStatusChanged,
)
from shared.idempotency import Idempotency
from shared.limits import RateLimiter
from shared.logging import dev_notice, get_logger
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
    "murder": "crime",
    "explosives": "crime",
    "prostitution": "drugs_social_evils",
}

# The activity catalogue: each type's measured items and their units (awards reads these
# names from activity_logged). Ops may add types through ANTT_ACTIVITY_TYPES.
DEFAULT_ACTIVITY_TYPES: dict[str, dict[str, Any]] = {
    "outreach": {"measures": {"sessions": "count", "people_reached": "people"}},
    "patrol": {"measures": {"patrols": "count", "participants": "people"}},
    "training": {"measures": {"sessions": "count", "participants": "people"}, "topic": True},
    "mediation": {"measures": {"cases": "count"}, "outcomes": ["successful", "unsuccessful"]},
    "household_pledge": {"measures": {"households": "households"}},
    "weapons_handover": {"free_items": True},
    "footage_extraction": {"measures": {"extractions": "count"}, "incident_link": True},
    # E-ID help (định danh điện tử), as the police count it: level 1 accounts activated,
    # level 2 applications collected (thu nhận), level 2 accounts activated. Records of the
    # earlier level_1 / level_2 were migrated to level_1_activated / level_2_collected.
    "eid_assistance": {
        "measures": {
            "level_1_activated": "people",
            "level_2_collected": "people",
            "level_2_activated": "people",
        }
    },
}
# Units of freely named items (weapons handed in); the first ones are counted whole.
DEFAULT_ACTIVITY_UNITS = ["piece", "kg", "g", "litre", "box", "round"]
DEFAULT_WHOLE_UNITS = ["count", "people", "households", "piece", "box", "round"]

# Filled only from registry's events: `antt rebuild reporting` empties them and reads
# registry.area and registry.team again. The statistics tallies count reporting's own
# incidents and activities but roll them up along that area tree, which the area events
# move: they are emptied before the replay and counted again from the records after it.
READ_MODELS = [KnownArea, KnownTeam]
RECOUNTED = [IncidentTally, ActivityTally, MeasureTally]


class Settings(ServiceSettings):
    service_name: str = "reporting"
    port: int = 8002
    incident_category_groups: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_GROUPS)
    )
    activity_types: dict[str, ActivityTypeSpec] = Field(
        default_factory=lambda: {
            kind: ActivityTypeSpec.model_validate(spec)
            for kind, spec in DEFAULT_ACTIVITY_TYPES.items()
        }
    )
    activity_units: list[str] = Field(default_factory=lambda: list(DEFAULT_ACTIVITY_UNITS))
    whole_units: list[str] = Field(default_factory=lambda: list(DEFAULT_WHOLE_UNITS))
    # Levels of the areas incidents and activities are recorded at.
    record_area_levels: list[AreaLevel] = Field(
        default_factory=lambda: [AreaLevel.WARD, AreaLevel.COMMUNE, AreaLevel.RESIDENTIAL_GROUP]
    )
    # The calendar that days and months of the statistics follow (Vietnam: UTC+7, no DST).
    statistics_timezone: str = "Asia/Ho_Chi_Minh"
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
        dev_notice(
            "dev_informant_key_in_use",
            "informants are encrypted with the development key; set ANTT_INFORMANT_KEYS "
            "outside development",
        )
        return [
            base64.urlsafe_b64encode(hashlib.sha256(b"antt-dev-informant-key").digest()).decode()
        ]
    raise ConfigurationError(
        "ANTT_INFORMANT_KEYS or ANTT_INFORMANT_KEYS_FILE is required unless ANTT_ENV=dev"
    )


def statistics_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        if name == "Asia/Ho_Chi_Minh":  # no tz database in the image: the offset is fixed
            return timezone(timedelta(hours=7), name)
        raise ConfigurationError(f"unknown ANTT_STATISTICS_TIMEZONE {name!r}") from None


def catalogue(settings: Settings) -> Catalogue:
    for kind, spec in settings.activity_types.items():
        problem = activity_type_problem(kind, spec)
        if problem is not None:
            raise ConfigurationError(problem)
    return Catalogue(
        category_groups=settings.incident_category_groups,
        activity_types=settings.activity_types,
        units=settings.activity_units,
        whole_units=settings.whole_units,
        area_levels=settings.record_area_levels,
        zone=statistics_zone(settings.statistics_timezone),
        zone_name=settings.statistics_timezone,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        metadata=ReportingTable.metadata,
        publishes=[IncidentReported, IncidentStatusChanged, IncidentLinked, ActivityLogged],
    )
    vault = InformantVault(informant_keys(settings))
    # Tip receipts kept for retries are sealed with the informant keys.
    idempotency = Idempotency(
        ReportingTable.metadata, runtime.sessions, settings.idempotency_keep_hours, sealer=vault
    )
    runtime.every(
        settings.idempotency_purge_interval_seconds, idempotency.purge, name="idempotency-purge"
    )
    service = ReportingService(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        vault,
        catalogue(settings),
        ReportingMetrics(runtime.registry, settings.incident_category_groups),
        runtime.references,
        idempotency,
    )
    register_handlers(runtime.consumer, service.replicas)
    runtime.declare_read_models(
        READ_MODELS, recomputed=RECOUNTED, recompute=service.recount_statistics
    )
    tip_limiter = RateLimiter(settings.tips_per_client_per_minute, settings.tips_per_minute)
    app = runtime.create_app(
        title="ANTT reporting",
        description="Incidents and their lifecycle, checked against areas and teams "
        "known from registry events; tip-offs from residents; activities; statistics "
        "against the same period a year earlier.",
        routers=[
            catalogue_api.create_router(service.catalogue, runtime),
            incidents_api.create_router(service.incidents, runtime, idempotency),
            tips_api.create_router(service.tips, runtime, tip_limiter, idempotency),
            activities_api.create_router(service.activities, runtime, idempotency),
            statistics_api.create_router(service.statistics, runtime),
        ],
    )
    idempotency.install(app)
    app.state.service = service
    app.state.idempotency = idempotency
    return app
