"""`antt run` (what `make run` starts): three ready services, and Ctrl-C leaves nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.local_kafka import free_port_block
from shared.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_run_serves_three_ready_services_and_ctrl_c_stops_every_process(tmp_path):
    kafka_port = free_port_block(8)  # Kafka, its controller, three services, Keycloak (+1), console
    base_port = kafka_port + 2
    ports = [base_port, base_port + 1, base_port + 2]
    keycloak_port = kafka_port + 5
    console_port = kafka_port + 7
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        # A session of its own, like a terminal: Ctrl-C reaches the whole process group.
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "run",
                "--kafka-port",
                str(kafka_port),
                "--base-port",
                str(base_port),
                "--keycloak-port",
                str(keycloak_port),
                "--console-port",
                str(console_port),
                "--var-dir",
                str(tmp_path / "var"),
            ],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300  # Keycloak's first start builds it
        while "Stack ready" not in output.read_text() and time.monotonic() < deadline:
            assert run.poll() is None, output.read_text()
            time.sleep(0.5)
        assert "Stack ready" in output.read_text(), output.read_text()
        for port in ports:
            ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
            assert ready.status_code == 200
            assert ready.json()["checks"]["identity_provider"] is True
            assert "faststream_" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        console = httpx.get(f"http://127.0.0.1:{console_port}/ready", timeout=5)
        assert console.status_code == 200, console.text
        started = descendants(run.pid)
        assert len(started) >= 5, started  # Kafka's and Keycloak's JVMs, three services
        assert (tmp_path / "var" / "registry.db").exists()

        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(timeout=90) == 0, output.read_text()
        assert "All stopped." in output.read_text()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if alive(pid)], output.read_text()
        for port in [kafka_port, *ports, keycloak_port, console_port]:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
