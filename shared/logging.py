"""structlog set-up: JSON lines in production, pretty on a terminal, and a correlation id
that follows one piece of work from an HTTP request through Kafka to every consumer.

Every line of a process goes through one handler on the root logger: structlog's own events
and the records of every standard-library logger (uvicorn, FastStream, aiokafka, asyncio,
SQLAlchemy …), rendered by the same processors. In JSON each line is one object with
``timestamp``, ``level``, ``service``, ``logger``, ``event``, the ``correlation_id`` where one
is bound, a record's extra fields and ``exception`` (the traceback) where there is one.

A warning or error repeated alike (same logger, level and message template or event) is shown
once, then at most once per window, carrying ``repeated``: how many alike were left out since
the one shown before (a broker outage makes aiokafka log the same failure thousands of times).
"""

import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

CORRELATION_HEADER = "X-Correlation-ID"
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# The logger FastStream's broker writes its own lines to (the name FastStream gives it too).
BROKER_LOGGER = "faststream.access.kafka"
REPEAT_WINDOW_SECONDS = 10.0
HANDLER_NAME = "antt"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
# Fields that differ between lines about the same thing, or are part of the key already.
_NOT_LIKENESS = frozenset(
    {"timestamp", "correlation_id", "level", "logger", "service", "event", "repeated"}
)
# A record's own attributes; any other is an ``extra`` and becomes a field. uvicorn's
# ``color_message`` repeats the message with terminal colour codes.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
        "color_message",
        "_logger",
        "_name",
    }
)


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


@dataclass
class _Run:
    """Alike lines: when one was last shown, and how many were left out since."""

    shown_at: float
    suppressed: int = 0
    last: logging.LogRecord | None = field(default=None, repr=False)


class RepeatLimiter(logging.Filter):
    """Shows the first of a run of alike warnings or errors, then at most one per ``window``
    seconds, carrying ``repeated``: how many alike were left out since the last one shown.

    Lines are alike when their logger, level and message template are equal (a standard
    library record's unformatted message; a structlog event's name and its fields but the
    timestamp and correlation id), and so is the type of the exception they carry: two
    different errors are each shown. Lines below ``level`` pass untouched; a window of 0
    turns the limit off."""

    def __init__(
        self,
        window: float = REPEAT_WINDOW_SECONDS,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        max_runs: int = 1000,
    ) -> None:
        super().__init__()
        self.window = window
        self.level = level
        self.max_runs = max_runs
        self._clock = clock
        self._runs: dict[Hashable, _Run] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.window <= 0 or record.levelno < self.level:
            return True
        key = _likeness(record)
        now = self._clock()
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                if len(self._runs) >= self.max_runs:
                    self._forget(now)
                self._runs[key] = _Run(now)
                return True
            if now - run.shown_at < self.window:
                run.suppressed += 1
                run.last = record
                return False
            repeated = run.suppressed
            run.shown_at, run.suppressed, run.last = now, 0, None
        if repeated:
            _mark_repeated(record, repeated)
        return True

    def take_pending(self) -> list[logging.LogRecord]:
        """The last left-out line of each run that has lines left out since its last shown
        one, with ``repeated``: how many before it were left out too; the runs start afresh
        (a final flush at shutdown)."""
        pending = []
        with self._lock:
            for run in self._runs.values():
                if run.suppressed and run.last is not None:
                    if run.suppressed > 1:
                        _mark_repeated(run.last, run.suppressed - 1)
                    pending.append(run.last)
            self._runs.clear()
        return pending

    def _forget(self, now: float) -> None:
        # Runs whose window is over with nothing left out go first, then the oldest.
        self._runs = {
            key: run
            for key, run in self._runs.items()
            if run.suppressed or now - run.shown_at < self.window
        }
        while len(self._runs) >= self.max_runs:
            del self._runs[next(iter(self._runs))]


