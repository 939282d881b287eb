"""Prometheus configuration and alert rules for ops, checked with Debian's promtool."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
SERVICES = {"registry": 8001, "reporting": 8002, "awards": 8003, "console": 8000}


def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if found is None:
        pytest.fail(
            "promtool is not installed: `make test` (or `make prometheus`) installs Debian's "
            "`prometheus` package, which provides it"
        )
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "deploy/prometheus/prometheus.yml"],
        ["check", "rules", "deploy/prometheus/alerts.yml"],
        ["test", "rules", "deploy/prometheus/alerts_test.yml"],
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: list[str]) -> None:
    result = subprocess.run(
        [promtool(), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_scrapes_each_service_as_its_own_job() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())

    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["alerts.yml"]
    assert (PROMETHEUS_DIR / "alerts.yml").is_file()

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES)
    for name, port in SERVICES.items():
        job = jobs[name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        # DNS discovery, so every replica of a scaled-out service is scraped
        assert job["dns_sd_configs"] == [
            {"names": [name], "type": "A", "port": port, "refresh_interval": "30s"}
        ], name
        assert {"target_label": "service", "replacement": name} in job["relabel_configs"]


def test_every_alert_has_severity_summary_and_description_and_a_unit_test() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {
        rule["alert"]: rule
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(alerts) == {
        "ServiceDown",
        "ConsumerLagGrowing",
        "OutboxBacklogOld",
        "DeadLetteredMessages",
        "HighServerErrorRate",
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name

    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    checks = [check for case in tests["tests"] for check in case.get("alert_rule_test", [])]
    for name in alerts:
        mine = [check for check in checks if check["alertname"] == name]
        assert any(check.get("exp_alerts") for check in mine), f"{name}: no case where it fires"
        assert any(not check.get("exp_alerts") for check in mine), (
            f"{name}: no case where it stays quiet"
        )
