"""Log lines: every one a JSON object in production, libraries' too; floods of one error
rate-limited with a count; distinct errors each shown."""

import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
import structlog
from faststream.kafka import TestKafkaBroker
from prometheus_client import CollectorRegistry

from shared.bus import create_broker
from shared.logging import (
    BROKER_LOGGER,
    RepeatLimiter,
    bind_correlation_id,
    configure_logging,
    flush_repeated,
    get_logger,
)
from shared.settings import ServiceSettings

COMMON = {"timestamp", "level", "service", "logger", "event"}


@pytest.fixture
def json_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """JSON logging for one test; the process-wide hooks it sets are put back after."""
    for name in ("excepthook", "unraisablehook"):
        monkeypatch.setattr(sys, name, getattr(sys, name))
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    configure_logging("registry", "json", "INFO")
    yield
    logging.captureWarnings(False)
    structlog.contextvars.clear_contextvars()
    configure_logging("antt", "console", "WARNING")


def json_lines(text: str) -> list[dict]:
    lines = text.splitlines()
    assert lines, "nothing was logged"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
    return parsed


def test_every_line_is_one_json_object_whoever_logs_it(json_logging, capsys):
    bind_correlation_id("corr-1")
    log = get_logger()
    log.info("service_started", port=8001)
    logging.getLogger("aiokafka").error(
        "Unable connect to node with id %s: %s", 1, ConnectionRefusedError(111, "refused")
    )
    logging.getLogger(BROKER_LOGGER).info(
        "Consumer x assigned to partitions", extra={"topic": "registry.area", "group_id": "g"}
    )
    # FastStream's own logger comes with a console handler of its own at import.
    logging.getLogger("faststream").warning("faststream's own line")
    logging.getLogger("uvicorn.error").error("[Errno 98] address already in use")
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
        log.exception("handler_crashed", topic="registry.area")
    warnings.warn("a library's warning", UserWarning, stacklevel=1)
    logging.getLogger("aiokafka").info("not shown: libraries log from WARNING")
    log.debug("not shown: the service logs from INFO")

    lines = json_lines(capsys.readouterr().err)

    assert [line["logger"] for line in lines] == [
        "tests.unit.test_logging",
        "aiokafka",
        BROKER_LOGGER,
        "faststream",
        "uvicorn.error",
        "asyncio",
        "tests.unit.test_logging",
        "py.warnings",
    ]
    for line in lines:
        assert COMMON <= line.keys(), line
        assert line["service"] == "registry"
        assert line["correlation_id"] == "corr-1"
    started, refused, assigned, _, _, task, handler, warned = lines
    assert (started["event"], started["level"], started["port"]) == (
        "service_started",
        "info",
        8001,
    )
    assert refused["level"] == "error"
    assert refused["event"] == "Unable connect to node with id 1: [Errno 111] refused"
    assert (assigned["topic"], assigned["group_id"]) == ("registry.area", "g")
    for crashed in (task, handler):
        assert "ZeroDivisionError: boom" in crashed["exception"]
        assert crashed["level"] == "error"
    assert handler["topic"] == "registry.area"
    assert "a library's warning" in warned["event"]


async def test_the_brokers_lines_are_json_and_per_message_lines_stay_out(json_logging, capsys):
    settings = ServiceSettings(service_name="registry", kafka_create_topics=False)
    broker = create_broker(settings, CollectorRegistry())
    async with TestKafkaBroker(broker):  # sets the broker's logger up, as its start does
        pass
    logger = broker.config.logger  # what FastStream's subscribers and middlewares log with
    context = {"topic": "registry.area", "group_id": "registry-g", "message_id": "m1"}
    for _ in range(3):
        logger.log("Received", extra=context)  # once per message (batch), at the broker's level
        logger.log(
            "RuntimeError: handler failed",
            logging.ERROR,
            extra=context,
            exc_info=RuntimeError("handler failed"),
        )
        logger.log("Processed", extra=context)
    flush_repeated()

    lines = json_lines(capsys.readouterr().err)
    assert [(line["event"], line["logger"], line.get("repeated")) for line in lines] == [
        ("RuntimeError: handler failed", BROKER_LOGGER, None),
        ("RuntimeError: handler failed", BROKER_LOGGER, 1),  # alike, held back till shutdown
    ]
    for line in lines:
        assert COMMON <= line.keys()
        assert line["level"] == "error"
        assert (line["topic"], line["group_id"], line["message_id"]) == tuple(context.values())
        assert "RuntimeError: handler failed" in line["exception"]


