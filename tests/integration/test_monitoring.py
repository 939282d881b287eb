"""A real Prometheus, with the project's scrape configuration pointed at the running
services, sees all three up, sees the traffic we send, and answers every dashboard query."""

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from shared.local_kafka import free_port
from shared.settings import PROJECT_ROOT
from tests.integration.conftest import NOT_HEARD_OF_YET, Service, start_console, wait_ready
from tests.support import bearer

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
DASHBOARDS = sorted((PROJECT_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
SCRAPE_SECONDS = 1


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(found).exists(), "Prometheus is not installed (`make test` installs it)"
    return found


@pytest.fixture(scope="module")
def console(stack, tmp_path_factory) -> Iterator[Service]:
    service = start_console(stack, tmp_path_factory.mktemp("console"))
    try:
        wait_ready(service)
        yield service
    finally:
        service.process.terminate()
        service.process.wait(timeout=20)


@pytest.fixture(scope="module")
def prometheus(stack, console) -> Iterator[str]:
    """Prometheus with deploy/prometheus/prometheus.yml, its targets moved to the test ports."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config.get("rule_files", [])]
    for job in config["scrape_configs"]:
        # The test's services are not behind compose's DNS: point the job at their ports.
        name = job["job_name"]
        port = (console.url if name == "console" else stack.url(name)).rsplit(":", 1)[1]
        job.pop("dns_sd_configs")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    workdir = Path(tempfile.mkdtemp(prefix="antt-prometheus-"))
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / "prometheus.log").read_text()
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not get ready"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def query(prometheus: str, expr: str) -> list[dict]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


def scalar(prometheus: str, expr: str) -> float:
    result = query(prometheus, expr)
    return float(result[0]["value"][1]) if result else 0.0


def settle() -> None:
    time.sleep(SCRAPE_SECONDS * 4)  # a few scrapes, so rates and latest values include ours


def drive_traffic(stack, reports: int) -> None:
    """Register a ward and team, report and resolve incidents, log an activity, grant one
    award, and dead-letter one malformed record."""
    with httpx.Client(timeout=15, headers=bearer()) as client:
        registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
        ward = client.post(
            f"{registry}/areas",
            json={"code": f"MON-{uuid.uuid4().hex[:8]}", "name": "Phường", "level": "ward"},
        ).json()
        team = client.post(
            f"{registry}/teams",
            json={
                "area_id": ward["id"],
                "name": "Tổ",
                "kind": "security_order",
                "members": [{"full_name": "Tổ trưởng", "role": "leader"}],
            },
        ).json()
        body = {
            "area_id": ward["id"],
            "category": "theft",
            "source": "patrol",
            "summary": "Trộm cắp",
            "team_ids": [team["id"]],
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        }
        deadline = time.monotonic() + 30
        while (
            first := client.post(f"{reporting}/incidents", json=body)
        ).status_code in NOT_HEARD_OF_YET:
            assert time.monotonic() < deadline, first.text
            time.sleep(0.25)
        incidents = [first.json()] + [
            client.post(f"{reporting}/incidents", json=body).json() for _ in range(reports - 1)
        ]
        for incident in incidents:
            for status in ("verified", "resolved"):
                client.post(
                    f"{reporting}/incidents/{incident['id']}/status",
                    json={"status": status, "reason": "Đã xử lý"},
                )
        activity = client.post(
            f"{reporting}/activities",
            json={
                "area_id": ward["id"],
                "activity_type": "patrol",
                "occurred_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
                "measures": [{"item": "patrols", "quantity": 1}],
                "team_ids": [team["id"]],
            },
        )
        assert activity.status_code == 201, activity.text
        nomination = {
            "recipient_kind": "collective",
            "recipient_id": team["id"],
            "recipient_name": "Tổ",
            "award_form": "giay_khen",
            "authority": "city_police",
            "reason": "Thành tích",
        }
        deadline = time.monotonic() + 30
        while (
            made := client.post(f"{awards}/nominations", json=nomination)
        ).status_code in NOT_HEARD_OF_YET:
            assert time.monotonic() < deadline, made.text
            time.sleep(0.25)
        approved = client.post(
            f"{awards}/nominations/{made.json()['id']}/approve",
            json={"decision_number": "7/QĐ-CAHN"},
        )
        assert approved.status_code == 201

    async def poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait("reporting.incident", b"not an event")
        finally:
            await producer.stop()

    asyncio.run(poison())


def test_prometheus_sees_the_services_and_the_traffic(stack, prometheus):
    deadline = time.monotonic() + 60
    while True:
        targets = httpx.get(f"{prometheus}/api/v1/targets").json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health == dict.fromkeys(("registry", "reporting", "awards", "console"), "up"):
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.5)
    assert {t["labels"]["service"] for t in targets} == {
        "registry",
        "reporting",
        "awards",
        "console",
    }

    figures = {
        "http": "sum(antt_http_requests_total)",
        "published": 'sum(antt_outbox_published_messages_total{topic="reporting.incident"})',
        "reported": 'sum(antt_incidents_reported_total{category_group="crime"})',
        "resolved": 'sum(antt_incidents_resolved_total{category_group="crime"})',
        "awards": 'sum(antt_awards_granted_total{authority_level="province"})',
        "activities": 'sum(antt_activities_logged_total{activity_type="patrol"})',
        # FastStream labels a consumer's series with the topic it reads, as "handler"
        "consumed": "sum(faststream_received_processed_messages_total"
        '{app_name="awards", handler="reporting.incident", status="acked"})',
    }
    settle()
    before = {name: scalar(prometheus, expr) for name, expr in figures.items()}
    reports = 4
    drive_traffic(stack, reports)
    time.sleep(3)  # events reach the consumers
    settle()
    after = {name: scalar(prometheus, expr) for name, expr in figures.items()}
    rose = {name: after[name] - before[name] for name in figures}
    assert rose["reported"] == reports
    assert rose["resolved"] == reports
    assert rose["awards"] == 1
    assert rose["activities"] == 1
    assert rose["published"] >= reports
    assert rose["consumed"] >= reports
    assert rose["http"] >= 2 * reports + 4


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda path: path.name)
def test_every_dashboard_query_returns_data(stack, prometheus, dashboard):
    panels = json.loads(dashboard.read_text())["panels"]
    expressions = [
        target["expr"]
        for panel in panels
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    assert expressions, "the dashboard has no queries"
    empty = [expr for expr in expressions if not query(prometheus, expr)]
    assert not empty, f"queries without data: {empty}"
