"""A service process as ops run it: every line it writes is a JSON object, aiokafka's flood
during a broker outage is rate-limited, and SIGTERM stops it gracefully with exit code 0,
within a bound even with the broker gone."""

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from shared.local_kafka import LocalKafka
from tests.integration.conftest import Service, start_service, wait_ready
from tests.support import bearer

pytestmark = pytest.mark.integration

COMMON = {"timestamp", "level", "service", "logger", "event"}


def every_line_json(service: Service) -> list[dict]:
    lines = service.log_file.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{service.name} wrote a line that is not JSON: {line!r}")
    for entry in parsed:
        assert COMMON <= entry.keys(), entry
    return parsed


def terminate(service: Service, within: float) -> tuple[int, float]:
    started = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    try:
        code = service.process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()
        pytest.fail(f"{service.name} did not stop within {within}s after SIGTERM")
    return code, time.monotonic() - started


def registry(own_kafka: LocalKafka, tmp_path: Path) -> Service:
    service = start_service(
        "registry",
        own_kafka,
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
        # A window shorter than the outage below: its lines show the counts as they go.
        {"ANTT_LOG_REPEAT_WINDOW_SECONDS": "3"},
    )
    wait_ready(service)
    return service


def register_area(service: Service, code: str) -> None:
    body = {"code": code, "name": "Phường thử", "level": "ward"}
    response = httpx.post(f"{service.url}/areas", json=body, headers=bearer(), timeout=10)
    assert response.status_code == 201, response.text


def published_areas(service: Service) -> float:
    metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
    prefix = 'antt_outbox_published_messages_total{topic="registry.area"}'
    return sum(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(prefix))


def test_sigterm_stops_the_service_gracefully_with_exit_code_0(own_kafka, tmp_path):
    service = registry(own_kafka, tmp_path)
    try:
        register_area(service, "HN-STOP-1")
        code, took = terminate(service, within=20)
    finally:
        if service.process.poll() is None:
            service.process.kill()
    lines = every_line_json(service)
    assert code == 0
    assert took < 10
    events = [line["event"] for line in lines]
    assert events[-1] == "service_stopped"
    assert {"service_started", "service_stopping"} <= set(events)


def test_a_broker_outage_writes_json_lines_and_rate_limits_the_flood(own_kafka, tmp_path):
    service = registry(own_kafka, tmp_path)
    try:
        own_kafka.stop()
        register_area(service, "HN-OUTAGE-1")  # the relay cannot publish it now
        time.sleep(5)
        own_kafka.start()
        deadline = time.monotonic() + 30
        while not published_areas(service) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert published_areas(service) == 1  # published once Kafka was back
        code, _ = terminate(service, within=20)
    finally:
        if service.process.poll() is None:
            service.process.kill()
        own_kafka.start()
    lines = every_line_json(service)
    assert code == 0
    library = [line for line in lines if line["logger"].startswith("aiokafka")]
    held_back = sum(int(line.get("repeated", 0)) for line in lines)
    # Each alike line at most once per 3 s window (about 9,800 lines in 20 s before).
    assert library and held_back > len(library), (len(library), held_back)
    assert len(lines) < 150, len(lines)
    assert [line for line in lines if line["level"] == "error"], "no error was logged at all"


def test_sigterm_with_the_broker_gone_still_stops_within_a_bound(own_kafka, tmp_path):
    service = registry(own_kafka, tmp_path)
    try:
        own_kafka.stop()
        register_area(service, "HN-GONE-1")  # the relay holds it, unacknowledged
        time.sleep(1)
        code, took = terminate(service, within=30)
    finally:
        if service.process.poll() is None:
            service.process.kill()
    lines = every_line_json(service)
    assert code == 0
    assert took < 12, took  # the relay's and the broker's stop are bounded
    assert lines[-1]["event"] == "service_stopped"
