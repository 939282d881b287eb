"""The README's walkthrough ("The slice, with curl"), run as a reader would, twice in a row
on one fresh `antt run` stack: it needs nothing typed in between, waits for every event
it depends on, and prints the same thing both times."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.local_kafka import free_port_block
from shared.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

README = PROJECT_ROOT / "README.md"
SECTION = ("## The slice, with curl", "## Events")


def walkthrough() -> str:
    """The section's shell blocks, in order, as one script."""
    text = README.read_text()
    section = text[text.index(SECTION[0]) : text.index(SECTION[1])]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2, "the walkthrough and the tip-off"
    return "\n".join(blocks)


def on_ports(script: str, base_port: int) -> str:
    """The script aimed at this stack's ports instead of 8001–8003."""
    for offset in range(3):
        script = script.replace(f"localhost:{8001 + offset}", f"localhost:{base_port + offset}")
    return script


def test_the_readme_walkthrough_runs_twice_with_the_same_output(tmp_path: Path) -> None:
    kafka_port = free_port_block(8)  # Kafka, its controller, 3 services, Keycloak (+1), console
    base_port = kafka_port + 2
    keycloak_port = kafka_port + 5
    script = on_ports(walkthrough(), base_port)
    assert "localhost:800" not in script
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--kafka-port", str(kafka_port),
             "--base-port", str(base_port), "--keycloak-port", str(keycloak_port),
             "--console-port", str(kafka_port + 7),
             "--var-dir", str(tmp_path / "var")],
            cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"}, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # Keycloak's first start builds it
        while "Stack ready" not in output.read_text() and time.monotonic() < deadline:
            assert stack.poll() is None, output.read_text()
            time.sleep(0.5)
        assert "Stack ready" in output.read_text(), output.read_text()

        runs = []
        for _ in range(2):
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=180,
                env={
                    **{key: value for key, value in os.environ.items() if key[:5] != "ANTT_"},
                    # `antt login` asks the stack's Keycloak, here on a port of its own.
                    "ANTT_OIDC_ISSUER": f"http://127.0.0.1:{keycloak_port}/realms/antt",
                },
                check=False,
            )
            assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
            runs.append(done.stdout)
        first, second = runs
        assert first == second
        assert first.splitlines() == [
            '"verified"',
            '"resolved"',
            "cannot move an incident from resolved to verified; resolved is final",
            "1",
            '{"award_form":"giay_khen","status":"active"}',
            '{"award_form":"giay_khen","decision_number":"19/QĐ-UBND"}',
            '{"teams":1,"members":3,"cameras":0}',
            '{"count":1,"previous":0,"change_percent":null}',
            '["secret","status","tip_number"]',
            '"reported"',
        ]
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