def _likeness(record: logging.LogRecord) -> Hashable:
    message = record.msg
    if isinstance(message, dict):  # a structlog event (see _RecordLogger)
        fields = tuple(
            sorted(
                (str(k), _ADDRESS.sub("0x…", repr(v)))
                for k, v in message.items()
                if k not in _NOT_LIKENESS
            )
        )
        error = _error_type(message.get("exc_info"))
        return (record.name, record.levelno, str(message.get("event")), fields, error)
    # A message formatted before logging may name an object by its address (asyncio's
    # "Unclosed AIOKafkaConsumer … at 0x7f…"): the same line for any object.
    template = _ADDRESS.sub("0x…", str(message))
    return (record.name, record.levelno, template, _error_type(record.exc_info))


def _error_type(exc_info: Any) -> str | None:
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return type(exc_info).__qualname__
    if isinstance(exc_info, tuple) and exc_info and exc_info[0] is not None:
        return str(exc_info[0].__qualname__)
    return None


def _mark_repeated(record: logging.LogRecord, count: int) -> None:
    if isinstance(record.msg, dict):
        record.msg["repeated"] = count
    else:
        record.repeated = count


class _LineHandler(logging.Handler):
    """Writes each formatted record as one line to the ``sys.stderr`` of the moment."""

    def __init__(self, limiter: RepeatLimiter) -> None:
        super().__init__()
        self.set_name(HANDLER_NAME)
        self.limiter = limiter
        self.addFilter(limiter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush_repeated(self) -> None:
        for record in self.limiter.take_pending():
            self.acquire()
            try:
                self.emit(record)
            finally:
                self.release()


class _RecordLogger:
    """structlog's output end: hands each event, as a log record, straight to the one handler
    (structlog has filtered by level already; the standard library's levels are for
    libraries). ``ProcessorFormatter`` renders it."""

    def __init__(self, name: str, handler: logging.Handler) -> None:
        self.name = name
        self.handler = handler

    def _handle(self, level: int, event: Any, extra: dict[str, Any] | None = None) -> None:
        record = logging.LogRecord(self.name, level, "", 0, event, None, None)
        record.__dict__.update(extra or {})
        self.handler.handle(record)

    def debug(self, event: Any, **kw: Any) -> None:
        self._handle(logging.DEBUG, event, kw.get("extra"))

    def info(self, event: Any, **kw: Any) -> None:
        self._handle(logging.INFO, event, kw.get("extra"))

    def warning(self, event: Any, **kw: Any) -> None:
        self._handle(logging.WARNING, event, kw.get("extra"))

    def error(self, event: Any, **kw: Any) -> None:
        self._handle(logging.ERROR, event, kw.get("extra"))

    def critical(self, event: Any, **kw: Any) -> None:
        self._handle(logging.CRITICAL, event, kw.get("extra"))

    warn = warning
    exception = error
    fatal = critical
    msg = info


def _record_time(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A standard-library record's time of logging (a line left out and shown at shutdown
    keeps its own time), as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it."""
    record = event.get("_record")
    created = record.created if record is not None else time.time()
    stamp = datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")
    event.setdefault("timestamp", stamp)
    return event


def _record_extras(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A standard-library record's ``extra`` fields (FastStream's topic, group and message
    id, ``repeated``) as fields of the line."""
    record = event.get("_record")
    if record is not None:
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                event.setdefault(key, value)
    return event


def _own_console_loggers() -> None:
    """Libraries that attach a handler of their own to the console at import (FastStream's
    ``faststream`` logger, uvicorn's with its default config) write past the handler here:
    take those handlers off and let the records propagate to the root's."""
    for logger in list(logging.root.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue
        theirs = [handler for handler in logger.handlers if _on_console(handler)]
        for handler in theirs:
            logger.removeHandler(handler)
        if theirs:
            logger.propagate = True


def _on_console(handler: logging.Handler) -> bool:
    return (
        isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and handler.stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    )


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    logging.getLogger("antt").critical("uncaught_exception", exc_info=(kind, error, traceback))


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("antt").critical(
            "uncaught_exception_in_thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )


def _log_unraisable(unraisable: Any) -> None:
    error = unraisable.exc_value
    logging.getLogger("antt").error(
        "%s: %s",
        unraisable.err_msg or "Exception ignored in",
        object.__repr__(unraisable.object),
        exc_info=(type(error), error, unraisable.exc_traceback) if error is not None else None,
    )


def _current_handler() -> _LineHandler | None:
    for handler in logging.root.handlers:
        if isinstance(handler, _LineHandler):
            return handler
    return None


def configure_logging(
    service: str,
    log_format: str = "auto",
    level: str = "INFO",
    repeat_window: float = REPEAT_WINDOW_SECONDS,
) -> None:
    """Send structlog's events and every standard-library logger's records through one
    handler on stderr, rendered alike: JSON lines (``json``, or ``auto`` off a terminal) or
    pretty (``console``). structlog's events are kept from ``level`` up; libraries' records
    from WARNING (or ``level`` if higher), FastStream's from ``level``. Calling it again
    replaces what an earlier call set up."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    threshold = logging.getLevelName(level.upper())
    if not isinstance(threshold, int):
        threshold = logging.INFO
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer()
    )

    def add_service(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    def chain(stamp: Processor, *more: Processor) -> list[Processor]:
        # Both kinds of line get these; the console renderer draws a traceback itself.
        return [
            structlog.contextvars.merge_contextvars,
            add_service,
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            stamp,
            *more,
            structlog.processors.StackInfoRenderer(),
            *([structlog.processors.format_exc_info] if use_json else []),
        ]

    previous = _current_handler()
    if previous is not None:
        previous.flush_repeated()
        logging.root.removeHandler(previous)
    handler = _LineHandler(RepeatLimiter(repeat_window))
    handler.setFormatter(
        ProcessorFormatter(
            foreign_pre_chain=chain(_record_time, _record_extras),
            processors=[ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    # basicConfig's handler (or any other on the console) would write plain lines.
    for other in [h for h in logging.root.handlers if _on_console(h)]:
        logging.root.removeHandler(other)
    logging.root.addHandler(handler)
    logging.root.setLevel(max(logging.WARNING, threshold))
    _own_console_loggers()
    # The broker's rebalances (INFO) are worth a line; its per-message lines are DEBUG
    # (shared.bus.create_broker).
    logging.getLogger("faststream").setLevel(threshold)

    loggers: dict[str, _RecordLogger] = {}

    def record_logger(name: str | None = None, *_: Any) -> _RecordLogger:
        key = name or service
        if key not in loggers:
            loggers[key] = _RecordLogger(key, handler)
        return loggers[key]

    structlog.configure(
        processors=[
            *chain(structlog.processors.TimeStamper(fmt="iso", utc=True)),
            ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=record_logger,
        cache_logger_on_first_use=False,
    )
    if use_json:
        # Python's own last words go out as JSON lines too. Off, then on: a second call would
        # keep a hook that something else (a test harness) has replaced in between.
        logging.captureWarnings(False)
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_uncaught
        sys.unraisablehook = _log_unraisable


def flush_repeated() -> None:
    """Write the last left-out line of each run of repeated lines with its count (at
    shutdown: a flood that stopped within its window is otherwise never counted)."""
    handler = _current_handler()
    if handler is not None:
        handler.flush_repeated()


# Where "a development key is in use" goes: a structured warning from a service; the
# `antt` command shows it once, as a sentence, on a terminal (see ``show_dev_notices_with``).
_dev_notice: Callable[[str, str], None] | None = None


def dev_notice(event: str, message: str) -> None:
    """Say that a development-only default is in use (a key, say)."""
    if _dev_notice is None:
        get_logger().warning(event, hint=message)
    else:
        _dev_notice(event, message)


def show_dev_notices_with(show: Callable[[str, str], None] | None) -> None:
    """Route ``dev_notice`` to ``show`` (None: back to the service's log)."""
    global _dev_notice
    _dev_notice = show


def get_logger(**initial: Any) -> Any:
    """A structlog logger named after the calling module (its lines' ``logger`` field)."""
    name = sys._getframe(1).f_globals.get("__name__", HANDLER_NAME)
    return structlog.get_logger(name, **initial)