def test_a_thousand_alike_errors_make_two_lines_and_count_the_rest(json_logging, capsys):
    aiokafka = logging.getLogger("aiokafka")
    for n in range(1000):
        aiokafka.error("Unable connect to node with id %s: %s", 1, f"refused #{n}")
        if n % 100 == 0:
            aiokafka.error("Unable to update metadata from %r", [1])  # another error
    flush_repeated()  # at shutdown: the count of the flood's tail

    lines = json_lines(capsys.readouterr().err)
    refused = [line for line in lines if line["event"].startswith("Unable connect")]
    metadata = [line for line in lines if line["event"].startswith("Unable to update")]
    assert [line["event"] for line in refused] == [
        "Unable connect to node with id 1: refused #0",
        "Unable connect to node with id 1: refused #999",
    ]
    assert [line.get("repeated") for line in refused] == [None, 998]
    assert [line.get("repeated") for line in metadata] == [None, 8]
    assert len(lines) == 4


def test_alike_service_events_are_limited_and_different_ones_all_shown(json_logging, capsys):
    log = get_logger()
    for n in range(50):
        bind_correlation_id(f"request-{n}")  # not what makes two lines different
        log.warning("periodic_job_failed", job="consumer-lag", error_type="KafkaConnectionError")
    for n in range(5):
        log.error("event_dead_lettered", topic="reporting.incident", event_id=f"e{n}")
    log.warning("periodic_job_failed", job="outbox-purge", error_type="OperationalError")
    log.info("service_started")  # below WARNING: never limited
    log.info("service_started")

    lines = json_lines(capsys.readouterr().err)
    assert [(line["event"], line.get("job"), line.get("event_id")) for line in lines] == [
        ("periodic_job_failed", "consumer-lag", None),
        *[("event_dead_lettered", None, f"e{n}") for n in range(5)],
        ("periodic_job_failed", "outbox-purge", None),
        ("service_started", None, None),
        ("service_started", None, None),
    ]


def test_the_console_format_stays_pretty(capsys):
    configure_logging("registry", "console", "INFO")
    get_logger().info("service_started", port=8001)
    logging.getLogger("aiokafka").error("Unable connect to node with id %s", 1)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2
    assert not any(line.startswith("{") for line in lines)
    assert "service_started" in lines[0] and "Unable connect to node with id 1" in lines[1]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka", level, "", 0, message, args, None)


def test_a_flood_shows_one_line_per_window_with_how_many_were_left_out():
    clock = Clock()
    limiter = RepeatLimiter(window=10.0, clock=clock)
    shown: list[logging.LogRecord] = []
    for n in range(1000):  # 25 s of an error every 25 ms
        clock.now = n * 0.025
        refused = record("Unable connect to node with id %s: %s", 1, "refused")
        if limiter.filter(refused):
            shown.append(refused)
    held = limiter.take_pending()

    assert [getattr(r, "repeated", None) for r in shown] == [None, 399, 399]
    assert [getattr(r, "repeated", None) for r in held] == [198]  # 199 held back in all
    assert len(shown) + sum(getattr(r, "repeated", 0) for r in shown + held) + len(held) == 1000


def test_only_alike_lines_are_held_back():
    limiter = RepeatLimiter(window=10.0, clock=Clock())
    alike = [record("Unable connect to node with id %s: %s", n, "refused") for n in range(3)]
    other_template = record("Unable to update metadata from %r", [1])
    other_level = record("Unable connect to node with id %s: %s", 1, "x", level=logging.WARNING)
    other_error = record("Unable connect to node with id %s: %s", 1, "x")
    other_error.exc_info = (TimeoutError, TimeoutError(), None)
    info = [record("Consumer assigned", level=logging.INFO) for _ in range(3)]
    # asyncio names the object by its address: the same line for any consumer
    unclosed = [record(f"Unclosed AIOKafkaConsumer at 0x7f83856b4{n}90") for n in range(3)]

    passed = [
        limiter.filter(r)
        for r in [*alike, other_template, other_level, other_error, *info, *unclosed]
    ]
    assert passed == [True, False, False, True, True, True, True, True, True, True, False, False]


def test_a_window_of_zero_shows_every_line():
    limiter = RepeatLimiter(window=0, clock=Clock())
    assert all(limiter.filter(record("Unable connect")) for _ in range(100))
