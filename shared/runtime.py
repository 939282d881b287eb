"""What every service process runs besides its own domain: database, broker, outbox relay,
consumers, health, readiness, metrics and correlation ids. Each service's ``app.py`` is
its composition root and builds one of these."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from shared.asyncapi import asyncapi_document
from shared.audit import AuditEntryPublic, AuditTrail
from shared.auth import Access, Authenticator, ProtectedRouter
from shared.bus import EventConsumer, create_broker, ensure_topics
from shared.db import create_engine, create_session_factory, database_is_reachable
from shared.errors import DomainError
from shared.events import IntegrationEvent, dead_letter_topic
from shared.inbox import Inbox
from shared.lag import measure_consumer_lag
from shared.limits import RateLimitExceededError, rate_limit_response
from shared.logging import configure_logging, flush_repeated, get_logger
from shared.media_types import BodyTypeRoute, unreadable_body
from shared.metrics import ConsumerLagMetrics, DeliveryMetrics, HttpMetrics, metrics_response
from shared.middleware import ServiceMiddleware
from shared.migrations import upgrade_to_head
from shared.oidc import IssuerKeys, token_verifier
from shared.outbox import Outbox, OutboxRelay, wake_on_commit
from shared.paging import TOTAL_RESPONSES, with_total
from shared.rebuild import RebuildPlan, Recompute, rebuild_plan
from shared.references import References
from shared.settings import ServiceSettings

log = get_logger()
__version__ = version("antt")
# Shutdown bounds: the relay's wait for the acknowledgements of the batch in hand (it may
# take 2 s more to mark them), then the broker's stop. Under compose's 10 s grace period.
RELAY_STOP_SECONDS = 3.0
BROKER_STOP_SECONDS = 4.0
MAX_PAGE = 200
MAX_OFFSET = 1_000_000
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows to return")]
OPERATIONS_ACCESS = {
    "health": Access.PUBLIC,
    "ready": Access.PUBLIC,
    "metrics": Access.PUBLIC,
    "asyncapi": Access.PUBLIC,
    "audit_trail": Access.AUDIT,
}


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        metadata: MetaData,
        publishes: Iterable[type[IntegrationEvent]],
    ) -> None:
        self.settings = settings
        configure_logging(
            settings.service_name,
            settings.log_format,
            settings.log_level,
            settings.log_repeat_window_seconds,
        )
        self.registry = CollectorRegistry()
        self.metrics = DeliveryMetrics(self.registry)
        self.metadata = metadata
        self.outbox = Outbox(metadata, source=f"/antt/{settings.service_name}")
        self.inbox = Inbox(metadata)
        self.engine = create_engine(settings.resolved_database_url())
        self.sessions = create_session_factory(self.engine)
        self.broker = create_broker(settings, self.registry)
        self.relay = OutboxRelay(
            self.outbox,
            self.sessions,
            self.broker,
            self.metrics,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        # Any commit that adds outbox rows (a request's, a handler's) wakes the relay at once.
        wake_on_commit(self.sessions, self.relay.wake)
        self.consumer = EventConsumer(
            self.broker, self.sessions, self.inbox, self.metrics, settings
        )
        # "Not yet known" (409) or "unknown" (422), from how far behind the consumer is.
        self.references = References(self.consumer)
        self.audit = AuditTrail(metadata)
        verifier, keys = token_verifier(settings)
        self.issuer_keys: IssuerKeys | None = keys
        self.auth = Authenticator(verifier)
        self.publishes = list(publishes)
        self.published_topics = sorted({event.topic for event in self.publishes})
        self.http_metrics = HttpMetrics(self.registry)
        self.lag_metrics = ConsumerLagMetrics(self.registry)
        self._periodic: list[tuple[str, float, Callable[[], Awaitable[Any]]]] = []
        self.every(settings.metrics_refresh_seconds, self.measure_lag, name="consumer-lag")
        self.every(
            settings.outbox_purge_interval_seconds,
            lambda: self.relay.purge(settings.outbox_keep_days),
            name="outbox-purge",
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.rebuild_plan: RebuildPlan | None = None

    def declare_read_models(
        self,
        read_models: Iterable[Any],
        *,
        recomputed: Iterable[Any] = (),
        recompute: Recompute | None = None,
    ) -> None:
        """What ``antt rebuild`` empties and builds again from the log: ``read_models``,
        filled only by this service's event handlers, and ``recomputed``, tables its own
        records feed that handlers also change, which ``recompute`` fills after the replay."""
        self.rebuild_plan = rebuild_plan(self.metadata, read_models, recomputed, recompute)

    def every(self, seconds: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
        """Run ``job`` every ``seconds`` while the service runs (a failure is logged)."""
        self._periodic.append((name, seconds, job))

    async def _repeat(self, name: str, seconds: float, job: Callable[[], Awaitable[Any]]) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("periodic_job_failed", job=name, error_type=type(exc).__name__)
            await asyncio.sleep(seconds)

    async def measure_lag(self) -> None:
        if self.consumer.groups and self.settings.kafka_measure_lag:
            measured = await measure_consumer_lag(
                self.settings.kafka_bootstrap_servers, self.consumer.groups, self.lag_metrics
            )
            # Kept for the partitions other replicas read (see EventConsumer.catching_up).
            self.consumer.lag_measured(measured)

    def all_topics(self) -> list[str]:
        consumed = self.consumer.topics
        return sorted(
            {*self.published_topics, *consumed, *(dead_letter_topic(t) for t in consumed)}
        )

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await upgrade_to_head(self.engine, self.settings.service_name)
        if self.issuer_keys is not None:  # not awaited: /ready answers 503 until they load
            keys = self.issuer_keys.keep_loading()
            self._tasks.append(asyncio.create_task(keys, name="identity-provider-keys"))
        if self.settings.kafka_create_topics:
            await ensure_topics(self.settings, self.all_topics())
        await self.broker.start()
        self._tasks.append(self.relay.start())
        for name, seconds, job in self._periodic:
            self._tasks.append(asyncio.create_task(self._repeat(name, seconds, job), name=name))
        log.info("service_started", port=self.settings.port)
        try:
            yield
        finally:
            await self._shut_down()

    async def _shut_down(self) -> None:
        """A graceful stop, bounded even with the broker gone: the relay finishes the batch
        it publishes (marks what Kafka acknowledged), the periodic jobs end, then the
        broker (consumers finish their batch, the producer flushes) and the database close."""
        log.info("service_stopping")
        await self.relay.stop(RELAY_STOP_SECONDS)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            async with asyncio.timeout(BROKER_STOP_SECONDS):
                await self.broker.stop()
        except TimeoutError:
            # Kafka is gone: what was not acknowledged stays in the outbox (sent after the
            # next start) and uncommitted offsets are read again; nothing is lost.
            log.warning("broker_stop_timed_out", seconds=BROKER_STOP_SECONDS)
        await self.engine.dispose()
        flush_repeated()
        log.info("service_stopped")

    async def is_ready(self) -> dict[str, bool]:
        database = await database_is_reachable(self.engine)
        try:
            broker = await self.broker.ping(timeout=2.0)
        except Exception:
            broker = False
        checks = {"database": database, "broker": broker}
        if self.issuer_keys is not None:
            checks["identity_provider"] = self.issuer_keys.loaded
        return checks

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of what this service publishes and consumes, generated
        from the event contracts (committed under docs/asyncapi/: ``antt asyncapi --write``)."""
        return asyncapi_document(
            self.settings.service_name,
            __version__,
            publishes=self.publishes,
            consumes={
                topic: [subscription.contract for subscription in handled.values()]
                for topic, handled in self.consumer.handlers.items()
            },
            consumer_group=self.consumer.group_for,
        )

    def router(self, access: dict[str, Access], **kwargs: Any) -> ProtectedRouter:
        """A router for this service's routes; each must have an entry in ``access``."""
        # Each route refuses a body of a type it does not read with 415 (BodyTypeRoute).
        return ProtectedRouter(access, self.auth, **{"route_class": BodyTypeRoute, **kwargs})

    def operations_router(self) -> APIRouter:
        router = self.router(OPERATIONS_ACCESS, tags=["operations"])

        @router.get("/health", summary="The process is alive")
        async def health() -> dict[str, str]:
            return {"status": "ok", "service": self.settings.service_name}

        @router.get(
            "/ready",
            summary="Database and broker reachable, and the identity provider's keys loaded",
            responses={503: {"description": "A dependency is unreachable"}},
        )
        async def ready(response: Response) -> dict[str, Any]:
            checks = await self.is_ready()
            ok = all(checks.values())
            if not ok:
                response.status_code = 503
            return {"status": "ready" if ok else "unavailable", "checks": checks}

        @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
        async def metrics() -> Response:
            return metrics_response(self.registry)

        @router.get("/asyncapi.json", summary="AsyncAPI document of this service's events")
        async def asyncapi() -> dict[str, Any]:
            return self.asyncapi()

        @router.get(
            "/audit",
            summary="Who changed what, and when (newest first)",
            tags=["audit"],
            responses=TOTAL_RESPONSES,
        )
        async def audit_trail(
            response: Response,
            offset: OffsetQuery = 0,
            limit: LimitQuery = 50,
            subject: Annotated[str | None, Query(max_length=200)] = None,
            action: Annotated[str | None, Query(max_length=64)] = None,
            object_id: Annotated[str | None, Query(max_length=64)] = None,
        ) -> list[AuditEntryPublic]:
            async with self.sessions() as session:
                page = await self.audit.entries(
                    session,
                    offset=offset,
                    limit=limit,
                    subject=subject,
                    action=action,
                    object_id=object_id,
                )
            return with_total(response, page.total, page.items)

        return router

    def create_app(self, title: str, description: str, routers: Iterable[APIRouter]) -> FastAPI:
        app = FastAPI(title=title, description=description, lifespan=self.lifespan)
        app.state.runtime = self
        # Correlation id, body size cap, NUL refusal and HTTP metrics, as one ASGI layer.
        app.add_middleware(
            ServiceMiddleware, max_bytes=self.settings.max_body_bytes, metrics=self.http_metrics
        )

        @app.exception_handler(DomainError)
        async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
            return JSONResponse(
                status_code=exc.status_code,
                content={"detail": exc.detail()},
                headers=exc.headers(),
            )

        @app.exception_handler(DBAPIError)
        async def database_refused(request: Request, exc: DBAPIError) -> JSONResponse:
            # PostgreSQL cannot store NUL in text: bad input, not a server fault.
            if "\\x00" in str(exc.orig) or "0x00" in str(exc.orig):
                return JSONResponse(
                    status_code=422,
                    content={
                        "detail": [
                            {
                                "loc": [],
                                "msg": "text must not contain NUL characters",
                                "type": "invalid_characters",
                            }
                        ]
                    },
                )
            log.error("database_error", path=request.url.path, error_type=type(exc.orig).__name__)
            if exc.connection_invalidated:
                # The server dropped the connection (a restart, no pre-ping any more): the
                # pool has let go of its connections from before, so asking again is worth it.
                return JSONResponse(
                    status_code=503,
                    content={"detail": "database connection lost; try again"},
                    headers={"Retry-After": "1"},
                )
            return JSONResponse(status_code=500, content={"detail": "internal error"})

        @app.exception_handler(HTTPException)
        async def http_error(request: Request, exc: HTTPException) -> Response:
            # A body FastAPI could not decode (not UTF-8) answers in the documented shape.
            return unreadable_body(exc) or await http_exception_handler(request, exc)

        @app.exception_handler(RateLimitExceededError)
        async def rate_limited(_: Request, exc: RateLimitExceededError) -> JSONResponse:
            return rate_limit_response(exc)

        @app.exception_handler(RequestValidationError)
        async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
            # Never echo what was sent: an informant's name must not come back in an error.
            # Our own validators' messages read like every other one: without the
            # "Value error, " (or "Assertion failed, ") that pydantic puts before them.
            errors = [
                {
                    "loc": list(error.get("loc", ())),
                    "msg": str(error.get("msg", ""))
                    .removeprefix("Value error, ")
                    .removeprefix("Assertion failed, "),
                    "type": error.get("type", ""),
                }
                for error in exc.errors()
            ]
            return JSONResponse(status_code=422, content={"detail": errors})

        app.include_router(self.operations_router())
        for router in routers:
            app.include_router(router)
        return app
