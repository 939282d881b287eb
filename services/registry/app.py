"""Registry composition root: settings, database, broker, routes, handlers, metrics."""

from fastapi import FastAPI
from pydantic import Field

from services.registry.areas.api import create_router as area_routes
from services.registry.cameras.api import create_router as camera_routes
from services.registry.honours.handlers import register_handlers
from services.registry.honours.models import Honour, RevokedAward
from services.registry.imports.api import create_router as import_routes
from services.registry.initiatives.api import create_router as initiative_routes
from services.registry.models import RegistryTable
from services.registry.people.api import create_router as person_routes
from services.registry.rosters.api import create_router as roster_routes
from services.registry.service import RegistryService
from services.registry.summaries.api import create_router as summary_routes
from services.registry.teams.api import create_router as team_routes
from services.registry.teams.rules import DEFAULT_TEAM_KINDS, DEFAULT_TEAM_RULES, TeamKind, TeamRule
from shared.events import (
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    CameraInstalled,
    CameraRemoved,
    InitiativeLaunched,
    InitiativeStopped,
    MemberJoined,
    MemberLeft,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

DEFAULT_CAMERA_FUNDING = ["state_budget", "socialised", "mixed", "business", "other"]
# Filled only from awards' events (the honours shown on profiles): `antt rebuild registry`
# empties them and reads awards.award again. Everything else is registry's own.
READ_MODELS = [Honour, RevokedAward]


class Settings(ServiceSettings):
    service_name: str = "registry"
    port: int = 8001
    # Ward spreadsheets are imported in one request (POST /imports/teams).
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    team_kinds: dict[str, TeamKind] = Field(default_factory=lambda: dict(DEFAULT_TEAM_KINDS))
    team_rules: list[TeamRule] = Field(default_factory=lambda: list(DEFAULT_TEAM_RULES))
    camera_funding: list[str] = Field(default_factory=lambda: list(DEFAULT_CAMERA_FUNDING))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        metadata=RegistryTable.metadata,
        publishes=[
            AreaRegistered,
            AreaUpdated,
            AreaMoved,
            TeamRegistered,
            TeamUpdated,
            TeamDissolved,
            MemberJoined,
            MemberLeft,
            InitiativeLaunched,
            InitiativeStopped,
            CameraInstalled,
            CameraRemoved,
        ],
    )
    service = RegistryService(
        runtime.sessions,
        runtime.outbox,
        runtime.audit,
        settings.team_kinds,
        settings.team_rules,
        settings.camera_funding,
        runtime.registry,
    )
    runtime.every(
        settings.metrics_refresh_seconds, service.teams.refresh_active_teams, "active-teams"
    )
    register_handlers(runtime.consumer, service.honours)
    runtime.declare_read_models(READ_MODELS)
    app = runtime.create_app(
        title="ANTT registry",
        description="The area tree; teams, their members and rules; initiatives; community "
        "cameras; area summaries; and the honours teams and people received.",
        routers=[
            area_routes(service.areas, runtime),
            summary_routes(service.summaries, runtime),
            person_routes(service.people, runtime),
            team_routes(service.teams, runtime),
            roster_routes(service.rosters, runtime),
            initiative_routes(service.initiatives, runtime),
            camera_routes(service.cameras, runtime),
            import_routes(service.imports, runtime),
        ],
    )
    app.state.service = service
    return app
