"""structlog set-up: JSON lines in production, pretty on a terminal, and a correlation id
that follows one piece of work from an HTTP request through Kafka to every consumer."""

import logging
import sys
import uuid
from contextvars import ContextVar
from typing import Any

import structlog

CORRELATION_HEADER = "X-Correlation-ID"
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    return correlation_id_var.get()


def bind_correlation_id(correlation_id: str | None) -> str:
    """Make ``correlation_id`` (or a fresh one) current for this task's log lines."""
    value = correlation_id or new_correlation_id()
    correlation_id_var.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    return value


def configure_logging(service: str, log_format: str = "auto", level: str = "INFO") -> None:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer()
    )

    def add_service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that log through the standard library (uvicorn, aiokafka) write plain
    # lines at WARNING and above; structlog carries the service's own events.
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s %(message)s"
    )


def get_logger(**initial: Any) -> Any:
    return structlog.get_logger(**initial)
