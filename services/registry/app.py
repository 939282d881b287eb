"""Registry composition root: settings, database, broker, routes, handlers, metrics."""

from fastapi import FastAPI
from pydantic import Field

from services.registry.api import create_router
from services.registry.handlers import register_handlers
from services.registry.models import RegistryTable
from services.registry.service import RegistryService
from shared.events import AreaRegistered, MemberJoined, TeamRegistered
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

DEFAULT_TEAM_KINDS = [
    "security_order",  # tổ bảo vệ an ninh, trật tự (tổ ANTT)
    "civil_defence",  # tổ bảo vệ dân phố
    "social_security",  # tổ an ninh xã hội
    "neighbourhood_watch",  # tổ liên gia an toàn / nhóm liên gia tự quản
    "mediation",  # tổ hòa giải
    "self_management",  # tổ tự quản
    "rapid_response",  # tổ xung kích
    "eid_guidance",  # tổ hướng dẫn định danh điện tử
]


class Settings(ServiceSettings):
    service_name: str = "registry"
    port: int = 8001
    team_kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_TEAM_KINDS))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        metadata=RegistryTable.metadata,
        publishes=[AreaRegistered, TeamRegistered, MemberJoined],
    )
    service = RegistryService(
        runtime.sessions, runtime.outbox, runtime.audit, settings.team_kinds, runtime.registry
    )
    runtime.every(settings.metrics_refresh_seconds, service.refresh_active_teams, "active-teams")
    register_handlers(runtime.consumer, service)
    app = runtime.create_app(
        title="ANTT registry",
        description="Areas, teams and their members, and the honours they received.",
        routers=[create_router(service, runtime)],
    )
    app.state.service = service
    return app
